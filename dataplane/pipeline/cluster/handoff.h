// Cluster hand-off (docs/cluster.md). When the routers' ECMP set changes, a node
// receives mid-flow packets of connections another node made. Every node exports the
// client tuples of the connections it creates (ownership_export, drained by the control
// plane and sent to the other nodes); the receivers keep them in their foreign-flow table
// (cluster_learn_pending). A TCP non-SYN segment or UDP datagram to a VIP that misses the
// connection table and hits that table is sent to its owner encapsulated (IPIP for an IPv4
// packet, IPv6-in-IPv4 for an IPv6 one: node addresses are IPv4); the owner decapsulates
// it and processes it as if it had arrived on that port. Nothing here runs unless the
// snapshot's cluster is enabled.
#pragma once
#include <rte_ip.h>
#include <rte_mbuf.h>
#include "common/tx_queues.h"
#include "pipeline/l2l3/packet.h"
#include "pipeline/snapshot.h"

namespace pc {

struct Worker;

constexpr uint8_t kIpprotoIpip = 4;     // RFC 2003
constexpr uint8_t kIpprotoIpv6In4 = 41;  // RFC 4213

// Snapshot adoption: (re)builds the foreign-flow table when the bound or idle time changed
// (emptied when the cluster section went away).
void cluster_adopt(Worker* w, const Snapshot* s);
// Timers: moves what the control thread queued into the foreign-flow table.
void cluster_learn_pending(Worker* w, uint64_t now_us);

// conn_create: the new connection of p (client-side) goes to the export ring.
void ownership_export(Worker* w, const ParsedPacket& p);

// A packet to a VIP without a connection (not a TCP SYN): true when another node owns its
// flow and m was sent to it (or dropped on the way, counted); false = not a foreign flow.
bool handoff_to_owner(Worker* w, const Snapshot& s, rte_mbuf* m, const ParsedPacket& p, uint64_t now_us, TxQueues& tx);

// An IPIP / IPv6-in-IPv4 packet to this node's address, by its (outer) IPv4 header.
inline bool handoff_to_this_node(const Snapshot& s, const rte_ipv4_hdr* ip) {
  if (!s.cluster.enabled) return false;
  uint8_t proto = ip->next_proto_id;
  return (proto == kIpprotoIpip || proto == kIpprotoIpv6In4) && ip_from_v4(ip->dst_addr) == s.cluster.nodes[s.cluster.self];
}
// The same for a packet parsed to L3.
inline bool handoff_is_encapsulated(const Snapshot& s, const ParsedPacket& p) {
  return p.ip && handoff_to_this_node(s, p.ip);
}
// Several workers: the worker that holds the connection of such a packet (its sender copied
// the index from our ownership record into the outer id, handoff_to_owner), or -1 when the
// IPv4 header (outer, unfragmented, read from the frame) is not a hand-off to this node.
inline int handoff_owner_worker(const Snapshot& s, const rte_ipv4_hdr* ip, uint16_t worker_count) {
  if (!handoff_to_this_node(s, ip)) return -1;
  return rte_be_to_cpu_16(ip->packet_id) % worker_count;
}
// Strips the outer header of such a packet (m then holds the inner packet behind the same
// L2 header); false when m was dropped with its reason (not from a cluster node, fragmented,
// inner header of the wrong version).
bool handoff_decapsulate(Worker* w, const Snapshot& s, rte_mbuf* m, const ParsedPacket& p);

}  // namespace pc
