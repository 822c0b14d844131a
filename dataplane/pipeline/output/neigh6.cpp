#include "pipeline/output/neigh6.h"

#include <cstring>
#include "pipeline/l2l3/checksum.h"

namespace pc {

namespace {

constexpr uint32_t kNil = UINT32_MAX;
constexpr uint32_t kNdMessageBytes = 24;       // NS/NA: type, code, checksum, 4 flag/reserved bytes, target
constexpr uint32_t kNdLinkLayerOptionBytes = 8;  // type, length (1 = 8 bytes), MAC
constexpr uint8_t kOptSourceLinkLayer = 1;
constexpr uint8_t kOptTargetLinkLayer = 2;
constexpr uint8_t kNaFlagSolicited = 0x40;
constexpr uint8_t kNaFlagOverride = 0x20;
constexpr uint16_t kNdFrameBytes = sizeof(rte_ether_hdr) + sizeof(rte_ipv6_hdr) + kNdMessageBytes + kNdLinkLayerOptionBytes;

uint32_t bucket_of(const IpAddr& addr, uint16_t port) {
  return ((ip_fold32(addr) ^ (static_cast<uint32_t>(port) << 24)) * 2654435761u) >> 16 & (kNeigh6Buckets - 1);
}

uint32_t find(const Neigh6Table* t, uint16_t port, const IpAddr& addr) {
  for (uint32_t i = t->buckets[bucket_of(addr, port)]; i != kNil; i = t->entries[i].next) {
    const Neigh6Entry& e = t->entries[i];
    if (e.port_index == port && e.addr == addr) return i;
  }
  return kNil;
}

uint32_t create(Neigh6Table* t, uint16_t port, const IpAddr& addr) {
  if (t->free_count == 0) return kNil;
  uint32_t i = t->free_list[--t->free_count];
  Neigh6Entry& e = t->entries[i];
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
  return i;
}

void drop_queue(Neigh6Table* t, Neigh6Entry& e, DropReason reason) {
  for (uint32_t k = 0; k < e.queued; k++) {
    rte_pktmbuf_free(e.queue[k]);
    t->counters->drop(reason);
  }
  t->queued_total -= e.queued;
  e.queued = 0;
}

void remove(Neigh6Table* t, uint32_t i) {
  Neigh6Entry& e = t->entries[i];
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

bool evict_oldest(Neigh6Table* t) {
  uint32_t oldest = kNil;
  for (uint32_t i = 0; i < kNeigh6Capacity; i++) {
    const Neigh6Entry& e = t->entries[i];
    if (e.state == NeighState::REACHABLE && (oldest == kNil || e.confirmed_us < t->entries[oldest].confirmed_us)) oldest = i;
  }
  if (oldest == kNil) return false;
  remove(t, oldest);
  return true;
}

// Writes an IPv6 header + NS/NA with one link-layer option at ip6 (kNdFrameBytes - 14 bytes).
void write_nd(rte_ipv6_hdr* ip6, const IpAddr& src, const IpAddr& dst, uint8_t type, uint8_t flags,
              const IpAddr& target, uint8_t option, const uint8_t* mac) {
  ip6->vtc_flow = RTE_BE32(0x60000000);
  ip6->payload_len = rte_cpu_to_be_16(kNdMessageBytes + kNdLinkLayerOptionBytes);
  ip6->proto = IPPROTO_ICMPV6;
  ip6->hop_limits = kNdHopLimit;
  std::memcpy(ip6->src_addr, src.bytes, 16);
  std::memcpy(ip6->dst_addr, dst.bytes, 16);
  uint8_t* icmp = reinterpret_cast<uint8_t*>(ip6 + 1);
  std::memset(icmp, 0, kNdMessageBytes + kNdLinkLayerOptionBytes);
  icmp[0] = type;
  icmp[4] = flags;
  std::memcpy(icmp + 8, target.bytes, 16);
  icmp[24] = option;
  icmp[25] = 1;  // in units of 8 bytes
  std::memcpy(icmp + 26, mac, RTE_ETHER_ADDR_LEN);
  uint16_t check = ipv6_upper_checksum(src.bytes, dst.bytes, IPPROTO_ICMPV6, icmp, kNdMessageBytes + kNdLinkLayerOptionBytes);
  std::memcpy(icmp + 2, &check, 2);
}

void send_solicitation(Neigh6Table* t, Neigh6Entry& e, uint64_t now_us, TxQueues& tx) {
  e.next_request_us = now_us + kNeighRetryUs;
  rte_mbuf* m = t->pool ? rte_pktmbuf_alloc(t->pool) : nullptr;
  char* data = m ? rte_pktmbuf_append(m, kNdFrameBytes) : nullptr;
  if (!data) {
    if (m) rte_pktmbuf_free(m);
    t->counters->drop(DropReason::MBUF_ALLOC_FAILED);
    return;
  }
  auto* eth = reinterpret_cast<rte_ether_hdr*>(data);
  const uint8_t* our_mac = t->port_macs[e.port_index];
  IpAddr group = nd_solicited_node(e.addr);
  nd_multicast_mac(group, eth->dst_addr.addr_bytes);
  std::memcpy(eth->src_addr.addr_bytes, our_mac, RTE_ETHER_ADDR_LEN);
  eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV6);
  write_nd(reinterpret_cast<rte_ipv6_hdr*>(eth + 1), e.source, group, kNdNeighborSolicitation, 0, e.addr,
           kOptSourceLinkLayer, our_mac);
  tx.push(e.port_index, m);
  t->counters->event(Event::ND_SOLICITATIONS_SENT);
}

// Records a confirmed MAC and releases whatever waited for it; false when the table is full.
bool learn(Neigh6Table* t, uint16_t port, const IpAddr& addr, const uint8_t* mac, uint64_t now_us, TxQueues& tx) {
  uint32_t i = find(t, port, addr);
  if (i == kNil) i = create(t, port, addr);
  if (i == kNil) return false;  // full of live neighbours: answering still works, learning waits
  Neigh6Entry& e = t->entries[i];
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
  return true;
}

inline void drop(Neigh6Table* t, rte_mbuf* m, DropReason reason) {
  rte_pktmbuf_free(m);
  t->counters->drop(reason);
}

inline void consume(Neigh6Table* t, rte_mbuf* m, Event what) {
  rte_pktmbuf_free(m);
  t->counters->event(what);
}

// The options after an NS/NA body: every length non-zero and inside the message (RFC 4861
// 7.1.1/7.1.2); *link_layer = the MAC of the first option of type wanted (Ethernet: length 1).
bool read_options(const uint8_t* icmp, uint32_t len, uint8_t wanted, const uint8_t** link_layer) {
  *link_layer = nullptr;
  for (uint32_t at = kNdMessageBytes; at < len;) {
    if (at + 2 > len) return false;
    uint32_t option_len = icmp[at + 1] * 8u;
    if (option_len == 0 || at + option_len > len) return false;
    if (icmp[at] == wanted && option_len == kNdLinkLayerOptionBytes && !*link_layer) *link_layer = icmp + at + 2;
    at += option_len;
  }
  return true;
}

inline bool is_unicast_mac(const uint8_t* mac) {
  static const uint8_t zero[6] = {};
  return (mac[0] & 1) == 0 && std::memcmp(mac, zero, 6) != 0;
}

void answer_solicitation(Neigh6Table* t, uint16_t in_port, rte_mbuf* m, const IpAddr& target, const IpAddr& asker,
                         const uint8_t* asker_mac, TxQueues& tx) {
  // In place: the solicitation's buffer becomes the advertisement (extension headers, if
  // any, are dropped: the reply is a bare IPv6 header + NA + target link-layer option).
  uint16_t have = rte_pktmbuf_data_len(m);
  if (have < kNdFrameBytes && !rte_pktmbuf_append(m, static_cast<uint16_t>(kNdFrameBytes - have))) {
    drop(t, m, DropReason::MBUF_ALLOC_FAILED);  // no tailroom for 8 bytes: not seen with any rx pool
    return;
  }
  if (have > kNdFrameBytes) rte_pktmbuf_trim(m, static_cast<uint16_t>(have - kNdFrameBytes));
  auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
  uint8_t requester[6];
  std::memcpy(requester, asker_mac, 6);  // may point into the buffer being rewritten
  const uint8_t* our_mac = t->port_macs[in_port];
  set_macs(m, our_mac, requester);
  eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV6);
  write_nd(reinterpret_cast<rte_ipv6_hdr*>(eth + 1), target, asker, kNdNeighborAdvertisement,
           kNaFlagSolicited | kNaFlagOverride, target, kOptTargetLinkLayer, our_mac);
  tx.push(in_port, m);
  t->counters->event(Event::ND_SOLICITATIONS_ANSWERED);
}

}  // namespace

IpAddr nd_solicited_node(const IpAddr& addr) {
  IpAddr group{};
  group.bytes[0] = 0xff;
  group.bytes[1] = 0x02;
  group.bytes[11] = 0x01;
  group.bytes[12] = 0xff;
  std::memcpy(group.bytes + 13, addr.bytes + 13, 3);
  return group;
}

void nd_multicast_mac(const IpAddr& group, uint8_t mac[6]) {
  mac[0] = 0x33;
  mac[1] = 0x33;
  std::memcpy(mac + 2, group.bytes + 12, 4);
}

void neigh6_init(Neigh6Table* t, const uint8_t (*port_macs)[6], uint16_t port_count, WorkerCounters* counters,
                 rte_mempool* pool) {
  t->port_macs = port_macs;
  t->port_count = port_count;
  t->counters = counters;
  t->pool = pool;
  for (uint32_t b = 0; b < kNeigh6Buckets; b++) t->buckets[b] = kNil;
  for (uint32_t i = 0; i < kNeigh6Capacity; i++) {
    t->entries[i].state = NeighState::FREE;
    t->free_list[i] = kNeigh6Capacity - 1 - i;
  }
  t->free_count = kNeigh6Capacity;
  t->queued_total = 0;
  t->next_scan_us = 0;
}

void neigh6_destroy(Neigh6Table* t) {
  for (uint32_t i = 0; i < kNeigh6Capacity; i++)
    if (t->entries[i].state != NeighState::FREE) drop_queue(t, t->entries[i], DropReason::NEIGH_UNRESOLVED);
}

void neigh6_input(Neigh6Table* t, const Snapshot& s, uint16_t in_port, rte_mbuf* m, const ParsedPacket& p,
                  uint64_t now_us, TxQueues& tx) {
  const uint8_t* icmp = reinterpret_cast<const uint8_t*>(p.icmp);
  const uint8_t type = icmp[0];
  const uint32_t len = p.l4_len;
  // RFC 4861 7.1: only a message that no router forwarded (hop limit still 255) is believed.
  if (p.ip6->hop_limits != kNdHopLimit || icmp[1] != 0) return drop(t, m, DropReason::ND_INVALID);
  if (type != kNdNeighborSolicitation && type != kNdNeighborAdvertisement)
    return consume(t, m, Event::ND_ROUTER_MESSAGES_IGNORED);
  if (len < kNdMessageBytes) return drop(t, m, DropReason::ND_INVALID);
  const IpAddr target = ip_from_v6(icmp + 8);
  const IpAddr source = ip_from_v6(p.ip6->src_addr);
  const IpAddr destination = ip_from_v6(p.ip6->dst_addr);
  const bool to_multicast = destination.bytes[0] == 0xff;
  const uint8_t* link_layer;
  uint8_t wanted = type == kNdNeighborSolicitation ? kOptSourceLinkLayer : kOptTargetLinkLayer;
  if (target.bytes[0] == 0xff || !read_options(icmp, len, wanted, &link_layer)) return drop(t, m, DropReason::ND_INVALID);

  if (type == kNdNeighborSolicitation) {
    if (ip_is_zero(source)) {
      // Duplicate address detection: to the solicited-node group, no source link-layer option.
      if (!to_multicast || link_layer || !(destination == nd_solicited_node(target)))
        return drop(t, m, DropReason::ND_INVALID);
      return consume(t, m, Event::ND_DAD_PROBES_IGNORED);
    }
    if (!snapshot_arp_owned(s, in_port, target)) return drop(t, m, DropReason::ND_NOT_FOR_US);
    IpAddr our_source{};
    if (link_layer && is_unicast_mac(link_layer) &&
        (snapshot_on_link_source(s, in_port, source, &our_source) || find(t, in_port, source) != kNil)) {
      if (learn(t, in_port, source, link_layer, now_us, tx)) {
        Neigh6Entry& e = t->entries[find(t, in_port, source)];
        if (ip_is_zero(e.source)) e.source = target;
      }
    }
    const uint8_t* reply_mac = link_layer ? link_layer : p.eth->src_addr.addr_bytes;
    return answer_solicitation(t, in_port, m, target, source, reply_mac, tx);
  }

  // Neighbour advertisement.
  const uint8_t flags = icmp[4];
  if (to_multicast && (flags & kNaFlagSolicited)) return drop(t, m, DropReason::ND_INVALID);
  uint32_t i = find(t, in_port, target);
  IpAddr our_source{};  // stays :: when the target is not on-link (a next hop we asked about keeps its own)
  bool asked_or_on_link = i != kNil || snapshot_on_link_source(s, in_port, target, &our_source);
  if (snapshot_owned_kinds(s, target) != 0 || !asked_or_on_link) return drop(t, m, DropReason::ND_NOT_FOR_US);
  if (!link_layer) {
    // No target link-layer option (allowed in answers to unicast probes): it confirms a known MAC only.
    if (i == kNil || t->entries[i].state != NeighState::REACHABLE) return drop(t, m, DropReason::ND_NOT_FOR_US);
    t->entries[i].confirmed_us = now_us;
    return consume(t, m, Event::ND_ADVERTISEMENTS_LEARNED);
  }
  if (!is_unicast_mac(link_layer) || !learn(t, in_port, target, link_layer, now_us, tx))
    return drop(t, m, DropReason::ND_NOT_FOR_US);
  Neigh6Entry& e = t->entries[find(t, in_port, target)];
  if (ip_is_zero(e.source)) e.source = our_source;
  consume(t, m, Event::ND_ADVERTISEMENTS_LEARNED);
}

void neigh6_output(Neigh6Table* t, const Snapshot& s, rte_mbuf* m, uint16_t port_index, const IpAddr& next_hop,
                   uint64_t now_us, TxQueues& tx) {
  if (port_index >= t->port_count) return drop(t, m, DropReason::NO_ROUTE);
  uint32_t i = find(t, port_index, next_hop);
  if (i != kNil && t->entries[i].state == NeighState::REACHABLE) {
    Neigh6Entry& e = t->entries[i];
    set_macs(m, t->port_macs[port_index], e.mac);
    tx.push(port_index, m);
    if (now_us - e.confirmed_us >= kNeighRefreshAfterUs && now_us >= e.next_request_us) {
      if (ip_is_zero(e.source)) snapshot_on_link_source(s, port_index, next_hop, &e.source);
      if (!ip_is_zero(e.source)) send_solicitation(t, e, now_us, tx);
    }
    return;
  }
  if (i == kNil) {
    IpAddr source;
    if (!snapshot_on_link_source(s, port_index, next_hop, &source)) {
      // An on-link next hop outside the connected prefixes: ask from the port's first IPv6 address.
      if (!snapshot_port_address(s, port_index, true, &source)) return drop(t, m, DropReason::NO_ROUTE);
    }
    i = create(t, port_index, next_hop);
    if (i == kNil && evict_oldest(t)) i = create(t, port_index, next_hop);
    if (i == kNil) return drop(t, m, DropReason::NEIGH_QUEUE_FULL);
    t->entries[i].source = source;
  }
  Neigh6Entry& e = t->entries[i];
  if (e.queued >= kNeighQueuePerEntry || t->queued_total >= kNeigh6QueueTotal) {
    drop(t, m, DropReason::NEIGH_QUEUE_FULL);
  } else {
    e.queue[e.queued++] = m;
    t->queued_total++;
    t->counters->event(Event::NEIGH_QUEUED);
  }
  if (e.requests_sent == 0) {
    e.requests_sent = 1;
    send_solicitation(t, e, now_us, tx);
  }
}

void neigh6_run_timers(Neigh6Table* t, uint64_t now_us, TxQueues& tx) {
  if (now_us < t->next_scan_us || t->free_count == kNeigh6Capacity) return;
  t->next_scan_us = now_us + kNeighScanIntervalUs;
  for (uint32_t i = 0; i < kNeigh6Capacity; i++) {
    Neigh6Entry& e = t->entries[i];
    if (e.state == NeighState::REACHABLE) {
      if (now_us - e.confirmed_us >= kNeighLifetimeUs) remove(t, i);
    } else if (e.state == NeighState::INCOMPLETE && now_us >= e.next_request_us) {
      if (e.requests_sent >= kNeighMaxRequests) {
        remove(t, i);  // drops what it held as NEIGH_UNRESOLVED
      } else {
        e.requests_sent++;
        send_solicitation(t, e, now_us, tx);
      }
    }
  }
}

}  // namespace pc
