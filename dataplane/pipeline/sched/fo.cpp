// Weighted fail-over as ip_vs_fo.c: the usable server with the highest weight;
// the first one in the list wins ties. Traffic moves only when it becomes unusable.
#include <new>
#include "pipeline/sched/scheduler.h"

namespace pc {

namespace {

class WeightedFailover final : public Scheduler {
 public:
  void reset(const ServiceEntry&) override {}

  int pick(const SchedInput& in) override { return heaviest_usable(in, nullptr); }
};

}  // namespace

Scheduler* make_fo_scheduler() { return new (std::nothrow) WeightedFailover(); }

}  // namespace pc
