// Never queue as ip_vs_nq.c: the first usable server with no active connection;
// if every one is busy, the sed choice (overhead active + 1, weighted).
#include <new>
#include "pipeline/sched/scheduler.h"

namespace pc {

namespace {

class NeverQueue final : public Scheduler {
 public:
  void reset(const ServiceEntry&) override {}

  int pick(const SchedInput& in) override {
    const auto& servers = in.service.servers;
    int least = -1;
    int64_t least_overhead = 0;
    for (int i = 0; i < static_cast<int>(servers.size()); i++) {
      if (!server_usable(in, i)) continue;
      int64_t active = active_conns(in, i);
      if (active == 0) return i;  // an idle server: no queueing at all
      int64_t h = active + 1;
      if (least < 0 || least_overhead * static_cast<int64_t>(servers[i].weight) >
                           h * static_cast<int64_t>(servers[least].weight)) {
        least = i;
        least_overhead = h;
      }
    }
    return least;
  }
};

}  // namespace

Scheduler* make_nq_scheduler() { return new (std::nothrow) NeverQueue(); }

}  // namespace pc
