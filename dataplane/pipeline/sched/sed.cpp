// Shortest expected delay as ip_vs_sed.c: like wlc with overhead = active + 1
// (expected delay (C + 1) / U); inactive connections are ignored.
#include <new>
#include "pipeline/sched/scheduler.h"

namespace pc {

namespace {

int64_t expected_delay_overhead(const SchedInput& in, int index) { return active_conns(in, index) + 1; }

class ShortestExpectedDelay final : public Scheduler {
 public:
  void reset(const ServiceEntry&) override {}
  int pick(const SchedInput& in) override { return weighted_least(in, expected_delay_overhead); }
};

}  // namespace

Scheduler* make_sed_scheduler() { return new (std::nothrow) ShortestExpectedDelay(); }

}  // namespace pc
