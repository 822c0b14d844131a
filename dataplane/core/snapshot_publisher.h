// Publishes immutable config snapshots to workers with one atomic pointer store
// and frees the previous one only after every worker has passed a quiescent
// state (rte_rcu_qsbr). Workers report quiescence once per loop iteration and
// go offline while sleeping, so apply() never waits on an idle worker and never
// pauses traffic. With zero readers (test mode: the worker is the caller's own
// thread) the old snapshot is freed immediately.
#pragma once
#include <atomic>
#include <cstdint>
#include <vector>
#include <rte_rcu_qsbr.h>
#include "core/status.h"
#include "pipeline/pipeline.h"

namespace pc {

class SnapshotPublisher {
 public:
  // readers = number of worker threads that will register (ids 0..readers-1).
  Status init(uint16_t readers);
  // Frees the live snapshot, any retired ones and the QSBR state. Workers must be stopped.
  void destroy();

  const Snapshot* current() const { return current_.load(std::memory_order_acquire); }
  rte_rcu_qsbr* qsbr() const { return qsbr_; }

  // Makes s live, then reclaims the previous snapshot (bounded wait, see .cpp).
  void publish(Snapshot* s);

 private:
  void reclaim_retired(bool force);

  std::atomic<Snapshot*> current_{nullptr};
  rte_rcu_qsbr* qsbr_ = nullptr;
  uint16_t readers_ = 0;
  // Snapshots whose grace period did not end within the bounded wait; retried on
  // the next publish and freed for sure at destroy().
  struct Retired {
    Snapshot* snapshot;
    uint64_t token;
  };
  std::vector<Retired> retired_;
};

}  // namespace pc
