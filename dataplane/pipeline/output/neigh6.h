// Neighbour discovery (RFC 4861), IPv6's counterpart of neigh.h (ARP), per worker:
// a bounded table, packets held while a next hop resolves, NS answered for owned
// addresses. Same shape and policy as neigh.h:
//
// - Receive (neigh6_input, after the ICMPv6 checksum verified): every message is
//   validated as RFC 4861 7.1 says (hop limit 255, code 0, length, options of non-zero
//   length, target not multicast), else ND_INVALID.
//   NS for an address owned on the port (to the address itself or to its solicited-node
//   group ff02::1:ffXX:XXXX) → NA in place (solicited, override, target link-layer
//   option); its source link-layer option is learned when the source is on-link. NS from
//   :: (duplicate address detection) → neither answered nor learned (ND_DAD_PROBES_IGNORED;
//   configured addresses need no DAD). NA → its target link-layer address learned when we
//   asked for it or it is on-link (ND_ADVERTISEMENTS_LEARNED), else ND_NOT_FOR_US.
//   Router solicitations/advertisements and redirects → ND_ROUTER_MESSAGES_IGNORED.
// - Miss (neigh6_output): an INCOMPLETE entry, the packet held (≤ kNeighQueuePerEntry per
//   neighbour and ≤ kNeigh6QueueTotal in all, else NEIGH_QUEUE_FULL), an NS to the next
//   hop's solicited-node group (MAC 33:33:ff + its low 24 bits, hop limit 255) from the
//   port's IPv6 address of that prefix; retried every kNeighRetryUs, given up after
//   kNeighMaxRequests (held packets NEIGH_UNRESOLVED). Lifetime, refresh and eviction as neigh.h.
#pragma once
#include <cstdint>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include "common/counters.h"
#include "common/ip_address.h"
#include "common/tx_queues.h"
#include "pipeline/l2l3/packet.h"
#include "pipeline/output/neigh.h"
#include "pipeline/snapshot.h"

namespace pc {

constexpr uint32_t kNeigh6Capacity = 1024;
constexpr uint32_t kNeigh6Buckets = 2048;  // power of two
constexpr uint32_t kNeigh6QueueTotal = 256;
constexpr uint8_t kNdHopLimit = 255;  // RFC 4861: every ND message is sent with, and must arrive with, 255

// ICMPv6 types (RFC 4443, RFC 4861).
constexpr uint8_t kIcmp6EchoRequest = 128;
constexpr uint8_t kIcmp6EchoReply = 129;
constexpr uint8_t kNdRouterSolicitation = 133;
constexpr uint8_t kNdRouterAdvertisement = 134;
constexpr uint8_t kNdNeighborSolicitation = 135;
constexpr uint8_t kNdNeighborAdvertisement = 136;
constexpr uint8_t kNdRedirect = 137;

inline bool icmp6_is_nd(uint8_t type) { return type >= kNdRouterSolicitation && type <= kNdRedirect; }

// ff02::1:ffXX:XXXX for addr (RFC 4291 2.7.1) and its Ethernet group 33:33:ff:XX:XX:XX (RFC 2464 7).
IpAddr nd_solicited_node(const IpAddr& addr);
void nd_multicast_mac(const IpAddr& group, uint8_t mac[6]);

struct Neigh6Entry {
  IpAddr addr{};
  IpAddr source{};  // our address on that segment, for solicitations
  uint16_t port_index = 0;
  NeighState state = NeighState::FREE;
  uint8_t requests_sent = 0;
  uint8_t mac[6] = {};
  uint8_t queued = 0;
  uint64_t confirmed_us = 0;
  uint64_t next_request_us = 0;
  uint32_t next = 0;  // bucket chain
  rte_mbuf* queue[kNeighQueuePerEntry] = {};
};

struct Neigh6Table {
  Neigh6Entry entries[kNeigh6Capacity];
  uint32_t buckets[kNeigh6Buckets];
  uint32_t free_list[kNeigh6Capacity];
  uint32_t free_count = 0;
  uint32_t queued_total = 0;
  uint64_t next_scan_us = 0;
  const uint8_t (*port_macs)[6] = nullptr;
  uint16_t port_count = 0;
  WorkerCounters* counters = nullptr;
  rte_mempool* pool = nullptr;
};

void neigh6_init(Neigh6Table* t, const uint8_t (*port_macs)[6], uint16_t port_count, WorkerCounters* counters,
                 rte_mempool* pool);
// Frees every held packet (worker teardown); counted NEIGH_UNRESOLVED.
void neigh6_destroy(Neigh6Table* t);

// An ND message (ICMPv6 type 133..137, checksum verified) received on in_port: answer,
// learn, ignore or drop; m is always consumed.
void neigh6_input(Neigh6Table* t, const Snapshot& s, uint16_t in_port, rte_mbuf* m, const ParsedPacket& p,
                  uint64_t now_us, TxQueues& tx);

// Sends an IPv6 frame to next_hop out of port_index: sets the MACs and pushes to tx,
// or holds it while the next hop resolves, or drops it.
void neigh6_output(Neigh6Table* t, const Snapshot& s, rte_mbuf* m, uint16_t port_index, const IpAddr& next_hop,
                   uint64_t now_us, TxQueues& tx);

// Retries/gives up pending resolutions and ages entries; cheap when nothing is due.
void neigh6_run_timers(Neigh6Table* t, uint64_t now_us, TxQueues& tx);

}  // namespace pc
