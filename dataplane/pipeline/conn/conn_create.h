// Making a connection for the first packet of a flow, once the connection stage
// (conn_stage.h) or SYNPROXY has decided one must exist: the server (persistence
// template or scheduler), the route to it, for FullNAT a LIP + lport, the record and
// its hash entries (one for DR/TUN, whose replies never come back through us), the
// counters. Nothing is taken when any step fails.
#pragma once
#include <cstdint>
#include "common/drop_reasons.h"
#include "pipeline/conn/conn.h"
#include "pipeline/l2l3/l3.h"
#include "pipeline/snapshot.h"

namespace pc {

struct Worker;

// A new connection for p to svc, state NONE (UDP: UDP); *hop = the route to the server.
// Returns the record index, or kNoConn with *reason (no server, no route, no local
// address or lport, table full).
uint32_t conn_create(Worker* w, const Snapshot& s, const ServiceEntry& svc, const ParsedPacket& p, uint64_t now_us,
                     NextHop* hop, DropReason* reason);

}  // namespace pc
