// Live connection listing (pcadm -Lnc) without locks on the packet path.
// The connection table belongs to its worker, so the control thread never reads it:
// it posts a request in the worker's mailbox and the worker copies one bounded page
// into the caller's buffer at the top of its next loop iteration. The control
// thread waits with a deadline and can always take its buffer back safely:
//   IDLE --control--> REQUESTED --worker--> COPYING --worker--> DONE --control--> IDLE
// A request the worker has not picked up by the deadline is withdrawn with a CAS
// (REQUESTED → IDLE); once COPYING, the copy is bounded so the control thread waits it out.
#pragma once
#include <atomic>
#include <cstdint>
#include <rte_cycles.h>
#include "pipeline/pipeline.h"

namespace pc {

constexpr uint64_t kConnListingTimeoutUs = 500000;  // a worker answers within one loop iteration

// What listing costs a worker's loop (stats(): per worker). One writer (the worker, or the
// control thread in test mode), relaxed: a reader may see a value one scan stale.
struct ListingScanStats {
  std::atomic<uint64_t> scans{0};       // listing scans run
  std::atomic<uint64_t> slots{0};       // records read by them, in total
  std::atomic<uint64_t> max_slots{0};   // most records one scan read
  std::atomic<uint64_t> max_cycles{0};  // longest scan, TSC cycles
  void record(uint64_t scanned, uint64_t cycles) {
    scans.store(scans.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    slots.store(slots.load(std::memory_order_relaxed) + scanned, std::memory_order_relaxed);
    if (scanned > max_slots.load(std::memory_order_relaxed)) max_slots.store(scanned, std::memory_order_relaxed);
    if (cycles > max_cycles.load(std::memory_order_relaxed)) max_cycles.store(cycles, std::memory_order_relaxed);
  }
};

struct ConnListingMailbox {
  enum State : uint32_t { IDLE, REQUESTED, COPYING, DONE };
  std::atomic<uint32_t> state{IDLE};
  uint32_t cursor = 0;              // written by control before REQUESTED
  uint32_t max = 0;
  ConnectionInfo* out = nullptr;
  uint32_t copied = 0;              // written by the worker before DONE
  // Another bounded job in place of the listing (e.g. the packet trace's control):
  // set with the request, cleared when it is done. Null = list connections.
  void (*job)(Worker* worker, void* arg) = nullptr;
  void* job_arg = nullptr;
  ListingScanStats scans;
};

// One timed listing scan (both modes run the worker's copy through here).
inline uint32_t conn_listing_scan(ConnListingMailbox& box, const Worker* worker, uint32_t cursor,
                                  ConnectionInfo* out, uint32_t max) {
  uint64_t start = rte_rdtsc();
  uint32_t scanned = 0;
  uint32_t copied = worker_list_connections(worker, cursor, out, max, &scanned);
  box.scans.record(scanned, rte_rdtsc() - start);
  return copied;
}

// Worker side: one relaxed load when there is nothing to do.
inline void conn_listing_serve(ConnListingMailbox& box, Worker* worker) {
  if (box.state.load(std::memory_order_relaxed) != ConnListingMailbox::REQUESTED) return;
  uint32_t expected = ConnListingMailbox::REQUESTED;
  if (!box.state.compare_exchange_strong(expected, ConnListingMailbox::COPYING, std::memory_order_acquire))
    return;  // withdrawn by the control thread
  if (box.job)
    box.job(worker, box.job_arg);
  else
    box.copied = conn_listing_scan(box, worker, box.cursor, box.out, box.max);
  box.state.store(ConnListingMailbox::DONE, std::memory_order_release);
}

// Control side: returns false when the worker did not answer in time (nothing copied).
bool conn_listing_request(ConnListingMailbox& box, uint32_t cursor, ConnectionInfo* out, uint32_t max,
                          uint32_t* copied);

// Control side: runs job(worker, arg) on the worker's thread at its next loop iteration.
// False when the worker did not pick it up in time (then the job never runs).
bool worker_mailbox_run(ConnListingMailbox& box, void (*job)(Worker* worker, void* arg), void* arg);

}  // namespace pc
