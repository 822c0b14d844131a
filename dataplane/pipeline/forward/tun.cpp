// TUN (ipvsadm -i): IPIP (RFC 2003) or IPv6-in-IPv6 (RFC 2473) encapsulation, and the
// error that keeps PMTU discovery working when the outer header no longer fits.
#include <algorithm>
#include <cstring>
#include "pipeline/conn/conn_account.h"
#include "pipeline/forward/next_hop.h"
#include "pipeline/forward/tun.h"
#include "pipeline/output/egress_mtu.h"
#include "pipeline/output/neigh.h"
#include "pipeline/worker_state.h"

namespace pc {

namespace {

constexpr uint16_t kOuterHeaderLen4 = sizeof(rte_ipv4_hdr);  // no options
constexpr uint16_t kOuterHeaderLen6 = sizeof(rte_ipv6_hdr);  // no extension headers
constexpr uint8_t kOuterTtl = 64;          // a fresh IP hop, as Linux ipip and ip6tnl use by default
constexpr uint8_t kIpprotoIpv6 = 41;       // RFC 2473: IPv6 in IPv6
constexpr uint32_t kIpv6MinMtu = 1280;     // RFC 8200 §5

inline uint16_t outer_header_len(const ParsedPacket& p) { return p.ip6 ? kOuterHeaderLen6 : kOuterHeaderLen4; }

inline uint16_t l2_length(const ParsedPacket& p) {
  const uint8_t* l3 = p.ip6 ? reinterpret_cast<const uint8_t*>(p.ip6) : reinterpret_cast<const uint8_t*>(p.ip);
  return static_cast<uint16_t>(l3 - reinterpret_cast<const uint8_t*>(p.eth));
}

// Tells p's sender the largest packet the tunnel carries (see tun.h for the IPv6 floor).
void announce_tunnel_mtu(Worker* w, const Snapshot& s, const ParsedPacket& p, uint16_t link_mtu, uint64_t now_us,
                         TxQueues& tx) {
  if (p.ip6) {
    // At or below 1280 the sender cannot go smaller: the packet needed fragmenting (tun.h).
    if (p.ip_total_len <= kIpv6MinMtu) return;
    uint32_t tunnel_mtu = link_mtu > kOuterHeaderLen6 ? link_mtu - kOuterHeaderLen6 : 0;
    send_packet_too_big(w, s, p, std::max(tunnel_mtu, kIpv6MinMtu), now_us, tx);
  } else if (p.ip->fragment_offset & rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG)) {
    send_frag_needed(w, s, p, static_cast<uint16_t>(link_mtu - kOuterHeaderLen4), now_us, tx);
  }
}

// True when p plus the outer header fits the MTU of hop's port. Otherwise the packet is
// dropped (TUNNEL_FRAG_NEEDED), after its sender heard the tunnel MTU when may_answer
// (false for ICMP errors, which no error answers).
bool tunnel_fits(Worker* w, const Snapshot& s, rte_mbuf* m, const ParsedPacket& p, const NextHop& hop, bool may_answer,
                 uint64_t now_us, TxQueues& tx) {
  uint16_t mtu = w->port_mtus[hop.port_index];
  if (static_cast<uint32_t>(p.ip_total_len) + outer_header_len(p) <= mtu) return true;
  if (may_answer) announce_tunnel_mtu(w, s, p, mtu, now_us, tx);
  worker_drop(w, m, DropReason::TUNNEL_FRAG_NEEDED);
  return false;
}

void write_outer4(uint8_t* at, const rte_ipv4_hdr& inner, uint16_t inner_len, const IpAddr& source,
                  const IpAddr& server_addr) {
  auto* outer = reinterpret_cast<rte_ipv4_hdr*>(at);
  outer->version_ihl = RTE_IPV4_VHL_DEF;
  outer->type_of_service = inner.type_of_service;  // RFC 2003 §3.1: TOS copied
  outer->total_length = rte_cpu_to_be_16(static_cast<uint16_t>(inner_len + kOuterHeaderLen4));
  outer->packet_id = inner.packet_id;  // unique enough: it is the client's own id for this datagram
  outer->fragment_offset = inner.fragment_offset & rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG);  // DF copied
  outer->time_to_live = kOuterTtl;
  outer->next_proto_id = IPPROTO_IPIP;
  outer->src_addr = ip_v4(source);
  outer->dst_addr = ip_v4(server_addr);
  outer->hdr_checksum = 0;
  outer->hdr_checksum = rte_ipv4_cksum(outer);
}

void write_outer6(uint8_t* at, uint32_t inner_vtc_flow, uint16_t inner_len, const IpAddr& source,
                  const IpAddr& server_addr) {
  auto* outer = reinterpret_cast<rte_ipv6_hdr*>(at);
  // Version 6 (as the inner's), traffic class and flow label copied (RFC 2473 §6.5, §6.6 leave both to us).
  outer->vtc_flow = inner_vtc_flow;
  outer->payload_len = rte_cpu_to_be_16(inner_len);  // the whole inner packet, its header included
  outer->proto = kIpprotoIpv6;
  outer->hop_limits = kOuterTtl;
  std::memcpy(outer->src_addr, source.bytes, 16);
  std::memcpy(outer->dst_addr, server_addr.bytes, 16);
}

// Wraps p's packet in an outer header of its family to server_addr and sends it along hop.
void tunnel_output(Worker* w, const Snapshot& s, rte_mbuf* m, const ParsedPacket& p, const IpAddr& server_addr,
                   const NextHop& hop, uint64_t now_us, TxQueues& tx) {
  const bool ipv6 = p.ip6 != nullptr;
  IpAddr source;
  if (!snapshot_on_link_source(s, hop.port_index, hop.gateway, &source)) {
    // Next hop outside the connected prefixes (an on-link static route): the port's first address.
    if (!snapshot_port_address(s, hop.port_index, ipv6, &source)) return worker_drop(w, m, DropReason::NO_ROUTE);
  }
  // What the outer header copies, read before the L2 header moves (p's pointers go stale).
  const rte_ipv4_hdr inner4 = ipv6 ? rte_ipv4_hdr{} : *p.ip;
  const uint32_t inner_vtc_flow = ipv6 ? p.ip6->vtc_flow : 0;
  const uint16_t outer_len = outer_header_len(p);
  const uint16_t l2_len = l2_length(p);
  char* front = rte_pktmbuf_prepend(m, outer_len);
  if (!front) return worker_drop(w, m, DropReason::MBUF_ALLOC_FAILED);  // no headroom for the header
  std::memmove(front, front + outer_len, l2_len);  // the L2 header (ether type unchanged) moves to the new front
  uint8_t* outer = reinterpret_cast<uint8_t*>(front + l2_len);
  if (ipv6) write_outer6(outer, inner_vtc_flow, p.ip_total_len, source, server_addr);
  else write_outer4(outer, inner4, p.ip_total_len, source, server_addr);
  neigh_output(&w->neigh, s, m, hop.port_index, hop.gateway, now_us, tx);
}

}  // namespace

void forward_tun(Worker* w, const Snapshot& s, rte_mbuf* m, const ParsedPacket& p, const Conn& c,
                 const NextHop* known_hop, uint64_t now_us, TxQueues& tx) {
  NextHop hop;
  if (!method_next_hop(w, s, m, known_hop, c.server_addr, &hop)) return;
  if (!tunnel_fits(w, s, m, p, hop, true, now_us, tx)) return;
  count_forwarded(w, c, true, p.ip_total_len);
  tunnel_output(w, s, m, p, c.server_addr, hop, now_us, tx);
}

void forward_tun_icmp_error(Worker* w, const Snapshot& s, rte_mbuf* m, const ParsedPacket& p, const Conn& c,
                            uint64_t now_us, TxQueues& tx) {
  NextHop hop;
  if (!method_next_hop(w, s, m, nullptr, c.server_addr, &hop)) return;
  if (!tunnel_fits(w, s, m, p, hop, false, now_us, tx)) return;
  w->counters->event(Event::ICMP_ERRORS_TO_SERVER);
  tunnel_output(w, s, m, p, c.server_addr, hop, now_us, tx);
}

}  // namespace pc
