// Neighbour resolution (ARP), per worker: a bounded table, packets held while a
// next hop resolves, ARP answers for owned addresses.
//
// Policy (all per worker, no sharing):
// - Learn a sender from ARP requests targeted at an address we own on that port
//   and from replies to us, only when the sender is inside a connected prefix of
//   the receiving port (keeps strangers out of the table).
// - Miss: create an INCOMPLETE entry, hold the packet (≤ kNeighQueuePerEntry per
//   neighbour and ≤ kNeighQueueTotal in all, else NEIGH_QUEUE_FULL), broadcast a
//   request from the port address of the connected prefix; retry every
//   kNeighRetryUs; after kNeighMaxRequests unanswered requests drop the held
//   packets (NEIGH_UNRESOLVED) and forget the entry.
// - A resolved entry lives kNeighLifetimeUs after its last ARP confirmation.
//   Traffic keeps it fresh: forwarding through an entry older than
//   kNeighRefreshAfterUs sends one request per kNeighRetryUs while still using
//   the entry, and the reply re-confirms it; idle entries simply age out.
// - Table full when a next hop must be resolved: the least recently confirmed
//   resolved entry is evicted (learning from requests never evicts).
#pragma once
#include <cstdint>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include "common/config.h"
#include "common/counters.h"
#include "common/tx_queues.h"
#include "pipeline/l2l3/packet.h"
#include "pipeline/snapshot.h"

namespace pc {

struct Neigh6Table;

// On-link clients are neighbours too (replies go straight to them), so size for a busy segment.
constexpr uint32_t kNeighCapacity = 4096;
constexpr uint32_t kNeighBuckets = 8192;  // power of two
constexpr uint32_t kNeighQueuePerEntry = 8;
constexpr uint32_t kNeighQueueTotal = 256;
constexpr uint32_t kNeighMaxRequests = 3;
constexpr uint64_t kNeighRetryUs = 1000 * 1000;
constexpr uint64_t kNeighLifetimeUs = 300ull * 1000 * 1000;
constexpr uint64_t kNeighRefreshAfterUs = 240ull * 1000 * 1000;
constexpr uint64_t kNeighScanIntervalUs = 100 * 1000;

enum class NeighState : uint8_t { FREE, INCOMPLETE, REACHABLE };

struct NeighEntry {
  uint32_t addr = 0;          // network order
  uint32_t source_addr = 0;   // our address on that segment, for requests (network order)
  uint16_t port_index = 0;
  NeighState state = NeighState::FREE;
  uint8_t requests_sent = 0;
  uint8_t mac[6] = {};
  uint8_t queued = 0;
  uint64_t confirmed_us = 0;
  uint64_t next_request_us = 0;
  uint32_t next = 0;          // bucket chain
  rte_mbuf* queue[kNeighQueuePerEntry] = {};
};

struct NeighTable {
  NeighEntry entries[kNeighCapacity];
  uint32_t buckets[kNeighBuckets];
  uint32_t free_list[kNeighCapacity];
  uint32_t free_count = 0;
  uint32_t queued_total = 0;
  uint64_t next_scan_us = 0;
  // Environment captured at init: this worker's ports, counters and packet pool.
  const uint8_t (*port_macs)[6] = nullptr;
  uint16_t port_count = 0;
  WorkerCounters* counters = nullptr;
  rte_mempool* pool = nullptr;
  // The worker's neighbour discovery (neigh6.h): neigh_output() hands IPv6 next hops to it,
  // so every stage has one last step for either family.
  Neigh6Table* ipv6 = nullptr;
};

void neigh_init(NeighTable* t, const uint8_t (*port_macs)[6], uint16_t port_count, WorkerCounters* counters,
                rte_mempool* pool);
// Frees every held packet (worker teardown); counted NEIGH_UNRESOLVED.
void neigh_destroy(NeighTable* t);

// An ARP frame received on in_port (already validated by parse_arp): learn, answer or drop.
void neigh_input_arp(NeighTable* t, const Snapshot& s, uint16_t in_port, rte_mbuf* m, const ParsedPacket& p,
                     uint64_t now_us, TxQueues& tx);

// Sends a routed IPv4 frame to next_hop out of port_index: sets the MACs and pushes
// to tx, or holds it while the next hop resolves, or drops it (NO_ROUTE for a next hop
// ARP cannot resolve: not IPv4). The table itself keys IPv4 addresses (network order).
void neigh_output(NeighTable* t, const Snapshot& s, rte_mbuf* m, uint16_t port_index, const IpAddr& next_hop,
                  uint64_t now_us, TxQueues& tx);

// Retries/gives up pending resolutions and ages entries; cheap when nothing is due.
void neigh_run_timers(NeighTable* t, uint64_t now_us, TxQueues& tx);

}  // namespace pc
