// stats(): the flood defences' per-service counters summed over workers.
#pragma once
#include <cstdint>
#include <vector>
#include "common/defense_counters.h"
#include "core/worker_loop.h"

namespace pc {

struct DefenseReport {
  uint32_t id = 0;  // service id; 0 = traffic to a VIP that matched no service
  ServiceDefenseCounters sum;
};

// One report for id 0 and one per id in service_ids (ids of the live snapshot).
void defense_stats_collect(const std::vector<WorkerContext*>& workers, const std::vector<uint32_t>& service_ids,
                           std::vector<DefenseReport>* out);

}  // namespace pc
