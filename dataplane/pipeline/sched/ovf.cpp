// Weighted overflow as ip_vs_ovf.c: the highest-weight usable server whose active
// connections do not exceed its weight (active <= weight, as IPVS tests it); the first
// in the list wins ties. So the top server is filled to weight + 1 active connections,
// then new ones overflow to the next weight down. Inactive connections are not counted,
// which is why IPVS calls it unsuited to UDP.
#include <new>
#include "pipeline/sched/scheduler.h"

namespace pc {

namespace {

// Full (more active connections than its weight): new connections overflow past it.
bool has_room(const SchedInput& in, int i) {
  return active_conns(in, i) <= static_cast<int64_t>(in.service.servers[i].weight);
}

class WeightedOverflow final : public Scheduler {
 public:
  void reset(const ServiceEntry&) override {}

  int pick(const SchedInput& in) override { return heaviest_usable(in, has_room); }
};

}  // namespace

Scheduler* make_ovf_scheduler() { return new (std::nothrow) WeightedOverflow(); }

}  // namespace pc
