// Live connection listing (pcadm -Lnc) without locks on the packet path, and without
// stalling it: a listing is cut into scans of at most kListingSlotsPerScan records, and a
// worker runs at most one scan per loop iteration.
//
// The connection table belongs to its worker, so the control thread never reads it:
// it posts one scan in the worker's mailbox and the worker copies what it finds into
// the caller's buffer at the top of its next loop iteration. The control thread waits
// with a deadline and can always take its buffer back safely:
//   IDLE --control--> REQUESTED --worker--> COPYING --worker--> DONE --control--> IDLE
// A request the worker has not picked up by the deadline is withdrawn with a CAS
// (REQUESTED → IDLE); once COPYING, the scan is bounded so the control thread waits it out.
// Dataplane::connections posts scan after scan until the page is full, every worker's
// table has been read, or kListingSlotsPerRequest records were read.
//
// The cursor is a record position, not a count of connections to skip: resuming costs
// nothing, and a connection keeps its record for life, so a walk never lists one twice.
#pragma once
#include <atomic>
#include <cstdint>
#include <rte_cycles.h>
#include "pipeline/pipeline.h"

namespace pc {

constexpr uint64_t kConnListingTimeoutUs = 500000;  // a worker answers within one loop iteration
// Records one scan reads: the most a listing adds to one worker loop iteration. Reading a
// record costs ~3 ns, copying a live one out ~15 ns (test/packet/conn-listing.test.ts prints
// the figures): a scan of a full table takes ~16 µs, 4096 records took ~64 µs.
constexpr uint32_t kListingSlotsPerScan = 1024;
// Records one connections() call reads over all workers (256 scans); then the page comes back,
// possibly short or empty, with a cursor to resume from.
constexpr uint32_t kListingSlotsPerRequest = 256 * kListingSlotsPerScan;

// A listing cursor: the worker in the high 32 bits, the record position in that worker's
// table in the low 32. 0 (worker 0, record 0) is the start and never a continuation, so a
// next cursor of 0 can mean "done".
constexpr uint64_t listing_cursor(uint16_t worker, uint32_t position) {
  return (static_cast<uint64_t>(worker) << 32) | position;
}
constexpr uint64_t listing_cursor_worker(uint64_t cursor) { return cursor >> 32; }
constexpr uint32_t listing_cursor_position(uint64_t cursor) { return static_cast<uint32_t>(cursor); }

// What listing costs a worker's loop (stats(): per worker). One writer (the worker, or the
// control thread in test mode), relaxed: a reader may see a value one scan stale.
struct ListingScanStats {
  std::atomic<uint64_t> scans{0};       // listing scans run
  std::atomic<uint64_t> slots{0};       // records read by them, in total
  std::atomic<uint64_t> max_slots{0};   // most records one scan read
  std::atomic<uint64_t> cycles{0};      // TSC cycles they took, in total
  std::atomic<uint64_t> max_cycles{0};  // longest scan, TSC cycles (a preempted thread shows here too)
  void record(uint64_t scanned, uint64_t took) {
    scans.store(scans.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    slots.store(slots.load(std::memory_order_relaxed) + scanned, std::memory_order_relaxed);
    cycles.store(cycles.load(std::memory_order_relaxed) + took, std::memory_order_relaxed);
    if (scanned > max_slots.load(std::memory_order_relaxed)) max_slots.store(scanned, std::memory_order_relaxed);
    if (took > max_cycles.load(std::memory_order_relaxed)) max_cycles.store(took, std::memory_order_relaxed);
  }
};

struct ConnListingMailbox {
  enum State : uint32_t { IDLE, REQUESTED, COPYING, DONE };
  std::atomic<uint32_t> state{IDLE};
  uint32_t position = 0;            // written by control before REQUESTED
  uint32_t max_slots = 0;           // <= kListingSlotsPerScan
  uint32_t max = 0;
  ConnectionInfo* out = nullptr;
  uint32_t copied = 0;              // written by the worker before DONE
  uint32_t next = 0;
  // Another bounded job in place of the listing (e.g. the packet trace's control):
  // set with the request, cleared when it is done. Null = list connections.
  void (*job)(Worker* worker, void* arg) = nullptr;
  void* job_arg = nullptr;
  ListingScanStats scans;
};

// One timed scan of at most min(max_slots, kListingSlotsPerScan) records (both modes run
// the worker's copy through here, so the bound and its measurement cannot be bypassed).
inline uint32_t conn_listing_scan(ConnListingMailbox& box, const Worker* worker, uint32_t position,
                                  uint32_t max_slots, ConnectionInfo* out, uint32_t max, uint32_t* next) {
  uint64_t start = rte_rdtsc();
  if (max_slots > kListingSlotsPerScan) max_slots = kListingSlotsPerScan;
  uint32_t copied = worker_list_connections(worker, position, max_slots, out, max, next);
  box.scans.record(*next > position ? *next - position : 0, rte_rdtsc() - start);
  return copied;
}

// Worker side, once per loop iteration: one relaxed load when there is nothing to do.
// True when it served a request (the control thread may post the next scan at once).
inline bool conn_listing_serve(ConnListingMailbox& box, Worker* worker) {
  if (box.state.load(std::memory_order_relaxed) != ConnListingMailbox::REQUESTED) return false;
  uint32_t expected = ConnListingMailbox::REQUESTED;
  if (!box.state.compare_exchange_strong(expected, ConnListingMailbox::COPYING, std::memory_order_acquire))
    return false;  // withdrawn by the control thread
  if (box.job)
    box.job(worker, box.job_arg);
  else
    box.copied = conn_listing_scan(box, worker, box.position, box.max_slots, box.out, box.max, &box.next);
  box.state.store(ConnListingMailbox::DONE, std::memory_order_release);
  return true;
}

// Control side: one scan on the worker's thread. False when the worker did not answer in
// time (nothing copied, *next = position).
bool conn_listing_request(ConnListingMailbox& box, uint32_t position, uint32_t max_slots, ConnectionInfo* out,
                          uint32_t max, uint32_t* copied, uint32_t* next);

// Control side: runs job(worker, arg) on the worker's thread at its next loop iteration.
// False when the worker did not pick it up in time (then the job never runs).
bool worker_mailbox_run(ConnListingMailbox& box, void (*job)(Worker* worker, void* arg), void* arg);

}  // namespace pc
