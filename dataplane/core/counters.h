// Per-worker counters. Written only by the owning worker (plain increments, no
// atomics on the packet path); the control thread sums them on read, accepting
// that a value may be one burst stale. 64-bit aligned stores are not torn on x86-64.
#pragma once
#include <cstdint>
#include <cstring>
#include "core/config.h"
#include "core/defense_counters.h"
#include "core/drop_reasons.h"

namespace pc {

struct TrafficCounters {
  uint64_t conns = 0;        // connections scheduled
  uint64_t in_packets = 0;   // client -> server
  uint64_t out_packets = 0;  // server -> client
  uint64_t in_bytes = 0;     // L3 bytes (IP total length) as received
  uint64_t out_bytes = 0;
  int64_t active_conns = 0;    // TCP ESTABLISHED (gauge; may go negative per worker, sums are right)
  int64_t inactive_conns = 0;  // every other state, UDP included
  uint64_t generation = 0;     // snapshot object generation these belong to (see pipeline.h)
};

struct WorkerCounters {
  uint64_t drops[kDropReasonCount] = {};
  uint64_t events[kEventCount] = {};
  TrafficCounters services[kMaxServiceId + 1];
  TrafficCounters servers[kMaxServerId + 1];
  DefenseCounters defense;  // per service: what the flood defences let through / dropped

  void drop(DropReason reason) { drops[static_cast<unsigned>(reason)]++; }
  void event(Event what, uint64_t n = 1) { events[static_cast<unsigned>(what)] += n; }
};

}  // namespace pc
