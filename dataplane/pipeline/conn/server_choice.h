// Which real server a new connection goes to: the client network's persistence
// template when the service is persistent and the template is valid (persist.h),
// else the service's scheduler (sched/). Called by every path that creates a
// connection (fullnat, synproxy), on the worker thread.
#pragma once
#include <cstdint>
#include "pipeline/conn/conn.h"
#include "pipeline/snapshot.h"

namespace pc {

struct Worker;

struct ServerChoice {
  int index;              // into service.servers; -1 = no server available
  uint32_t template_slot; // persistence template to bind the connection to, or kNoTemplate
};

ServerChoice choose_server(Worker* w, const ServiceEntry& svc, const IpAddr& client_addr, uint16_t client_port,
                           uint64_t now_us);

// The connection for `choice` now exists: count it on its template (no-op without one).
void bind_to_template(Worker* w, const ServerChoice& choice, Conn& c, uint64_t now_us);

// The connection ends: its template no longer has to stay alive for it.
void release_from_template(Worker* w, const Conn& c);

// Timer work: uncounts (PersistConn) the templates that expired (persist.h persist_sweep).
void expire_templates(Worker* w, uint64_t now_us);

// Adoption of an earlier process's templates (conn_adopt.cpp), in three steps:
// adopt_templates keeps those whose service and server are still in s (epochs renewed,
// deadlines moved by shift_us, control counts zeroed); adopt_template_control counts one
// adopted persistent connection (false: its template is gone); count_adopted_templates
// counts the live ones in their servers' gauges.
// by_id: the snapshot's services indexed by id (null where none).
void adopt_templates(Worker* w, const std::vector<const ServiceEntry*>& by_id, int64_t shift_us);
bool adopt_template_control(Worker* w, const Conn& c);
void count_adopted_templates(Worker* w, uint64_t now_us);

}  // namespace pc
