// Per (service, LIP) connection and conflict counts (pcadm --get-laddr CONNS and
// CONFLICTS; DPVS laddr->conn_counts, LVS FullNAT local->port_conflict), kept by
// each worker without locks and moved only when a FullNAT connection is made or
// freed, or a new connection finds a LIP's lports all taken.
//
// A worker's ServiceRuntime binds each LIP of the service to its lport pool and to
// the pair's counters (WorkerCounters::local_addresses[id], id from snapshot_build).
// A connection record keeps only its lport pool, so when it ends its binding is found
// by (service, pool): a pair is one binding for the life of the service generation.
//   - A LIP that leaves the service with connections still on it stays as a retired
//     binding until the last of them ends (they still hold its lports).
//   - A LIP added back while some remain takes them up again: CONNS is always the
//     connections of the service that really use the LIP, never below zero; its
//     CONFLICTS start again from zero (a new pair generation).
//   - A service id given to a new service (new generation) starts with no bindings;
//     the old service's connections are disowned by their service epoch.
// CONFLICTS: our allocator never hands out an lport that is in use (a bitmap per LIP
// per worker), so the collisions LVS counted (a random lport whose reply tuple was
// taken) cannot happen; what can is a LIP whose lports (this worker's residue class)
// are all taken, and every such attempt counts, whether another LIP then served the
// connection or it was dropped as lport_exhausted. DPVS itself always prints 0.
#pragma once
#include <cstdint>
#include "pipeline/conn/conn.h"
#include "pipeline/snapshot.h"

namespace pc {

struct Worker;
struct ServiceRuntime;

// One LIP of a service as this worker uses it.
struct LipBinding {
  uint16_t pool = 0;        // the worker's lport pool of the address
  uint32_t id = 0;          // WorkerCounters::local_addresses index of the pair
  uint64_t generation = 0;  // the pair generation this binding counts for
  int64_t live = 0;         // this worker's connections of the service on this LIP
};

// Snapshot adoption: rebinds rt to svc's LIPs (creating lport pools as needed) and
// starts the counters of pairs this worker has not counted for yet. new_generation:
// the service id names a new service; its old bindings are dropped.
void local_addresses_adopt(Worker* w, ServiceRuntime& rt, const ServiceEntry& svc, bool new_generation);
// The service left the snapshot: its bindings go (its connections are not shown any more).
void local_addresses_forget(ServiceRuntime& rt);

// A FullNAT connection of rt's service took an lport of rt.lips[slot].
void local_address_count_conn(Worker* w, ServiceRuntime& rt, uint32_t slot);
// A new connection found every lport of rt.lips[slot] taken.
void local_address_count_conflict(Worker* w, const ServiceRuntime& rt, uint32_t slot);
// Adoption: an earlier process's FullNAT connection of rt's service on lport pool `pool`
// counts for that LIP. False when the LIP is no longer one of the service's.
bool local_address_count_adopted(Worker* w, ServiceRuntime& rt, uint16_t pool);
// A FullNAT connection ends (after its lport went back).
void local_address_release(Worker* w, const Conn& c);

}  // namespace pc
