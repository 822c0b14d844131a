#include "pipeline/output/egress_mtu.h"

#include <algorithm>
#include <cstring>
#include "pipeline/l2l3/checksum.h"
#include "pipeline/l2l3/l3.h"
#include "pipeline/l2l3/tcp_options.h"
#include "pipeline/output/neigh.h"
#include "pipeline/worker_state.h"

namespace pc {

namespace {

constexpr uint8_t kIcmpTtl = 64;
constexpr uint16_t kQuotedPayload = 8;  // RFC 792: the IP header and the first 64 bits of the datagram
constexpr uint8_t kIpprotoIcmpv6 = 58;
constexpr uint8_t kIcmp6PacketTooBig = 2;
constexpr uint32_t kIpv6MinMtu = 1280;

}  // namespace

void send_frag_needed(Worker* w, const Snapshot& s, const ParsedPacket& p, uint16_t next_hop_mtu, uint64_t now_us,
                      TxQueues& tx) {
  NextHop back;
  if (!route_lookup(s, ip_from_v4(p.ip->src_addr), &back)) return;
  uint16_t quoted = static_cast<uint16_t>(p.ip_header_len + kQuotedPayload);
  if (quoted > p.ip_total_len) quoted = p.ip_total_len;
  uint16_t icmp_len = static_cast<uint16_t>(sizeof(rte_icmp_hdr) + quoted);
  uint16_t ip_len = static_cast<uint16_t>(sizeof(rte_ipv4_hdr) + icmp_len);
  rte_mbuf* e = w->params.pool ? rte_pktmbuf_alloc(w->params.pool) : nullptr;
  char* frame = e ? rte_pktmbuf_append(e, static_cast<uint16_t>(sizeof(rte_ether_hdr) + ip_len)) : nullptr;
  if (!frame) {
    if (e) rte_pktmbuf_free(e);
    w->counters->drop(DropReason::MBUF_ALLOC_FAILED);
    return;
  }
  auto* eth = reinterpret_cast<rte_ether_hdr*>(frame);
  eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);  // MACs: neigh_output
  auto* ip = reinterpret_cast<rte_ipv4_hdr*>(eth + 1);
  std::memset(ip, 0, sizeof *ip);
  ip->version_ihl = RTE_IPV4_VHL_DEF;
  ip->total_length = rte_cpu_to_be_16(ip_len);
  ip->time_to_live = kIcmpTtl;
  ip->next_proto_id = IPPROTO_ICMP;
  ip->src_addr = p.ip->dst_addr;
  ip->dst_addr = p.ip->src_addr;
  ip->hdr_checksum = rte_ipv4_cksum(ip);
  auto* icmp = reinterpret_cast<uint8_t*>(ip + 1);
  icmp[0] = 3;  // destination unreachable
  icmp[1] = 4;  // fragmentation needed and DF set
  store16(icmp + 2, 0);
  store16(icmp + 4, 0);  // unused
  store16(icmp + 6, rte_cpu_to_be_16(next_hop_mtu));  // RFC 1191
  std::memcpy(icmp + 8, p.ip, quoted);
  store16(icmp + 2, static_cast<uint16_t>(~rte_raw_cksum(icmp, icmp_len)));
  w->counters->event(Event::ICMP_FRAG_NEEDED_SENT);
  neigh_output(&w->neigh, s, e, back.port_index, back.gateway, now_us, tx);
}

void send_packet_too_big(Worker* w, const Snapshot& s, const ParsedPacket& p, uint32_t mtu, uint64_t now_us,
                         TxQueues& tx) {
  IpAddr sender = ip_from_v6(p.ip6->src_addr);
  NextHop back;
  if (!route_lookup(s, sender, &back)) return;
  // As much of the packet as fits the IPv6 minimum MTU (RFC 4443 2.4(c)).
  uint16_t quoted = static_cast<uint16_t>(std::min<uint32_t>(p.ip_total_len, kIpv6MinMtu - sizeof(rte_ipv6_hdr) - 8));
  uint16_t icmp_len = static_cast<uint16_t>(8 + quoted);
  rte_mbuf* e = w->params.pool ? rte_pktmbuf_alloc(w->params.pool) : nullptr;
  char* frame = e ? rte_pktmbuf_append(e, static_cast<uint16_t>(sizeof(rte_ether_hdr) + sizeof(rte_ipv6_hdr) + icmp_len)) : nullptr;
  if (!frame) {
    if (e) rte_pktmbuf_free(e);
    w->counters->drop(DropReason::MBUF_ALLOC_FAILED);
    return;
  }
  auto* eth = reinterpret_cast<rte_ether_hdr*>(frame);
  eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6);  // MACs: neigh_output
  auto* ip6 = reinterpret_cast<rte_ipv6_hdr*>(eth + 1);
  ip6->vtc_flow = rte_cpu_to_be_32(6u << 28);
  ip6->payload_len = rte_cpu_to_be_16(icmp_len);
  ip6->proto = kIpprotoIcmpv6;
  ip6->hop_limits = kIcmpTtl;
  std::memcpy(ip6->src_addr, p.ip6->dst_addr, 16);  // the address it sent to (VIP or LIP)
  std::memcpy(ip6->dst_addr, p.ip6->src_addr, 16);
  auto* icmp = reinterpret_cast<uint8_t*>(ip6 + 1);
  icmp[0] = kIcmp6PacketTooBig;
  icmp[1] = 0;
  store16(icmp + 2, 0);
  uint32_t mtu_be = rte_cpu_to_be_32(mtu);
  std::memcpy(icmp + 4, &mtu_be, 4);
  std::memcpy(icmp + 8, p.ip6, quoted);
  store16(icmp + 2, ipv6_upper_checksum(ip6->src_addr, ip6->dst_addr, kIpprotoIcmpv6, icmp, icmp_len));
  w->counters->event(Event::ICMP6_PACKET_TOO_BIG_SENT);
  neigh_output(&w->neigh, s, e, back.port_index, back.gateway, now_us, tx);
}

uint16_t mss_toward(Worker* w, const Snapshot& s, const IpAddr& addr, uint16_t mss) {
  NextHop hop;
  if (!route_lookup(s, addr, &hop)) return mss;
  return mss_on_port(w, hop.port_index, ip_is_v6(addr), mss);
}

uint16_t mss_on_port(const Worker* w, uint16_t port_index, bool ipv6, uint16_t mss) {
  if (port_index >= kMaxPorts) return mss;
  uint16_t mtu = w->port_mtus[port_index];
  uint16_t overhead = l3_tcp_header_overhead(ipv6);
  if (mtu <= overhead || mtu - overhead >= mss) return mss;
  return static_cast<uint16_t>(mtu - overhead);
}

void mss_clamp(Worker* w, const Snapshot& s, ParsedPacket& p, uint16_t egress_mtu) {
  uint16_t mtu = egress_mtu;
  NextHop back;
  if (route_lookup(s, l3_src(p), &back) && back.port_index < kMaxPorts && w->port_mtus[back.port_index] < mtu)
    mtu = w->port_mtus[back.port_index];
  uint16_t overhead = l3_tcp_header_overhead(l3_is_v6(p));
  if (mtu <= overhead) return;
  uint16_t limit = static_cast<uint16_t>(mtu - overhead);
  int at = tcp_mss_value_offset(p.tcp);
  if (at < 0) return;  // none, or after a malformed option: the receiver's business
  if (rte_be_to_cpu_16(load16(reinterpret_cast<const uint8_t*>(p.tcp) + at)) <= limit) return;
  tcp_patch16(p.tcp, static_cast<uint32_t>(at), limit);
  w->counters->event(Event::MSS_CLAMPED);
}

bool egress_mtu_fits(Worker* w, const Snapshot& s, rte_mbuf* m, const ParsedPacket& p, uint16_t egress_mtu,
                     uint64_t now_us, TxQueues& tx) {
  if (egress_mtu == 0 || p.ip_total_len <= egress_mtu) return true;
  if (p.ip6) {
    // Rebuilt from fragments: it leaves in pieces as big as the biggest it came in (ip_output),
    // so that piece is what must fit; one that does not is refused as a whole packet would be.
    if (p.reassembled_from && p.reassembled_from <= egress_mtu) return true;
    send_packet_too_big(w, s, p, egress_mtu, now_us, tx);
  } else {
    if (!(p.ip->fragment_offset & rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG))) return true;  // ip_output fragments it
    send_frag_needed(w, s, p, egress_mtu, now_us, tx);
  }
  worker_discard(w, m);
  w->counters->drop(DropReason::EGRESS_MTU_EXCEEDED);
  return false;
}

}  // namespace pc
