// Opt-in per-packet trace (DESIGN.md §9): each worker keeps a bounded ring of the
// decisions it made for the FullNAT packets of one service or one in-port. Off by
// default; when off the packet path pays one predictable branch and records nothing.
// The ring belongs to its worker: the control thread changes or reads it only in
// test mode or through the worker mailbox (core/conn_listing.h), never concurrently.
#pragma once
#include <cstdint>
#include "common/drop_reasons.h"
#include "common/ip_address.h"

namespace pc {

struct Conn;

constexpr uint32_t kTraceRingRecords = 4096;  // per worker; maxRecords is capped to this
constexpr uint32_t kTraceAnyService = 0;      // service ids start at 1
constexpr int32_t kTraceAnyPort = -1;

// HANDED_OVER: given to the worker its client names (conn/client_owner.h), which traces it again.
enum class TraceVerdict : uint8_t { FORWARDED = 0, DROPPED = 1, HANDED_OVER = 2 };

// One packet's fate. Ports host order; the out tuple is zero (the unspecified address of
// the packet's family) when there is no connection.
struct TraceRecord {
  uint64_t time_us;
  IpAddr in_src, in_dst, out_src, out_dst;
  uint16_t in_sport, in_dport, out_sport, out_dport;
  uint16_t service_id;   // 0 = none known
  uint16_t server_id;    // 0 = none known
  uint8_t protocol;      // IPPROTO_TCP / IPPROTO_UDP
  uint8_t port;          // in-port index
  uint8_t verdict;       // TraceVerdict
  uint8_t drop_reason;   // DropReason when DROPPED
  uint8_t conn_state;    // ConnState after the packet (0 when no connection)
  uint8_t worker;
  uint8_t pad[6];
};
static_assert(sizeof(TraceRecord) == 96, "trace records are meant to stay 96 B");

struct TraceFilter {
  bool enabled = false;
  uint32_t service_id = kTraceAnyService;  // traced when it matches ...
  int32_t port = kTraceAnyPort;            // ... or the in-port matches (either may be "any" alone)
  uint32_t max_records = kTraceRingRecords;
};

struct TraceRing {
  TraceFilter filter;
  uint64_t written = 0;  // records ever written since the last traceSet
  uint64_t read = 0;     // records handed out (or overwritten) so far
  uint64_t lost_before_read = 0;  // overwritten since the last drain
  TraceRecord records[kTraceRingRecords];
};

// Replaces the filter and empties the ring (max_records clamped to 1..kTraceRingRecords).
void trace_set(TraceRing* ring, const TraceFilter& filter);

// Whether a packet of service_id arriving on in_port matches f (enabled already checked).
// The packet capture (pipeline/capture.h) matches with the same filter.
inline bool trace_wants_filter(const TraceFilter& f, uint32_t service_id, uint16_t in_port) {
  if (f.service_id != kTraceAnyService && f.service_id == service_id) return true;
  if (f.port != kTraceAnyPort && f.port == in_port) return true;
  return f.service_id == kTraceAnyService && f.port == kTraceAnyPort;
}

// Whether a packet of service_id arriving on in_port is traced (ring enabled already checked).
inline bool trace_wants(const TraceRing& ring, uint32_t service_id, uint16_t in_port) {
  return trace_wants_filter(ring.filter, service_id, in_port);
}

// The next slot to fill (oldest overwritten once max_records are unread).
TraceRecord* trace_next(TraceRing* ring);

// Copies the unread records, oldest first, up to max; returns how many. *lost += records
// overwritten before they were read.
uint32_t trace_drain(TraceRing* ring, TraceRecord* out, uint32_t max, uint64_t* lost);

// Fills the out tuple, ids and state of r from conn c as seen by a packet of direction
// `reply` (false: client → server, true: server → client).
void trace_fill_from_conn(TraceRecord* r, const Conn& c, bool reply);

}  // namespace pc
