// DR (ipvsadm -g): the frame goes to the server's MAC with its IP header untouched
// (TTL too); the server answers the client directly.
#include "pipeline/forward/dr.h"

#include "pipeline/conn/conn_account.h"
#include "pipeline/output/neigh.h"
#include "pipeline/output/route.h"
#include "pipeline/worker_state.h"

namespace pc {

void forward_dr(Worker* w, const Snapshot& s, rte_mbuf* m, const ParsedPacket& p, const Conn& c,
                const NextHop* known_hop, uint64_t now_us, TxQueues& tx) {
  NextHop hop;
  if (known_hop) hop = *known_hop;
  else if (!route_to_server(s, c.server_addr, true, &hop)) return worker_drop(w, m, DropReason::NO_ROUTE);
  count_forwarded(w, c, true, p.ip_total_len);
  neigh_output(&w->neigh, s, m, hop.port_index, c.server_addr, now_us, tx);
}

void forward_dr_icmp_error(Worker* w, const Snapshot& s, rte_mbuf* m, const Conn& c, uint64_t now_us, TxQueues& tx) {
  NextHop hop;
  if (!route_to_server(s, c.server_addr, true, &hop)) return worker_drop(w, m, DropReason::NO_ROUTE);
  w->counters->event(Event::ICMP_ERRORS_TO_SERVER);
  neigh_output(&w->neigh, s, m, hop.port_index, c.server_addr, now_us, tx);
}

}  // namespace pc
