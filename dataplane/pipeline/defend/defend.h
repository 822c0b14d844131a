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

constexpr uint16_t kDefendChunkMax = 64;  // packets defend_prepare_chunk takes at once (= kConnBulkMax)

// The global ACL's verdicts for one chunk's IPv4 sources, looked up before the chunk is
// classified (defend_prepare_chunk). A verdict is a pure function of source and clock, so it
// is used only for a packet whose source is still the one looked up (a hand-off's inner
// packet or a reassembled datagram is looked up afresh).
struct AclChunkVerdicts {
  uint32_t source[kDefendChunkMax];  // network order
  // 0: not looked up (not IPv4), else 1 + the AclAction. 32-bit on purpose: byte stores may
  // alias anything, and the lookup loop would reload the table's vectors after each one.
  uint32_t verdict[kDefendChunkMax];
  uint16_t count = 0;    // 0: no chunk prepared
  uint16_t current = 0;  // the packet being classified
};

// Per-worker defence state; survives snapshot swaps (buckets keep their tokens).
struct DefendState {
  SourceBucketTable sources;
  std::vector<TokenBucket> udp_service;  // by service id
  std::vector<TokenBucket> conn_rate;    // by service id
  std::vector<uint64_t> acl_deadlines_us;  // by expiry slot of the adopted snapshot
  bool deadlines_armed = true;           // false right after adoption: armed with the next packet's clock
  AclChunkVerdicts chunk;
};

bool defend_init(DefendState* d, int socket_id);
void defend_destroy(DefendState* d);
// On snapshot adoption (worker thread, between bursts).
void defend_adopt(Worker* w, const Snapshot& s);

// Before a chunk of received frames is classified (n <= kDefendChunkMax): starts loading
// the per-source bucket sets of its IPv4 UDP frames and looks up the global ACL for all its
// IPv4 sources, one after another. Each lookup is a chain of dependent loads (index, ranges,
// entry); done per packet in defend_input the chains stall one by one, done here in one loop
// they overlap, and so do the bucket misses. Reads the frames without parsing them: hints
// only, defend_input still decides (and parses) every packet. Then defend_select(i) before
// packet i, defend_end_chunk() after the last.
void defend_prepare_chunk(Worker* w, const Snapshot& s, rte_mbuf* const* packets, uint16_t n, uint64_t now_us);
inline void defend_select(DefendState* d, uint16_t i) { d->chunk.current = i; }
inline void defend_end_chunk(DefendState* d) { d->chunk.count = 0; }

// TCP/UDP/ICMP to an owned address, L4 parsed. Returns false when the packet was
// dropped (freed and counted); true = continue to ICMP / FullNAT.
bool defend_input(Worker* w, const Snapshot& s, rte_mbuf* m, const ParsedPacket& p, uint8_t owned_kinds,
                  uint64_t now_us);

// Before a new connection for svc is made: false + *reason when a cap refuses it.
bool defend_admit_connection(Worker* w, const Snapshot& s, const ServiceEntry& svc, uint64_t now_us,
                             DropReason* reason);

}  // namespace pc
