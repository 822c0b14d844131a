// Scheduler interface. One Scheduler object per (worker, service id): it holds
// that worker's cursor/weights state for the service, lives in the worker, and
// survives snapshot swaps while the service's server set is unchanged (the
// worker calls reset() when the set's fingerprint changes).
//
// Adding lc/wlc/sed/nq (need per-server connection gauges: SchedInput.counters),
// dh/sh/mh (need the client address / a table built in reset()), lblc/lblcr
// (own cache keyed by destination), fo: one file per scheduler implementing this
// class, one case in scheduler_create(), one SchedulerKind value in core/config.h.
#pragma once
#include <cstdint>
#include "core/config.h"
#include "core/counters.h"
#include "pipeline/snapshot.h"

namespace pc {

struct SchedInput {
  const ServiceEntry& service;
  uint32_t client_addr;   // network order
  uint16_t client_port;   // network order
  const WorkerCounters& counters;  // this worker's per-server gauges (active/inactive conns)
};

class Scheduler {
 public:
  virtual ~Scheduler() = default;
  // (Re)initialises the state for service.servers; called once after creation and
  // whenever the server set (ids, addresses, ports, weights, order) changes.
  virtual void reset(const ServiceEntry& service) = 0;
  // Index into in.service.servers of the chosen server, or -1 when none is
  // available (weight 0 = quiesced, skipped by every scheduler).
  virtual int pick(const SchedInput& in) = 0;
};

// Null on allocation failure. Never called on the packet path.
Scheduler* scheduler_create(SchedulerKind kind);

// Per-kind factories (one file each).
Scheduler* make_rr_scheduler();
Scheduler* make_wrr_scheduler();

}  // namespace pc
