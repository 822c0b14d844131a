#include "pipeline/output/nd.h"

#include <cstring>
#include "pipeline/l2l3/checksum.h"

namespace pc {

namespace {

constexpr uint8_t kOptSourceLinkLayer = 1;
constexpr uint8_t kOptTargetLinkLayer = 2;
constexpr uint8_t kNaFlagSolicited = 0x40;
constexpr uint8_t kNaFlagOverride = 0x20;

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

inline void drop(NeighTable* t, rte_mbuf* m, DropReason reason) {
  rte_pktmbuf_free(m);
  t->counters->drop(reason);
}

inline void consume(NeighTable* t, rte_mbuf* m, Event what) {
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

void answer_solicitation(NeighTable* t, uint16_t in_port, rte_mbuf* m, const IpAddr& target, const IpAddr& asker,
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
  neigh_set_macs(m, our_mac, requester);
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

void nd_write_solicitation(uint8_t* frame, const uint8_t* our_mac, const IpAddr& source, const IpAddr& target) {
  auto* eth = reinterpret_cast<rte_ether_hdr*>(frame);
  const IpAddr group = nd_solicited_node(target);
  nd_multicast_mac(group, eth->dst_addr.addr_bytes);
  std::memcpy(eth->src_addr.addr_bytes, our_mac, RTE_ETHER_ADDR_LEN);
  eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV6);
  write_nd(reinterpret_cast<rte_ipv6_hdr*>(eth + 1), source, group, kNdNeighborSolicitation, 0, target,
           kOptSourceLinkLayer, our_mac);
}

void neigh6_input(NeighTable* t, const Snapshot& s, uint16_t in_port, rte_mbuf* m, const ParsedPacket& p,
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
  // A mapped target would name an IPv4 neighbour of the shared table (or claim an IPv4 address of ours).
  if (target.bytes[0] == 0xff || ip_is_v4(target) || !read_options(icmp, len, wanted, &link_layer))
    return drop(t, m, DropReason::ND_INVALID);

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
        (snapshot_on_link_source(s, in_port, source, &our_source) || neigh_find(t, in_port, source))) {
      NeighEntry* e = neigh_learn(t, in_port, source, link_layer, now_us, tx);
      if (e && ip_is_zero(e->source)) e->source = target;
    }
    const uint8_t* reply_mac = link_layer ? link_layer : p.eth->src_addr.addr_bytes;
    return answer_solicitation(t, in_port, m, target, source, reply_mac, tx);
  }

  // Neighbour advertisement.
  const uint8_t flags = icmp[4];
  if (to_multicast && (flags & kNaFlagSolicited)) return drop(t, m, DropReason::ND_INVALID);
  NeighEntry* known = neigh_find(t, in_port, target);
  IpAddr our_source{};  // stays :: when the target is not on-link (a next hop we asked about keeps its own)
  bool asked_or_on_link = known || snapshot_on_link_source(s, in_port, target, &our_source);
  if (snapshot_owned_kinds(s, target) != 0 || !asked_or_on_link) return drop(t, m, DropReason::ND_NOT_FOR_US);
  if (!link_layer) {
    // No target link-layer option (allowed in answers to unicast probes): it confirms a known MAC only.
    if (!known || known->state != NeighState::REACHABLE) return drop(t, m, DropReason::ND_NOT_FOR_US);
    known->confirmed_us = now_us;
    return consume(t, m, Event::ND_ADVERTISEMENTS_LEARNED);
  }
  NeighEntry* e = is_unicast_mac(link_layer) ? neigh_learn(t, in_port, target, link_layer, now_us, tx) : nullptr;
  if (!e) return drop(t, m, DropReason::ND_NOT_FOR_US);
  if (ip_is_zero(e->source)) e->source = our_source;
  consume(t, m, Event::ND_ADVERTISEMENTS_LEARNED);
}

}  // namespace pc
