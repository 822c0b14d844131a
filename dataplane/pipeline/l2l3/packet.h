// What parse() learns about a frame, handed to the later stages so none of them
// re-validates lengths. Pointers point into the mbuf's single data segment.
#pragma once
#include <cstdint>
#include <cstring>
#include <rte_arp.h>
#include <rte_ether.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_tcp.h>
#include <rte_udp.h>
#include "common/ip_address.h"

namespace pc {

struct ParsedPacket {
  rte_ether_hdr* eth = nullptr;
  rte_arp_hdr* arp = nullptr;    // set for ARP frames
  rte_ipv4_hdr* ip = nullptr;    // set for IPv4 frames
  rte_ipv6_hdr* ip6 = nullptr;   // set for IPv6 frames (ip is then null)
  uint16_t ip_header_len = 0;    // bytes, IPv4 options / IPv6 extension headers included
  uint16_t ip_total_len = 0;     // host order, what the frame was trimmed to
  uint8_t l4_protocol = 0;       // the upper-layer protocol: IPv4's, or the last IPv6 next header
  uint16_t ip6_fragment_at = 0;  // IPv6: the fragment header's offset from the IPv6 header; 0 = none
  // IPv6 rebuilt from fragments: IP bytes of the biggest one it came in, the size it leaves
  // in again (output/fragment.h); 0 = arrived whole.
  uint16_t reassembled_from = 0;
  // L4, set only once parse_l4 validated it:
  rte_tcp_hdr* tcp = nullptr;
  rte_udp_hdr* udp = nullptr;
  rte_icmp_hdr* icmp = nullptr;
  uint16_t l4_len = 0;           // bytes from the L4 header to the end of the IP payload
  // Decapsulated from another cluster node's hand-off (cluster/handoff.h): never handed on
  // again, nor decapsulated twice.
  bool handed_off = false;
};

// The hash key of one direction of a connection. Addresses (either family, see
// common/ip_address.h) and ports network order.
struct FlowKey {
  IpAddr src_addr;
  IpAddr dst_addr;
  uint16_t src_port;
  uint16_t dst_port;
  uint8_t protocol;
  uint8_t pad[3];  // always zero: the whole struct is hashed
};
static_assert(sizeof(FlowKey) == 40, "FlowKey is hashed as 40 raw bytes (five 8-byte words)");

// Assembled as five 8-byte words: field-wise stores read back by the 8-byte hash loads
// (or a 16-byte copy) would stall store-to-load forwarding.
inline FlowKey make_flow_key(uint8_t protocol, const IpAddr& src, uint16_t sport, const IpAddr& dst, uint16_t dport) {
  FlowKey k;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  uint64_t w[5];
  std::memcpy(&w[0], src.bytes, 8);
  std::memcpy(&w[1], src.bytes + 8, 8);
  std::memcpy(&w[2], dst.bytes, 8);
  std::memcpy(&w[3], dst.bytes + 8, 8);
  w[4] = static_cast<uint64_t>(sport) | static_cast<uint64_t>(dport) << 16 | static_cast<uint64_t>(protocol) << 32;
  std::memcpy(&k, w, sizeof k);
#else
  k.src_addr = src;
  k.dst_addr = dst;
  k.src_port = sport;
  k.dst_port = dport;
  k.protocol = protocol;
  k.pad[0] = k.pad[1] = k.pad[2] = 0;
#endif
  return k;
}

// Unaligned-safe 16-bit field access (DPDK headers are packed; no pointers to their members).
inline uint16_t load16(const void* at) {
  uint16_t v;
  std::memcpy(&v, at, sizeof v);
  return v;
}
inline void store16(void* at, uint16_t v) { std::memcpy(at, &v, sizeof v); }

// TCP and UDP keep source and destination ports at offsets 0 and 2 (network order).
inline uint8_t* l4_header(const ParsedPacket& p) {
  return p.tcp ? reinterpret_cast<uint8_t*>(p.tcp) : reinterpret_cast<uint8_t*>(p.udp);
}
inline uint16_t l4_src_port(const ParsedPacket& p) { return load16(l4_header(p)); }
inline uint16_t l4_dst_port(const ParsedPacket& p) { return load16(l4_header(p) + 2); }
// Where the TCP or UDP checksum sits.
inline uint8_t* l4_checksum_field(const ParsedPacket& p) {
  return p.tcp ? reinterpret_cast<uint8_t*>(p.tcp) + 16 : reinterpret_cast<uint8_t*>(p.udp) + 6;
}

}  // namespace pc
