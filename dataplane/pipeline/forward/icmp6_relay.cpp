#include "pipeline/forward/icmp6_relay.h"

#include <cstring>
#include <rte_ip.h>
#include "pipeline/carriage/carried_bytes.h"
#include "pipeline/conn/conn_account.h"
#include "pipeline/forward/dr.h"
#include "pipeline/forward/tun.h"
#include "pipeline/l2l3/checksum.h"
#include "pipeline/output/neigh.h"
#include "pipeline/output/route.h"
#include "pipeline/worker_state.h"

namespace pc {

namespace {

constexpr uint8_t kIcmp6DestUnreachable = 1;
constexpr uint8_t kIcmp6PacketTooBig = 2;
constexpr uint8_t kIpprotoIcmpv6 = 58;
constexpr uint16_t kIcmp6HeaderLen = 8;  // type, code, checksum, then 4 bytes (unused / MTU / pointer)
constexpr uint16_t kQuotedL4Min = 8;     // the ports and (UDP) the checksum: what must be quoted to match
constexpr uint32_t kIpv6MinMtu = 1280;   // RFC 8200 §5
constexpr uint8_t kRelayHopLimit = 64;   // the relayed error is ours (our source address)
constexpr unsigned kMaxQuotedExtHeaders = 8;

// Extension headers a quote may hold before its TCP/UDP header (RFC 8200 §4).
constexpr uint8_t kHopByHop = 0, kRouting = 43, kFragment = 44, kDestOptions = 60;

inline bool drop(Worker* w, rte_mbuf* m, DropReason reason) {
  rte_pktmbuf_free(m);
  w->counters->drop(reason);
  return true;
}

// Where the quoted packet's L4 header starts and which protocol it is. Walks the quoted
// extension headers (the gateway forwards them, so its own packets may carry some).
enum class QuoteWalk : uint8_t { L4, TRUNCATED, NO_PORTS };
QuoteWalk walk_quote(const uint8_t* quote, uint16_t quote_len, uint16_t* l4_at, uint8_t* protocol) {
  uint8_t next = quote[6];
  uint16_t at = sizeof(rte_ipv6_hdr);
  for (unsigned n = 0; n < kMaxQuotedExtHeaders; n++) {
    if (next != kHopByHop && next != kRouting && next != kFragment && next != kDestOptions) break;
    if (at + 8 > quote_len) return QuoteWalk::TRUNCATED;
    if (next == kFragment) {
      // A later fragment holds no ports; a first one does, after its 8-byte header.
      if (load16(quote + at + 2) & rte_cpu_to_be_16(0xfff8)) return QuoteWalk::NO_PORTS;
      next = quote[at];
      at = static_cast<uint16_t>(at + 8);
      continue;
    }
    uint16_t length = static_cast<uint16_t>((quote[at + 1] + 1) * 8);
    next = quote[at];
    at = static_cast<uint16_t>(at + length);
  }
  if (next != IPPROTO_TCP && next != IPPROTO_UDP) return QuoteWalk::NO_PORTS;
  if (at + kQuotedL4Min > quote_len) return QuoteWalk::TRUNCATED;
  *l4_at = at;
  *protocol = next;
  return QuoteWalk::L4;
}

// The quoted packet's addresses and ports (network order) after translation.
struct QuotedTuple6 {
  IpAddr src, dst;
  uint16_t sport, dport;
};

// Rewrites the quoted packet in place: IPv6 addresses (no header checksum), ports, and
// the L4 checksum when the quote reaches it (UDP: offset 6, always; TCP: offset 16).
void rewrite_quote6(rte_ipv6_hdr* inner, uint8_t* l4, uint16_t l4_quoted, bool tcp, const QuotedTuple6& to) {
  uint16_t check_at = tcp ? 16 : 6;
  if (l4_quoted >= check_at + 2) {
    uint16_t check = load16(l4 + check_at);
    if (tcp || check != 0) {  // a zero UDP checksum is invalid over IPv6, but not ours to mend
      check = csum_replace128(check, inner->src_addr, to.src.bytes);
      check = csum_replace128(check, inner->dst_addr, to.dst.bytes);
      check = csum_replace16(check, load16(l4), to.sport);
      check = csum_replace16(check, load16(l4 + 2), to.dport);
      if (!tcp && check == 0) check = 0xffff;
      store16(l4 + check_at, check);
    }
  }
  store16(l4, to.sport);
  store16(l4 + 2, to.dport);
  std::memcpy(inner->src_addr, to.src.bytes, 16);
  std::memcpy(inner->dst_addr, to.dst.bytes, 16);
}

// Packet Too Big to the client of a TOA connection: the client's segments grow by the
// option on the way in, so it must send that much less; never below the IPv6 minimum.
void lower_packet_too_big_mtu(uint8_t* icmp, uint16_t option_length) {
  uint32_t mtu_be;
  std::memcpy(&mtu_be, icmp + 4, 4);
  uint32_t mtu = rte_be_to_cpu_32(mtu_be);
  if (mtu <= kIpv6MinMtu) return;  // at or below the floor already: nothing to take off
  uint32_t lowered = mtu - option_length < kIpv6MinMtu ? kIpv6MinMtu : mtu - option_length;
  mtu_be = rte_cpu_to_be_32(lowered);
  std::memcpy(icmp + 4, &mtu_be, 4);
}

}  // namespace

bool icmp6_relay_error(Worker* w, const Snapshot& s, rte_mbuf* m, ParsedPacket& p, uint64_t now_us, TxQueues& tx) {
  auto* icmp = reinterpret_cast<uint8_t*>(p.icmp);
  const uint8_t type = icmp[0];
  if (!icmp6_is_error(type)) return false;
  uint8_t* quote = icmp + kIcmp6HeaderLen;
  uint16_t quote_len = p.l4_len >= kIcmp6HeaderLen ? static_cast<uint16_t>(p.l4_len - kIcmp6HeaderLen) : 0;
  if (quote_len < sizeof(rte_ipv6_hdr) || (quote[0] >> 4) != 6) return drop(w, m, DropReason::MALFORMED_L4);
  auto* inner = reinterpret_cast<rte_ipv6_hdr*>(quote);
  uint16_t l4_at = 0;
  uint8_t protocol = 0;
  switch (walk_quote(quote, quote_len, &l4_at, &protocol)) {
    case QuoteWalk::TRUNCATED: return drop(w, m, DropReason::MALFORMED_L4);
    case QuoteWalk::NO_PORTS: return false;  // about our own ICMPv6, or a later fragment
    case QuoteWalk::L4: break;
  }
  uint8_t* l4 = quote + l4_at;
  const uint16_t l4_quoted = static_cast<uint16_t>(quote_len - l4_at);
  const IpAddr inner_src = ip_from_v6(inner->src_addr), inner_dst = ip_from_v6(inner->dst_addr);

  // The quoted packet is one we sent; its reverse is the tuple our table knows.
  FlowKey key = make_flow_key(protocol, inner_dst, load16(l4 + 2), inner_src, load16(l4));
  uint32_t index;
  Direction direction;
  if (!conn_lookup(w->conns, key, &index, &direction)) return drop(w, m, DropReason::NO_CONN);
  const Conn& c = w->conns.records[index];
  // An error goes back to the sender of the quoted packet; anything else is forged or misrouted.
  if (std::memcmp(p.ip6->dst_addr, inner->src_addr, 16) != 0) return drop(w, m, DropReason::NO_CONN);
  // DR/TUN: the quoted packet is the server's direct reply, so the server must hear it.
  if (c.flags & kConnDr) return forward_dr_icmp_error(w, s, m, c, now_us, tx), true;
  if (c.flags & kConnTun) return forward_tun_icmp_error(w, s, m, p, c, now_us, tx), true;  // IPv6-in-IPv6

  // Reply-tuple hit = the quote is our LIP→RIP packet: the client must hear about it.
  const bool to_client = direction == Direction::OUTPUT;
  // Passive health: the server (or a router on its way) refused a UDP connection's datagram.
  // (Packet Too Big is type 2: a path MTU, never counted.)
  if (to_client && protocol == IPPROTO_UDP && type == kIcmp6DestUnreachable) count_icmp_unreachable_from_server(w, c);
  const IpAddr& outer_src = to_client ? c.virtual_addr : c.local_addr;
  const IpAddr& outer_dst = to_client ? c.client_addr : c.server_addr;
  // A NAT64 connection's other side is IPv4: an ICMPv6 error about it is translated to
  // ICMPv4 (RFC 7915), not relayed as is.
  if (ip_is_v4(outer_dst)) return drop(w, m, DropReason::ICMP_UNSUPPORTED);
  QuotedTuple6 quoted = to_client ? QuotedTuple6{c.client_addr, c.virtual_addr, c.client_port, c.virtual_port}
                                  : QuotedTuple6{c.server_addr, c.local_addr, c.server_port, c.local_port};
  NextHop hop;
  if (!route_lookup(s, outer_dst, &hop)) return drop(w, m, DropReason::NO_ROUTE);

  rewrite_quote6(inner, l4, l4_quoted, protocol == IPPROTO_TCP, quoted);
  if (to_client && carried_bytes(c) && type == kIcmp6PacketTooBig) lower_packet_too_big_mtu(icmp, carried_bytes(c));

  rte_ipv6_hdr* ip6 = p.ip6;
  std::memcpy(ip6->src_addr, outer_src.bytes, 16);
  std::memcpy(ip6->dst_addr, outer_dst.bytes, 16);
  ip6->hop_limits = kRelayHopLimit;
  store16(icmp + 2, 0);
  store16(icmp + 2, ipv6_upper_checksum(ip6->src_addr, ip6->dst_addr, kIpprotoIcmpv6, icmp, p.l4_len));
  w->counters->event(to_client ? Event::ICMP_ERRORS_TO_CLIENT : Event::ICMP_ERRORS_TO_SERVER);
  neigh_output(&w->neigh, s, m, hop.port_index, hop.gateway, now_us, tx);
  return true;
}

}  // namespace pc
