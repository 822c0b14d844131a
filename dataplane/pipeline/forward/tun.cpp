// TUN (ipvsadm -i): IPIP encapsulation (RFC 2003) and the ICMP fragmentation-needed
// that keeps PMTU discovery working when the 20 extra bytes no longer fit.
#include <cstring>
#include "pipeline/conn/conn_account.h"
#include "pipeline/forward/tun.h"
#include "pipeline/output/egress_mtu.h"
#include "pipeline/output/neigh.h"
#include "pipeline/output/route.h"
#include "pipeline/worker_state.h"

namespace pc {

namespace {

constexpr uint16_t kOuterHeaderLen = sizeof(rte_ipv4_hdr);  // no options
constexpr uint8_t kOuterTtl = 64;                           // a fresh IP hop, as Linux ipip uses by default

inline uint16_t l2_length(const ParsedPacket& p) {
  return static_cast<uint16_t>(reinterpret_cast<const uint8_t*>(p.ip) - reinterpret_cast<const uint8_t*>(p.eth));
}

// True when p plus the 20-byte outer header fits the MTU of hop's port. Otherwise the
// packet is dropped (TUNNEL_FRAG_NEEDED), after an ICMP fragmentation-needed to the
// client when its DF bit is set.
bool tunnel_fits(Worker* w, const Snapshot& s, rte_mbuf* m, const ParsedPacket& p, const NextHop& hop,
                 uint64_t now_us, TxQueues& tx) {
  uint16_t mtu = w->port_mtus[hop.port_index];
  if (static_cast<uint32_t>(p.ip_total_len) + kOuterHeaderLen <= mtu) return true;
  if (p.ip->fragment_offset & rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG))
    send_frag_needed(w, s, p, static_cast<uint16_t>(mtu - kOuterHeaderLen), now_us, tx);
  worker_drop(w, m, DropReason::TUNNEL_FRAG_NEEDED);
  return false;
}

// Wraps p's IPv4 packet in an outer header to server_addr and sends it along hop.
void tunnel_output(Worker* w, const Snapshot& s, rte_mbuf* m, const ParsedPacket& p, const IpAddr& server_addr,
                   const NextHop& hop, uint64_t now_us, TxQueues& tx) {
  IpAddr source;
  if (!snapshot_on_link_source(s, hop.port_index, hop.gateway, &source)) {
    // Next hop outside the connected prefixes (an on-link static route): the port's first address.
    if (!snapshot_port_address(s, hop.port_index, false, &source)) return worker_drop(w, m, DropReason::NO_ROUTE);
  }
  const rte_ipv4_hdr inner = *p.ip;  // p's pointers are stale once the L2 header moves
  uint16_t l2_len = l2_length(p);
  char* front = rte_pktmbuf_prepend(m, kOuterHeaderLen);
  if (!front) return worker_drop(w, m, DropReason::MBUF_ALLOC_FAILED);  // no headroom for the header
  std::memmove(front, front + kOuterHeaderLen, l2_len);  // the L2 header moves to the new front
  auto* outer = reinterpret_cast<rte_ipv4_hdr*>(front + l2_len);
  outer->version_ihl = RTE_IPV4_VHL_DEF;
  outer->type_of_service = inner.type_of_service;  // RFC 2003 §3.1: TOS copied
  outer->total_length = rte_cpu_to_be_16(static_cast<uint16_t>(p.ip_total_len + kOuterHeaderLen));
  outer->packet_id = inner.packet_id;  // unique enough: it is the client's own id for this datagram
  outer->fragment_offset = inner.fragment_offset & rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG);  // DF copied
  outer->time_to_live = kOuterTtl;
  outer->next_proto_id = IPPROTO_IPIP;
  outer->src_addr = ip_v4(source);  // IPv4 outer header: the snapshot holds IPv4 addresses only
  outer->dst_addr = ip_v4(server_addr);
  outer->hdr_checksum = 0;
  outer->hdr_checksum = rte_ipv4_cksum(outer);
  neigh_output(&w->neigh, s, m, hop.port_index, hop.gateway, now_us, tx);
}

}  // namespace

void forward_tun(Worker* w, const Snapshot& s, rte_mbuf* m, const ParsedPacket& p, const Conn& c,
                 const NextHop* known_hop, uint64_t now_us, TxQueues& tx) {
  NextHop hop;
  if (known_hop) hop = *known_hop;
  else if (!route_lookup(s, c.server_addr, &hop)) return worker_drop(w, m, DropReason::NO_ROUTE);
  if (!tunnel_fits(w, s, m, p, hop, now_us, tx)) return;
  count_forwarded(w, c, true, p.ip_total_len);
  tunnel_output(w, s, m, p, c.server_addr, hop, now_us, tx);
}

void forward_tun_icmp_error(Worker* w, const Snapshot& s, rte_mbuf* m, const ParsedPacket& p, const Conn& c,
                            uint64_t now_us, TxQueues& tx) {
  NextHop hop;
  if (!route_lookup(s, c.server_addr, &hop)) return worker_drop(w, m, DropReason::NO_ROUTE);
  if (!tunnel_fits(w, s, m, p, hop, now_us, tx)) return;
  w->counters->event(Event::ICMP_ERRORS_TO_SERVER);
  tunnel_output(w, s, m, p, c.server_addr, hop, now_us, tx);
}

}  // namespace pc
