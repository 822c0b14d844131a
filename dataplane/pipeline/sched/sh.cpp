// Source hashing as ip_vs_sh.c: 256 buckets; the servers are laid out cyclically,
// each taking `weight` consecutive buckets (a weight-0 server still takes one, but
// is unusable). bucket = (offset + hash_32(port + addr, 8)) & 255 over the client
// address (and source port with sh-port). sh-fallback: when the bucket's server is
// unusable, rehash with offsets (offset + first bucket) % 256 until a usable one.
#include <new>
#include <rte_byteorder.h>
#include "pipeline/sched/hash.h"
#include "pipeline/sched/scheduler.h"

namespace pc {

namespace {

constexpr unsigned kShBits = 8;  // CONFIG_IP_VS_SH_TAB_BITS
constexpr unsigned kShBuckets = 1u << kShBits;

class SourceHashing final : public Scheduler {
 public:
  void reset(const ServiceEntry& service) override {
    int n = static_cast<int>(service.servers.size());
    int current = 0;
    uint32_t filled = 0;
    for (unsigned b = 0; b < kShBuckets; b++) {
      if (n == 0) {
        buckets_[b] = -1;
        continue;
      }
      buckets_[b] = current;
      // Stay on this server until it has `weight` buckets (at least one).
      if (++filled >= service.servers[current].weight) {
        current = (current + 1) % n;
        filled = 0;
      }
    }
  }

  int pick(const SchedInput& in) override {
    uint32_t addr = rte_be_to_cpu_32(ip_fold32(in.client_addr));
    uint32_t port = (in.service.sched_flags & kSchedPort) ? rte_be_to_cpu_16(in.client_port) : 0;
    uint32_t first = bucket(addr, port, 0);
    int chosen = buckets_[first];
    if (chosen >= 0 && server_usable(in, chosen)) return chosen;
    if (!(in.service.sched_flags & kSchedFallback)) return -1;
    for (uint32_t offset = 0; offset < kShBuckets; offset++) {
      int candidate = buckets_[bucket(addr, port, (offset + first) % kShBuckets)];
      if (candidate >= 0 && server_usable(in, candidate)) return candidate;
    }
    return -1;
  }

 private:
  static uint32_t bucket(uint32_t addr, uint32_t port, uint32_t offset) {
    return (offset + golden_hash32(port + addr, kShBits)) & (kShBuckets - 1);
  }
  int buckets_[kShBuckets] = {};
};

}  // namespace

Scheduler* make_sh_scheduler() { return new (std::nothrow) SourceHashing(); }

}  // namespace pc
