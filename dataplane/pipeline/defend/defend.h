// The "defend" stage (DESIGN.md §1): between parse and the connection lookup.
// Global and per-service CIDR lists, per-source and per-service UDP token
// buckets, and (at connection creation) the per-service new-connection rate and
// concurrent-connection caps. Per-worker state only; every drop is counted under
// its reason in WorkerCounters::drops and per service in WorkerCounters::defense.
#pragma once
#include <cstdint>
#include <vector>
#include <rte_mbuf.h>
#include "common/drop_reasons.h"
#include "pipeline/defend/token_bucket.h"
#include "pipeline/defend/udp_limit.h"
#include "pipeline/l2l3/packet.h"

namespace pc {

struct Worker;
struct Snapshot;
struct ServiceEntry;

// Per-worker defence state; survives snapshot swaps (buckets keep their tokens).
struct DefendState {
  SourceBucketTable sources;
  std::vector<TokenBucket> udp_service;  // by service id
  std::vector<TokenBucket> conn_rate;    // by service id
  std::vector<uint64_t> acl_deadlines_us;  // by expiry slot of the adopted snapshot
  bool deadlines_armed = true;           // false right after adoption: armed with the next packet's clock
};

bool defend_init(DefendState* d, int socket_id);
void defend_destroy(DefendState* d);
// On snapshot adoption (worker thread, between bursts).
void defend_adopt(Worker* w, const Snapshot& s);

// Before a chunk of received frames is classified: starts loading the per-source bucket
// sets of all its IPv4 UDP frames (when some service limits UDP per source), so that their
// misses overlap instead of each stalling its own packet in defend_input. Reads the frames
// without parsing them: a hint only, right or wrong it changes no result. (Looking the global
// ACL up for the whole chunk here too was tried: on a warm cache it cost 7 cycles per packet.)
void defend_prefetch_chunk(const Worker* w, const Snapshot& s, rte_mbuf* const* packets, uint16_t n);

// TCP/UDP/ICMP to an owned address, L4 parsed. Returns false when the packet was
// dropped (freed and counted); true = continue to ICMP / FullNAT.
bool defend_input(Worker* w, const Snapshot& s, rte_mbuf* m, const ParsedPacket& p, uint8_t owned_kinds,
                  uint64_t now_us);

// Before a new connection for svc is made: false + *reason when a cap refuses it.
bool defend_admit_connection(Worker* w, const Snapshot& s, const ServiceEntry& svc, uint64_t now_us,
                             DropReason* reason);

}  // namespace pc
