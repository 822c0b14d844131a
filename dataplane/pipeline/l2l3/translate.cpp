#include "pipeline/l2l3/translate.h"

#include <cstring>
#include <rte_ip.h>
#include "pipeline/l2l3/checksum.h"

namespace pc {

namespace {

inline uint16_t l2_length(const ParsedPacket& p, const void* l3) {
  return static_cast<uint16_t>(static_cast<const uint8_t*>(l3) - reinterpret_cast<const uint8_t*>(p.eth));
}

// The Ethernet header (l2_len bytes, at the buffer's front) moves so that it ends where
// the new L3 header of new_l3_len bytes begins, right before the unmoved L4 header.
// Returns the new L3 header's start, or nullptr when the buffer has no headroom.
uint8_t* reframe(rte_mbuf* m, ParsedPacket& p, uint16_t l2_len, uint16_t old_l3_len, uint16_t new_l3_len,
                 uint16_t ether_type) {
  uint8_t* old_front = rte_pktmbuf_mtod(m, uint8_t*);
  uint8_t* new_front;
  if (new_l3_len > old_l3_len) {
    new_front = reinterpret_cast<uint8_t*>(rte_pktmbuf_prepend(m, static_cast<uint16_t>(new_l3_len - old_l3_len)));
    if (!new_front) return nullptr;
  } else {
    new_front = reinterpret_cast<uint8_t*>(rte_pktmbuf_adj(m, static_cast<uint16_t>(old_l3_len - new_l3_len)));
  }
  std::memmove(new_front, old_front, l2_len);
  p.eth = reinterpret_cast<rte_ether_hdr*>(new_front);
  // The EtherType is the last two bytes of the L2 header (after any VLAN tag).
  store16(new_front + l2_len - 2, rte_cpu_to_be_16(ether_type));
  return new_front + l2_len;
}

}  // namespace

uint16_t l4_csum_swap_addresses(uint16_t check, const void* old_src, const void* old_dst, unsigned old_len,
                                const void* new_src, const void* new_dst, unsigned new_len) {
  // RFC 1624 eqn. 3 over the address words: HC' = ~(~HC + ~m + m').
  uint32_t sum = static_cast<uint16_t>(~check);
  sum += static_cast<uint16_t>(~csum_sum(old_src, old_len));
  sum += static_cast<uint16_t>(~csum_sum(old_dst, old_len));
  sum += csum_sum(new_src, new_len);
  sum += csum_sum(new_dst, new_len);
  return static_cast<uint16_t>(~csum_finish(sum));
}

void translate_6to4(rte_mbuf* m, ParsedPacket& p, uint32_t src, uint32_t dst) {
  const rte_ipv6_hdr old = *p.ip6;  // the buffer's bytes are about to be moved over
  uint16_t l2_len = l2_length(p, p.ip6);
  uint8_t* check_at = l4_checksum_field(p);
  uint16_t check = load16(check_at);
  if (p.tcp || check != 0) {  // UDP over IPv6 always has one (a 0 is left for the server to refuse)
    check = l4_csum_swap_addresses(check, old.src_addr, old.dst_addr, 16, &src, &dst, 4);
    if (!p.tcp && check == 0) check = 0xffff;  // 0 would mean "no checksum" in UDP over IPv4
    store16(check_at, check);
  }

  auto* ip = reinterpret_cast<rte_ipv4_hdr*>(reframe(m, p, l2_len, p.ip_header_len, sizeof(rte_ipv4_hdr), RTE_ETHER_TYPE_IPV4));
  uint32_t vtc_flow = rte_be_to_cpu_32(old.vtc_flow);
  ip->version_ihl = RTE_IPV4_VHL_DEF;
  ip->type_of_service = static_cast<uint8_t>(vtc_flow >> RTE_IPV6_HDR_TC_SHIFT);
  ip->total_length = rte_cpu_to_be_16(static_cast<uint16_t>(sizeof(rte_ipv4_hdr) + p.l4_len));
  ip->packet_id = 0;
  // DF, except on a datagram rebuilt from IPv6 fragments: its sender let it be fragmented
  // (RFC 7915 5.1.1 clears DF on translated fragments), and ip_output fragments it to the MTU.
  ip->fragment_offset = p.reassembled_from ? 0 : rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG);
  ip->time_to_live = static_cast<uint8_t>(old.hop_limits - 1);
  ip->next_proto_id = p.l4_protocol;
  ip->src_addr = src;
  ip->dst_addr = dst;
  ip->hdr_checksum = 0;
  ip->hdr_checksum = rte_ipv4_cksum(ip);

  p.ip = ip;
  p.ip6 = nullptr;
  p.ip6_fragment_at = 0;
  p.ip_header_len = sizeof(rte_ipv4_hdr);
  p.ip_total_len = static_cast<uint16_t>(sizeof(rte_ipv4_hdr) + p.l4_len);
}

bool translate_4to6(rte_mbuf* m, ParsedPacket& p, const IpAddr& src, const IpAddr& dst) {
  const rte_ipv4_hdr old = *p.ip;
  uint16_t l2_len = l2_length(p, p.ip);
  uint8_t* check_at = l4_checksum_field(p);
  uint16_t check = load16(check_at);
  bool udp_without_checksum = !p.tcp && check == 0;

  uint8_t* l3 = reframe(m, p, l2_len, p.ip_header_len, sizeof(rte_ipv6_hdr), RTE_ETHER_TYPE_IPV6);
  if (!l3) return false;
  auto* ip6 = reinterpret_cast<rte_ipv6_hdr*>(l3);
  ip6->vtc_flow = rte_cpu_to_be_32((6u << 28) | (static_cast<uint32_t>(old.type_of_service) << RTE_IPV6_HDR_TC_SHIFT));
  ip6->payload_len = rte_cpu_to_be_16(p.l4_len);
  ip6->proto = p.l4_protocol;
  ip6->hop_limits = static_cast<uint8_t>(old.time_to_live - 1);
  std::memcpy(ip6->src_addr, src.bytes, 16);
  std::memcpy(ip6->dst_addr, dst.bytes, 16);

  if (udp_without_checksum) {
    // Computed from scratch over the new pseudo-header (the field is 0 already).
    uint32_t pseudo = 0;
    pseudo += csum_sum(src.bytes, 16);
    pseudo += csum_sum(dst.bytes, 16);
    pseudo += rte_cpu_to_be_16(p.l4_len);
    pseudo += rte_cpu_to_be_16(static_cast<uint16_t>(IPPROTO_UDP));
    uint16_t sum = csum_sum(p.udp, p.l4_len, pseudo);
    uint16_t fresh = static_cast<uint16_t>(~sum);
    store16(check_at, fresh == 0 ? 0xffff : fresh);
  } else {
    check = l4_csum_swap_addresses(check, &old.src_addr, &old.dst_addr, 4, src.bytes, dst.bytes, 16);
    if (!p.tcp && check == 0) check = 0xffff;
    store16(check_at, check);
  }

  p.ip = nullptr;
  p.ip6 = ip6;
  p.ip6_fragment_at = 0;
  p.ip_header_len = sizeof(rte_ipv6_hdr);
  p.ip_total_len = static_cast<uint16_t>(sizeof(rte_ipv6_hdr) + p.l4_len);
  return true;
}

}  // namespace pc
