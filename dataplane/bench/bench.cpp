#include "bench/bench.h"

#include <arpa/inet.h>
#include <algorithm>
#include <cstring>
#include <vector>
#include <rte_arp.h>
#include <rte_cycles.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_tcp.h>
#include <rte_udp.h>
#include <malloc.h>
#include <rte_malloc.h>
#include "bench/bench_fill.h"
#include "pipeline/l2l3/checksum.h"
#include "pipeline/output/nd.h"

namespace pc {

namespace {

constexpr uint32_t kMaxFlows = 2048;           // all flows in flight at once; ring ports hold 4096
constexpr uint32_t kWarmupRounds = 2000;
constexpr size_t kWarmupFlowsPerRound = 8;
constexpr uint64_t kWarmupIdleAdvanceUs = 1000; // lets the pipeline's ARP retry timers fire
constexpr uint32_t kMaxIdleIterations = 1000;   // measured loop: give up when everything is dropped
constexpr uint64_t kChunkPackets = 2048;        // packets per timed chunk of the measured loop
constexpr uint16_t kPayloadBytes = 18;
constexpr uint8_t kTcpSyn = 0x02, kTcpAck = 0x10;

// Ones' complement incremental update (RFC 1624 eqn. 3) on raw network-order words.
inline uint16_t csum_replace(uint16_t check, uint16_t old_word, uint16_t new_word) {
  uint32_t sum = static_cast<uint16_t>(~check) + static_cast<uint16_t>(~old_word) + new_word;
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

// The MAC a simulated client/server with this address answers ARP (or a neighbour
// solicitation) with: made of the address's last 4 bytes, which is all that tells the
// bench's hosts apart in either family (they differ in the low 32 bits only).
void mac_for_ip(uint32_t ip_net, uint8_t mac[6]) {
  mac[0] = 0x02;
  mac[1] = 0x00;
  memcpy(mac + 2, &ip_net, 4);
}
void mac_for_ip(const uint8_t address[16], uint8_t mac[6]) {
  uint32_t low;
  memcpy(&low, address + 12, 4);
  mac_for_ip(low, mac);
}

// The bench's hosts are IPv4 or IPv6 by the first service's VIP; frames carry no IPv6
// extension headers, so L4 follows the fixed header.
inline bool is_ipv6_frame(const rte_ether_hdr* eth) { return eth->ether_type == htons(RTE_ETHER_TYPE_IPV6); }

// Turns a frame into the peer's reply: MACs, addresses and ports swapped, TTL
// reset (the pipeline decrements it on every pass), TCP flags set when nonzero.
// Checksums stay valid: swaps don't change a ones' complement sum; TTL and flags
// are patched incrementally. This is the work both scenarios pay per packet.
inline void mirror(rte_mbuf* m, uint8_t tcp_flags) {
  auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
  rte_ether_addr tmp = eth->dst_addr;
  eth->dst_addr = eth->src_addr;
  eth->src_addr = tmp;
  uint16_t l3_len;
  uint8_t protocol;
  if (is_ipv6_frame(eth) && m->data_len >= sizeof(rte_ether_hdr) + sizeof(rte_ipv6_hdr)) {
    // No header checksum; the hop limit is outside the pseudo-header.
    auto* ip6 = reinterpret_cast<rte_ipv6_hdr*>(eth + 1);
    uint8_t a[16];
    memcpy(a, ip6->src_addr, 16);
    memcpy(ip6->src_addr, ip6->dst_addr, 16);
    memcpy(ip6->dst_addr, a, 16);
    ip6->hop_limits = 64;
    l3_len = sizeof(rte_ipv6_hdr);
    protocol = ip6->proto;
  } else if (eth->ether_type == htons(RTE_ETHER_TYPE_IPV4) && m->data_len >= sizeof(rte_ether_hdr) + sizeof(rte_ipv4_hdr)) {
    auto* ip = reinterpret_cast<rte_ipv4_hdr*>(eth + 1);
    uint32_t a = ip->src_addr;
    ip->src_addr = ip->dst_addr;
    ip->dst_addr = a;
    uint16_t old_ttl_word, new_ttl_word;
    memcpy(&old_ttl_word, &ip->time_to_live, 2);
    ip->time_to_live = 64;
    memcpy(&new_ttl_word, &ip->time_to_live, 2);
    ip->hdr_checksum = csum_replace(ip->hdr_checksum, old_ttl_word, new_ttl_word);
    l3_len = static_cast<uint16_t>((ip->version_ihl & 0x0f) * 4);
    protocol = ip->next_proto_id;
  } else {
    return;
  }
  uint8_t* l4 = reinterpret_cast<uint8_t*>(eth + 1) + l3_len;
  if (protocol == IPPROTO_TCP && m->data_len >= sizeof(rte_ether_hdr) + l3_len + sizeof(rte_tcp_hdr)) {
    auto* tcp = reinterpret_cast<rte_tcp_hdr*>(l4);
    uint16_t p = tcp->src_port;
    tcp->src_port = tcp->dst_port;
    tcp->dst_port = p;
    if (tcp_flags) {
      uint16_t old_word, new_word;
      memcpy(&old_word, &tcp->data_off, 2);
      tcp->tcp_flags = tcp_flags;
      memcpy(&new_word, &tcp->data_off, 2);
      tcp->cksum = csum_replace(tcp->cksum, old_word, new_word);
    }
  } else if (protocol == IPPROTO_UDP && m->data_len >= sizeof(rte_ether_hdr) + l3_len + sizeof(rte_udp_hdr)) {
    auto* udp = reinterpret_cast<rte_udp_hdr*>(l4);
    uint16_t p = udp->src_port;
    udp->src_port = udp->dst_port;
    udp->dst_port = p;
  }
}

// Answers a neighbour solicitation in place with the advertisement (solicited, override,
// target link-layer option) of the simulated host that owns the target. Returns false if m
// is not a solicitation the way the pipeline sends them (source link-layer option, 32 bytes).
bool answer_solicitation(rte_mbuf* m) {
  constexpr uint16_t kNdBytes = 32;  // type, code, checksum, flags, target, one 8-byte option
  auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
  if (!is_ipv6_frame(eth) || m->data_len < sizeof(rte_ether_hdr) + sizeof(rte_ipv6_hdr) + kNdBytes) return false;
  auto* ip6 = reinterpret_cast<rte_ipv6_hdr*>(eth + 1);
  auto* icmp = reinterpret_cast<uint8_t*>(ip6 + 1);
  if (ip6->proto != IPPROTO_ICMPV6 || icmp[0] != kNdNeighborSolicitation || ip6->payload_len != htons(kNdBytes))
    return false;
  uint8_t mac[6];
  mac_for_ip(icmp + 8, mac);
  eth->dst_addr = eth->src_addr;
  memcpy(eth->src_addr.addr_bytes, mac, 6);
  memcpy(ip6->dst_addr, ip6->src_addr, 16);
  memcpy(ip6->src_addr, icmp + 8, 16);
  ip6->hop_limits = kNdHopLimit;
  icmp[0] = kNdNeighborAdvertisement;
  icmp[2] = icmp[3] = 0;
  icmp[4] = 0x60;  // solicited, override
  icmp[24] = 2;    // target link-layer address
  icmp[25] = 1;
  memcpy(icmp + 26, mac, 6);
  uint16_t check = ipv6_upper_checksum(ip6->src_addr, ip6->dst_addr, IPPROTO_ICMPV6, icmp, kNdBytes);
  memcpy(icmp + 2, &check, 2);
  return true;
}

// Answers an ARP request or a neighbour solicitation in place as the simulated host that
// owns the target address. Returns false if m is neither.
bool answer_arp(rte_mbuf* m) {
  auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
  if (is_ipv6_frame(eth)) return answer_solicitation(m);
  if (eth->ether_type != htons(RTE_ETHER_TYPE_ARP) || m->data_len < sizeof(rte_ether_hdr) + sizeof(rte_arp_hdr))
    return false;
  auto* arp = reinterpret_cast<rte_arp_hdr*>(eth + 1);
  if (arp->arp_opcode != htons(RTE_ARP_OP_REQUEST)) return false;
  uint8_t mac[6];
  mac_for_ip(arp->arp_data.arp_tip, mac);
  uint32_t asker_ip = arp->arp_data.arp_sip;
  rte_ether_addr asker_mac = arp->arp_data.arp_sha;
  arp->arp_opcode = htons(RTE_ARP_OP_REPLY);
  arp->arp_data.arp_sip = arp->arp_data.arp_tip;
  memcpy(arp->arp_data.arp_sha.addr_bytes, mac, 6);
  arp->arp_data.arp_tip = asker_ip;
  arp->arp_data.arp_tha = asker_mac;
  eth->dst_addr = asker_mac;
  memcpy(eth->src_addr.addr_bytes, mac, 6);
  return true;
}

uint8_t tcp_flags_of(rte_mbuf* m) {
  auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
  if (is_ipv6_frame(eth)) {
    auto* ip6 = reinterpret_cast<rte_ipv6_hdr*>(eth + 1);
    return ip6->proto == IPPROTO_TCP ? reinterpret_cast<rte_tcp_hdr*>(ip6 + 1)->tcp_flags : 0;
  }
  if (eth->ether_type != htons(RTE_ETHER_TYPE_IPV4)) return 0;
  auto* ip = reinterpret_cast<rte_ipv4_hdr*>(eth + 1);
  if (ip->next_proto_id != IPPROTO_TCP) return 0;
  auto* tcp = reinterpret_cast<rte_tcp_hdr*>(reinterpret_cast<uint8_t*>(ip) + (ip->version_ihl & 0x0f) * 4);
  return tcp->tcp_flags;
}

uint16_t fold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

uint32_t sum16(const void* data, size_t len, uint32_t sum = 0) {
  const uint8_t* p = static_cast<const uint8_t*>(data);
  for (size_t i = 0; i + 1 < len; i += 2) sum += static_cast<uint32_t>(p[i] << 8 | p[i + 1]);
  if (len & 1) sum += static_cast<uint32_t>(p[len - 1] << 8);
  return sum;
}

// A client frame CIP:cport -> VIP:vport with valid checksums, IPv4 or IPv6 by the VIP's family.
rte_mbuf* build_frame(rte_mempool* pool, const uint8_t dst_mac[6], const IpAddr& cip, uint16_t cport, const IpAddr& vip,
                      uint16_t vport, uint8_t protocol, uint8_t tcp_flags) {
  rte_mbuf* m = rte_pktmbuf_alloc(pool);
  if (!m) return nullptr;
  const bool v6 = ip_is_v6(vip);
  const uint16_t l3_len = v6 ? sizeof(rte_ipv6_hdr) : sizeof(rte_ipv4_hdr);
  uint16_t l4_len = protocol == IPPROTO_TCP ? sizeof(rte_tcp_hdr) : sizeof(rte_udp_hdr);
  uint16_t l4_total = static_cast<uint16_t>(l4_len + kPayloadBytes);
  uint16_t ip_len = static_cast<uint16_t>(l3_len + l4_total);
  auto* frame = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, sizeof(rte_ether_hdr) + ip_len));
  memset(frame, 0, sizeof(rte_ether_hdr) + ip_len);
  auto* eth = reinterpret_cast<rte_ether_hdr*>(frame);
  memcpy(eth->dst_addr.addr_bytes, dst_mac, 6);
  mac_for_ip(cip.bytes, eth->src_addr.addr_bytes);
  uint8_t* l4 = frame + sizeof(rte_ether_hdr) + l3_len;
  if (v6) {
    eth->ether_type = htons(RTE_ETHER_TYPE_IPV6);
    auto* ip6 = reinterpret_cast<rte_ipv6_hdr*>(eth + 1);
    ip6->vtc_flow = htonl(0x60000000);
    ip6->payload_len = htons(l4_total);
    ip6->proto = protocol;
    ip6->hop_limits = 64;
    memcpy(ip6->src_addr, cip.bytes, 16);
    memcpy(ip6->dst_addr, vip.bytes, 16);
  } else {
    eth->ether_type = htons(RTE_ETHER_TYPE_IPV4);
    auto* ip = reinterpret_cast<rte_ipv4_hdr*>(eth + 1);
    ip->version_ihl = 0x45;
    ip->total_length = htons(ip_len);
    ip->time_to_live = 64;
    ip->next_proto_id = protocol;
    ip->src_addr = ip_v4(cip);
    ip->dst_addr = ip_v4(vip);
    ip->hdr_checksum = htons(static_cast<uint16_t>(~fold(sum16(ip, sizeof(*ip)))));
  }
  if (protocol == IPPROTO_TCP) {
    auto* tcp = reinterpret_cast<rte_tcp_hdr*>(l4);
    tcp->src_port = htons(cport);
    tcp->dst_port = htons(vport);
    tcp->sent_seq = htonl(1000);
    tcp->recv_ack = htonl(tcp_flags & kTcpAck ? 1 : 0);
    tcp->data_off = 5 << 4;
    tcp->tcp_flags = tcp_flags;
    tcp->rx_win = htons(65535);
  } else {
    auto* udp = reinterpret_cast<rte_udp_hdr*>(l4);
    udp->src_port = htons(cport);
    udp->dst_port = htons(vport);
    udp->dgram_len = htons(l4_total);
  }
  // The pseudo-header: both addresses (4 or 16 bytes each), protocol, upper-layer length.
  uint32_t pseudo = v6 ? sum16(cip.bytes, 16, sum16(vip.bytes, 16)) : sum16(cip.bytes + 12, 4, sum16(vip.bytes + 12, 4));
  pseudo += protocol + l4_total;
  uint16_t check = static_cast<uint16_t>(~fold(sum16(l4, l4_total, pseudo)));
  if (protocol == IPPROTO_UDP && check == 0) check = 0xffff;
  if (protocol == IPPROTO_TCP)
    reinterpret_cast<rte_tcp_hdr*>(l4)->cksum = htons(check);
  else
    reinterpret_cast<rte_udp_hdr*>(l4)->dgram_cksum = htons(check);
  return m;
}

// Client addresses for `count` flows: hosts of the outside port's first connected prefix
// of the VIP's family that nothing in the config owns, cycled, with varying client ports.
// They differ in their last 4 bytes only (low32, host order): the same arithmetic makes
// IPv4 clients (the mapped form's last 4 bytes are the IPv4 address) and IPv6 ones.
struct ClientPlan {
  IpAddr base{};
  std::vector<uint32_t> low32;
  IpAddr address(size_t i) const {
    IpAddr a = base;
    uint32_t low = htonl(low32[i % low32.size()]);
    memcpy(a.bytes + 12, &low, 4);
    return a;
  }
};

bool plan_clients(const DataplaneConfig& cfg, uint16_t outside_index, const IpAddr& vip, ClientPlan* plan) {
  IpPrefix prefix{ip_from_v4(htonl(0xc6120000)), 24};  // 198.18.0.0/24 when the outside port has none (io scenario)
  if (outside_index < cfg.ports.size()) {
    for (const IpPrefix& p : cfg.ports[outside_index].addresses) {
      if (ip_is_v4(p.addr) == ip_is_v4(vip)) {
        prefix = p;
        break;
      }
    }
  }
  if (ip_is_v4(prefix.addr) != ip_is_v4(vip)) return false;
  const unsigned host_bits = ip_family_bits(prefix.addr) - prefix.length;
  if (host_bits < 2) return false;
  plan->base = ip_masked(prefix.addr, ip_prefix_bits(prefix.addr, prefix.length));
  uint32_t net;
  memcpy(&net, plan->base.bytes + 12, 4);
  net = ntohl(net);
  uint32_t hosts = host_bits >= 8 ? 254 : (1u << host_bits) - 2;
  auto owned = [&](const IpAddr& a) {
    if (a == vip) return true;
    for (const auto& p : cfg.ports)
      for (const auto& pa : p.addresses)
        if (pa.addr == a) return true;
    for (const auto& s : cfg.services) {
      if (s.vip == a) return true;
      for (const IpAddr& l : s.local_addresses)
        if (l == a) return true;
    }
    return false;
  };
  for (uint32_t h = 1; h <= hosts && plan->low32.size() < 200; h++) {
    plan->low32.push_back(net + h);
    if (owned(plan->address(plan->low32.size() - 1))) plan->low32.pop_back();
  }
  return !plan->low32.empty();
}

void free_all(std::vector<rte_mbuf*>* v) {
  for (auto* m : *v) rte_pktmbuf_free(m);
  v->clear();
}

void drain_ring(rte_ring* r) {
  void* objs[64];
  unsigned n;
  while ((n = rte_ring_dequeue_burst(r, objs, 64, nullptr)) > 0)
    for (unsigned i = 0; i < n; i++) rte_pktmbuf_free(static_cast<rte_mbuf*>(objs[i]));
}

// Simulated hosts behind a port: take what the port transmitted, answer ARP,
// mirror IPv4 into the reply, and feed it back into the port's rx ring (or into
// *collect when given). Anything else is freed.
uint32_t bounce(Port* port, uint8_t tcp_flags, bool syn_gets_synack, std::vector<rte_mbuf*>* collect) {
  void* objs[kTxBurst];
  uint32_t moved = 0;
  unsigned n;
  while ((n = rte_ring_dequeue_burst(port->tx_rings[0], objs, kTxBurst, nullptr)) > 0) {
    unsigned keep = 0;
    for (unsigned i = 0; i < n; i++) {
      rte_mbuf* m = static_cast<rte_mbuf*>(objs[i]);
      if (answer_arp(m)) {
        objs[keep++] = m;
        continue;
      }
      uint8_t flags = tcp_flags;
      if (syn_gets_synack && (tcp_flags_of(m) & kTcpSyn)) flags = kTcpSyn | kTcpAck;
      mirror(m, flags);
      const rte_ether_hdr* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
      if (collect && (eth->ether_type == htons(RTE_ETHER_TYPE_IPV4) || is_ipv6_frame(eth))) {
        collect->push_back(m);
        moved++;
        continue;
      }
      objs[keep++] = m;
    }
    unsigned sent = rte_ring_enqueue_burst(port->rx_rings[0], objs, keep, nullptr);
    for (unsigned i = sent; i < keep; i++) rte_pktmbuf_free(static_cast<rte_mbuf*>(objs[i]));
    moved += sent;
    if (n < kTxBurst) break;
  }
  return moved;
}

// Frames the drop scenario's client peer copies into fresh mbufs (all the same length).
struct FrameTemplates {
  std::vector<uint8_t> bytes;
  uint16_t length = 0;
  uint32_t count = 0;
  uint32_t next = 0;
};

bool save_templates(const std::vector<rte_mbuf*>& frames, FrameTemplates* t) {
  if (frames.empty()) return false;
  t->length = rte_pktmbuf_data_len(frames[0]);
  t->count = static_cast<uint32_t>(frames.size());
  t->bytes.resize(static_cast<size_t>(t->length) * t->count);
  for (uint32_t i = 0; i < t->count; i++)
    memcpy(&t->bytes[static_cast<size_t>(i) * t->length], rte_pktmbuf_mtod(frames[i], uint8_t*), t->length);
  return true;
}

// Client peer of the drop scenario: n fresh frames (the templates in turn) onto port's rx.
void refill(Port* port, rte_mempool* pool, FrameTemplates* t, unsigned n) {
  rte_mbuf* fresh[kTxBurst];
  if (n > kTxBurst) n = kTxBurst;
  if (n == 0 || rte_pktmbuf_alloc_bulk(pool, fresh, n) != 0) return;
  for (unsigned i = 0; i < n; i++) {
    memcpy(rte_pktmbuf_mtod(fresh[i], uint8_t*), &t->bytes[static_cast<size_t>(t->next) * t->length], t->length);
    fresh[i]->data_len = t->length;
    fresh[i]->pkt_len = t->length;
    if (++t->next == t->count) t->next = 0;
  }
  unsigned queued = rte_ring_enqueue_burst(port->rx_rings[0], reinterpret_cast<void**>(fresh), n, nullptr);
  for (unsigned i = queued; i < n; i++) rte_pktmbuf_free(fresh[i]);
}

// The newconn scenario's peers: every SYN the server side receives comes back to the
// client side as the SYN of the next flow (client address and port from a sequence
// long enough that a tuple recurs only after its connection was expired).
struct NewFlowMaker {
  std::vector<uint8_t> frame;  // a client SYN (valid checksums) for client 0 / port kFirstPort
  uint32_t template_addr = 0;  // the client address's last 4 bytes, network order, as in the frame
  uint16_t template_port = 0;
  const ClientPlan* plan = nullptr;
  uint64_t next = 0;
  static constexpr uint16_t kFirstPort = 1024;
  static constexpr uint32_t kPorts = 65536 - kFirstPort;

  void write_next(rte_mbuf* m) {
    rte_pktmbuf_reset_headroom(m);
    uint8_t* data = rte_pktmbuf_mtod(m, uint8_t*);
    memcpy(data, frame.data(), frame.size());
    m->data_len = static_cast<uint16_t>(frame.size());
    m->pkt_len = static_cast<uint32_t>(frame.size());
    uint64_t i = next++;
    uint32_t addr = htonl(plan->low32[i % plan->low32.size()]);
    uint16_t port = htons(static_cast<uint16_t>(kFirstPort + (i / plan->low32.size()) % kPorts));
    auto* eth = reinterpret_cast<rte_ether_hdr*>(data);
    mac_for_ip(addr, eth->src_addr.addr_bytes);
    uint16_t old_hi = static_cast<uint16_t>(template_addr & 0xffff), old_lo = static_cast<uint16_t>(template_addr >> 16);
    uint16_t new_hi = static_cast<uint16_t>(addr & 0xffff), new_lo = static_cast<uint16_t>(addr >> 16);
    rte_tcp_hdr* tcp;
    if (is_ipv6_frame(eth)) {
      // Clients differ in the source address's last 4 bytes; no header checksum to patch.
      auto* ip6 = reinterpret_cast<rte_ipv6_hdr*>(eth + 1);
      memcpy(ip6->src_addr + 12, &addr, 4);
      tcp = reinterpret_cast<rte_tcp_hdr*>(ip6 + 1);
    } else {
      auto* ip = reinterpret_cast<rte_ipv4_hdr*>(eth + 1);
      ip->src_addr = addr;
      ip->hdr_checksum = csum_replace(csum_replace(ip->hdr_checksum, old_hi, new_hi), old_lo, new_lo);
      tcp = reinterpret_cast<rte_tcp_hdr*>(ip + 1);
    }
    uint16_t check = csum_replace(csum_replace(tcp->cksum, old_hi, new_hi), old_lo, new_lo);
    tcp->cksum = csum_replace(check, template_port, port);
    tcp->src_port = port;
  }
};

// Server peer of newconn: ARP is answered; each translated SYN becomes the next client SYN.
void renew_syns(Port* inside, Port* outside, NewFlowMaker* maker) {
  void* objs[kTxBurst];
  unsigned n;
  while ((n = rte_ring_dequeue_burst(inside->tx_rings[0], objs, kTxBurst, nullptr)) > 0) {
    void* arp[kTxBurst];
    unsigned arps = 0, syns = 0;
    for (unsigned i = 0; i < n; i++) {
      rte_mbuf* m = static_cast<rte_mbuf*>(objs[i]);
      if (answer_arp(m)) {
        arp[arps++] = m;
        continue;
      }
      maker->write_next(m);
      objs[syns++] = m;
    }
    unsigned sent = rte_ring_enqueue_burst(inside->rx_rings[0], arp, arps, nullptr);
    for (unsigned i = sent; i < arps; i++) rte_pktmbuf_free(static_cast<rte_mbuf*>(arp[i]));
    sent = rte_ring_enqueue_burst(outside->rx_rings[0], objs, syns, nullptr);
    for (unsigned i = sent; i < syns; i++) rte_pktmbuf_free(static_cast<rte_mbuf*>(objs[i]));
    if (n < kTxBurst) break;
  }
}

uint64_t total_drops(const WorkerCounters& c) {
  uint64_t sum = 0;
  for (uint64_t d : c.drops) sum += d;
  return sum;
}

// Past every TCP/UDP timeout of the bench configs' SYN states: the whole table expires.
constexpr uint64_t kEmptyTableAdvanceUs = 121ull * 1000 * 1000;

// Empties the connection table (newconn between rounds): clock forward, timers.
void expire_all(WorkerContext& c, const Snapshot* s, uint64_t* now_us) {
  *now_us += kEmptyTableAdvanceUs;
  worker_run_timers(c.worker, s, *now_us, c.tx);
  c.tx.flush_all();
}

// One stage of the measured loop, as the worker loop does it for one port: a burst
// from `from`'s rx through the pipeline (or, io, straight to `to`'s tx), then the tx
// flush. Returns packets received.
inline uint16_t stage(const Dataplane::TestRig& env, const Snapshot* s, bool pipeline, Port* from, uint16_t from_index,
                      Port* to, uint64_t now_us) {
  rte_mbuf* pkts[kTxBurst];
  uint16_t n = rte_eth_rx_burst(from->port_id, 0, pkts, kTxBurst);
  if (n == 0) return 0;
  WorkerContext& c = *env.worker;
  if (pipeline) {
    c.counters->event(Event::RX_PACKETS, n);
    worker_process_burst(c.worker, s, from_index, pkts, n, now_us, c.tx);
    c.tx.flush_all();
  } else {
    uint16_t sent = rte_eth_tx_burst(to->port_id, 0, pkts, n);
    for (uint16_t i = sent; i < n; i++) rte_pktmbuf_free(pkts[i]);
  }
  return n;
}

}  // namespace

Status bench_run(Dataplane& dataplane, const BenchOptions& opt, BenchResult* result) {
  Dataplane::TestRig env;
  Status rig = dataplane.test_rig("bench", &env);
  if (!rig.ok()) return rig;
  if (opt.flows == 0 || opt.flows > kMaxFlows)
    return Status::Error("EINVAL", "bench: options.flows: expected 1.." + std::to_string(kMaxFlows) + ", got " +
                                       std::to_string(opt.flows));
  WorkerContext& c = *env.worker;
  const Snapshot* s = worker_current_snapshot(c);

  // Every scenario but io sends its frames through the pipeline.
  const bool pipeline = opt.scenario != BenchScenario::IO;
  const bool synproxy = opt.scenario == BenchScenario::SYNPROXY;
  const bool newconn = opt.scenario == BenchScenario::NEWCONN;
  const bool drops = opt.scenario == BenchScenario::DROP;
  IpAddr vip = ip_from_v4(htonl(0xc612000a));  // io: any destination; otherwise the first service's
  uint16_t vport = 80;
  uint8_t protocol = IPPROTO_UDP;
  if (pipeline) {
    if (env.config->services.empty())
      return Status::Error("EINVAL", "bench: pipeline scenarios need an applied config with a service");
    const ServiceConfig& svc = env.config->services[0];
    if (synproxy && !(svc.synproxy && svc.protocol == IPPROTO_TCP))
      return Status::Error("EINVAL", "bench: scenario 'synproxy' needs the first service to be TCP with synproxy on");
    if (newconn && !(svc.protocol == IPPROTO_TCP && !svc.synproxy))
      return Status::Error("EINVAL", "bench: scenario 'newconn' needs the first service to be TCP without synproxy");
    vip = svc.vip;
    vport = svc.vport;
    protocol = svc.protocol;
  }
  ClientPlan plan;
  if (!plan_clients(*env.config, env.outside_index, vip, &plan))
    return Status::Error("EINVAL", "bench: the outside port's first prefix has no free host addresses for clients");

  // Start from empty rings so counts below are ours.
  for (Port* p : {env.outside, env.inside}) {
    drain_ring(p->rx_rings[0]);
    drain_ring(p->tx_rings[0]);
  }
  const int64_t in_use_before = rte_mempool_in_use_count(env.pool);

  std::vector<rte_mbuf*> ready;  // client frames that will circulate in the measured loop
  ready.reserve(opt.flows);
  uint8_t first_flags = pipeline ? kTcpSyn : kTcpAck;
  // What the client side turns a frame from the pipeline into: the ACK of an established
  // flow, or (synproxy) a fresh SYN made of the SYN-ACK (its ISN is the old cookie).
  const uint8_t client_flags = synproxy ? kTcpSyn : kTcpAck;
  std::vector<rte_mbuf*> firsts;
  for (uint32_t i = 0; i < opt.flows; i++) {
    IpAddr cip = plan.address(i);
    uint16_t cport = static_cast<uint16_t>(20000 + i / plan.low32.size());
    rte_mbuf* m = build_frame(env.pool, env.outside->mac, cip, cport, vip, vport, protocol, first_flags);
    if (!m) {
      free_all(&firsts);
      return Status::Error("NOMEM", "bench: mbuf pool exhausted building " + std::to_string(opt.flows) + " flows");
    }
    firsts.push_back(m);
  }
  FrameTemplates templates;  // drop: what the client peer keeps sending
  NewFlowMaker maker;        // newconn: the client SYN every new flow starts from
  if (drops) save_templates(firsts, &templates);
  if (newconn) {
    rte_mbuf* t = build_frame(env.pool, env.outside->mac, plan.address(0), NewFlowMaker::kFirstPort, vip, vport,
                              IPPROTO_TCP, kTcpSyn);
    if (!t) {
      free_all(&firsts);
      return Status::Error("NOMEM", "bench: mbuf pool exhausted building the SYN template");
    }
    const uint8_t* data = rte_pktmbuf_mtod(t, const uint8_t*);
    maker.frame.assign(data, data + rte_pktmbuf_data_len(t));
    maker.template_addr = htonl(plan.low32[0]);
    maker.template_port = htons(NewFlowMaker::kFirstPort);
    maker.plan = &plan;
    rte_pktmbuf_free(t);
  }

  uint64_t now_us = env.now_us;
  if (!pipeline) {
    ready.swap(firsts);
  } else {
    // Warm-up: first packet of every flow through the pipeline; the simulated hosts
    // answer ARP and reply (server: SYN-ACK / datagram; client: ACK, or a new SYN for
    // synproxy), so every flow has a connection (synproxy: none) and resolved
    // neighbours before the clock starts.
    // Flows start a few at a time so the pipeline's bounded ARP queues are not
    // overrun by the very first burst.
    size_t next_first = 0;
    for (uint32_t round = 0; round < kWarmupRounds && (drops || ready.size() < opt.flows); round++) {
      if (next_first < firsts.size()) {
        unsigned batch = static_cast<unsigned>(std::min<size_t>(kWarmupFlowsPerRound, firsts.size() - next_first));
        unsigned queued = rte_ring_enqueue_burst(env.outside->rx_rings[0],
                                                 reinterpret_cast<void**>(firsts.data() + next_first), batch, nullptr);
        for (unsigned i = queued; i < batch; i++) rte_pktmbuf_free(firsts[next_first + i]);
        next_first += batch;
      }
      worker_run_timers(c.worker, s, now_us, c.tx);
      uint32_t received = worker_poll_ports(c, s, now_us);
      c.tx.flush_all();
      uint32_t moved = bounce(env.inside, kTcpAck, true, nullptr);
      moved += bounce(env.outside, client_flags, false, &ready);
      if (received == 0 && moved == 0) now_us += kWarmupIdleAdvanceUs;
    }
    for (size_t i = next_first; i < firsts.size(); i++) rte_pktmbuf_free(firsts[i]);
    firsts.clear();
    if (ready.empty() && !drops) {
      for (Port* p : {env.outside, env.inside}) {
        drain_ring(p->rx_rings[0]);
        drain_ring(p->tx_rings[0]);
      }
      return Status::Error("EINVAL",
                           "bench: warm-up: no flow came back to the client side through the pipeline "
                           "(check the applied config: service, servers, LIPs, routes)");
    }
    if (drops || newconn) {
      // Neighbours are resolved now; the flows themselves are not what these measure.
      free_all(&ready);
      if (newconn) expire_all(c, s, &now_us);
      for (Port* p : {env.outside, env.inside}) drain_ring(p->tx_rings[0]);
    }
    if (drops) {
      for (int i = 0; i < 2; i++) refill(env.outside, env.pool, &templates, kTxBurst);
    }
    if (newconn) {
      std::vector<rte_mbuf*> syns(opt.flows);
      if (rte_pktmbuf_alloc_bulk(env.pool, syns.data(), opt.flows) != 0)
        return Status::Error("NOMEM", "bench: mbuf pool exhausted building " + std::to_string(opt.flows) + " SYNs");
      for (rte_mbuf* m : syns) maker.write_next(m);
      ready.swap(syns);
    }
  }

  unsigned queued = rte_ring_enqueue_burst(env.outside->rx_rings[0], reinterpret_cast<void**>(ready.data()),
                                           static_cast<unsigned>(ready.size()), nullptr);
  for (size_t i = queued; i < ready.size(); i++) rte_pktmbuf_free(ready[i]);
  ready.clear();

  const uint32_t round_connections = opt.round_connections ? opt.round_connections : 200000;
  const uint64_t drops_before = total_drops(*c.counters);
  const uint64_t created_before = c.counters->events[static_cast<unsigned>(Event::CONNS_CREATED)];
  uint64_t packets = 0, harness = 0;
  uint32_t idle = 0;
  // Per-chunk figures: a chunk is short (~0.2 ms) next to a scheduler time slice, so on a
  // shared box a preempted chunk is an outlier the median and the 10th percentile ignore.
  std::vector<double> chunk_figures;
  chunk_figures.reserve(opt.packets / kChunkPackets + 1);
  uint64_t chunk_start = rte_rdtsc_precise(), chunk_harness = 0, chunk_packets = 0;
  const uint64_t start = chunk_start;
  while (packets < opt.packets) {
    uint32_t from_outside = stage(env, s, pipeline, env.outside, env.outside_index, env.inside, now_us);
    uint64_t peer_start = rte_rdtsc();
    if (newconn) {
      renew_syns(env.inside, env.outside, &maker);
      if (worker_connection_count(c.worker) >= round_connections) expire_all(c, s, &now_us);
    } else if (!drops) {
      bounce(env.inside, kTcpAck, false, nullptr);
    }
    uint64_t peer_end = rte_rdtsc();
    uint32_t from_inside = stage(env, s, pipeline, env.inside, env.inside_index, env.outside, now_us);
    uint64_t peer2_start = rte_rdtsc();
    if (drops) {
      refill(env.outside, env.pool, &templates, from_outside);
    } else if (newconn) {
      drain_ring(env.outside->tx_rings[0]);
    } else {
      bounce(env.outside, client_flags, false, nullptr);
    }
    uint64_t now = rte_rdtsc();
    uint64_t peers = (peer_end - peer_start) + (now - peer2_start);
    harness += peers;
    chunk_harness += peers;
    uint32_t n = from_outside + from_inside;
    packets += n;
    chunk_packets += n;
    if (chunk_packets >= kChunkPackets) {
      chunk_figures.push_back(static_cast<double>(now - chunk_start - chunk_harness) / static_cast<double>(chunk_packets));
      chunk_start = now;
      chunk_harness = chunk_packets = 0;
    }
    if (n == 0 && ++idle > kMaxIdleIterations) break;
  }
  const uint64_t end = rte_rdtsc_precise();

  for (Port* p : {env.outside, env.inside}) {
    drain_ring(p->rx_rings[0]);
    drain_ring(p->tx_rings[0]);
  }
  if (newconn) expire_all(c, s, &now_us);  // the next round starts from an empty table
  result->packets = packets;
  result->harness_cycles = harness;
  if (!chunk_figures.empty()) {
    std::sort(chunk_figures.begin(), chunk_figures.end());
    result->chunk_median = chunk_figures[chunk_figures.size() / 2];
    result->chunk_p10 = chunk_figures[chunk_figures.size() / 10];
    result->chunks = static_cast<uint32_t>(chunk_figures.size());
  }
  result->cycles = end - start - harness;
  result->tsc_hz = rte_get_tsc_hz();
  result->dropped = total_drops(*c.counters) - drops_before;
  result->conns_created = c.counters->events[static_cast<unsigned>(Event::CONNS_CREATED)] - created_before;
  result->mbufs_leaked = static_cast<int64_t>(rte_mempool_in_use_count(env.pool)) - in_use_before;
  return Status::Ok();
}

Status bench_memory(Dataplane& dataplane, uint32_t connections, bool ipv6, BenchMemoryResult* result) {
  WorkerParams params;
  Status template_status = dataplane.test_worker_params("benchMemory", &params);
  if (!template_status.ok()) return template_status;
  params.conn_capacity = connections;
  rte_malloc_socket_stats before{}, after{};
  rte_malloc_get_socket_stats(params.socket_id, &before);
  struct mallinfo2 libc_before = mallinfo2();
  std::string error;
  Worker* w = worker_create(params, &error);
  if (!w) return Status::Error("NOMEM", "bench: memory: " + error + " (more EAL memory: -m)");
  result->connections = worker_fill_connections(w, connections, 0, 0, ipv6);
  rte_malloc_get_socket_stats(params.socket_id, &after);
  struct mallinfo2 libc_after = mallinfo2();
  result->dpdk_bytes = after.heap_allocsz_bytes - before.heap_allocsz_bytes;
  result->libc_bytes = libc_after.uordblks > libc_before.uordblks ? libc_after.uordblks - libc_before.uordblks : 0;
  worker_destroy(w);
  return Status::Ok();
}

Status bench_fill_connections(Dataplane& dataplane, uint16_t worker, uint32_t count, uint32_t first,
                              uint32_t* inserted) {
  *inserted = 0;
  Worker* w = nullptr;
  uint64_t now_us = 0;
  Status st = dataplane.test_worker("fillConnections", worker, &w, &now_us);
  if (!st.ok()) return st;
  *inserted = worker_fill_connections(w, count, now_us, first);
  return Status::Ok();
}

}  // namespace pc
