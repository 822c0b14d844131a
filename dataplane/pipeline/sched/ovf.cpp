// Weighted overflow as ip_vs_ovf.c: the highest-weight usable server whose active
// connections do not exceed its weight (active <= weight, as IPVS tests it); the first
// in the list wins ties. So the top server is filled to weight + 1 active connections,
// then new ones overflow to the next weight down. Inactive connections are not counted,
// which is why IPVS calls it unsuited to UDP.
#include <new>
#include "pipeline/sched/scheduler.h"

namespace pc {

namespace {

class WeightedOverflow final : public Scheduler {
 public:
  void reset(const ServiceEntry&) override {}

  int pick(const SchedInput& in) override {
    const auto& servers = in.service.servers;
    int best = -1;
    for (int i = 0; i < static_cast<int>(servers.size()); i++) {
      if (!server_usable(in, i)) continue;
      if (active_conns(in, i) > static_cast<int64_t>(servers[i].weight)) continue;  // full: overflow
      if (best < 0 || servers[i].weight > servers[best].weight) best = i;
    }
    return best;
  }
};

}  // namespace

Scheduler* make_ovf_scheduler() { return new (std::nothrow) WeightedOverflow(); }

}  // namespace pc
