// The fragment stage: an IPv4 or IPv6 fragment to an owned address (or a NAT server's reply
// fragment) meets its policy (frag_policy_table.h) before anything else looks at it:
//   drop        → freed, frag_dropped (the default, and today's behaviour);
//   limit       → a per-source token bucket (the bounded source-bucket table of
//                 udp_limit.h, under its own key space) → frag_rate_limited, then
//                 what passes is reassembled;
//   reassemble  → every fragment goes to the worker's reassembly table (reassembly.h).
// A rebuilt datagram is then parsed afresh and continues through parse_l4 → defend_input →
// FullNAT (or NAT64) exactly like one that arrived whole. An IPv6 fragment is looked up
// by its Fragment header's next header, and an IPv6 source's bucket is its /64
// (kDefaultSourcePrefix6: one attacker holds a whole /64).
#pragma once
#include <cstdint>
#include <rte_mbuf.h>
#include "pipeline/l2l3/packet.h"

namespace pc {

struct Worker;
struct Snapshot;

// Key space of the fragment buckets in the source-bucket table (service ids stop at kMaxServiceId).
constexpr uint32_t kFragSourceBucketId = 0xFFFFFFFFu;

// m is a fragment (p parsed through IPv4, or through IPv6 with a Fragment header that is not
// atomic), destination owned. Returns the rebuilt datagram when m completed one; null when m
// was held or dropped (counted). IPv6: *largest_fragment as reassembly_input says.
rte_mbuf* frag_input(Worker* w, const Snapshot& s, rte_mbuf* m, const ParsedPacket& p, uint64_t now_us,
                     uint16_t* largest_fragment = nullptr);

}  // namespace pc
