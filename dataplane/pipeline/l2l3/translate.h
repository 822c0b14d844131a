// IP header translation between the families (RFC 7915, the stateful NAT64 of RFC 6146):
// an IPv6 client's TCP/UDP packet leaves as IPv4 towards an IPv4 server through an IPv4
// LIP, and the server's replies come back as IPv6. Only the L3 header is swapped here;
// the L4 header and payload stay where they are in the buffer (the Ethernet header moves).
//
// The L4 checksum is corrected for the pseudo-header: the upper-layer length and the
// protocol weigh the same in both families' pseudo-headers (RFC 8200 8.1: 32-bit length
// and next header; RFC 793: protocol and 16-bit length add up to the same one's-complement
// sum), so only the addresses' share changes. Ports are the caller's.
#pragma once
#include <cstdint>
#include <rte_mbuf.h>
#include "common/ip_address.h"
#include "pipeline/l2l3/packet.h"

namespace pc {

constexpr uint16_t kTranslateHeaderGrowth = sizeof(rte_ipv6_hdr) - sizeof(rte_ipv4_hdr);  // 20

// p (IPv6, TCP or UDP, unfragmented, hop limit checked by the caller) becomes an IPv4
// packet from src to dst (network order): TTL = hop limit - 1, TOS = traffic class,
// DF set and identification 0 (RFC 7915 5.1), extension headers dropped. p's pointers
// and lengths describe the new packet afterwards.
void translate_6to4(rte_mbuf* m, ParsedPacket& p, uint32_t src, uint32_t dst);

// p (IPv4, TCP or UDP, unfragmented, TTL checked by the caller) becomes an IPv6 packet
// from src to dst: hop limit = TTL - 1, traffic class = TOS, flow label 0, IPv4 options
// dropped (RFC 7915 4.1). A UDP datagram without checksum gets one: IPv6 requires it
// (RFC 7915 4.5). False, nothing changed, when the buffer has no headroom for the
// larger header.
bool translate_4to6(rte_mbuf* m, ParsedPacket& p, const IpAddr& src, const IpAddr& dst);

// An L4 checksum after the pseudo-header's addresses changed from (old_src, old_dst)
// to (new_src, new_dst), each given as its bytes (4 or 16). For any family pair.
uint16_t l4_csum_swap_addresses(uint16_t check, const void* old_src, const void* old_dst, unsigned old_len,
                                const void* new_src, const void* new_dst, unsigned new_len);

}  // namespace pc
