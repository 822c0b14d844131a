// Per-worker counters. Written only by the owning worker (plain increments, no
// atomics on the packet path); the control thread sums them on read, accepting
// that a value may be one burst stale. 64-bit aligned stores are not torn on x86-64.
#pragma once
#include <cstdint>
#include <cstring>
#include "common/config.h"
#include "common/defense_counters.h"
#include "common/drop_reasons.h"

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

// One (service, LIP) pair (id from snapshot_build, see LocalAddressEntry): pcadm
// --get-laddr's CONNS and CONFLICTS. Reset when the id names a new pair generation.
struct LocalAddressCounters {
  int64_t conns = 0;        // live FullNAT connections of the service that use the LIP (gauge)
  uint64_t conflicts = 0;   // new connections that found every lport of the LIP taken (this worker's share)
  uint64_t generation = 0;  // the pair generation these belong to
};

// What a real server refused, for passive health (src/health/passive.ts): ICMP destination
// unreachable it (or a router on its way) sent about a UDP connection's datagram, and RSTs it
// sent on an opening or established TCP connection. Reset with the server's generation.
struct ServerRefusals {
  uint64_t icmp_unreachable = 0;
  uint64_t resets = 0;
};

struct WorkerCounters {
  uint64_t drops[kDropReasonCount] = {};
  uint64_t events[kEventCount] = {};
  TrafficCounters services[kMaxServiceId + 1];
  TrafficCounters servers[kMaxServerId + 1];
  DefenseCounters defense;  // per service: what the flood defences let through / dropped
  // Live persistence templates pointing at each real server (ipvsadm PersistConn, IPVS
  // dest->persistconns): moves only when a template is made, replaced or expires.
  uint32_t persist_templates[kMaxServerId + 1] = {};
  LocalAddressCounters local_addresses[kMaxLocalAddressId + 1];
  ServerRefusals refusals[kMaxServerId + 1];

  void drop(DropReason reason) { drops[static_cast<unsigned>(reason)]++; }
  void event(Event what, uint64_t n = 1) { events[static_cast<unsigned>(what)] += n; }
};

}  // namespace pc
