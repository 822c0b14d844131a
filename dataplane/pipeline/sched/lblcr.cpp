// Locality-based least connection with replication as ip_vs_lblcr.c: the cache maps
// a destination address to a SET of servers. A hit uses the set's weighted least
// loaded usable member; when the set has more than one member and was not modified
// for lblcr_expiration (24 h), its weighted most loaded member is dropped; when the
// member found is missing or "overloaded" (lblc's rule), wlc over all servers picks
// one and it joins the set. An entry idle for lblcr_expiration is forgotten.
//
// As for lblc: in FullNAT the destination is the service's VIP, so one entry per
// service, kept here. Members are server ids (they survive server set changes).
#include <new>
#include <vector>
#include "pipeline/sched/scheduler.h"

namespace pc {

constexpr uint64_t kReplicatedExpirationUs = 24ull * 60 * 60 * 1000000;  // DEFAULT_EXPIRATION

namespace {

class LocalityReplicated final : public Scheduler {
 public:
  void reset(const ServiceEntry& service) override {
    // Servers that left the service leave the set (IPVS drops a deleted dest's
    // entries too); then room for every server, so pick() never allocates.
    for (size_t k = members_.size(); k-- > 0;)
      if (server_index_by_id(service, members_[k]) < 0) members_.erase(members_.begin() + static_cast<long>(k));
    members_.reserve(service.servers.size());
  }

  int pick(const SchedInput& in) override {
    if (cached_ && in.now_us - last_use_us_ > kReplicatedExpirationUs) {
      cached_ = false;
      members_.clear();
    }
    if (cached_) {
      last_use_us_ = in.now_us;
      int dest = set_min(in);
      if (members_.size() > 1 && in.now_us - last_modified_us_ > kReplicatedExpirationUs) {
        int most = set_max(in);
        if (most >= 0) erase(in.service.servers[most].id, in.now_us);
      }
      if (dest >= 0 && !locality_overloaded(in, dest)) return dest;
    }
    int chosen = weighted_least(in, conn_overhead);
    if (chosen < 0) return -1;
    if (!cached_) {
      cached_ = true;
      members_.clear();
      last_use_us_ = in.now_us;
    }
    insert(in.service.servers[chosen].id, in.now_us);
    return chosen;
  }

 private:
  // ip_vs_dest_set_min(): weighted least-connection among the members still in the
  // service, skipping OVERLOAD and weight 0.
  int set_min(const SchedInput& in) {
    int least = -1;
    int64_t least_overhead = 0;
    for (uint32_t id : members_) {
      int i = server_index_by_id(in.service, id);
      if (i < 0 || server_is_overloaded(in, i)) continue;
      int64_t h = conn_overhead(in, i);
      if (least < 0) {
        if (in.service.servers[i].weight == 0) continue;
        least = i;
        least_overhead = h;
      } else if (least_overhead * static_cast<int64_t>(in.service.servers[i].weight) >
                 h * static_cast<int64_t>(in.service.servers[least].weight)) {
        least = i;
        least_overhead = h;
      }
    }
    return least;
  }

  // ip_vs_dest_set_max(): the first member, replaced by any member with weight > 0
  // that is more loaded per weight.
  int set_max(const SchedInput& in) {
    int most = -1;
    int64_t most_overhead = 0;
    for (uint32_t id : members_) {
      int i = server_index_by_id(in.service, id);
      if (i < 0) continue;
      int64_t h = conn_overhead(in, i);
      int64_t w = in.service.servers[i].weight;
      if (most < 0 || (most_overhead * w < h * static_cast<int64_t>(in.service.servers[most].weight) && w > 0)) {
        most = i;
        most_overhead = h;
      }
    }
    return most;
  }

  void insert(uint32_t id, uint64_t now_us) {
    for (uint32_t m : members_)
      if (m == id) return;
    if (members_.size() < members_.capacity()) members_.push_back(id);  // capacity = server count
    last_modified_us_ = now_us;
  }

  void erase(uint32_t id, uint64_t now_us) {
    for (size_t k = 0; k < members_.size(); k++) {
      if (members_[k] != id) continue;
      members_.erase(members_.begin() + static_cast<long>(k));
      last_modified_us_ = now_us;
      return;
    }
  }

  bool cached_ = false;
  std::vector<uint32_t> members_;
  uint64_t last_use_us_ = 0, last_modified_us_ = 0;
};

}  // namespace

Scheduler* make_lblcr_scheduler() { return new (std::nothrow) LocalityReplicated(); }

}  // namespace pc
