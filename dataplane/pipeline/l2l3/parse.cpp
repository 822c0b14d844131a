#include "pipeline/l2l3/parse.h"

#include <cstring>
#include "pipeline/l2l3/checksum.h"

namespace pc {

static inline bool mac_equal(const uint8_t* a, const uint8_t* b) { return std::memcmp(a, b, RTE_ETHER_ADDR_LEN) == 0; }

bool parse_l2(rte_mbuf* m, const uint8_t* port_mac, ParsedPacket* p, L2Kind* kind, DropReason* reason) {
  // Every later stage assumes one contiguous segment. Receive buffers fit the largest
  // port MTU, so a chain is a frame longer than any MTU (or a PMD scattering anyway).
  if (m->nb_segs != 1) {
    *reason = DropReason::RX_SEGMENTED;
    return false;
  }
  if (rte_pktmbuf_data_len(m) < sizeof(rte_ether_hdr)) {
    *reason = DropReason::MALFORMED_L2;
    return false;
  }
  auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
  const uint8_t* dst = eth->dst_addr.addr_bytes;
  // Multicast (incl. IPv6 neighbour discovery) is not ours until we speak a protocol that needs it.
  if (!mac_equal(dst, port_mac) && !rte_is_broadcast_ether_addr(&eth->dst_addr)) {
    *reason = DropReason::NOT_FOR_US;
    return false;
  }
  p->eth = eth;
  switch (eth->ether_type) {
    case RTE_BE16(RTE_ETHER_TYPE_ARP): *kind = L2Kind::ARP; return true;
    case RTE_BE16(RTE_ETHER_TYPE_IPV4): *kind = L2Kind::IPV4; return true;
    default:  // IPv6, VLAN tags and everything else, for now
      *reason = DropReason::UNSUPPORTED_L3;
      return false;
  }
}

bool parse_arp(rte_mbuf* m, ParsedPacket* p, DropReason* reason) {
  if (rte_pktmbuf_data_len(m) < sizeof(rte_ether_hdr) + sizeof(rte_arp_hdr)) {
    *reason = DropReason::MALFORMED_ARP;
    return false;
  }
  auto* arp = reinterpret_cast<rte_arp_hdr*>(p->eth + 1);
  bool ethernet_ipv4 = arp->arp_hardware == RTE_BE16(RTE_ARP_HRD_ETHER) &&
                       arp->arp_protocol == RTE_BE16(RTE_ETHER_TYPE_IPV4) &&
                       arp->arp_hlen == RTE_ETHER_ADDR_LEN && arp->arp_plen == 4;
  bool known_op = arp->arp_opcode == RTE_BE16(RTE_ARP_OP_REQUEST) || arp->arp_opcode == RTE_BE16(RTE_ARP_OP_REPLY);
  if (!ethernet_ipv4 || !known_op) {
    *reason = DropReason::MALFORMED_ARP;
    return false;
  }
  p->arp = arp;
  return true;
}

bool parse_ipv4(rte_mbuf* m, ParsedPacket* p, DropReason* reason) {
  uint32_t available = rte_pktmbuf_data_len(m) - sizeof(rte_ether_hdr);
  *reason = DropReason::MALFORMED_L3;
  if (available < sizeof(rte_ipv4_hdr)) return false;
  auto* ip = reinterpret_cast<rte_ipv4_hdr*>(p->eth + 1);
  if ((ip->version_ihl >> 4) != 4) return false;
  uint16_t header_len = static_cast<uint16_t>((ip->version_ihl & 0x0f) * 4);
  if (header_len < sizeof(rte_ipv4_hdr) || header_len > available) return false;
  uint16_t total_len = rte_be_to_cpu_16(ip->total_length);
  if (total_len < header_len || total_len > available) return false;
  // A correct header sums to 0xffff including its checksum field.
  if (csum_sum(ip, header_len) != 0xffff) return false;  // 4 bytes per add (rte_raw_cksum: 2)
  // Ethernet pads short frames to 60 bytes; the IP length is the truth.
  if (available > total_len) rte_pktmbuf_trim(m, static_cast<uint16_t>(available - total_len));
  p->ip = ip;
  p->ip_header_len = header_len;
  p->ip_total_len = total_len;
  return true;
}

bool parse_l4(ParsedPacket* p, DropReason* reason) {
  uint8_t* l4 = reinterpret_cast<uint8_t*>(p->ip) + p->ip_header_len;
  uint16_t len = static_cast<uint16_t>(p->ip_total_len - p->ip_header_len);
  p->l4_len = len;
  *reason = DropReason::MALFORMED_L4;
  switch (p->ip->next_proto_id) {
    case IPPROTO_TCP: {
      if (len < sizeof(rte_tcp_hdr)) return false;
      auto* tcp = reinterpret_cast<rte_tcp_hdr*>(l4);
      uint16_t data_off = static_cast<uint16_t>((tcp->data_off >> 4) * 4);
      if (data_off < sizeof(rte_tcp_hdr) || data_off > len) return false;
      p->tcp = tcp;
      return true;
    }
    case IPPROTO_UDP: {
      if (len < sizeof(rte_udp_hdr)) return false;
      auto* udp = reinterpret_cast<rte_udp_hdr*>(l4);
      uint16_t udp_len = rte_be_to_cpu_16(udp->dgram_len);
      if (udp_len < sizeof(rte_udp_hdr) || udp_len > len) return false;
      p->udp = udp;
      return true;
    }
    case IPPROTO_ICMP:
      if (len < sizeof(rte_icmp_hdr)) return false;
      p->icmp = reinterpret_cast<rte_icmp_hdr*>(l4);
      return true;
    default:
      *reason = DropReason::UNSUPPORTED_L4;
      return false;
  }
}

}  // namespace pc
