// One worker: rx bursts from every port on its own queue, hands them to the
// pipeline, flushes tx, runs timers, reports RCU quiescence. In live mode it
// runs on a worker lcore (worker_main); in test mode the same pieces run on the
// caller's thread from step().
#pragma once
#include <atomic>
#include <cstdint>
#include "core/clock.h"
#include "common/config.h"
#include "core/conn_listing.h"
#include "core/redirect.h"
#include "core/snapshot_publisher.h"
#include "common/tx_queues.h"
#include "pipeline/pipeline.h"

namespace pc {

enum class PollingMode : uint8_t { BUSY, ADAPTIVE };

constexpr uint16_t kRxBurst = 32;
constexpr uint64_t kTimerIntervalUs = 1000;     // worker_run_timers at most this often (live)
// Adaptive polling: keep spinning through short gaps between packets (a TCP
// round trip through the namespaces is tens of µs), sleep only after real
// idleness, then back off exponentially so an idle worker costs little.
// Measured on this 2-vCPU VM: nanosleep wakes >= ~37 µs late even with 1 ns timer
// slack (~80-100 µs with the default 50 µs slack, hence PR_SET_TIMERSLACK), so the
// 5/10/20 µs steps all cost ~40 µs. Cap 200 µs: idle worker ~10% of a core (~4200
// wake-ups/s), first packet after idleness waits <= ~240 µs; cap 500 µs gave 5% and
// <= ~550 µs. Under load the 100 µs spin window means the worker never sleeps.
// stats().workerIdleSleeps / workerWakeLatenessUs report both numbers live.
// With several workers, packets another worker hands over count as work too, and a
// sleeping owner picks them up within one back-off step (<= kSleepMaxUs + wake lateness).
constexpr uint64_t kIdleSpinUs = 100;           // empty polls for this long before the first sleep
constexpr uint64_t kSleepFirstUs = 5;
constexpr uint64_t kSleepMaxUs = 200;

struct WorkerContext;
// One rx sweep over the worker's ports; returns frames received (tx not flushed).
using PortPoller = uint32_t (*)(WorkerContext&);

struct WorkerContext {
  Worker* worker = nullptr;
  WorkerCounters* counters = nullptr;
  TxQueues tx;
  uint16_t index = 0;
  uint16_t port_count = 0;
  uint16_t port_ids[kMaxPorts] = {};
  const SnapshotPublisher* publisher = nullptr;
  PollingMode polling = PollingMode::BUSY;
  // Benchmark only (bench/bench_bridge.h): replaces the pipeline's rx sweep. The core knows it as
  // a function pointer, so it never includes the harness that supplies it.
  PortPoller poll_override = nullptr;
  std::atomic<bool>* stop = nullptr;
  unsigned lcore = 0;  // live mode

  // Version of the snapshot this worker runs; UINT64_MAX until it adopts one.
  std::atomic<uint64_t> version{UINT64_MAX};
  // Adaptive-polling telemetry (read by stats(); relaxed).
  std::atomic<uint64_t> sleeps{0};
  std::atomic<uint64_t> sleep_overshoot_us{0};  // sum over sleeps of (actual - requested)
  // Load (live mode): TSC cycles of loop iterations that received packets vs. that did
  // not (sleeps included). Single writer, so plain load+store, no locked adds.
  std::atomic<uint64_t> busy_cycles{0};
  std::atomic<uint64_t> idle_cycles{0};
  ConnListingMailbox listing;  // live connection listing (core/conn_listing.h)
  WorkerRedirect redirect;     // reply steering to the owning worker (core/redirect.h); count 1 = off
  // Takeover (core/conn_region.h). held: forward nothing, run no timer, write nothing to the
  // tables; what arrives is discarded. held_ack: the worker has seen it (its clock is stamped).
  std::atomic<bool> held{false};
  std::atomic<bool> held_ack{false};
  // Adoption of an earlier process's tables: done once report and adopt_us are final.
  std::atomic<bool> adopted{false};
  ConnAdoptReport adopt_report;
  uint64_t adopt_us = 0;
};

// CLOCK_MONOTONIC in µs: the clock two processes share (the region's stamps, takeover gap).
uint64_t monotonic_us();

// Adopts the region's tables when they wait and s is a configured snapshot (version >= 1):
// the worker's first act on them. Records how long it took.
void worker_adopt_if_due(WorkerContext& c, const Snapshot* s, uint64_t now_us);

// What the kernel sends by a port's exception interface leaves by that port unchanged (no state).
inline uint32_t worker_forward_exception(WorkerContext& c) {
  rte_mbuf* pkts[kRxBurst];
  uint32_t total = 0;
  for (uint16_t p = 0; p < c.port_count; p++) {
    if (!c.tx.has_exception(p)) continue;
    uint16_t n = rte_eth_rx_burst(c.tx.exception_port_id(p), c.index, pkts, kRxBurst);
    if (n == 0) continue;
    c.counters->event(Event::RX_PACKETS, n);
    for (uint16_t i = 0; i < n; i++) c.tx.push(p, pkts[i]);
    total += n;
  }
  return total;
}

// A held worker's sweep: frames from the ports are freed unread (counted takeover_discarded);
// the exception path still forwards.
inline uint32_t worker_discard_held(WorkerContext& c) {
  rte_mbuf* pkts[kRxBurst];
  uint32_t total = 0;
  for (uint16_t p = 0; p < c.port_count; p++) {
    uint16_t n = rte_eth_rx_burst(c.port_ids[p], c.index, pkts, kRxBurst);
    if (n == 0) continue;
    c.counters->event(Event::RX_PACKETS, n);
    c.counters->event(Event::TAKEOVER_DISCARDED, n);
    rte_pktmbuf_free_bulk(pkts, n);
    total += n;
  }
  return total + worker_forward_exception(c);
}

// Returns the live snapshot, adopting it first if this worker has not seen its version.
inline const Snapshot* worker_current_snapshot(WorkerContext& c) {
  const Snapshot* s = c.publisher->current();
  uint64_t v = snapshot_version(s);
  if (v != c.version.load(std::memory_order_relaxed)) {
    worker_adopt_snapshot(c.worker, s);
    c.version.store(v, std::memory_order_relaxed);
  }
  return s;
}

// One rx sweep over every port, processed, plus (several workers) what other workers
// handed over; returns packets received and taken from rings. Does not flush tx.
inline uint32_t worker_poll_ports(WorkerContext& c, const Snapshot* s, uint64_t now_us) {
  rte_mbuf* pkts[kRxBurst];
  uint32_t total = 0;
  const bool steering = c.redirect.count > 1;
  for (uint16_t p = 0; p < c.port_count; p++) {
    uint16_t n = rte_eth_rx_burst(c.port_ids[p], c.index, pkts, kRxBurst);
    if (n == 0) continue;
    c.counters->event(Event::RX_PACKETS, n);
    total += n;
    uint16_t mine = steering ? redirect_split(c.redirect, *c.counters, s, p, pkts, n) : n;
    if (mine) worker_process_burst(c.worker, s, p, pkts, mine, now_us, c.tx);
  }
  if (steering) total += redirect_drain(c.redirect, c.worker, *c.counters, s, now_us, c.tx);
  return total + worker_forward_exception(c);
}

// rte_eal_remote_launch entry point; arg is a WorkerContext*. Returns when *stop is set.
int worker_main(void* arg);

}  // namespace pc
