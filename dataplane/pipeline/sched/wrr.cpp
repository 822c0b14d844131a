// Weighted round robin as ip_vs_wrr.c (PROTOCOL.md §5): state {cl, cw, mw, di};
// di = gcd of the weights > 0, mw = max weight - (di - 1). Each pick continues
// after cl looking for weight >= cw; passing the end lowers cw by di; cw <= 0
// restarts at mw. The last pass (cw <= di) also catches weights below di.
// OVERLOAD servers are passed over like IPVS does.
#include <new>
#include <numeric>
#include "pipeline/sched/scheduler.h"

namespace pc {

namespace {

class WeightedRoundRobin final : public Scheduler {
 public:
  // ip_vs_wrr_dest_changed(): recompute di/mw, back to the head, keep cw where sensible.
  void reset(const ServiceEntry& service) override {
    int64_t g = 0, max_weight = 0;
    for (const auto& server : service.servers) {
      int64_t w = server.weight;
      if (w > 0) g = std::gcd(g, w);  // gcd(0, w) == w
      if (w > max_weight) max_weight = w;
    }
    di_ = g ? g : 1;
    mw_ = max_weight - (di_ - 1);
    cl_ = -1;
    if (cw_ > mw_ || cw_ == 0) cw_ = mw_;
    else if (di_ > 1) cw_ = (cw_ / di_) * di_ + 1;
  }

  int pick(const SchedInput& in) override {
    const auto& servers = in.service.servers;
    int n = static_cast<int>(servers.size());
    if (mw_ <= 0 || n == 0) return -1;
    if (cl_ >= n) cl_ = -1;
    const int last = cl_;
    int stop = -2;  // none
    bool last_pass = false, restarted = false;
    int from = cl_;
    for (;;) {
      for (int i = from + 1; i < n; i++) {
        if (static_cast<int64_t>(servers[i].weight) >= cw_ && !server_is_overloaded(in, i)) {
          cl_ = i;
          return i;
        }
        if (i == stop) return -1;
      }
      from = -1;  // the list head
      cw_ -= di_;
      if (cw_ <= 0) {
        cw_ = mw_;
        // Stop after a full pass at weight >= 1 that started from the head.
        if (last_pass || last == -1) return -1;
        restarted = true;
      }
      last_pass = cw_ <= di_;
      if (last_pass && restarted && last != -1) stop = last;  // finish the dests up to 'last'
    }
  }

 private:
  int cl_ = -1;
  int64_t cw_ = 0, mw_ = 0, di_ = 1;
};

}  // namespace

Scheduler* make_wrr_scheduler() { return new (std::nothrow) WeightedRoundRobin(); }

}  // namespace pc
