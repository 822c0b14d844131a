#include "pipeline/l2l3/icmp6.h"

#include <cstring>
#include "pipeline/l2l3/checksum.h"

namespace pc {

constexpr uint8_t kEchoHopLimit = 64;
constexpr uint8_t kIcmp6EchoReplyType = 129;

bool icmp6_checksum_ok(const ParsedPacket& p) {
  return ipv6_upper_checksum_ok(p.ip6->src_addr, p.ip6->dst_addr, IPPROTO_ICMPV6, p.icmp, p.l4_len);
}

void icmp6_echo_reply_in_place(rte_mbuf* m, const ParsedPacket& p, const uint8_t* port_mac) {
  rte_ether_hdr* eth = p.eth;
  eth->dst_addr = eth->src_addr;
  std::memcpy(eth->src_addr.addr_bytes, port_mac, RTE_ETHER_ADDR_LEN);

  rte_ipv6_hdr* ip6 = p.ip6;
  auto* icmp = reinterpret_cast<uint8_t*>(ip6 + 1);
  const uint16_t extension_bytes = static_cast<uint16_t>(p.ip_header_len - sizeof(rte_ipv6_hdr));
  if (extension_bytes) {  // the options were the requester's to us, not ours to send back
    std::memmove(icmp, reinterpret_cast<uint8_t*>(p.icmp), p.l4_len);
    rte_pktmbuf_trim(m, extension_bytes);
    ip6->proto = IPPROTO_ICMPV6;
    ip6->payload_len = rte_cpu_to_be_16(p.l4_len);
  }
  uint8_t requester[16];
  std::memcpy(requester, ip6->src_addr, 16);
  std::memcpy(ip6->src_addr, ip6->dst_addr, 16);
  std::memcpy(ip6->dst_addr, requester, 16);
  ip6->hop_limits = kEchoHopLimit;

  icmp[0] = kIcmp6EchoReplyType;
  icmp[2] = icmp[3] = 0;
  uint16_t check = ipv6_upper_checksum(ip6->src_addr, ip6->dst_addr, IPPROTO_ICMPV6, icmp, p.l4_len);
  std::memcpy(icmp + 2, &check, 2);
}

}  // namespace pc
