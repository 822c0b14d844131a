#include "pipeline/sched/server_load.h"

namespace pc {

ServerConns server_conns(const ServerLoads& loads, const ServerEntry& server) {
  ServerConns sum;
  for (uint16_t w = 0; w < loads.worker_count; w++) {
    const TrafficCounters& t = loads.workers[w]->servers[server.id];
    // Another worker writes these with plain stores; aligned 64-bit loads are not torn.
    if (__atomic_load_n(&t.generation, __ATOMIC_RELAXED) != server.generation) continue;
    sum.active += __atomic_load_n(&t.active_conns, __ATOMIC_RELAXED);
    sum.inactive += __atomic_load_n(&t.inactive_conns, __ATOMIC_RELAXED);
  }
  // A worker's gauge may be negative (counters.h) and the workers are not read at one
  // instant: clamp, a scheduler must never see a negative load.
  if (sum.active < 0) sum.active = 0;
  if (sum.inactive < 0) sum.inactive = 0;
  return sum;
}

bool server_overloaded(ServerLoads& loads, const ServerEntry& server) {
  uint8_t& flag = loads.overloaded[server.id];
  if (server.upper_threshold == 0) {
    flag = 0;
    return false;
  }
  ServerConns c = server_conns(loads, server);
  int64_t total = c.active + c.inactive;
  if (total >= server.upper_threshold) {
    flag = 1;
  } else if (flag) {
    bool below = server.lower_threshold ? total < server.lower_threshold
                                        : total * 4 < static_cast<int64_t>(server.upper_threshold) * 3;
    if (below) flag = 0;
  }
  return flag != 0;
}

}  // namespace pc
