// What every new connection record gets, whatever the forwarding method: the
// client and virtual sides from the first packet, the chosen server, the epochs
// that tie it to its objects' counters, the first state and expiry; and the
// counters every method bumps when the record is in the table.
#pragma once
#include <cstdint>
#include "pipeline/l2l3/packet.h"
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
  c.protocol = p.ip->next_proto_id;
  c.client_addr = p.ip->src_addr;
  c.client_port = l4_src_port(p);
  c.virtual_addr = p.ip->dst_addr;
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

}  // namespace pc
