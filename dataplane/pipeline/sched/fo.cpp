// Weighted fail-over as ip_vs_fo.c: the usable server with the highest weight;
// the first one in the list wins ties. Traffic moves only when it becomes unusable.
#include <new>
#include "pipeline/sched/scheduler.h"

namespace pc {

namespace {

class WeightedFailover final : public Scheduler {
 public:
  void reset(const ServiceEntry&) override {}

  int pick(const SchedInput& in) override {
    const auto& servers = in.service.servers;
    int best = -1;
    for (int i = 0; i < static_cast<int>(servers.size()); i++) {
      if (!server_usable(in, i)) continue;
      if (best < 0 || servers[i].weight > servers[best].weight) best = i;
    }
    return best;
  }
};

}  // namespace

Scheduler* make_fo_scheduler() { return new (std::nothrow) WeightedFailover(); }

}  // namespace pc
