// Locality-based least connection as ip_vs_lblc.c: a cache destination address ->
// server. The cached server is used while it is usable and not "overloaded"
// (active > weight while another server has active*2 < weight); otherwise wlc picks
// one and the cache entry is updated. An entry idle longer than lblc_expiration
// (24 h) is forgotten.
//
// In FullNAT the destination of every connection to a service is its VIP, so the
// cache of one service holds at most one entry (IPVS's 1024-bucket table and its
// size-driven 6-minute purge never come into play); it lives in this object.
#include <new>
#include "pipeline/sched/scheduler.h"

namespace pc {

constexpr uint64_t kLocalityExpirationUs = 24ull * 60 * 60 * 1000000;  // DEFAULT_EXPIRATION

namespace {

class LocalityLeastConnection final : public Scheduler {
 public:
  void reset(const ServiceEntry&) override {}  // entries name servers by id: they survive set changes

  int pick(const SchedInput& in) override {
    if (cached_ && in.now_us - last_use_us_ <= kLocalityExpirationUs) {
      int index = server_index_by_id(in.service, server_id_);
      if (index >= 0 && server_usable(in, index) && !locality_overloaded(in, index)) {
        last_use_us_ = in.now_us;
        return index;
      }
    }
    int chosen = weighted_least(in, conn_overhead);
    if (chosen < 0) return -1;
    cached_ = true;
    server_id_ = in.service.servers[chosen].id;
    last_use_us_ = in.now_us;
    return chosen;
  }

 private:
  bool cached_ = false;
  uint32_t server_id_ = 0;
  uint64_t last_use_us_ = 0;
};

}  // namespace

Scheduler* make_lblc_scheduler() { return new (std::nothrow) LocalityLeastConnection(); }

}  // namespace pc
