#include "pipeline/forward/icmp_relay.h"

#include <cstring>
#include <rte_ip.h>
#include "pipeline/conn/conn_account.h"
#include "pipeline/l2l3/checksum.h"
#include "pipeline/forward/dr.h"
#include "pipeline/forward/tun.h"
#include "pipeline/l2l3/translate_icmp.h"
#include "pipeline/output/neigh.h"
#include "pipeline/output/route.h"
#include "pipeline/carriage/carried_bytes.h"
#include "pipeline/worker_state.h"

namespace pc {

namespace {

constexpr uint8_t kIcmpDestUnreachable = 3;
constexpr uint8_t kIcmpFragmentationNeeded = 4;  // code of type 3 (RFC 1191)
constexpr uint8_t kIcmpTimeExceeded = 11;
constexpr uint8_t kIcmpParameterProblem = 12;
constexpr uint16_t kIcmpHeaderLen = 8;
constexpr uint16_t kQuotedL4Min = 8;     // RFC 792: the quote holds at least 8 bytes past the IP header
constexpr uint16_t kMinIpv4Mtu = 68;     // RFC 791
constexpr uint8_t kRelayTtl = 64;        // the relayed error is ours (our source address)

// Passive health: a server (or a router on its way) saying a UDP connection's datagram was
// refused: destination unreachable, except "fragmentation needed" (a path MTU, not a refusal).
inline bool is_udp_refusal(uint8_t protocol, uint8_t type, uint8_t code) {
  return protocol == IPPROTO_UDP && type == kIcmpDestUnreachable && code != kIcmpFragmentationNeeded;
}

inline bool is_relayed_error(uint8_t type) {
  return type == kIcmpDestUnreachable || type == kIcmpTimeExceeded || type == kIcmpParameterProblem;
}

inline bool drop(Worker* w, rte_mbuf* m, DropReason reason) {
  rte_pktmbuf_free(m);
  w->counters->drop(reason);
  return true;
}

// The quoted packet's addresses and ports (network order) after translation.
struct QuotedTuple {
  IpAddr src, dst;
  uint16_t sport, dport;
};

// Rewrites the quoted header in place: IP checksum always (the header is complete),
// the L4 checksum only when the quote reaches it (UDP: always, unless 0 = none;
// TCP: offset 16, often beyond the 8 bytes a router must quote).
void rewrite_quote(rte_ipv4_hdr* inner, uint8_t* l4, uint16_t l4_quoted, const QuotedTuple& to) {
  bool tcp = inner->next_proto_id == IPPROTO_TCP;
  const uint32_t to_src = ip_v4(to.src), to_dst = ip_v4(to.dst);  // an IPv4 quote of an IPv4 connection
  uint16_t check_at = tcp ? 16 : 6;
  if (l4_quoted >= check_at + 2) {
    uint16_t check = load16(l4 + check_at);
    if (tcp || check != 0) {
      check = csum_replace32(check, inner->src_addr, to_src);
      check = csum_replace32(check, inner->dst_addr, to_dst);
      check = csum_replace16(check, load16(l4), to.sport);
      check = csum_replace16(check, load16(l4 + 2), to.dport);
      if (!tcp && check == 0) check = 0xffff;  // 0 means "no checksum" in UDP
      store16(l4 + check_at, check);
    }
  }
  store16(l4, to.sport);
  store16(l4 + 2, to.dport);
  uint16_t check = inner->hdr_checksum;
  check = csum_replace32(check, inner->src_addr, to_src);
  check = csum_replace32(check, inner->dst_addr, to_dst);
  inner->hdr_checksum = check;
  inner->src_addr = to_src;
  inner->dst_addr = to_dst;
}

// --- NAT64: errors that cross the families (icmp_relay.h) ----------------------------


// A translated error is sent, or its mbuf dropped with the reason its result names.
bool finish_translated(Worker* w, const Snapshot& s, rte_mbuf* m, IcmpTranslateResult result, const NextHop& hop,
                       Event sent, uint64_t now_us, TxQueues& tx) {
  switch (result) {
    case IcmpTranslateResult::OK: break;
    case IcmpTranslateResult::NO_COUNTERPART: return drop(w, m, DropReason::NAT64_ICMP_UNTRANSLATABLE);
    case IcmpTranslateResult::MALFORMED: return drop(w, m, DropReason::MALFORMED_L4);
    case IcmpTranslateResult::NO_HEADROOM: return drop(w, m, DropReason::MBUF_ALLOC_FAILED);
  }
  w->counters->event(sent);
  neigh_output(&w->neigh, s, m, hop.port_index, hop.gateway, now_us, tx);
  return true;
}

// An ICMPv4 error (to our LIP) about NAT64 connection c's LIP4→RIP4 packet, to the IPv6 client.
bool relay_nat64_error_to_client(Worker* w, const Snapshot& s, rte_mbuf* m, ParsedPacket& p, const Conn& c,
                                 Direction direction, uint64_t now_us, TxQueues& tx) {
  // An IPv4 quote can only match the IPv4 reply tuple; anything else is not ours to relay.
  if (direction != Direction::OUTPUT) return drop(w, m, DropReason::NO_CONN);
  NextHop hop;
  if (!route_lookup(s, c.client_addr, &hop)) return drop(w, m, DropReason::NO_ROUTE);
  IcmpErrorTranslation t{c.virtual_addr, c.client_addr, c.client_addr, c.virtual_addr, c.client_port, c.virtual_port,
                         carried_bytes(c), kRelayTtl};
  return finish_translated(w, s, m, translate_icmp_error_4to6(m, p, t), hop, Event::ICMP_ERRORS_TO_CLIENT, now_us, tx);
}

}  // namespace

bool icmp_relay_nat64_error6(Worker* w, const Snapshot& s, rte_mbuf* m, ParsedPacket& p, uint64_t now_us, TxQueues& tx) {
  constexpr uint8_t kIcmp6FirstInformational = 128;  // RFC 4443 2.1: types below are errors
  const uint8_t* icmp = reinterpret_cast<const uint8_t*>(p.icmp);
  if (icmp[0] >= kIcmp6FirstInformational) return false;
  if (p.l4_len < kIcmpHeaderLen + sizeof(rte_ipv6_hdr) + kQuotedL4Min) return false;
  const auto* inner = reinterpret_cast<const rte_ipv6_hdr*>(icmp + kIcmpHeaderLen);
  if ((rte_be_to_cpu_32(inner->vtc_flow) >> 28) != 6) return false;
  if (inner->proto != IPPROTO_TCP && inner->proto != IPPROTO_UDP) return false;  // extension headers: not ours
  const uint8_t* l4 = reinterpret_cast<const uint8_t*>(inner + 1);
  // The quoted packet is one we sent (VIP6 → CIP6); its reverse is the client tuple.
  FlowKey key = make_flow_key(inner->proto, ip_from_v6(inner->dst_addr), load16(l4 + 2), ip_from_v6(inner->src_addr),
                              load16(l4));
  uint32_t index;
  Direction direction;
  if (!conn_lookup(w->conns, key, &index, &direction)) return false;
  const Conn& c = w->conns.records[index];
  if (!(c.flags & kConnNat64) || direction != Direction::INPUT) return false;
  // An error goes back to the sender of the quoted packet; anything else is forged or misrouted.
  if (std::memcmp(p.ip6->dst_addr, inner->src_addr, 16) != 0) return drop(w, m, DropReason::NO_CONN);
  NextHop hop;
  if (!route_lookup(s, c.server_addr, &hop)) return drop(w, m, DropReason::NO_ROUTE);
  IcmpErrorTranslation t{c.local_addr, c.server_addr, c.server_addr, c.local_addr, c.server_port, c.local_port, 0, kRelayTtl};
  return finish_translated(w, s, m, translate_icmp_error_6to4(m, p, t), hop, Event::ICMP_ERRORS_TO_SERVER, now_us, tx);
}

bool icmp_relay_error(Worker* w, const Snapshot& s, rte_mbuf* m, ParsedPacket& p, uint64_t now_us, TxQueues& tx) {
  rte_icmp_hdr* icmp = p.icmp;
  if (!is_relayed_error(icmp->icmp_type)) return false;
  uint8_t* quote = reinterpret_cast<uint8_t*>(icmp) + kIcmpHeaderLen;
  uint16_t quote_len = p.l4_len >= kIcmpHeaderLen ? static_cast<uint16_t>(p.l4_len - kIcmpHeaderLen) : 0;
  if (quote_len < sizeof(rte_ipv4_hdr)) return drop(w, m, DropReason::MALFORMED_L4);
  auto* inner = reinterpret_cast<rte_ipv4_hdr*>(quote);
  uint16_t inner_header_len = static_cast<uint16_t>((inner->version_ihl & 0x0f) * 4);
  if ((inner->version_ihl >> 4) != 4 || inner_header_len < sizeof(rte_ipv4_hdr) ||
      quote_len < inner_header_len + kQuotedL4Min)
    return drop(w, m, DropReason::MALFORMED_L4);
  uint8_t protocol = inner->next_proto_id;
  // Errors about our own ICMP (an echo reply) or about later fragments quote no ports.
  if ((protocol != IPPROTO_TCP && protocol != IPPROTO_UDP) || (inner->fragment_offset & RTE_BE16(RTE_IPV4_HDR_OFFSET_MASK)))
    return false;
  uint8_t* l4 = quote + inner_header_len;
  uint16_t l4_quoted = static_cast<uint16_t>(quote_len - inner_header_len);

  // The quoted packet is one we sent; its reverse is the tuple our table knows.
  FlowKey key = make_flow_key(protocol, ip_from_v4(inner->dst_addr), load16(l4 + 2), ip_from_v4(inner->src_addr),
                              load16(l4));
  uint32_t index;
  Direction direction;
  if (!conn_lookup(w->conns, key, &index, &direction)) return drop(w, m, DropReason::NO_CONN);
  const Conn& c = w->conns.records[index];
  // An error goes back to the sender of the quoted packet; anything else is forged or misrouted.
  if (p.ip->dst_addr != inner->src_addr) return drop(w, m, DropReason::NO_CONN);
  // Reply-tuple hit = the quote is our LIP→RIP packet (about the server); DR/TUN quote the
  // server's own reply to the client instead, which says nothing about the server.
  if (direction == Direction::OUTPUT && !(c.flags & kConnOneWay) && is_udp_refusal(protocol, icmp->icmp_type, icmp->icmp_code))
    count_icmp_unreachable_from_server(w, c);
  // NAT64: the client speaks IPv6, so the error crosses the families.
  if (c.flags & kConnNat64) return relay_nat64_error_to_client(w, s, m, p, c, direction, now_us, tx);
  // DR/TUN: the quoted packet is the server's direct reply, so the server must hear it.
  if (c.flags & kConnDr) return forward_dr_icmp_error(w, s, m, c, now_us, tx), true;
  if (c.flags & kConnTun) return forward_tun_icmp_error(w, s, m, p, c, now_us, tx), true;

  // Reply-tuple hit = the quote is our LIP→RIP packet: the client must hear about it.
  bool to_client = direction == Direction::OUTPUT;
  const IpAddr& outer_src = to_client ? c.virtual_addr : c.local_addr;
  const IpAddr& outer_dst = to_client ? c.client_addr : c.server_addr;
  QuotedTuple quoted = to_client ? QuotedTuple{c.client_addr, c.virtual_addr, c.client_port, c.virtual_port}
                                 : QuotedTuple{c.server_addr, c.local_addr, c.server_port, c.local_port};
  NextHop hop;
  if (!route_lookup(s, outer_dst, &hop)) return drop(w, m, DropReason::NO_ROUTE);

  rewrite_quote(inner, l4, l4_quoted, quoted);
  const uint16_t carried = carried_bytes(c);  // TOA or a UDP PROXY v2 header grows each packet
  if (to_client && carried && icmp->icmp_type == kIcmpDestUnreachable && icmp->icmp_code == kIcmpFragmentationNeeded) {
    uint8_t* mtu_field = reinterpret_cast<uint8_t*>(icmp) + 6;
    uint16_t mtu = rte_be_to_cpu_16(load16(mtu_field));
    // 0 = a pre-RFC 1191 router that does not say; the client then guesses on its own.
    if (mtu >= kMinIpv4Mtu + carried) store16(mtu_field, rte_cpu_to_be_16(static_cast<uint16_t>(mtu - carried)));
  }
  icmp->icmp_cksum = 0;
  icmp->icmp_cksum = static_cast<uint16_t>(~rte_raw_cksum(icmp, p.l4_len));

  rte_ipv4_hdr* ip = p.ip;
  ip->src_addr = ip_v4(outer_src);
  ip->dst_addr = ip_v4(outer_dst);
  ip->time_to_live = kRelayTtl;
  ip->hdr_checksum = 0;
  ip->hdr_checksum = static_cast<uint16_t>(~rte_raw_cksum(ip, p.ip_header_len));
  w->counters->event(to_client ? Event::ICMP_ERRORS_TO_CLIENT : Event::ICMP_ERRORS_TO_SERVER);
  neigh_output(&w->neigh, s, m, hop.port_index, hop.gateway, now_us, tx);
  return true;
}

}  // namespace pc
