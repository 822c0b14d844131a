#include "pipeline/capture.h"

#include <cstring>
#include <rte_mbuf.h>

namespace pc {

void capture_set(CaptureRing* ring, const CaptureFilter& filter) {
  ring->filter = filter;
  if (ring->filter.snaplen == 0 || ring->filter.snaplen > kCaptureSnaplenMax) ring->filter.snaplen = kCaptureSnaplenMax;
  ring->written = 0;
  ring->read = 0;
  ring->lost = 0;
}

bool capture_copy(CaptureRing* ring, const rte_mbuf* m, CaptureDirection direction, uint8_t port, uint8_t worker,
                  uint64_t now_us) {
  if (ring->written - ring->read >= kCaptureRingSlots) {
    ring->lost++;
    return false;
  }
  CaptureSlot* slot = &ring->slots[ring->written % kCaptureRingSlots];
  const uint32_t wire_len = rte_pktmbuf_pkt_len(m);
  const uint32_t length = wire_len < ring->filter.snaplen ? wire_len : ring->filter.snaplen;
  const void* bytes = rte_pktmbuf_read(m, 0, length, slot->data);  // copies into data only when segmented
  if (!bytes) {  // cannot happen for length <= pkt_len; keep the ring honest anyway
    ring->lost++;
    return false;
  }
  if (bytes != slot->data) std::memcpy(slot->data, bytes, length);
  slot->time_us = now_us;
  slot->wire_len = wire_len;
  slot->length = static_cast<uint16_t>(length);
  slot->port = port;
  slot->direction = static_cast<uint8_t>(direction);
  slot->worker = worker;
  ring->written++;
  return true;
}

uint32_t capture_drain(CaptureRing* ring, CaptureSlot* out, uint32_t max, uint64_t* lost) {
  *lost += ring->lost;
  ring->lost = 0;
  uint32_t n = 0;
  while (n < max && ring->read < ring->written) {
    const CaptureSlot& slot = ring->slots[ring->read++ % kCaptureRingSlots];
    // Only the kept bytes: a drain of small packets copies little.
    std::memcpy(&out[n], &slot, offsetof(CaptureSlot, data) + slot.length);
    n++;
  }
  return n;
}

}  // namespace pc
