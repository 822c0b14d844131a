#include "pipeline/worker_capture.h"

#include <new>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include "pipeline/worker_state.h"

namespace pc {

namespace {

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
  const uint8_t port = static_cast<uint8_t>(slot < kMaxPorts ? slot : slot - kMaxPorts);
  for (uint16_t i = 0; i < n; i++) {
    if (!(packets[i]->ol_flags & mark)) continue;
    packets[i]->ol_flags &= ~mark;
    capture_copy(w->capture, packets[i], CaptureDirection::OUT, port, static_cast<uint8_t>(w->params.index), w->now_us);
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

void worker_capture_in(Worker* w, uint16_t in_port, rte_mbuf* m, uint64_t now_us, TxQueues& tx) {
  capture_copy(w->capture, m, CaptureDirection::IN, static_cast<uint8_t>(in_port), static_cast<uint8_t>(w->params.index),
               now_us);
  m->ol_flags |= w->capture->filter.mark;
  if (!tx.has_tap()) tx.set_tap(capture_tap, w);
}

}  // namespace pc
