// DR (ipvsadm -g): the frame goes to the server's MAC with its IP header untouched
// (TTL or hop limit too); the server answers the client directly. Both families: neigh
// resolves an IPv4 RIP by ARP, an IPv6 one by neighbour discovery.
#include "pipeline/forward/dr.h"

#include "pipeline/conn/conn_account.h"
#include "pipeline/output/neigh.h"
#include "pipeline/forward/next_hop.h"
#include "pipeline/worker_state.h"

namespace pc {

void forward_dr(Worker* w, const Snapshot& s, rte_mbuf* m, const ParsedPacket& p, const Conn& c,
                const NextHop* known_hop, uint64_t now_us, TxQueues& tx) {
  NextHop hop;
  if (!method_next_hop(w, s, m, known_hop, c.server_addr, &hop, true)) return;
  count_forwarded(w, c, true, p.ip_total_len);
  neigh_output(&w->neigh, s, m, hop.port_index, c.server_addr, now_us, tx);
}

void forward_dr_icmp_error(Worker* w, const Snapshot& s, rte_mbuf* m, const Conn& c, uint64_t now_us, TxQueues& tx) {
  NextHop hop;
  if (!method_next_hop(w, s, m, nullptr, c.server_addr, &hop, true)) return;
  w->counters->event(Event::ICMP_ERRORS_TO_SERVER);
  neigh_output(&w->neigh, s, m, hop.port_index, c.server_addr, now_us, tx);
}

}  // namespace pc
