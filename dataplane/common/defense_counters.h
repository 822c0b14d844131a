// What the flood defences did, per service: packets let through and packets
// dropped per defence reason. Written only by the owning worker, like
// WorkerCounters. Index 0 = traffic to a VIP that matched no service (global
// list only). Each drop here is ALSO counted in WorkerCounters::drops.
#pragma once
#include <cstdint>
#include "common/config.h"
#include "common/drop_reasons.h"

namespace pc {

// The drop reasons a defence can give, in the order of the per-service arrays.
constexpr DropReason kDefenseDropReasons[] = {
    DropReason::ACL_DENIED,        DropReason::UDP_SOURCE_RATE_LIMITED, DropReason::UDP_SERVICE_RATE_LIMITED,
    DropReason::CONN_RATE_LIMITED, DropReason::CONN_LIMIT_REACHED,
    DropReason::FRAG_DROPPED,      DropReason::FRAG_RATE_LIMITED,  // fragment policy (pipeline/defend/frag_policy.h)
};
constexpr unsigned kDefenseDropCount = sizeof(kDefenseDropReasons) / sizeof(kDefenseDropReasons[0]);

// Index of a defence reason in the per-service arrays (0 for any other reason: never passed).
constexpr unsigned defense_drop_index(DropReason reason) {
  for (unsigned i = 0; i < kDefenseDropCount; i++)
    if (kDefenseDropReasons[i] == reason) return i;
  return 0;
}

struct ServiceDefenseCounters {
  uint64_t passed = 0;                      // checked by a defence of this service and let through
  uint64_t dropped[kDefenseDropCount] = {}; // by kDefenseDropReasons index
  uint64_t generation = 0;                  // service generation these belong to
  uint64_t synproxy_engaged = 0;            // gauge 0/1: SYNPROXY auto engaged on this worker
};

struct DefenseCounters {
  ServiceDefenseCounters services[kMaxServiceId + 1];
};

}  // namespace pc
