// Weighted least connection as ip_vs_wlc.c (ipvsadm's default): the server with the
// smallest (active*256 + inactive) / weight, compared as products; first wins ties.
#include <new>
#include "pipeline/sched/scheduler.h"

namespace pc {

namespace {

class WeightedLeastConnection final : public Scheduler {
 public:
  void reset(const ServiceEntry&) override {}
  int pick(const SchedInput& in) override { return weighted_least(in, conn_overhead); }
};

}  // namespace

Scheduler* make_wlc_scheduler() { return new (std::nothrow) WeightedLeastConnection(); }

}  // namespace pc
