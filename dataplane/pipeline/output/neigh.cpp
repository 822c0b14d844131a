#include "pipeline/output/neigh.h"

#include "pipeline/output/arp.h"
#include "pipeline/output/nd.h"

namespace pc {

namespace {

constexpr uint32_t kNil = UINT32_MAX;

// The low 64 bits only, with no family test (this runs for every forwarded packet; ip_fold32's
// test compiles to a memcmp call here): on one segment IPv6 neighbours share their /64 and
// differ in the interface identifier, and an IPv4 address (mapped) folds to its own 4 bytes
// xor a constant, spreading as in the IPv4-only table.
uint32_t bucket_of(const IpAddr& addr, uint16_t port) {
  uint64_t low;
  std::memcpy(&low, addr.bytes + 8, 8);
  const uint32_t fold = static_cast<uint32_t>(low) ^ static_cast<uint32_t>(low >> 32);
  return ((fold ^ (static_cast<uint32_t>(port) << 24)) * 2654435761u) >> 16 & (kNeighBuckets - 1);
}

inline NeighShare& share_of(NeighTable* t, const IpAddr& addr) { return t->shares[ip_is_v6(addr) ? 1 : 0]; }

NeighEntry* create(NeighTable* t, uint16_t port, const IpAddr& addr) {
  NeighShare& share = share_of(t, addr);
  if (share.free_head == kNil) return nullptr;
  uint32_t i = share.free_head;
  NeighEntry& e = t->entries[i];
  share.free_head = e.next;
  share.in_use++;
  e.addr = addr;
  e.source = IpAddr{};
  e.port_index = port;
  e.state = NeighState::INCOMPLETE;
  e.requests_sent = 0;
  e.queued = 0;
  e.confirmed_us = 0;
  e.next_request_us = 0;
  uint32_t b = bucket_of(addr, port);
  e.next = t->buckets[b];
  t->buckets[b] = i;
  return &e;
}

void drop_queue(NeighTable* t, NeighEntry& e, DropReason reason) {
  for (uint32_t k = 0; k < e.queued; k++) {
    rte_pktmbuf_free(e.queue[k]);
    t->counters->drop(reason);
  }
  share_of(t, e.addr).queued -= e.queued;
  e.queued = 0;
}

void remove(NeighTable* t, uint32_t i) {
  NeighEntry& e = t->entries[i];
  drop_queue(t, e, DropReason::NEIGH_UNRESOLVED);
  uint32_t* link = &t->buckets[bucket_of(e.addr, e.port_index)];
  while (*link != i) link = &t->entries[*link].next;
  *link = e.next;
  e.state = NeighState::FREE;
  NeighShare& share = share_of(t, e.addr);
  e.next = share.free_head;
  share.free_head = i;
  share.in_use--;
}

// Frees the share's least recently confirmed resolved entry; false when every entry is still resolving.
bool evict_oldest(NeighTable* t, const NeighShare& share) {
  uint32_t oldest = kNil;
  for (uint32_t i = share.first; i < share.first + share.capacity; i++) {
    const NeighEntry& e = t->entries[i];
    if (e.state == NeighState::REACHABLE && (oldest == kNil || e.confirmed_us < t->entries[oldest].confirmed_us)) oldest = i;
  }
  if (oldest == kNil) return false;
  remove(t, oldest);
  return true;
}

// An ARP request or a neighbour solicitation for e, as its family resolves.
void send_request(NeighTable* t, NeighEntry& e, uint64_t now_us, TxQueues& tx) {
  e.next_request_us = now_us + kNeighRetryUs;
  const bool v4 = ip_is_v4(e.addr);
  const uint16_t frame_len = v4 ? kArpRequestFrameBytes : kNdFrameBytes;
  rte_mbuf* m = t->pool ? rte_pktmbuf_alloc(t->pool) : nullptr;
  char* data = m ? rte_pktmbuf_append(m, frame_len) : nullptr;
  if (!data) {
    if (m) rte_pktmbuf_free(m);
    t->counters->drop(DropReason::MBUF_ALLOC_FAILED);
    return;
  }
  const uint8_t* our_mac = t->port_macs[e.port_index];
  if (v4) arp_write_request(reinterpret_cast<uint8_t*>(data), our_mac, e.source, e.addr);
  else nd_write_solicitation(reinterpret_cast<uint8_t*>(data), our_mac, e.source, e.addr);
  tx.push(e.port_index, m);
  t->counters->event(v4 ? Event::ARP_REQUESTS_SENT : Event::ND_SOLICITATIONS_SENT);
}

inline void drop(NeighTable* t, rte_mbuf* m, DropReason reason) {
  rte_pktmbuf_free(m);
  t->counters->drop(reason);
}

}  // namespace

NeighEntry* neigh_find(NeighTable* t, uint16_t port, const IpAddr& addr) {
  for (uint32_t i = t->buckets[bucket_of(addr, port)]; i != kNil; i = t->entries[i].next) {
    NeighEntry& e = t->entries[i];
    if (e.port_index == port && e.addr == addr) return &e;
  }
  return nullptr;
}

NeighEntry* neigh_learn(NeighTable* t, uint16_t port, const IpAddr& addr, const uint8_t* mac, uint64_t now_us,
                        TxQueues& tx) {
  NeighEntry* e = neigh_find(t, port, addr);
  if (!e) e = create(t, port, addr);
  if (!e) return nullptr;
  std::memcpy(e->mac, mac, RTE_ETHER_ADDR_LEN);
  e->state = NeighState::REACHABLE;
  e->confirmed_us = now_us;
  e->requests_sent = 0;
  e->next_request_us = 0;
  for (uint32_t k = 0; k < e->queued; k++) {
    neigh_set_macs(e->queue[k], t->port_macs[port], e->mac);
    tx.push(port, e->queue[k]);
  }
  share_of(t, addr).queued -= e->queued;
  e->queued = 0;
  return e;
}

void neigh_init(NeighTable* t, const uint8_t (*port_macs)[6], uint16_t port_count, WorkerCounters* counters,
                rte_mempool* pool) {
  t->port_macs = port_macs;
  t->port_count = port_count;
  t->counters = counters;
  t->pool = pool;
  for (uint32_t b = 0; b < kNeighBuckets; b++) t->buckets[b] = kNil;
  t->shares[0] = NeighShare{0, kNeighCapacityV4, 0, 0, 0};
  t->shares[1] = NeighShare{kNeighCapacityV4, kNeighCapacityV6, kNeighCapacityV4, 0, 0};
  // Each share's free chain in slot order: the lowest free slot is taken first.
  for (const NeighShare& share : t->shares) {
    const uint32_t end = share.first + share.capacity;
    for (uint32_t i = share.first; i < end; i++) {
      t->entries[i].state = NeighState::FREE;
      t->entries[i].next = i + 1 < end ? i + 1 : kNil;
    }
  }
  t->next_scan_us = 0;
}

void neigh_destroy(NeighTable* t) {
  for (uint32_t i = 0; i < kNeighCapacity; i++)
    if (t->entries[i].state != NeighState::FREE) drop_queue(t, t->entries[i], DropReason::NEIGH_UNRESOLVED);
}

void neigh_output(NeighTable* t, const Snapshot& s, rte_mbuf* m, uint16_t port_index, const IpAddr& next_hop,
                  uint64_t now_us, TxQueues& tx) {
  if (port_index >= t->port_count) return drop(t, m, DropReason::NO_ROUTE);  // a port this worker does not drive
  NeighEntry* e = neigh_find(t, port_index, next_hop);
  if (e && e->state == NeighState::REACHABLE) {
    neigh_set_macs(m, t->port_macs[port_index], e->mac);
    tx.push(port_index, m);
    if (now_us - e->confirmed_us >= kNeighRefreshAfterUs && now_us >= e->next_request_us) {
      // Learned from the neighbour's own ND message to an address not on-link: our source is found now.
      if (ip_is_zero(e->source)) snapshot_on_link_source(s, port_index, next_hop, &e->source);
      if (!ip_is_zero(e->source)) send_request(t, *e, now_us, tx);
    }
    return;
  }
  if (!e) {
    IpAddr source;
    // An on-link next hop outside the connected prefixes: ask from the port's first address of the family.
    if (!snapshot_on_link_source(s, port_index, next_hop, &source) &&
        !snapshot_port_address(s, port_index, ip_is_v6(next_hop), &source))
      return drop(t, m, DropReason::NO_ROUTE);
    e = create(t, port_index, next_hop);
    if (!e && evict_oldest(t, share_of(t, next_hop))) e = create(t, port_index, next_hop);
    if (!e) return drop(t, m, DropReason::NEIGH_QUEUE_FULL);
    e->source = source;
  }
  NeighShare& share = share_of(t, next_hop);
  if (e->queued >= kNeighQueuePerEntry || share.queued >= kNeighQueueTotal) {
    drop(t, m, DropReason::NEIGH_QUEUE_FULL);
  } else {
    e->queue[e->queued++] = m;
    share.queued++;
    t->counters->event(Event::NEIGH_QUEUED);
  }
  if (e->requests_sent == 0) {
    e->requests_sent = 1;
    send_request(t, *e, now_us, tx);
  }
}

void neigh_run_timers(NeighTable* t, uint64_t now_us, TxQueues& tx) {
  if (now_us < t->next_scan_us || (t->shares[0].in_use == 0 && t->shares[1].in_use == 0)) return;
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
