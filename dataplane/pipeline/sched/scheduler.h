// Scheduler interface. One Scheduler object per (worker, service id): it holds
// that worker's cursor/weights/cache state for the service, lives in the worker,
// and survives snapshot swaps while the service's server set is unchanged (the
// worker calls reset() when the set's fingerprint changes).
//
// One file per scheduler (PROTOCOL.md §5, as IPVS defines them): rr wrr lc wlc sed
// nq dh sh lblc lblcr mh fo ovf twos. Adding one: a file implementing this class, a case in
// scheduler_create(), a SchedulerKind value in common/config.h.
//
// Every scheduler skips servers that are quiesced (weight 0) or OVERLOAD
// (thresholds, server_load.h); connection counts are the sum over all workers.
// Persistence (templates) is decided before a scheduler is asked (persist.h).
#pragma once
#include <cstdint>
#include "common/config.h"
#include "common/ip_address.h"
#include "common/counters.h"
#include "pipeline/sched/sched_random.h"
#include "pipeline/sched/server_load.h"
#include "pipeline/snapshot.h"

namespace pc {

struct SchedInput {
  const ServiceEntry& service;
  const IpAddr& client_addr;
  uint16_t client_port;   // network order
  ServerLoads& loads;     // all workers' per-server gauges + this worker's OVERLOAD flags
  uint64_t now_us;        // worker clock (lblc/lblcr expiry)
  SchedRandom& random;    // this worker's random source (twos)
};

class Scheduler {
 public:
  virtual ~Scheduler() = default;
  // (Re)initialises the state for service.servers; called once after creation and
  // whenever the server set (ids, addresses, ports, weights, order) changes.
  // Called on the worker thread at snapshot adoption, never per packet.
  virtual void reset(const ServiceEntry& service) = 0;
  // Index into in.service.servers of the chosen server, or -1 when none is available.
  virtual int pick(const SchedInput& in) = 0;
};

// Null on allocation failure. Never called on the packet path.
Scheduler* scheduler_create(SchedulerKind kind);

// ---- helpers shared by the schedulers (scheduler.cpp) ----

// IPVS is_unavailable(): weight 0 (quiesced) or OVERLOAD.
bool server_usable(const SchedInput& in, int index);
bool server_is_overloaded(const SchedInput& in, int index);
// ip_vs_dest_conn_overhead(): active conns assumed 256x as expensive as inactive ones.
int64_t conn_overhead(const SchedInput& in, int index);
// activeconns of one server (sed, nq, lblc/lblcr).
int64_t active_conns(const SchedInput& in, int index);
// Weighted least-connection over all servers with overhead(); -1 if none usable.
// "h1/w1 > h2/w2" is evaluated as h1*w2 > h2*w1 in 64 bits, as IPVS does.
int weighted_least(const SchedInput& in, int64_t (*overhead)(const SchedInput&, int));
// lblc/lblcr is_overloaded(): more active conns than weight while some server has
// active*2 < weight (someone else is clearly less busy).
bool locality_overloaded(const SchedInput& in, int index);
// The usable server with the highest weight among those `eligible` accepts (null: all);
// the first in the list wins ties; -1 if none (fo, ovf).
int heaviest_usable(const SchedInput& in, bool (*eligible)(const SchedInput&, int));
// Index of the server with this id in the service, -1 if it is gone.
int server_index_by_id(const ServiceEntry& service, uint32_t id);

// Per-kind factories (one file each).
Scheduler* make_rr_scheduler();
Scheduler* make_wrr_scheduler();
Scheduler* make_lc_scheduler();
Scheduler* make_wlc_scheduler();
Scheduler* make_sed_scheduler();
Scheduler* make_nq_scheduler();
Scheduler* make_dh_scheduler();
Scheduler* make_sh_scheduler();
Scheduler* make_lblc_scheduler();
Scheduler* make_lblcr_scheduler();
Scheduler* make_mh_scheduler();
Scheduler* make_fo_scheduler();
Scheduler* make_ovf_scheduler();
Scheduler* make_twos_scheduler();

}  // namespace pc
