// Neighbour resolution, per worker: one table for both families (addresses are IpAddr,
// IPv4 mapped), packets held while a next hop resolves. Only the protocol differs by
// family and lives apart: ARP for IPv4 (arp.h: the request sent, the ARP input), neighbour
// discovery for IPv6 (nd.h: the solicitation sent, the NS/NA input).
//
// Policy (all per worker, no sharing):
// - Learning: the protocol input says from what (arp.h, nd.h); it never evicts.
// - Miss: create an INCOMPLETE entry, hold the packet (≤ kNeighQueuePerEntry per
//   neighbour and ≤ kNeighQueueTotal per family in all, else NEIGH_QUEUE_FULL), send a
//   request (ARP broadcast, or NS to the solicited-node group) from the port address of
//   the connected prefix; retry every kNeighRetryUs; after kNeighMaxRequests unanswered
//   requests drop the held packets (NEIGH_UNRESOLVED) and forget the entry.
// - A resolved entry lives kNeighLifetimeUs after its last confirmation. Traffic keeps
//   it fresh: forwarding through an entry older than kNeighRefreshAfterUs sends one
//   request per kNeighRetryUs while still using the entry, and the answer re-confirms
//   it; idle entries simply age out.
// - Each family has its own share of the slots (kNeighCapacityV4, kNeighCapacityV6) and
//   of the hold bound: an on-link IPv6 host can claim any address of its /64, so its
//   neighbours must not crowd out IPv4's (nor the reverse). A family's share full when a
//   next hop must be resolved: that family's least recently confirmed resolved entry is
//   evicted.
#pragma once
#include <cstdint>
#include <cstring>
#include <rte_ether.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include "common/config.h"
#include "common/counters.h"
#include "common/ip_address.h"
#include "common/tx_queues.h"
#include "pipeline/snapshot.h"

namespace pc {

// On-link clients are neighbours too (replies go straight to them), so size for a busy segment.
constexpr uint32_t kNeighCapacityV4 = 4096;
constexpr uint32_t kNeighCapacityV6 = 1024;
constexpr uint32_t kNeighCapacity = kNeighCapacityV4 + kNeighCapacityV6;
constexpr uint32_t kNeighBuckets = 8192;  // power of two
constexpr uint32_t kNeighQueuePerEntry = 8;
constexpr uint32_t kNeighQueueTotal = 256;  // per family
constexpr uint32_t kNeighMaxRequests = 3;
constexpr uint64_t kNeighRetryUs = 1000 * 1000;
constexpr uint64_t kNeighLifetimeUs = 300ull * 1000 * 1000;
constexpr uint64_t kNeighRefreshAfterUs = 240ull * 1000 * 1000;
constexpr uint64_t kNeighScanIntervalUs = 100 * 1000;

enum class NeighState : uint8_t { FREE, INCOMPLETE, REACHABLE };

// Everything a lookup and a send read is in the first 64 bytes; the hold queue in the second.
struct NeighEntry {
  IpAddr addr{};
  IpAddr source{};  // our address on that segment, the requests' source; :: until known
  uint64_t confirmed_us = 0;
  uint64_t next_request_us = 0;
  uint32_t next = 0;  // bucket chain; the family's free chain while FREE
  uint16_t port_index = 0;
  NeighState state = NeighState::FREE;
  uint8_t requests_sent = 0;
  uint8_t mac[6] = {};
  uint8_t queued = 0;
  rte_mbuf* queue[kNeighQueuePerEntry] = {};
};
static_assert(sizeof(NeighEntry) == 128, "two cache lines: lookup fields, then the hold queue");

// One family's share of the table: slots [first, first + capacity), its free ones chained
// through NeighEntry::next, and the packets its neighbours hold.
struct NeighShare {
  uint32_t first = 0;
  uint32_t capacity = 0;
  uint32_t free_head = 0;
  uint32_t in_use = 0;
  uint32_t queued = 0;
};

struct NeighTable {
  NeighEntry entries[kNeighCapacity];
  uint32_t buckets[kNeighBuckets];
  NeighShare shares[2];  // [0] IPv4, [1] IPv6
  uint64_t next_scan_us = 0;
  // Environment captured at init: this worker's ports, counters and packet pool.
  const uint8_t (*port_macs)[6] = nullptr;
  uint16_t port_count = 0;
  WorkerCounters* counters = nullptr;
  rte_mempool* pool = nullptr;
};

void neigh_init(NeighTable* t, const uint8_t (*port_macs)[6], uint16_t port_count, WorkerCounters* counters,
                rte_mempool* pool);
// Frees every held packet (worker teardown); counted NEIGH_UNRESOLVED.
void neigh_destroy(NeighTable* t);

// Sends a routed frame (IPv4 or IPv6, by next_hop's family) to next_hop out of port_index:
// sets the MACs and pushes to tx, or holds it while the next hop resolves, or drops it
// (NO_ROUTE for a port this worker does not drive or a segment with no address of the family).
void neigh_output(NeighTable* t, const Snapshot& s, rte_mbuf* m, uint16_t port_index, const IpAddr& next_hop,
                  uint64_t now_us, TxQueues& tx);

// Retries/gives up pending resolutions and ages entries of both families; cheap when nothing is due.
void neigh_run_timers(NeighTable* t, uint64_t now_us, TxQueues& tx);

// For the protocol inputs (arp.cpp, nd.cpp):
// The entry for addr on port (any state), or null.
NeighEntry* neigh_find(NeighTable* t, uint16_t port, const IpAddr& addr);
// Records a confirmed MAC for addr on port and sends whatever waited for it. Null when its
// family's share is full of other neighbours (answering still works; learning waits).
NeighEntry* neigh_learn(NeighTable* t, uint16_t port, const IpAddr& addr, const uint8_t* mac, uint64_t now_us,
                        TxQueues& tx);

inline void neigh_set_macs(rte_mbuf* m, const uint8_t* src, const uint8_t* dst) {
  auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
  std::memcpy(eth->src_addr.addr_bytes, src, RTE_ETHER_ADDR_LEN);
  std::memcpy(eth->dst_addr.addr_bytes, dst, RTE_ETHER_ADDR_LEN);
}

}  // namespace pc
