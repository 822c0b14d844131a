#include "pipeline/output/neigh.h"
#include "pipeline/output/neigh6.h"

#include <cstring>

namespace pc {

namespace {

constexpr uint32_t kNil = UINT32_MAX;

uint32_t bucket_of(uint32_t addr, uint16_t port) {
  return ((addr ^ (static_cast<uint32_t>(port) << 24)) * 2654435761u) >> 16 & (kNeighBuckets - 1);
}

uint32_t find(const NeighTable* t, uint16_t port, uint32_t addr) {
  for (uint32_t i = t->buckets[bucket_of(addr, port)]; i != kNil; i = t->entries[i].next) {
    const NeighEntry& e = t->entries[i];
    if (e.addr == addr && e.port_index == port) return i;
  }
  return kNil;
}

uint32_t create(NeighTable* t, uint16_t port, uint32_t addr) {
  if (t->free_count == 0) return kNil;
  uint32_t i = t->free_list[--t->free_count];
  NeighEntry& e = t->entries[i];
  e.addr = addr;
  e.source_addr = 0;
  e.port_index = port;
  e.state = NeighState::INCOMPLETE;
  e.requests_sent = 0;
  e.queued = 0;
  e.confirmed_us = 0;
  e.next_request_us = 0;
  uint32_t b = bucket_of(addr, port);
  e.next = t->buckets[b];
  t->buckets[b] = i;
  return i;
}

void drop_queue(NeighTable* t, NeighEntry& e, DropReason reason) {
  for (uint32_t k = 0; k < e.queued; k++) {
    rte_pktmbuf_free(e.queue[k]);
    t->counters->drop(reason);
  }
  t->queued_total -= e.queued;
  e.queued = 0;
}

void remove(NeighTable* t, uint32_t i) {
  NeighEntry& e = t->entries[i];
  drop_queue(t, e, DropReason::NEIGH_UNRESOLVED);
  uint32_t* link = &t->buckets[bucket_of(e.addr, e.port_index)];
  while (*link != i) link = &t->entries[*link].next;
  *link = e.next;
  e.state = NeighState::FREE;
  t->free_list[t->free_count++] = i;
}

inline void set_macs(rte_mbuf* m, const uint8_t* src, const uint8_t* dst) {
  auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
  std::memcpy(eth->src_addr.addr_bytes, src, RTE_ETHER_ADDR_LEN);
  std::memcpy(eth->dst_addr.addr_bytes, dst, RTE_ETHER_ADDR_LEN);
}

// Frees the least recently confirmed resolved entry; false when every entry is still resolving.
bool evict_oldest(NeighTable* t) {
  uint32_t oldest = kNil;
  for (uint32_t i = 0; i < kNeighCapacity; i++) {
    const NeighEntry& e = t->entries[i];
    if (e.state == NeighState::REACHABLE && (oldest == kNil || e.confirmed_us < t->entries[oldest].confirmed_us)) oldest = i;
  }
  if (oldest == kNil) return false;
  remove(t, oldest);
  return true;
}

void send_request(NeighTable* t, NeighEntry& e, uint64_t now_us, TxQueues& tx) {
  e.next_request_us = now_us + kNeighRetryUs;
  rte_mbuf* m = t->pool ? rte_pktmbuf_alloc(t->pool) : nullptr;
  // Minimum Ethernet payload: pad the 42-byte request to 60 bytes.
  const uint16_t frame_len = RTE_ETHER_MIN_LEN - RTE_ETHER_CRC_LEN;
  char* data = m ? rte_pktmbuf_append(m, frame_len) : nullptr;
  if (!data) {
    if (m) rte_pktmbuf_free(m);
    t->counters->drop(DropReason::MBUF_ALLOC_FAILED);
    return;
  }
  std::memset(data, 0, frame_len);
  auto* eth = reinterpret_cast<rte_ether_hdr*>(data);
  const uint8_t* our_mac = t->port_macs[e.port_index];
  std::memset(eth->dst_addr.addr_bytes, 0xff, RTE_ETHER_ADDR_LEN);
  std::memcpy(eth->src_addr.addr_bytes, our_mac, RTE_ETHER_ADDR_LEN);
  eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_ARP);
  auto* arp = reinterpret_cast<rte_arp_hdr*>(eth + 1);
  arp->arp_hardware = RTE_BE16(RTE_ARP_HRD_ETHER);
  arp->arp_protocol = RTE_BE16(RTE_ETHER_TYPE_IPV4);
  arp->arp_hlen = RTE_ETHER_ADDR_LEN;
  arp->arp_plen = 4;
  arp->arp_opcode = RTE_BE16(RTE_ARP_OP_REQUEST);
  std::memcpy(arp->arp_data.arp_sha.addr_bytes, our_mac, RTE_ETHER_ADDR_LEN);
  arp->arp_data.arp_sip = e.source_addr;
  arp->arp_data.arp_tip = e.addr;
  tx.push(e.port_index, m);
  t->counters->event(Event::ARP_REQUESTS_SENT);
}

// Records a confirmed MAC and releases whatever waited for it.
void learn(NeighTable* t, uint16_t port, uint32_t addr, const uint8_t* mac, uint64_t now_us, TxQueues& tx) {
  uint32_t i = find(t, port, addr);
  if (i == kNil) i = create(t, port, addr);
  if (i == kNil) return;  // table full of live neighbours: answering still works, learning waits
  NeighEntry& e = t->entries[i];
  std::memcpy(e.mac, mac, RTE_ETHER_ADDR_LEN);
  e.state = NeighState::REACHABLE;
  e.confirmed_us = now_us;
  e.requests_sent = 0;
  e.next_request_us = 0;
  for (uint32_t k = 0; k < e.queued; k++) {
    set_macs(e.queue[k], t->port_macs[port], e.mac);
    tx.push(port, e.queue[k]);
  }
  t->queued_total -= e.queued;
  e.queued = 0;
}

}  // namespace

void neigh_init(NeighTable* t, const uint8_t (*port_macs)[6], uint16_t port_count, WorkerCounters* counters,
                rte_mempool* pool) {
  t->port_macs = port_macs;
  t->port_count = port_count;
  t->counters = counters;
  t->pool = pool;
  for (uint32_t b = 0; b < kNeighBuckets; b++) t->buckets[b] = kNil;
  for (uint32_t i = 0; i < kNeighCapacity; i++) {
    t->entries[i].state = NeighState::FREE;
    t->free_list[i] = kNeighCapacity - 1 - i;
  }
  t->free_count = kNeighCapacity;
  t->queued_total = 0;
  t->next_scan_us = 0;
}

void neigh_destroy(NeighTable* t) {
  for (uint32_t i = 0; i < kNeighCapacity; i++)
    if (t->entries[i].state != NeighState::FREE) drop_queue(t, t->entries[i], DropReason::NEIGH_UNRESOLVED);
}

void neigh_input_arp(NeighTable* t, const Snapshot& s, uint16_t in_port, rte_mbuf* m, const ParsedPacket& p,
                     uint64_t now_us, TxQueues& tx) {
  rte_arp_hdr* arp = p.arp;
  uint32_t target = arp->arp_data.arp_tip;
  uint32_t sender = arp->arp_data.arp_sip;
  if (!snapshot_arp_owned(s, in_port, ip_from_v4(target))) {
    rte_pktmbuf_free(m);
    t->counters->drop(DropReason::ARP_NOT_FOR_US);
    return;
  }
  const uint8_t* sender_mac = arp->arp_data.arp_sha.addr_bytes;
  IpAddr on_link_source = ip_from_v4(target);
  // On-link senders, or next hops we asked about (an on-link static route may lie outside the prefixes).
  bool learnable = sender != 0 && rte_is_unicast_ether_addr(&arp->arp_data.arp_sha) &&
                   (snapshot_on_link_source(s, in_port, ip_from_v4(sender), &on_link_source) ||
                    find(t, in_port, sender) != kNil);
  uint32_t our_source = ip_v4(on_link_source);
  if (learnable) {
    learn(t, in_port, sender, sender_mac, now_us, tx);
    uint32_t i = find(t, in_port, sender);
    if (i != kNil && t->entries[i].source_addr == 0) t->entries[i].source_addr = our_source;
  }

  if (arp->arp_opcode == RTE_BE16(RTE_ARP_OP_REPLY)) {
    rte_pktmbuf_free(m);
    if (learnable) t->counters->event(Event::ARP_REPLIES_LEARNED);
    else t->counters->drop(DropReason::ARP_NOT_FOR_US);  // a reply from off-link: not one we asked for
    return;
  }

  // Answer in place: the request's buffer becomes the reply (no allocation can fail).
  const uint8_t* our_mac = t->port_macs[in_port];
  rte_ether_addr requester = arp->arp_data.arp_sha;
  arp->arp_opcode = RTE_BE16(RTE_ARP_OP_REPLY);
  arp->arp_data.arp_tha = requester;
  arp->arp_data.arp_tip = sender;
  std::memcpy(arp->arp_data.arp_sha.addr_bytes, our_mac, RTE_ETHER_ADDR_LEN);
  arp->arp_data.arp_sip = target;
  set_macs(m, our_mac, requester.addr_bytes);
  tx.push(in_port, m);
  t->counters->event(Event::ARP_REQUESTS_ANSWERED);
}

void neigh_output(NeighTable* t, const Snapshot& s, rte_mbuf* m, uint16_t port_index, const IpAddr& next_hop_addr,
                  uint64_t now_us, TxQueues& tx) {
  if (!ip_is_v4(next_hop_addr) && t->ipv6) return neigh6_output(t->ipv6, s, m, port_index, next_hop_addr, now_us, tx);
  if (port_index >= t->port_count || !ip_is_v4(next_hop_addr)) {  // a route to a port this worker does not drive
    rte_pktmbuf_free(m);
    t->counters->drop(DropReason::NO_ROUTE);
    return;
  }
  const uint32_t next_hop = ip_v4(next_hop_addr);
  uint32_t i = find(t, port_index, next_hop);
  if (i != kNil && t->entries[i].state == NeighState::REACHABLE) {
    NeighEntry& e = t->entries[i];
    set_macs(m, t->port_macs[port_index], e.mac);
    tx.push(port_index, m);
    if (now_us - e.confirmed_us >= kNeighRefreshAfterUs && now_us >= e.next_request_us) send_request(t, e, now_us, tx);
    return;
  }
  if (i == kNil) {
    IpAddr source;
    if (!snapshot_on_link_source(s, port_index, next_hop_addr, &source)) {
      // An on-link static route outside the connected prefixes: ask from the port's first address.
      if (!snapshot_port_address(s, port_index, false, &source)) {
        rte_pktmbuf_free(m);
        t->counters->drop(DropReason::NO_ROUTE);
        return;
      }
    }
    i = create(t, port_index, next_hop);
    if (i == kNil && evict_oldest(t)) i = create(t, port_index, next_hop);
    if (i == kNil) {
      rte_pktmbuf_free(m);
      t->counters->drop(DropReason::NEIGH_QUEUE_FULL);
      return;
    }
    t->entries[i].source_addr = ip_v4(source);
  }
  NeighEntry& e = t->entries[i];
  if (e.queued >= kNeighQueuePerEntry || t->queued_total >= kNeighQueueTotal) {
    rte_pktmbuf_free(m);
    t->counters->drop(DropReason::NEIGH_QUEUE_FULL);
  } else {
    e.queue[e.queued++] = m;
    t->queued_total++;
    t->counters->event(Event::NEIGH_QUEUED);
  }
  if (e.requests_sent == 0) {
    e.requests_sent = 1;
    send_request(t, e, now_us, tx);
  }
}

void neigh_run_timers(NeighTable* t, uint64_t now_us, TxQueues& tx) {
  if (now_us < t->next_scan_us || t->free_count == kNeighCapacity) return;
  t->next_scan_us = now_us + kNeighScanIntervalUs;
  for (uint32_t i = 0; i < kNeighCapacity; i++) {
    NeighEntry& e = t->entries[i];
    if (e.state == NeighState::REACHABLE) {
      if (now_us - e.confirmed_us >= kNeighLifetimeUs) remove(t, i);
    } else if (e.state == NeighState::INCOMPLETE && now_us >= e.next_request_us) {
      if (e.requests_sent >= kNeighMaxRequests) {
        remove(t, i);  // drops what it held as NEIGH_UNRESOLVED
      } else {
        e.requests_sent++;
        send_request(t, e, now_us, tx);
      }
    }
  }
}

}  // namespace pc
