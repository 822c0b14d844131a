#include "core/worker_loop.h"

#include <sys/prctl.h>
#include <time.h>
#include <rte_cycles.h>
#include <rte_rcu_qsbr.h>

namespace pc {

namespace {

// Sleeps about `us` microseconds while RCU-offline, so apply() never waits on a sleeper.
void idle_sleep(WorkerContext& c, rte_rcu_qsbr* qsbr, uint64_t us, const TscClock& clock) {
  if (qsbr) rte_rcu_qsbr_thread_offline(qsbr, c.index);
  uint64_t before = rte_rdtsc();
  timespec ts{0, static_cast<long>(us * 1000)};
  nanosleep(&ts, nullptr);
  uint64_t slept_us = clock.us_from_cycles(rte_rdtsc() - before);
  if (qsbr) rte_rcu_qsbr_thread_online(qsbr, c.index);
  c.sleeps.fetch_add(1, std::memory_order_relaxed);
  if (slept_us > us) c.sleep_overshoot_us.fetch_add(slept_us - us, std::memory_order_relaxed);
}

// Takeover: until released, the worker touches nothing of its tables. Stamps its clock once
// (the next process measures the downtime from it), acknowledges, then discards what
// arrives, still reporting quiescence (a publish must not wait on a held worker).
void hold(WorkerContext& c, rte_rcu_qsbr* qsbr, const TscClock& clock) {
  if (!c.held_ack.load(std::memory_order_relaxed)) {
    worker_stamp_clock(c.worker, clock.us_from_cycles(rte_rdtsc()), monotonic_us());
    c.held_ack.store(true, std::memory_order_release);
  }
  uint32_t received = worker_discard_held(c);
  conn_listing_serve(c.listing, c.worker);
  c.tx.flush_all();
  if (qsbr) rte_rcu_qsbr_quiescent(qsbr, c.index);
  if (!received) idle_sleep(c, qsbr, kSleepMaxUs / 4, clock);
}

}  // namespace

uint64_t monotonic_us() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000ull + static_cast<uint64_t>(ts.tv_nsec) / 1000;
}

void worker_adopt_if_due(WorkerContext& c, const Snapshot* s, uint64_t now_us) {
  if (likely(!worker_adopt_due(c.worker)) || snapshot_version(s) == 0) return;
  uint64_t started = monotonic_us();
  worker_adopt_region(c.worker, *s, now_us, started, &c.adopt_report);
  c.adopt_us = monotonic_us() - started;
  c.adopted.store(true, std::memory_order_release);
}

int worker_main(void* arg) {
  WorkerContext& c = *static_cast<WorkerContext*>(arg);
  // Linux rounds sleeps up by the thread's timer slack (50 µs by default): the
  // back-off steps are smaller than that, so ask for precise wake-ups.
  prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);

  TscClock clock;
  clock.init();
  rte_rcu_qsbr* qsbr = c.publisher->qsbr();
  if (qsbr) {
    rte_rcu_qsbr_thread_register(qsbr, c.index);
    rte_rcu_qsbr_thread_online(qsbr, c.index);
  }

  const uint64_t timer_interval = clock.cycles_from_us(kTimerIntervalUs);
  const uint64_t idle_spin = clock.cycles_from_us(kIdleSpinUs);
  uint64_t last_timers = 0;
  uint64_t idle_since = 0;  // TSC of the first empty poll in the current idle run; 0 = busy
  uint64_t backoff_us = 0;

  uint64_t iteration_start = rte_rdtsc();
  uint32_t last_received = 0;
  while (!c.stop->load(std::memory_order_relaxed)) {
    if (unlikely(c.held.load(std::memory_order_acquire))) {
      hold(c, qsbr, clock);
      continue;
    }
    c.held_ack.store(false, std::memory_order_relaxed);
    const Snapshot* s = worker_current_snapshot(c);
    uint64_t now = rte_rdtsc();
    worker_adopt_if_due(c, s, clock.us_from_cycles(now));
    std::atomic<uint64_t>& load = last_received ? c.busy_cycles : c.idle_cycles;
    load.store(load.load(std::memory_order_relaxed) + (now - iteration_start), std::memory_order_relaxed);
    iteration_start = now;
    // At most one bounded listing scan per iteration (core/conn_listing.h).
    const bool served = conn_listing_serve(c.listing, c.worker);
    uint64_t now_us = clock.us_from_cycles(now);
    uint32_t received = c.poll_override ? c.poll_override(c) : worker_poll_ports(c, s, now_us);
    if (now - last_timers >= timer_interval) {
      worker_run_timers(c.worker, s, now_us, c.tx);
      worker_stamp_clock(c.worker, now_us, monotonic_us());
      last_timers = now;
    }
    c.tx.flush_all();
    if (qsbr) rte_rcu_qsbr_quiescent(qsbr, c.index);
    last_received = received;

    if (c.polling != PollingMode::ADAPTIVE) continue;
    if (received || served) {  // a listing in progress is work too: don't sleep between its scans
      idle_since = 0;
      backoff_us = 0;
    } else if (idle_since == 0) {
      idle_since = now;
    } else if (now - idle_since >= idle_spin) {
      backoff_us = backoff_us ? (backoff_us * 2 > kSleepMaxUs ? kSleepMaxUs : backoff_us * 2) : kSleepFirstUs;
      idle_sleep(c, qsbr, backoff_us, clock);
    }
  }

  c.tx.flush_all();
  if (qsbr) {
    rte_rcu_qsbr_thread_offline(qsbr, c.index);
    rte_rcu_qsbr_thread_unregister(qsbr, c.index);
  }
  return 0;
}

}  // namespace pc
