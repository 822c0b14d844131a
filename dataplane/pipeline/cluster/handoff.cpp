#include "pipeline/cluster/handoff.h"

#include <cstring>
#include <rte_ip.h>
#include "pipeline/l2l3/l3.h"
#include "pipeline/l2l3/parse.h"
#include "pipeline/output/neigh.h"
#include "pipeline/output/route.h"
#include "pipeline/pipeline.h"
#include "pipeline/worker_state.h"

namespace pc {

namespace {

constexpr uint16_t kOuterLen = sizeof(rte_ipv4_hdr);  // no options
constexpr uint8_t kOuterTtl = 64;                     // a fresh IP hop between nodes

inline uint16_t l2_length(const ParsedPacket& p) {
  const uint8_t* l3 = p.ip6 ? reinterpret_cast<const uint8_t*>(p.ip6) : reinterpret_cast<const uint8_t*>(p.ip);
  return static_cast<uint16_t>(l3 - reinterpret_cast<const uint8_t*>(p.eth));
}

inline bool is_other_node(const Snapshot& s, const IpAddr& addr) {
  for (size_t i = 0; i < s.cluster.nodes.size(); i++)
    if (i != s.cluster.self && s.cluster.nodes[i] == addr) return true;
  return false;
}

}  // namespace

bool worker_cluster_prepare(Worker* w, std::string* error) {
  ClusterWorker& c = w->cluster;
  if ((c.exports.ready() || c.exports.init(kOwnershipExportRing)) && (c.inbox.ready() || c.inbox.init(kForeignInboxRing)))
    return true;
  *error = "cluster: out of memory for worker " + std::to_string(w->params.index) + "'s ownership rings";
  return false;
}

void cluster_adopt(Worker* w, const Snapshot* s) {
  ClusterWorker& c = w->cluster;
  const bool enabled = s && s->cluster.enabled;
  uint32_t capacity = enabled ? s->cluster.foreign_flows : 0;
  uint64_t idle_us = enabled ? uint64_t{s->cluster.foreign_idle_seconds} * 1000000 : 0;
  if (capacity == c.foreign_capacity && idle_us == c.foreign_idle_us) return;
  // A changed bound starts the table afresh: the owners re-announce nothing, so flows learned
  // before are lost to hand-off (an operator's rare act; the sync refills it with new flows).
  if (capacity == 0) c.foreign = ForeignFlowTable{};
  else foreign_flows_init(&c.foreign, capacity, idle_us);  // out of memory: capacity 0, learns refused
  c.foreign_capacity = capacity;
  c.foreign_idle_us = idle_us;
}

void cluster_learn_pending(Worker* w, uint64_t now_us) {
  ClusterWorker& c = w->cluster;
  if (c.inbox.empty()) return;
  ForeignRecord batch[64];
  uint32_t n;
  while ((n = c.inbox.pop(batch, 64)) > 0) {
    for (uint32_t i = 0; i < n; i++) {
      switch (foreign_flows_learn(&c.foreign, batch[i].key, batch[i].owner, batch[i].owner_worker, now_us)) {
        case ForeignLearn::ADDED_EVICTING: w->counters->event(Event::FOREIGN_FLOWS_EVICTED); [[fallthrough]];
        case ForeignLearn::ADDED:
        case ForeignLearn::REFRESHED: w->counters->event(Event::FOREIGN_FLOWS_LEARNED); break;
        case ForeignLearn::REFUSED: break;  // no table (cluster gone since it was queued, or no memory)
      }
    }
  }
}

void ownership_export(Worker* w, const ParsedPacket& p) {
  FlowKey record = l3_flow_key(p);
  // Which of our workers holds it: other nodes copy this into the outer header of a hand-off,
  // and the worker that receives the hand-off passes it there (pipeline.h: packet_owner_worker).
  record.pad[0] = static_cast<uint8_t>(w->params.index);
  if (w->cluster.exports.push(record)) w->counters->event(Event::OWNERSHIP_EXPORTED);
  else w->counters->event(Event::OWNERSHIP_EXPORT_OVERFLOW);
}

bool handoff_to_owner(Worker* w, const Snapshot& s, rte_mbuf* m, const ParsedPacket& p, uint64_t now_us, TxQueues& tx) {
  uint8_t owner_worker = 0;
  int owner = foreign_flows_owner(&w->cluster.foreign, l3_flow_key(p), now_us, &owner_worker);
  if (owner < 0 || static_cast<size_t>(owner) >= s.cluster.nodes.size() || static_cast<uint32_t>(owner) == s.cluster.self)
    return false;
  const IpAddr& owner_addr = s.cluster.nodes[owner];
  NextHop hop;
  if (!route_lookup(s, owner_addr, &hop)) return worker_drop(w, m, DropReason::NO_ROUTE), true;
  // Never fragmented: the node-to-node link must carry client MTU + 20 (docs/cluster.md).
  if (static_cast<uint32_t>(p.ip_total_len) + kOuterLen > w->port_mtus[hop.port_index])
    return worker_drop(w, m, DropReason::HANDOFF_OVER_MTU), true;
  const bool ipv6 = p.ip6 != nullptr;
  // Read before the L2 header moves (p's pointers go stale).
  const uint8_t tos = ipv6 ? static_cast<uint8_t>(rte_be_to_cpu_32(p.ip6->vtc_flow) >> 20) : p.ip->type_of_service;
  const uint16_t inner_len = p.ip_total_len;
  const uint16_t l2_len = l2_length(p);
  char* front = rte_pktmbuf_prepend(m, kOuterLen);
  if (!front) return worker_drop(w, m, DropReason::MBUF_ALLOC_FAILED), true;  // no headroom
  std::memmove(front, front + kOuterLen, l2_len);
  reinterpret_cast<rte_ether_hdr*>(front)->ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV4);  // IPv6 inner: the frame is IPv4 now
  auto* outer = reinterpret_cast<rte_ipv4_hdr*>(front + l2_len);
  outer->version_ihl = RTE_IPV4_VHL_DEF;
  outer->type_of_service = tos;  // RFC 2003 §3.1
  outer->total_length = rte_cpu_to_be_16(static_cast<uint16_t>(inner_len + kOuterLen));
  // DF set: an atomic datagram, whose id carries no meaning for IP (RFC 6864 §4.1); it names
  // the owner's worker that holds the connection, so the owner steers it there.
  outer->packet_id = rte_cpu_to_be_16(owner_worker);
  outer->fragment_offset = RTE_BE16(RTE_IPV4_HDR_DF_FLAG);
  outer->time_to_live = kOuterTtl;
  outer->next_proto_id = ipv6 ? kIpprotoIpv6In4 : kIpprotoIpip;
  outer->src_addr = ip_v4(s.cluster.nodes[s.cluster.self]);
  outer->dst_addr = ip_v4(owner_addr);
  outer->hdr_checksum = 0;
  outer->hdr_checksum = rte_ipv4_cksum(outer);
  w->counters->event(Event::HANDOFF_SENT);
  neigh_output(&w->neigh, s, m, hop.port_index, hop.gateway, now_us, tx);
  return true;
}

bool handoff_decapsulate(Worker* w, const Snapshot& s, rte_mbuf* m, const ParsedPacket& p) {
  if (!is_other_node(s, ip_from_v4(p.ip->src_addr))) return worker_drop(w, m, DropReason::HANDOFF_FOREIGN_SOURCE), false;
  const uint16_t outer_len = p.ip_header_len;
  const bool ipv6 = p.ip->next_proto_id == kIpprotoIpv6In4;
  // The sender never fragments (handoff_to_owner); a nested hand-off is never made either.
  if (ipv4_is_fragment(p.ip) || p.handed_off || p.ip_total_len <= outer_len)
    return worker_drop(w, m, DropReason::HANDOFF_BAD_ENCAPSULATION), false;
  const uint8_t* inner = reinterpret_cast<const uint8_t*>(p.ip) + outer_len;
  if ((inner[0] >> 4) != (ipv6 ? 6 : 4)) return worker_drop(w, m, DropReason::HANDOFF_BAD_ENCAPSULATION), false;
  const uint16_t l2_len = l2_length(p);
  uint8_t* front = rte_pktmbuf_mtod(m, uint8_t*);
  std::memmove(front + outer_len, front, l2_len);  // the L2 header moves up to the inner packet
  rte_pktmbuf_adj(m, outer_len);
  rte_pktmbuf_mtod(m, rte_ether_hdr*)->ether_type = ipv6 ? RTE_BE16(RTE_ETHER_TYPE_IPV6) : RTE_BE16(RTE_ETHER_TYPE_IPV4);
  w->counters->event(Event::HANDOFF_RECEIVED);
  return true;
}

uint32_t worker_ownership_drain(Worker* w, uint8_t* out, uint32_t max) {
  FlowKey batch[64];
  uint32_t total = 0;
  while (total < max) {
    uint32_t want = max - total < 64 ? max - total : 64;
    uint32_t n = w->cluster.exports.pop(batch, want);
    std::memcpy(out + size_t{total} * kOwnershipRecordBytes, batch, size_t{n} * kOwnershipRecordBytes);
    total += n;
    if (n < want) break;
  }
  return total;
}

uint32_t worker_foreign_queue(Worker* w, const uint8_t* records, uint32_t count, uint8_t owner) {
  uint32_t queued = 0;
  for (; queued < count; queued++) {
    ForeignRecord r;
    std::memcpy(&r.key, records + size_t{queued} * kOwnershipRecordBytes, kOwnershipRecordBytes);
    r.owner_worker = r.key.pad[0];
    std::memset(r.key.pad, 0, sizeof r.key.pad);  // the key is hashed whole
    r.owner = owner;
    if (!w->cluster.inbox.push(r)) break;
  }
  return queued;
}

}  // namespace pc
