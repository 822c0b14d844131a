// Power of two choices as ip_vs_twos.c: draw two servers at random by weight (with
// replacement) and keep the one with the smaller (active*256 + inactive) / weight,
// compared as products; the first draw wins ties.
//
// As IPVS draws them: with T the sum of usable weights, each draw r is uniform in
// [0, T] (T + 1 values) and names the first server in list order at which r minus the
// running weight sum reaches <= 0, so the first usable server has weight + 1 chances.
#include <new>
#include "pipeline/sched/scheduler.h"

namespace pc {

namespace {

class TwoChoices final : public Scheduler {
 public:
  void reset(const ServiceEntry&) override {}

  int pick(const SchedInput& in) override {
    const auto& servers = in.service.servers;
    const int n = static_cast<int>(servers.size());
    int64_t total_weight = 0;
    for (int i = 0; i < n; i++)
      if (server_usable(in, i)) total_weight += servers[i].weight;
    if (total_weight == 0) return -1;  // none usable
    // 32-bit weights over any number of servers: the 64-bit sum cannot overflow.
    const uint64_t draws = static_cast<uint64_t>(total_weight) + 1;
    int64_t left1 = static_cast<int64_t>(in.random.below(draws));
    int64_t left2 = static_cast<int64_t>(in.random.below(draws));

    int choice1 = -1, choice2 = -1;
    for (int i = 0; i < n && (choice1 < 0 || choice2 < 0); i++) {
      if (!server_usable(in, i)) continue;
      left1 -= servers[i].weight;
      left2 -= servers[i].weight;
      if (left1 <= 0 && choice1 < 0) choice1 = i;
      if (left2 <= 0 && choice2 < 0) choice2 = i;
    }
    // oh1 / w1 > oh2 / w2: the second draw is less loaded for its weight.
    const int64_t overhead1 = conn_overhead(in, choice1);
    const int64_t overhead2 = conn_overhead(in, choice2);
    if (static_cast<int64_t>(servers[choice2].weight) * overhead1 >
        static_cast<int64_t>(servers[choice1].weight) * overhead2)
      return choice2;
    return choice1;
  }
};

}  // namespace

Scheduler* make_twos_scheduler() { return new (std::nothrow) TwoChoices(); }

}  // namespace pc
