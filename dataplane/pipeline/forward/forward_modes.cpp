#include "pipeline/forward/forward_modes.h"

#include <initializer_list>
#include "pipeline/conn/conn_setup.h"
#include "pipeline/forward/fullnat.h"
#include "pipeline/output/neigh.h"
#include "pipeline/output/route.h"
#include "pipeline/conn/tcp_state.h"
#include "pipeline/worker_state.h"

namespace pc {

namespace {

inline void drop(Worker* w, rte_mbuf* m, DropReason reason) {
  rte_pktmbuf_free(m);
  w->counters->drop(reason);
}

inline uint8_t conn_flag_for(ForwardMethod method) {
  switch (method) {
    case ForwardMethod::NAT: return kConnNat;
    case ForwardMethod::DR: return kConnDr;
    case ForwardMethod::TUN: return kConnTun;
    default: return 0;
  }
}


// DR rewrites only the MAC: the server must be a neighbour, not behind a router.
inline bool route_to_server(const Snapshot& s, uint32_t server_addr, bool needs_on_link, NextHop* hop) {
  if (!route_lookup(s, server_addr, hop)) return false;
  return !needs_on_link || hop->gateway == server_addr;
}

}  // namespace

uint32_t forward_new_connection(Worker* w, const Snapshot& s, const ServiceEntry& svc, const ServerEntry& server,
                                const ServerChoice& choice, const ParsedPacket& p, uint64_t now_us, NextHop* hop,
                                DropReason* reason) {
  if (!route_to_server(s, server.addr, server.forward == ForwardMethod::DR, hop)) {
    *reason = DropReason::NO_ROUTE;
    return kNoConn;
  }
  uint32_t index = conn_alloc(&w->conns);
  if (index == kNoConn) {
    *reason = DropReason::CONN_TABLE_FULL;
    return kNoConn;
  }
  Conn& c = w->conns.records[index];
  conn_fill_from_first_packet(w, c, p, svc, server, now_us);
  c.flags = conn_flag_for(server.forward);
  if (server.forward == ForwardMethod::NAT) {
    // The reply tuple becomes RIP:rport -> CIP:cport, and fullnat_rewrite() leaves the source alone.
    c.local_addr = c.client_addr;
    c.local_port = c.client_port;
  }
  if (!conn_insert(&w->conns, index, now_us)) {
    conn_release(&w->conns, index);
    *reason = DropReason::CONN_TABLE_FULL;
    return kNoConn;
  }
  count_new_connection(w, svc.id, server.id);
  bind_to_template(w, choice, c, now_us);
  return index;
}

void forward_one_way(Worker* w, const Snapshot& s, rte_mbuf* m, ParsedPacket& p, Conn& c, const NextHop* known_hop,
                     uint64_t now_us, TxQueues& tx) {
  if (p.tcp) {
    ConnState next = tcp_next_state_input_only(static_cast<ConnState>(c.state), p.tcp->tcp_flags);
    if (next != c.state) fullnat_set_state(w, c, next);
  }
  c.expires_us = conn_expiry(w, c, now_us);  // lazy: the wheel re-files it when its slot comes

  NextHop hop;
  if (known_hop) hop = *known_hop;
  else if (!route_to_server(s, c.server_addr, (c.flags & kConnDr) != 0, &hop)) return drop(w, m, DropReason::NO_ROUTE);
  if ((c.flags & kConnTun) && !tunnel_fits(w, s, m, p, hop, now_us, tx)) return;

  bool service_current = c.service_epoch == w->service_epoch[c.service_id];
  bool server_current = c.server_epoch == w->server_epoch[c.server_id];
  for (TrafficCounters* t : {service_current ? &w->counters->services[c.service_id] : nullptr,
                             server_current ? &w->counters->servers[c.server_id] : nullptr}) {
    if (!t) continue;
    t->in_packets++;
    t->in_bytes += p.ip_total_len;
  }
  w->counters->event(Event::PACKETS_FORWARDED_IN);
  if (c.flags & kConnTun) return tunnel_output(w, s, m, p, c.server_addr, hop, now_us, tx);
  // DR: IP header untouched (TTL too); only the MACs change, towards the server itself.
  neigh_output(&w->neigh, s, m, hop.port_index, c.server_addr, now_us, tx);
}

void forward_icmp_one_way(Worker* w, const Snapshot& s, rte_mbuf* m, const ParsedPacket& p, const Conn& c,
                          uint64_t now_us, TxQueues& tx) {
  NextHop hop;
  if (!route_to_server(s, c.server_addr, (c.flags & kConnDr) != 0, &hop)) return drop(w, m, DropReason::NO_ROUTE);
  if ((c.flags & kConnTun) && !tunnel_fits(w, s, m, p, hop, now_us, tx)) return;
  w->counters->event(Event::ICMP_ERRORS_TO_SERVER);
  if (c.flags & kConnTun) return tunnel_output(w, s, m, p, c.server_addr, hop, now_us, tx);
  neigh_output(&w->neigh, s, m, hop.port_index, c.server_addr, now_us, tx);
}

}  // namespace pc
