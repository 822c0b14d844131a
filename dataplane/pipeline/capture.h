// Opt-in packet capture (issue 21; docs/operations.md "Packet capture"): each worker keeps a
// bounded ring of packet copies — the first snaplen bytes, the original length, the worker
// clock and the direction — for one service or one in-port. A matched packet is copied as
// the connection stage receives it (IN) and, marked with an mbuf dynamic flag, again as it
// leaves (OUT, rewritten headers and checksums) when its tx burst is flushed. The filter is
// the trace's (pipeline/trace.h); control and draining go through the worker mailbox as
// the trace's do. A full ring keeps what it has and counts the newcomers as lost: a capture
// wants the first packets of a flow, not the last ones.
#pragma once
#include <cstdint>
#include "pipeline/trace.h"

struct rte_mbuf;

namespace pc {

constexpr uint32_t kCaptureRingSlots = 2048;   // per worker
constexpr uint32_t kCaptureSnaplenMax = 2048;  // bytes kept per packet at most (the slot size)

enum class CaptureDirection : uint8_t { IN = 0, OUT = 1 };

struct CaptureFilter {
  TraceFilter match;                        // enabled, service or in-port (max_records unused)
  uint32_t snaplen = kCaptureSnaplenMax;    // clamped to 1..kCaptureSnaplenMax
  uint64_t mark = 0;                        // the mbuf dynamic flag that asks for an OUT copy
};

struct CaptureSlot {
  // Left uninitialised: capture_read sizes a vector for every ring's slots each 100 ms, and
  // capture_drain writes only the header and the bytes kept. Value-initialising zero-filled
  // 4 MiB per worker per read that nothing ever reads.
  CaptureSlot() {}
  uint64_t time_us;     // worker clock
  uint32_t wire_len;    // the frame's whole length
  uint16_t length;      // bytes kept in data (<= snaplen)
  uint8_t port;         // in-port (IN) or out-port (OUT) index
  uint8_t direction;    // CaptureDirection
  uint8_t worker;
  uint8_t pad[7];
  uint8_t data[kCaptureSnaplenMax];
};

struct CaptureRing {
  CaptureFilter filter;
  uint64_t written = 0;  // slots filled since capture_set
  uint64_t read = 0;     // slots handed out
  uint64_t lost = 0;     // copies refused (ring full) since the last drain
  CaptureSlot slots[kCaptureRingSlots];
};

// Replaces the filter and empties the ring.
void capture_set(CaptureRing* ring, const CaptureFilter& filter);

// Copies the first snaplen bytes of m (any number of segments) into the next slot and returns
// true; counts a loss instead (false) when every slot is unread.
bool capture_copy(CaptureRing* ring, const rte_mbuf* m, CaptureDirection direction, uint8_t port, uint8_t worker,
                  uint64_t now_us);

// Copies the unread slots, oldest first, up to max; returns how many. *lost += copies
// refused since the last drain.
uint32_t capture_drain(CaptureRing* ring, CaptureSlot* out, uint32_t max, uint64_t* lost);

}  // namespace pc
