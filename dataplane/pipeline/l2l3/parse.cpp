#include "pipeline/l2l3/parse.h"

#include <cstring>
#include "common/ip_address.h"
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
  // IPv6 multicast MACs (33:33 + the group's low 32 bits, RFC 2464 7) carry neighbour
  // discovery; other multicast is not ours.
  bool ipv6_multicast = dst[0] == 0x33 && dst[1] == 0x33 && eth->ether_type == RTE_BE16(RTE_ETHER_TYPE_IPV6);
  if (!mac_equal(dst, port_mac) && !rte_is_broadcast_ether_addr(&eth->dst_addr) && !ipv6_multicast) {
    *reason = DropReason::NOT_FOR_US;
    return false;
  }
  p->eth = eth;
  switch (eth->ether_type) {
    case RTE_BE16(RTE_ETHER_TYPE_ARP): *kind = L2Kind::ARP; return true;
    case RTE_BE16(RTE_ETHER_TYPE_IPV4): *kind = L2Kind::IPV4; return true;
    case RTE_BE16(RTE_ETHER_TYPE_IPV6): *kind = L2Kind::IPV6; return true;
    default:  // VLAN tags and everything else
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
  if (csum_ipv4_header(ip, header_len) != 0xffff) return false;  // 4 bytes per add (rte_raw_cksum: 2)
  // Ethernet pads short frames to 60 bytes; the IP length is the truth.
  if (available > total_len) rte_pktmbuf_trim(m, static_cast<uint16_t>(available - total_len));
  p->ip = ip;
  p->ip_header_len = header_len;
  p->ip_total_len = total_len;
  p->l4_protocol = ip->next_proto_id;
  return true;
}

namespace {

constexpr uint8_t kNextHopByHop = 0;
constexpr uint8_t kNextRouting = 43;
constexpr uint8_t kNextFragment = 44;
constexpr uint8_t kNextDestOptions = 60;

bool addr_is_unspecified(const uint8_t* a) {
  static const uint8_t zero[16] = {};
  return std::memcmp(a, zero, 16) == 0;
}
bool addr_is_loopback(const uint8_t* a) {
  static const uint8_t loopback[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  return std::memcmp(a, loopback, 16) == 0;
}
bool addr_is_v4_mapped(const uint8_t* a) { return std::memcmp(a, kV4MappedPrefix, 12) == 0; }

// Hop-by-hop and destination options (RFC 8200 4.2): Pad1/PadN skipped, an unknown option
// skipped when its type's top two bits are 00, otherwise the packet is discarded (we send
// no Parameter Problem: errors are not originated here yet).
bool options_acceptable(const uint8_t* header, uint32_t len, DropReason* reason) {
  for (uint32_t at = 2; at < len;) {
    uint8_t type = header[at];
    if (type == 0) {  // Pad1
      at++;
      continue;
    }
    if (at + 2 > len || at + 2 + header[at + 1] > len) {
      *reason = DropReason::IPV6_EXT_HEADER_MALFORMED;
      return false;
    }
    if (type != 1 && (type >> 6) != 0) {  // not PadN, and "discard" when unrecognised
      *reason = DropReason::IPV6_OPTION_UNRECOGNIZED;
      return false;
    }
    at += 2u + header[at + 1];
  }
  return true;
}

}  // namespace

bool parse_ipv6(rte_mbuf* m, ParsedPacket* p, DropReason* reason) {
  uint32_t available = rte_pktmbuf_data_len(m) - sizeof(rte_ether_hdr);
  *reason = DropReason::IPV6_MALFORMED;
  if (available < sizeof(rte_ipv6_hdr)) return false;
  auto* ip6 = reinterpret_cast<rte_ipv6_hdr*>(p->eth + 1);
  if ((reinterpret_cast<const uint8_t*>(ip6)[0] >> 4) != 6) return false;
  uint32_t payload_len = rte_be_to_cpu_16(ip6->payload_len);
  // 0 is a jumbogram's (RFC 2675), which no Ethernet frame here can be.
  if (payload_len == 0 || payload_len > available - sizeof(rte_ipv6_hdr)) return false;
  uint32_t total_len = sizeof(rte_ipv6_hdr) + payload_len;
  if (available > total_len) rte_pktmbuf_trim(m, static_cast<uint16_t>(available - total_len));

  const uint8_t* src = ip6->src_addr;
  const uint8_t* dst = ip6->dst_addr;
  *reason = DropReason::IPV6_BAD_ADDRESS;
  if (src[0] == 0xff || addr_is_loopback(src) || addr_is_v4_mapped(src)) return false;
  if (addr_is_unspecified(dst) || addr_is_loopback(dst) || addr_is_v4_mapped(dst)) return false;
  if (addr_is_unspecified(src) && ip6->proto != IPPROTO_ICMPV6) return false;

  // Walk the extension headers, never past the payload.
  const uint8_t* base = reinterpret_cast<const uint8_t*>(ip6);
  uint32_t at = sizeof(rte_ipv6_hdr);
  uint8_t next = ip6->proto;
  uint16_t fragment_at = 0;
  bool more_fragments = false;  // a first fragment's M flag: its header chain must end inside it (RFC 7112)
  for (unsigned count = 0;; count++) {
    if (next != kNextHopByHop && next != kNextRouting && next != kNextFragment && next != kNextDestOptions) break;
    *reason = DropReason::IPV6_EXT_HEADER_MALFORMED;
    if (count == kIpv6MaxExtHeaders) return false;
    if (next == kNextHopByHop && count != 0) return false;  // only directly after the IPv6 header
    const DropReason past_end = more_fragments ? DropReason::FRAG_HEADER_CHAIN_INCOMPLETE : DropReason::IPV6_EXT_HEADER_MALFORMED;
    if (at + 8 > total_len) return *reason = past_end, false;
    const uint8_t* header = base + at;
    // The fragment header is always 8 bytes (its second byte is reserved, not a length).
    uint32_t len = next == kNextFragment ? 8 : (header[1] + 1u) * 8;
    if (at + len > total_len) return *reason = past_end, false;
    if (at + len - sizeof(rte_ipv6_hdr) > kIpv6MaxExtBytes) return false;
    if ((next == kNextHopByHop || next == kNextDestOptions) && !options_acceptable(header, len, reason)) return false;
    if (next == kNextRouting && header[3] != 0) {  // segments left
      *reason = DropReason::IPV6_ROUTING_HEADER;
      return false;
    }
    uint8_t following = header[0];
    if (next == kNextFragment) {
      if (fragment_at != 0) return false;  // two fragment headers
      fragment_at = static_cast<uint16_t>(at);
      uint16_t offset_field;
      std::memcpy(&offset_field, header + 2, 2);
      if ((rte_be_to_cpu_16(offset_field) & 0xfff8) != 0) {  // a later fragment: no more headers in it
        next = following;
        at += len;
        break;
      }
      more_fragments = (rte_be_to_cpu_16(offset_field) & 1) != 0;
    }
    next = following;
    at += len;
  }
  p->ip6 = ip6;
  p->ip_header_len = static_cast<uint16_t>(at);
  p->ip_total_len = static_cast<uint16_t>(total_len);
  p->l4_protocol = next;
  p->ip6_fragment_at = fragment_at;
  p->reassembled_from = 0;
  if (ipv6_is_later_fragment(*p)) return true;  // what follows is the middle of a datagram
  switch (next) {
    case IPPROTO_TCP:
    case IPPROTO_UDP:
    case IPPROTO_ICMPV6:
      return true;
    case 50:   // ESP: opaque
    case 51:   // AH: NAT breaks it (RFC 7915 8)
    case 59:   // No Next Header
    case 135:  // Mobility
    case 139:  // HIP
    case 140:  // Shim6
    case 253:  // experimental (RFC 3692)
    case 254:
      *reason = DropReason::IPV6_UNSUPPORTED_NEXT_HEADER;
      return false;
    default:
      return true;  // another upper-layer protocol: parse_l4 says UNSUPPORTED_L4
  }
}

bool ipv6_is_later_fragment(const ParsedPacket& p) {
  if (p.ip6_fragment_at == 0) return false;
  uint16_t offset_field;
  std::memcpy(&offset_field, reinterpret_cast<const uint8_t*>(p.ip6) + p.ip6_fragment_at + 2, 2);
  return (rte_be_to_cpu_16(offset_field) & 0xfff8) != 0;
}

bool ipv6_is_atomic_fragment(const ParsedPacket& p) {
  if (p.ip6_fragment_at == 0) return false;
  uint16_t offset_field;
  std::memcpy(&offset_field, reinterpret_cast<const uint8_t*>(p.ip6) + p.ip6_fragment_at + 2, 2);
  return (rte_be_to_cpu_16(offset_field) & 0xfff9) == 0;  // offset 0, M clear
}

bool ipv6_first_fragment_holds_l4(const ParsedPacket& p) {
  if (p.ip6_fragment_at == 0 || ipv6_is_later_fragment(p) || ipv6_is_atomic_fragment(p)) return true;
  uint32_t held = static_cast<uint32_t>(p.ip_total_len - p.ip_header_len);
  const uint8_t* l4 = reinterpret_cast<const uint8_t*>(p.ip6) + p.ip_header_len;
  switch (p.l4_protocol) {
    case IPPROTO_TCP: return held >= sizeof(rte_tcp_hdr) && held >= (l4[12] >> 4) * 4u;  // options included
    case IPPROTO_UDP: return held >= sizeof(rte_udp_hdr);
    case IPPROTO_ICMPV6: return held >= 8;  // type, code, checksum and the 4 bytes every message has
    default: return true;  // no stage here takes it: UNSUPPORTED_L4 once whole
  }
}

bool parse_l4(ParsedPacket* p, DropReason* reason) {
  uint8_t* l3 = p->ip ? reinterpret_cast<uint8_t*>(p->ip) : reinterpret_cast<uint8_t*>(p->ip6);
  uint8_t* l4 = l3 + p->ip_header_len;
  uint16_t len = static_cast<uint16_t>(p->ip_total_len - p->ip_header_len);
  p->l4_len = len;
  *reason = DropReason::MALFORMED_L4;
  // ICMP is the family's own: protocol 1 under IPv4, next header 58 under IPv6.
  uint8_t protocol = p->ip ? p->ip->next_proto_id : p->l4_protocol;
  if (p->ip6 && protocol == IPPROTO_ICMP) protocol = 0;
  if (p->ip6 && protocol == IPPROTO_ICMPV6) protocol = IPPROTO_ICMP;
  switch (protocol) {
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
    case IPPROTO_ICMP:  // ICMPv6 shares ICMPv4's first 8 bytes (type, code, checksum, 4 more)
      if (len < sizeof(rte_icmp_hdr)) return false;
      p->icmp = reinterpret_cast<rte_icmp_hdr*>(l4);
      return true;
    default:
      *reason = DropReason::UNSUPPORTED_L4;
      return false;
  }
}

}  // namespace pc
