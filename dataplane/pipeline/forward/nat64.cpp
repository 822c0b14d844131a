// NAT64: FullNAT's ports, then the L3 header translated to the other family.
#include "pipeline/forward/nat64.h"

#include <algorithm>
#include "pipeline/carriage/toa.h"
#include "pipeline/conn/conn_account.h"
#include "pipeline/forward/fullnat.h"
#include "pipeline/l2l3/checksum.h"
#include "pipeline/l2l3/tcp_options.h"
#include "pipeline/l2l3/translate.h"
#include "pipeline/output/egress_mtu.h"
#include "pipeline/output/fragment.h"
#include "pipeline/forward/next_hop.h"
#include "pipeline/worker_state.h"

namespace pc {

namespace {

constexpr uint32_t kMinIpv6Mtu = 1280;  // RFC 8200 5: a Packet Too Big below it is not acted on

// The packet's size once translated, against the egress MTU; when it does not fit, its
// sender hears the MTU in its own family's terms and the packet is dropped. False then.
bool translated_fits(Worker* w, const Snapshot& s, rte_mbuf* m, const ParsedPacket& p, uint16_t egress_mtu,
                     uint64_t now_us, TxQueues& tx) {
  if (egress_mtu == 0) return true;
  if (p.ip6) {  // leaves as IPv4: 20-byte header, extension headers gone
    // Rebuilt from fragments: it leaves without DF, fragmented to the MTU like any IPv4
    // datagram the gateway rebuilt (translate_6to4, ip_output).
    if (sizeof(rte_ipv4_hdr) + p.l4_len <= egress_mtu || p.reassembled_from) return true;
    send_packet_too_big(w, s, p, std::max<uint32_t>(egress_mtu + kTranslateHeaderGrowth, kMinIpv6Mtu), now_us, tx);
  } else {  // leaves as IPv6, never fragmented on the way
    if (sizeof(rte_ipv6_hdr) + p.l4_len <= egress_mtu) return true;
    send_frag_needed(w, s, p, static_cast<uint16_t>(egress_mtu - kTranslateHeaderGrowth), now_us, tx);
  }
  worker_drop(w, m, DropReason::EGRESS_MTU_EXCEEDED);
  return false;
}

// The server's SYN-ACK (IPv4): the MSS it announces was sized for IPv4 headers; the client
// sends IPv6, 20 bytes more per segment.
void lower_synack_mss(Worker* w, ParsedPacket& p) {
  constexpr uint8_t kSynAck = RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG;
  if ((p.tcp->tcp_flags & (kSynAck | RTE_TCP_RST_FLAG)) != kSynAck) return;
  // Without an MSS the client assumes IPv6's default (1220), which fits.
  if (tcp_lower_mss(p.tcp, kTranslateHeaderGrowth)) w->counters->event(Event::NAT64_MSS_LOWERED);
}

}  // namespace

void forward_nat64(Worker* w, const Snapshot& s, rte_mbuf* m, ParsedPacket& p, Conn& c, Direction direction,
                   const NextHop* known_hop, uint64_t now_us, TxQueues& tx) {
  bool inbound = direction == Direction::INPUT;
  NextHop hop;
  if (!method_next_hop(w, s, m, known_hop, inbound ? c.server_addr : c.client_addr, &hop)) return;

  uint16_t egress_mtu = w->port_mtus[hop.port_index];
  if (!translated_fits(w, s, m, p, egress_mtu, now_us, tx)) return;
  if (p.tcp && (p.tcp->tcp_flags & RTE_TCP_SYN_FLAG)) {
    mss_clamp(w, s, p, egress_mtu);  // in the arriving family's terms
    if (!inbound) lower_synack_mss(w, p);
  }

  uint16_t bytes = p.ip_total_len;  // as received
  fullnat_rewrite_ports(p, c, direction);
  if (inbound) {
    translate_6to4(m, p, ip_v4(c.local_addr), ip_v4(c.server_addr));
  } else if (!translate_4to6(m, p, c.virtual_addr, c.client_addr)) {
    return worker_drop(w, m, DropReason::MBUF_ALLOC_FAILED);  // no headroom to grow into
  }
  if (p.tcp) {
    if (inbound) toa_remove_client_options(p, *w->counters);
    if ((c.flags & kConnToa) && !toa_process(m, p, c, direction, egress_mtu, *w->counters))
      return worker_drop(w, m, DropReason::CLIENT_ADDRESS_BAD_CHECKSUM);
  }
  count_forwarded(w, c, inbound, bytes);
  ip_output(w, s, m, p, hop, now_us, tx);
}

}  // namespace pc
