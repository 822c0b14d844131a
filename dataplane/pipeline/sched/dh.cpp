// Destination hashing as ip_vs_dh.c: 256 buckets, one server per bucket in turn
// (weights do not shape the table); bucket = (daddr * 2654435761) & 255. In FullNAT
// the destination is the service's VIP, so a service sends every new connection
// to one server (the one its VIP hashes to); it is meant for cache farms where the
// destination varies. The chosen server unusable -> no server (no fallback).
#include <new>
#include <rte_byteorder.h>
#include "pipeline/sched/hash.h"
#include "pipeline/sched/scheduler.h"

namespace pc {

namespace {

constexpr unsigned kDhBuckets = 256;  // CONFIG_IP_VS_DH_TAB_BITS 8

class DestinationHashing final : public Scheduler {
 public:
  void reset(const ServiceEntry& service) override {
    int n = static_cast<int>(service.servers.size());
    for (unsigned b = 0; b < kDhBuckets; b++) buckets_[b] = n ? static_cast<int>(b % n) : -1;
  }

  int pick(const SchedInput& in) override {
    int chosen = buckets_[knuth_bucket256(rte_be_to_cpu_32(ip_fold32(in.service.vip)))];
    return chosen >= 0 && server_usable(in, chosen) ? chosen : -1;
  }

 private:
  int buckets_[kDhBuckets] = {};
};

}  // namespace

Scheduler* make_dh_scheduler() { return new (std::nothrow) DestinationHashing(); }

}  // namespace pc
