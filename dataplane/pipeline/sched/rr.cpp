// Round robin as ip_vs_rr.c: continue after the last chosen position, take the
// next server with weight > 0 that is not OVERLOAD, wrapping around once.
#include <new>
#include "pipeline/sched/scheduler.h"

namespace pc {

namespace {

class RoundRobin final : public Scheduler {
 public:
  void reset(const ServiceEntry&) override { last_ = -1; }  // back to the list head

  int pick(const SchedInput& in) override {
    const auto& servers = in.service.servers;
    int n = static_cast<int>(servers.size());
    if (n == 0) return -1;
    for (int step = 1; step <= n; step++) {
      int i = (last_ + step) % n;
      if (i < 0) i += n;
      if (server_usable(in, i)) {
        last_ = i;
        return i;
      }
    }
    return -1;
  }

 private:
  int last_ = -1;
};

}  // namespace

Scheduler* make_rr_scheduler() { return new (std::nothrow) RoundRobin(); }

}  // namespace pc
