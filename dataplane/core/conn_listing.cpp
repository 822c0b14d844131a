#include "core/conn_listing.h"

#include <time.h>
#include <rte_cycles.h>
#include <rte_pause.h>

namespace pc {

namespace {
constexpr long kPollIntervalNs = 20000;  // the worker loop takes µs; don't burn the control core
// A listing call is up to 256 scans of a few µs each, and a nanosleep costs ~60-100 µs to wake
// from: spin this long for each answer before sleeping. Measured on the live daemon here, one
// call over 262144 empty records: ~28 ms sleeping only, ~4 ms with the spin (the Node thread
// waits either way). A worker that is slow to answer still gets the sleeps.
constexpr uint64_t kSpinBeforeSleepUs = 50;
}

// Posts what the caller put in box and waits for DONE (false: withdrawn unserved).
static bool post_and_wait(ConnListingMailbox& box) {
  box.state.store(ConnListingMailbox::REQUESTED, std::memory_order_release);
  const uint64_t start = rte_get_tsc_cycles();
  const uint64_t deadline = start + rte_get_tsc_hz() / 1000000 * kConnListingTimeoutUs;
  const uint64_t spin_until = start + rte_get_tsc_hz() / 1000000 * kSpinBeforeSleepUs;
  for (;;) {
    uint32_t state = box.state.load(std::memory_order_acquire);
    if (state == ConnListingMailbox::DONE) break;
    if (state == ConnListingMailbox::REQUESTED && rte_get_tsc_cycles() > deadline) {
      uint32_t expected = ConnListingMailbox::REQUESTED;
      if (box.state.compare_exchange_strong(expected, ConnListingMailbox::IDLE, std::memory_order_acq_rel))
        return false;
      continue;  // the worker just took it: wait for the bounded copy
    }
    if (rte_get_tsc_cycles() < spin_until) {
      rte_pause();
      continue;
    }
    timespec ts{0, kPollIntervalNs};
    nanosleep(&ts, nullptr);
  }
  box.state.store(ConnListingMailbox::IDLE, std::memory_order_relaxed);
  return true;
}

bool conn_listing_request(ConnListingMailbox& box, uint32_t position, uint32_t max_slots, ConnectionInfo* out,
                          uint32_t max, uint32_t* copied, uint32_t* next) {
  *copied = 0;
  *next = position;
  box.position = position;
  box.max_slots = max_slots;
  box.max = max;
  box.out = out;
  box.copied = 0;
  box.next = position;
  box.job = nullptr;
  if (!post_and_wait(box)) return false;
  *copied = box.copied;
  *next = box.next;
  return true;
}

bool worker_mailbox_run(ConnListingMailbox& box, void (*job)(Worker* worker, void* arg), void* arg) {
  box.job = job;
  box.job_arg = arg;
  bool done = post_and_wait(box);
  box.job = nullptr;
  return done;
}

}  // namespace pc
