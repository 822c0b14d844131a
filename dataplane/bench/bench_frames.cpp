#include "bench/bench_frames.h"

#include <arpa/inet.h>
#include <cstring>
#include <rte_arp.h>
#include <rte_ip.h>
#include <rte_tcp.h>
#include <rte_udp.h>
#include "pipeline/l2l3/checksum.h"
#include "pipeline/output/nd.h"

namespace pc::bench {

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


// Turns a frame into the peer's reply: MACs, addresses and ports swapped, TTL
// reset (the pipeline decrements it on every pass), TCP flags set when nonzero.
// Checksums stay valid: swaps don't change a ones' complement sum; TTL and flags
// are patched incrementally. This is the work both scenarios pay per packet.
void mirror(rte_mbuf* m, uint8_t tcp_flags) {
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

uint32_t sum16(const void* data, size_t len, uint32_t sum) {
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


void write_ipv4_frame(rte_mbuf* m, const Ipv4Frame& f) {
  rte_pktmbuf_reset(m);
  const bool tcp = f.protocol == IPPROTO_TCP;
  const uint16_t l4_len = tcp ? sizeof(rte_tcp_hdr) : sizeof(rte_udp_hdr);
  const uint16_t l4_total = static_cast<uint16_t>(l4_len + f.payload_len);
  const uint16_t ip_len = static_cast<uint16_t>(sizeof(rte_ipv4_hdr) + l4_total);
  auto* frame = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, sizeof(rte_ether_hdr) + ip_len));
  if (!frame) return;  // never with the bench's 2 KiB mbufs and short frames
  auto* eth = reinterpret_cast<rte_ether_hdr*>(frame);
  memcpy(eth->dst_addr.addr_bytes, f.dst_mac, 6);
  memcpy(eth->src_addr.addr_bytes, f.src_mac, 6);
  eth->ether_type = htons(RTE_ETHER_TYPE_IPV4);
  auto* ip = reinterpret_cast<rte_ipv4_hdr*>(eth + 1);
  ip->version_ihl = 0x45;
  ip->type_of_service = 0;
  ip->total_length = htons(ip_len);
  ip->packet_id = 0;
  ip->fragment_offset = htons(0x4000);  // DF, as TCP stacks send
  ip->time_to_live = 64;
  ip->next_proto_id = f.protocol;
  ip->hdr_checksum = 0;
  ip->src_addr = f.saddr;
  ip->dst_addr = f.daddr;
  ip->hdr_checksum = htons(static_cast<uint16_t>(~fold(sum16(ip, sizeof(*ip)))));
  uint8_t* l4 = reinterpret_cast<uint8_t*>(ip + 1);
  uint8_t* payload = l4 + l4_len;
  memset(payload, 0, f.payload_len);
  if (f.payload_len >= 4) memcpy(payload, &f.tag, 4);
  if (tcp) {
    auto* t = reinterpret_cast<rte_tcp_hdr*>(l4);
    t->src_port = f.sport;
    t->dst_port = f.dport;
    t->sent_seq = htonl(f.seq);
    t->recv_ack = htonl(f.ack);
    t->data_off = 5 << 4;
    t->tcp_flags = f.tcp_flags;
    t->rx_win = htons(65535);
    t->cksum = 0;
    t->tcp_urp = 0;
  } else {
    auto* u = reinterpret_cast<rte_udp_hdr*>(l4);
    u->src_port = f.sport;
    u->dst_port = f.dport;
    u->dgram_len = htons(l4_total);
    u->dgram_cksum = 0;
  }
  uint32_t pseudo = sum16(&f.saddr, 4, sum16(&f.daddr, 4)) + f.protocol + l4_total;
  uint16_t check = static_cast<uint16_t>(~fold(sum16(l4, l4_total, pseudo)));
  if (tcp) {
    reinterpret_cast<rte_tcp_hdr*>(l4)->cksum = htons(check);
  } else {
    reinterpret_cast<rte_udp_hdr*>(l4)->dgram_cksum = htons(check == 0 ? 0xffff : check);
  }
}

namespace {

// The IPv4 header and L4 of m when it is a plain (unfragmented) IPv4 TCP/UDP frame.
bool ipv4_l4(const rte_mbuf* m, const rte_ipv4_hdr** ip_out, const uint8_t** l4_out, uint16_t* l4_total) {
  if (m->nb_segs != 1 || m->data_len < sizeof(rte_ether_hdr) + sizeof(rte_ipv4_hdr)) return false;
  auto* eth = rte_pktmbuf_mtod(m, const rte_ether_hdr*);
  if (eth->ether_type != htons(RTE_ETHER_TYPE_IPV4)) return false;
  auto* ip = reinterpret_cast<const rte_ipv4_hdr*>(eth + 1);
  const uint16_t ihl = static_cast<uint16_t>((ip->version_ihl & 0x0f) * 4);
  const uint16_t total = ntohs(ip->total_length);
  if ((ip->version_ihl >> 4) != 4 || ihl < sizeof(rte_ipv4_hdr) || total < ihl ||
      m->data_len < sizeof(rte_ether_hdr) + total)
    return false;
  const uint16_t need = ip->next_proto_id == IPPROTO_TCP ? sizeof(rte_tcp_hdr) : sizeof(rte_udp_hdr);
  if ((ip->next_proto_id != IPPROTO_TCP && ip->next_proto_id != IPPROTO_UDP) || total - ihl < need) return false;
  *ip_out = ip;
  *l4_out = reinterpret_cast<const uint8_t*>(ip) + ihl;
  *l4_total = static_cast<uint16_t>(total - ihl);
  return true;
}

}  // namespace

bool decode_ipv4(const rte_mbuf* m, Decoded* d) {
  const rte_ipv4_hdr* ip;
  const uint8_t* l4;
  uint16_t l4_total;
  if (!ipv4_l4(m, &ip, &l4, &l4_total)) return false;
  d->saddr = ip->src_addr;
  d->daddr = ip->dst_addr;
  d->protocol = ip->next_proto_id;
  const uint8_t* payload;
  if (d->protocol == IPPROTO_TCP) {
    auto* t = reinterpret_cast<const rte_tcp_hdr*>(l4);
    const uint16_t off = static_cast<uint16_t>((t->data_off >> 4) * 4);
    if (off < sizeof(rte_tcp_hdr) || off > l4_total) return false;
    d->sport = t->src_port;
    d->dport = t->dst_port;
    d->tcp_flags = t->tcp_flags;
    d->seq = ntohl(t->sent_seq);
    d->ack = ntohl(t->recv_ack);
    payload = l4 + off;
    d->payload_len = static_cast<uint16_t>(l4_total - off);
  } else {
    auto* u = reinterpret_cast<const rte_udp_hdr*>(l4);
    d->sport = u->src_port;
    d->dport = u->dst_port;
    d->tcp_flags = 0;
    d->seq = d->ack = 0;
    payload = l4 + sizeof(rte_udp_hdr);
    d->payload_len = static_cast<uint16_t>(l4_total - sizeof(rte_udp_hdr));
  }
  d->tag = 0;
  if (d->payload_len >= 4) memcpy(&d->tag, payload, 4);
  return true;
}

bool ipv4_checksums_ok(const rte_mbuf* m) {
  const rte_ipv4_hdr* ip;
  const uint8_t* l4;
  uint16_t l4_total;
  if (!ipv4_l4(m, &ip, &l4, &l4_total)) return false;
  if (fold(sum16(ip, static_cast<size_t>((ip->version_ihl & 0x0f) * 4))) != 0xffff) return false;
  if (ip->next_proto_id == IPPROTO_UDP && reinterpret_cast<const rte_udp_hdr*>(l4)->dgram_cksum == 0) return true;
  uint32_t pseudo = sum16(&ip->src_addr, 4, sum16(&ip->dst_addr, 4)) + ip->next_proto_id + l4_total;
  return fold(sum16(l4, l4_total, pseudo)) == 0xffff;
}

}  // namespace pc::bench
