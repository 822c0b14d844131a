// A connection's bookkeeping, whatever the forwarding method: what a new record gets
// from its first packet, its expiry, the state changes with IPVS's active/inactive
// gauges kept right, and the counters of the service and server it reports to.
// Used by the stage that makes connections (conn_stage.cpp, conn_create.cpp,
// synproxy/) and by the forwarding methods that count what they send (forward/).
#pragma once
#include <cstdint>
#include <initializer_list>
#include "pipeline/l2l3/l3.h"
#include "pipeline/snapshot.h"
#include "pipeline/conn/tcp_state.h"
#include "pipeline/worker_state.h"

namespace pc {

inline uint64_t conn_expiry(const Worker* w, const Conn& c, uint64_t now_us) {
  return now_us + static_cast<uint64_t>(w->services[c.service_id].timeouts.seconds[c.state]) * 1000000ull;
}

// Fills everything but the local side and the method's flags; expires_us included.
inline void conn_fill_from_first_packet(const Worker* w, Conn& c, const ParsedPacket& p, const ServiceEntry& svc,
                                        const ServerEntry& server, uint64_t now_us) {
  c.protocol = l3_protocol(p);
  c.client_addr = l3_src(p);
  c.client_port = l4_src_port(p);
  c.virtual_addr = l3_dst(p);
  c.virtual_port = l4_dst_port(p);
  c.server_addr = server.addr;
  c.server_port = server.port;
  c.service_id = static_cast<uint16_t>(svc.id);
  c.server_id = static_cast<uint16_t>(server.id);
  c.service_epoch = w->service_epoch[svc.id];
  c.server_epoch = w->server_epoch[server.id];
  c.state = c.protocol == IPPROTO_TCP ? kStateNone : kStateUdp;
  c.expires_us = conn_expiry(w, c, now_us);
}

// A connection in NONE/SYN_RECV/UDP is inactive (IPVS) until the state machine says otherwise.
inline void count_new_connection(Worker* w, uint32_t service_id, uint32_t server_id) {
  WorkerCounters& counters = *w->counters;
  counters.services[service_id].conns++;
  counters.servers[server_id].conns++;
  counters.services[service_id].inactive_conns++;
  counters.servers[server_id].inactive_conns++;
  counters.event(Event::CONNS_CREATED);
}

// The counters a connection still reports to: null when its id now names another object.
inline TrafficCounters* service_counters(Worker* w, const Conn& c) {
  return c.service_epoch == w->service_epoch[c.service_id] ? &w->counters->services[c.service_id] : nullptr;
}
inline TrafficCounters* server_counters(Worker* w, const Conn& c) {
  return c.server_epoch == w->server_epoch[c.server_id] ? &w->counters->servers[c.server_id] : nullptr;
}

// Passive health: c's server refused it (counted only while the id names that server).
inline void count_icmp_unreachable_from_server(Worker* w, const Conn& c) {
  if (c.server_epoch == w->server_epoch[c.server_id]) w->counters->refusals[c.server_id].icmp_unreachable++;
}
inline void count_reset_from_server(Worker* w, const Conn& c) {
  if (c.server_epoch == w->server_epoch[c.server_id]) w->counters->refusals[c.server_id].resets++;
}

// Moves c to state. IPVS set_tcp_state() accounting: ESTABLISHED counts as active, every
// other state inactive.
inline void conn_set_state(Worker* w, Conn& c, uint8_t state) {
  bool was_active = c.state == kStateEstablished, is_active = state == kStateEstablished;
  if (was_active != is_active) {
    int64_t delta = is_active ? 1 : -1;
    for (TrafficCounters* t : {service_counters(w, c), server_counters(w, c)}) {
      if (!t) continue;
      t->active_conns += delta;
      t->inactive_conns -= delta;
    }
  }
  c.state = state;
}

// One packet of c forwarded: bytes as received (before anything we add or take away).
inline void count_forwarded(Worker* w, const Conn& c, bool inbound, uint16_t bytes) {
  for (TrafficCounters* t : {service_counters(w, c), server_counters(w, c)}) {
    if (!t) continue;
    (inbound ? t->in_packets : t->out_packets)++;
    (inbound ? t->in_bytes : t->out_bytes) += bytes;
  }
  w->counters->event(inbound ? Event::PACKETS_FORWARDED_IN : Event::PACKETS_FORWARDED_OUT);
  if (unlikely(w->session_log.tallies != nullptr))
    session_log_count(w->session_log, static_cast<uint32_t>(&c - w->conns.records), inbound, bytes);
}

// Session logging on: the record of a connection made or ending now, or its loss counted.
inline void log_session_created(Worker* w, uint32_t index, uint64_t now_us) {
  bool queued = session_log_created(w->session_log, w->conns.records[index], index, now_us);
  w->counters->event(queued ? Event::SESSION_EVENTS_QUEUED : Event::SESSION_EVENTS_LOST);
}
inline void log_session_ended(Worker* w, const Conn& c, uint64_t now_us, SessionEventKind kind) {
  bool queued = session_log_ended(w->session_log, c, static_cast<uint32_t>(&c - w->conns.records), now_us, kind);
  w->counters->event(queued ? Event::SESSION_EVENTS_QUEUED : Event::SESSION_EVENTS_LOST);
}

}  // namespace pc
