// NAT (ipvsadm -m): FullNAT's rewrite with the client as the connection's local side,
// so only the destination changes inbound and only the source on the way back.
#include "pipeline/forward/nat.h"

#include "pipeline/carriage/toa.h"
#include "pipeline/forward/fullnat.h"
#include "pipeline/conn/conn_account.h"
#include "pipeline/output/egress_mtu.h"
#include "pipeline/output/fragment.h"
#include "pipeline/forward/next_hop.h"
#include "pipeline/worker_state.h"

namespace pc {

void forward_nat(Worker* w, const Snapshot& s, rte_mbuf* m, ParsedPacket& p, const Conn& c, Direction direction,
                 const NextHop* known_hop, uint64_t now_us, TxQueues& tx) {
  bool inbound = direction == Direction::INPUT;
  NextHop hop;
  if (!method_next_hop(w, s, m, known_hop, inbound ? c.server_addr : c.client_addr, &hop)) return;

  if (!egress_mtu_prepare(w, s, m, p, w->port_mtus[hop.port_index], now_us, tx)) return;  // output/egress_mtu.h

  uint16_t bytes = p.ip_total_len;
  fullnat_rewrite(p, c, direction);
  // The server may run a TOA module for its FullNAT services: no client's option reaches it.
  if (p.tcp && inbound) toa_remove_client_options(p, *w->counters);
  count_forwarded(w, c, inbound, bytes);
  ip_output(w, s, m, p, hop, now_us, tx);
}

}  // namespace pc
