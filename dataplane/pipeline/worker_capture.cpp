#include "pipeline/worker_capture.h"

#include <new>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include "pipeline/worker_state.h"

namespace pc {

namespace {

// One copy into the worker's ring, counted either way (GetStats / Prometheus events).
void copy_counted(Worker* w, const rte_mbuf* m, CaptureDirection direction, uint16_t port) {
  const bool kept = capture_copy(w->capture, m, direction, static_cast<uint8_t>(port),
                                 static_cast<uint8_t>(w->params.index), w->now_us);
  w->counters->event(kept ? Event::CAPTURE_COPIES : Event::CAPTURE_LOST);
}

// The tx tap: the OUT copy of every marked frame, the mark cleared (the mbuf may be reused).
// With no capture running it removes itself, so the next bursts pay nothing.
void capture_tap(void* context, TxQueues& tx, uint16_t slot, rte_mbuf* const* packets, uint16_t n) {
  auto* w = static_cast<Worker*>(context);
  if (!w->capture || !w->capture->filter.match.enabled) {
    tx.set_tap(nullptr, nullptr);
    return;
  }
  const uint64_t mark = w->capture->filter.mark;
  // Exception taps get no marked frame from the connection stage; data ports keep their index.
  const uint16_t port = slot < kMaxPorts ? slot : static_cast<uint16_t>(slot - kMaxPorts);
  for (uint16_t i = 0; i < n; i++) {
    if (!(packets[i]->ol_flags & mark)) continue;
    packets[i]->ol_flags &= ~mark;
    copy_counted(w, packets[i], CaptureDirection::OUT, port);
  }
}

}  // namespace

bool worker_capture_set(Worker* w, const CaptureFilter& filter) {
  if (!filter.match.enabled) {
    worker_capture_free(w);
    return true;
  }
  if (!w->capture) {
    void* memory = rte_malloc_socket("pc_capture_ring", sizeof(CaptureRing), RTE_CACHE_LINE_SIZE, w->params.socket_id);
    if (!memory) return false;
    w->capture = new (memory) CaptureRing();
  }
  capture_set(w->capture, filter);
  worker_update_observing(w);
  return true;
}

uint32_t worker_capture_read(Worker* w, CaptureSlot* out, uint32_t max, uint64_t* lost) {
  return w->capture ? capture_drain(w->capture, out, max, lost) : 0;
}

void worker_capture_free(Worker* w) {
  rte_free(w->capture);  // a tap left behind finds no capture and removes itself
  w->capture = nullptr;
  worker_update_observing(w);
}

bool worker_capture_wants(const Worker* w, uint32_t service_id, uint16_t in_port) {
  return w->capture && w->capture->filter.match.enabled && trace_wants_filter(w->capture->filter.match, service_id, in_port);
}

void worker_capture_in(Worker* w, uint16_t in_port, rte_mbuf* m, TxQueues& tx) {
  copy_counted(w, m, CaptureDirection::IN, in_port);
  m->ol_flags |= w->capture->filter.mark;
  if (!tx.has_tap()) tx.set_tap(capture_tap, w);
}

}  // namespace pc
