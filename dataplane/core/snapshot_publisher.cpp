#include "core/snapshot_publisher.h"

#include <time.h>
#include <rte_cycles.h>
#include <rte_malloc.h>

namespace pc {

namespace {
// A worker iteration is microseconds; a sleeping worker is offline. One second
// means a worker is wedged: we keep the old snapshot on a list instead of
// freeing it under its feet, and stop waiting so apply() still returns.
constexpr uint64_t kGraceWaitMaxUs = 1000000;
constexpr long kGracePollNs = 20000;
}  // namespace

Status SnapshotPublisher::init(uint16_t readers) {
  readers_ = readers;
  if (readers == 0) return Status::Ok();
  size_t size = rte_rcu_qsbr_get_memsize(readers);
  qsbr_ = static_cast<rte_rcu_qsbr*>(rte_zmalloc("pc_qsbr", size, RTE_CACHE_LINE_SIZE));
  if (!qsbr_) return Status::Error("NOMEM", "cannot allocate RCU state for " + std::to_string(readers) + " workers");
  if (rte_rcu_qsbr_init(qsbr_, readers) != 0) {
    rte_free(qsbr_);
    qsbr_ = nullptr;
    return Status::Error("NOMEM", "rte_rcu_qsbr_init failed");
  }
  return Status::Ok();
}

void SnapshotPublisher::destroy() {
  Snapshot* live = current_.exchange(nullptr, std::memory_order_acq_rel);
  if (live) snapshot_free(live);
  reclaim_retired(true);
  rte_free(qsbr_);
  qsbr_ = nullptr;
}

void SnapshotPublisher::publish(Snapshot* s) {
  Snapshot* old = current_.exchange(s, std::memory_order_acq_rel);
  if (!old) return;
  if (!qsbr_) {  // no concurrent readers
    snapshot_free(old);
    return;
  }
  uint64_t token = rte_rcu_qsbr_start(qsbr_);
  uint64_t deadline = rte_get_tsc_cycles() + rte_get_tsc_hz() / 1000000 * kGraceWaitMaxUs;
  while (rte_rcu_qsbr_check(qsbr_, token, false) != 1) {
    if (rte_get_tsc_cycles() > deadline) {
      retired_.push_back({old, token});
      return;
    }
    timespec ts{0, kGracePollNs};
    nanosleep(&ts, nullptr);
  }
  snapshot_free(old);
  reclaim_retired(false);
}

void SnapshotPublisher::reclaim_retired(bool force) {
  for (size_t i = 0; i < retired_.size();) {
    if (force || rte_rcu_qsbr_check(qsbr_, retired_[i].token, false) == 1) {
      snapshot_free(retired_[i].snapshot);
      retired_[i] = retired_.back();
      retired_.pop_back();
    } else {
      i++;
    }
  }
}

}  // namespace pc
