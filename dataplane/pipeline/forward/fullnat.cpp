// FullNAT: both addresses and ports of a packet rewritten to the other side of its
// connection, the client's address carried in TOA (TCP), UOA or PROXY v2 (UDP) when the
// service asks for it.
#include "pipeline/forward/fullnat.h"

#include "pipeline/carriage/proxy_dgram.h"
#include "pipeline/carriage/toa.h"
#include "pipeline/carriage/uoa.h"
#include "pipeline/conn/conn_account.h"
#include "pipeline/l2l3/l3.h"
#include "pipeline/output/egress_mtu.h"
#include "pipeline/output/fragment.h"
#include "pipeline/forward/next_hop.h"
#include "pipeline/worker_state.h"

namespace pc {

namespace {

// The ports (and, with_addresses, the addresses) p gets in direction: INPUT → LIP:lport ⇒
// RIP:rport, OUTPUT → VIP:vport ⇒ CIP:cport, the L4 checksum kept right for what changes.
// One body for FullNAT and NAT64's ports, inlined into each so the hot path keeps its shape.
template <bool with_addresses>
[[gnu::always_inline]] inline void rewrite_l4(ParsedPacket& p, const Conn& c, Direction direction) {
  uint8_t* l4 = l4_header(p);
  L3Addr new_src, new_dst;
  uint16_t new_sport, new_dport;
  if (direction == Direction::INPUT) {
    new_src = c.local_addr, new_sport = c.local_port, new_dst = c.server_addr, new_dport = c.server_port;
  } else {
    new_src = c.virtual_addr, new_sport = c.virtual_port, new_dst = c.client_addr, new_dport = c.client_port;
  }

  // L4 checksum covers the pseudo-header addresses and the ports.
  uint8_t* l4_check = l4_checksum_field(p);
  uint16_t check = load16(l4_check);
  bool udp_without_checksum = !p.tcp && check == 0;
  if (!udp_without_checksum) {
    if (with_addresses) check = l4_csum_readdress(check, p, new_src, new_dst);
    check = csum_replace16(check, load16(l4), new_sport);
    check = csum_replace16(check, load16(l4 + 2), new_dport);
    if (!p.tcp && check == 0) check = 0xffff;  // 0 means "no checksum" in UDP
    store16(l4_check, check);
  }
  store16(l4, new_sport);
  store16(l4 + 2, new_dport);

  if (with_addresses) l3_readdress_and_forward(p, new_src, new_dst);  // addresses, hop limit, header checksum
}

// UDP: the client's address in UOA on the connection's first datagrams, or in a PROXY v2
// header on every one (carriage/uoa.h, carriage/proxy_dgram.h).
[[gnu::noinline]] void carry_client_address(rte_mbuf* m, ParsedPacket& p, Conn& c, uint16_t mtu, WorkerCounters& counters) {
  if (c.udp_carriage == kUdpCarriageProxyV2) return proxy_dgram_process(m, p, c, mtu, counters);
  if (c.uoa_left) uoa_process(m, p, c, mtu, counters);
}

}  // namespace

void fullnat_rewrite(ParsedPacket& p, const Conn& c, Direction direction) { rewrite_l4<true>(p, c, direction); }

void fullnat_rewrite_ports(ParsedPacket& p, const Conn& c, Direction direction) { rewrite_l4<false>(p, c, direction); }

void forward_fullnat(Worker* w, const Snapshot& s, rte_mbuf* m, ParsedPacket& p, Conn& c, Direction direction,
                     const NextHop* known_hop, uint64_t now_us, TxQueues& tx) {
  bool inbound = direction == Direction::INPUT;
  NextHop hop;
  if (!method_next_hop(w, s, m, known_hop, inbound ? c.server_addr : c.client_addr, &hop)) return;

  // Ports of different MTUs (output/egress_mtu.h): checked on the packet as it arrived.
  uint16_t egress_mtu = w->port_mtus[hop.port_index];
  if (!egress_mtu_prepare(w, s, m, p, egress_mtu, now_us, tx)) return;

  uint16_t bytes = p.ip_total_len;  // as received: a TOA option added below is ours, not the client's
  fullnat_rewrite(p, c, direction);
  if (p.tcp) {
    // A TOA option from the client would be believed by a server's TOA module: none passes.
    if (inbound) toa_remove_client_options(p, *w->counters);
    if ((c.flags & kConnToa) && !toa_process(m, p, c, direction, egress_mtu, *w->counters))
      return worker_drop(w, m, DropReason::CLIENT_ADDRESS_BAD_CHECKSUM);
  } else if (inbound && p.udp) {
    // A UOA option from the client would be believed by a server's UOA module: none passes.
    uoa_remove_client_options(p, *w->counters);
    if (unlikely(c.udp_carriage != kUdpCarriageNone)) carry_client_address(m, p, c, egress_mtu, *w->counters);
  }
  count_forwarded(w, c, inbound, bytes);
  ip_output(w, s, m, p, hop, now_us, tx);  // neigh_output, in fragments when over the MTU
}

}  // namespace pc
