#include "core/defense_stats.h"

namespace pc {

void defense_stats_collect(const std::vector<WorkerContext*>& workers, const std::vector<uint32_t>& service_ids,
                           std::vector<DefenseReport>* out) {
  auto sum = [&](uint32_t id) {
    DefenseReport r;
    r.id = id;
    for (auto* w : workers) {
      const ServiceDefenseCounters& c = w->counters->defense.services[id];
      r.sum.passed += c.passed;
      for (unsigned i = 0; i < kDefenseDropCount; i++) r.sum.dropped[i] += c.dropped[i];
      r.sum.synproxy_engaged += c.synproxy_engaged;  // workers engaged
    }
    out->push_back(r);
  };
  sum(0);
  for (uint32_t id : service_ids)
    if (id >= 1 && id <= kMaxServiceId) sum(id);
}

}  // namespace pc
