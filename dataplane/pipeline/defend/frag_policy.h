// The fragment stage: an IPv4 fragment to an owned address meets its policy
// (frag_policy_table.h) before anything else looks at it:
//   drop        → freed, frag_dropped (the default, and today's behaviour);
//   limit       → a per-source token bucket (the bounded source-bucket table of
//                 udp_limit.h, under its own key space) → frag_rate_limited, then
//                 what passes is reassembled;
//   reassemble  → every fragment goes to the worker's reassembly table (reassembly.h).
// A rebuilt datagram then continues through parse_l4 → defend_input → FullNAT exactly
// like one that arrived whole.
#pragma once
#include <cstdint>
#include <rte_mbuf.h>
#include "pipeline/l2l3/packet.h"

namespace pc {

struct Worker;
struct Snapshot;

// Key space of the fragment buckets in the source-bucket table (service ids stop at kMaxServiceId).
constexpr uint32_t kFragSourceBucketId = 0xFFFFFFFFu;

// m is a fragment (p parsed through IPv4, destination owned). Returns the rebuilt
// datagram when m completed one; null when m was held or dropped (counted).
rte_mbuf* frag_input(Worker* w, const Snapshot& s, rte_mbuf* m, const ParsedPacket& p, uint64_t now_us);

}  // namespace pc
