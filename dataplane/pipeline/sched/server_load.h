// What the connection-count schedulers (and thresholds) know about a real server:
// its active/inactive connections summed over EVERY worker, and its OVERLOAD flag.
//
// No locks: each worker keeps publishing its own per-server gauges in its
// WorkerCounters (plain stores by the owner); a scheduler sums all workers' gauges
// with relaxed 64-bit loads. Freshness: this worker's own counts are exact; another
// worker's are at most the burst it is processing behind (it updates its gauges as
// it goes, so a reader sees them within one burst of 32 packets). A peer that has
// not adopted the snapshot yet may still hold a previous object's counts for the id:
// those are skipped by generation, so they count as 0 for at most one burst.
#pragma once
#include <cstdint>
#include "common/counters.h"
#include "pipeline/snapshot.h"

namespace pc {

constexpr uint16_t kMaxSchedWorkers = 128;

struct ServerLoads {
  const WorkerCounters* workers[kMaxSchedWorkers] = {};  // every worker's counters, own included
  uint16_t worker_count = 0;
  // IP_VS_DEST_F_OVERLOAD per server id, as this worker last evaluated it (the
  // hysteresis between upper and lower threshold needs memory).
  uint8_t overloaded[kMaxServerId + 1] = {};
};

struct ServerConns {
  int64_t active = 0;
  int64_t inactive = 0;
};

// Sum over all workers of server's gauges (never negative).
ServerConns server_conns(const ServerLoads& loads, const ServerEntry& server);

// IPVS: OVERLOAD is set when active + inactive reaches the upper threshold and cleared
// when it falls below the lower one (or below 3/4 of the upper when lower is 0).
// Updates loads.overloaded for server.id; false when the server has no upper threshold.
bool server_overloaded(ServerLoads& loads, const ServerEntry& server);

}  // namespace pc
