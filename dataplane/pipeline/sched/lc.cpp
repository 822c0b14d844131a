// Least connection as ip_vs_lc.c: the usable server with the smallest
// active*256 + inactive; the first one wins ties.
#include <new>
#include "pipeline/sched/scheduler.h"

namespace pc {

namespace {

class LeastConnection final : public Scheduler {
 public:
  void reset(const ServiceEntry&) override {}

  int pick(const SchedInput& in) override {
    int least = -1;
    int64_t least_overhead = 0;
    for (int i = 0; i < static_cast<int>(in.service.servers.size()); i++) {
      if (!server_usable(in, i)) continue;
      int64_t h = conn_overhead(in, i);
      if (least < 0 || h < least_overhead) {
        least = i;
        least_overhead = h;
      }
    }
    return least;
  }
};

}  // namespace

Scheduler* make_lc_scheduler() { return new (std::nothrow) LeastConnection(); }

}  // namespace pc
