// The network layer as the stages see it: a packet's protocol, addresses and hop limit,
// the rewrite of its addresses, its payload length and every checksum that covers the
// addresses (the L3 header's own, the L4 pseudo-header). The stages past parse reach
// L3 only through these, so that a second address family is one branch here (and in
// parse, ICMP, fragmentation and TUN, which are family-specific by nature) instead of
// a copy of each stage. Addresses are IpAddr (common/ip_address.h) for either family;
// each accessor has an IPv4 and an IPv6 (`p.ip6`) branch; see pipeline/README.md "IPv6".
//
// Everything is inline and takes the ParsedPacket the stages already hold: on the hot
// path (fullnat_rewrite, the flow key) this compiles to the same loads and stores as
// the field accesses it replaces.
#pragma once
#include <cstdint>
#include <cstring>
#include <rte_byteorder.h>
#include <rte_ip.h>
#include "pipeline/l2l3/checksum.h"
#include "pipeline/l2l3/packet.h"

namespace pc {

// An L3 address as the stages and the connection record carry it: 16 bytes, network
// order, IPv4 held mapped. The IPv4 path builds it from the header's 4 bytes and writes
// back ip_v4() of it: no 16-byte work beyond building the flow key.
using L3Addr = IpAddr;

// IPv6: p.ip6 is set (and p.ip null). Extension headers between the IPv6 header and L4
// stay where they are; p.ip_header_len counts them.
inline bool l3_is_v6(const ParsedPacket& p) { return p.ip6 != nullptr; }

inline uint8_t l3_protocol(const ParsedPacket& p) { return p.ip6 ? p.l4_protocol : p.ip->next_proto_id; }
inline L3Addr l3_src(const ParsedPacket& p) { return p.ip6 ? ip_from_v6(p.ip6->src_addr) : ip_from_v4(p.ip->src_addr); }
inline L3Addr l3_dst(const ParsedPacket& p) { return p.ip6 ? ip_from_v6(p.ip6->dst_addr) : ip_from_v4(p.ip->dst_addr); }
inline uint8_t* l3_header(const ParsedPacket& p) {
  return p.ip6 ? reinterpret_cast<uint8_t*>(p.ip6) : reinterpret_cast<uint8_t*>(p.ip);
}

// TCP and IP headers without options: MSS = MTU - this (RFC 879; RFC 8200 for IPv6).
inline uint16_t l3_tcp_header_overhead(bool ipv6) { return ipv6 ? 60 : 40; }

// The L3 and L4 headers now start `by` bytes further on in the buffer (moved by the caller).
inline void l3_headers_moved(ParsedPacket& p, int by) {
  if (p.ip6) p.ip6 = reinterpret_cast<rte_ipv6_hdr*>(l3_header(p) + by);
  else p.ip = reinterpret_cast<rte_ipv4_hdr*>(l3_header(p) + by);
  if (p.tcp) p.tcp = reinterpret_cast<rte_tcp_hdr*>(reinterpret_cast<uint8_t*>(p.tcp) + by);
  if (p.udp) p.udp = reinterpret_cast<rte_udp_hdr*>(reinterpret_cast<uint8_t*>(p.udp) + by);
  if (p.icmp) p.icmp = reinterpret_cast<rte_icmp_hdr*>(reinterpret_cast<uint8_t*>(p.icmp) + by);
}

// Forwarding would take the hop limit (IPv4 TTL) to zero: the packet must not leave.
inline bool l3_hop_limit_expires(const ParsedPacket& p) {
  return p.ip6 ? p.ip6->hop_limits <= 1 : p.ip->time_to_live <= 1;
}

// The connection-table key of p's direction (TCP/UDP: ports parsed).
inline FlowKey l3_flow_key(const ParsedPacket& p) {
  return make_flow_key(l3_protocol(p), l3_src(p), l4_src_port(p), l3_dst(p), l4_dst_port(p));
}

// --- Checksums that cover the addresses -------------------------------------------------

// An L4 checksum (TCP, UDP with one) after p's addresses become src, dst: the pseudo-header
// share of the change (RFC 1624). Ports and the rest are the caller's.
inline uint16_t l4_csum_readdress(uint16_t check, const ParsedPacket& p, const L3Addr& src, const L3Addr& dst) {
  if (p.ip6) {
    check = csum_replace128(check, p.ip6->src_addr, src.bytes);
    return csum_replace128(check, p.ip6->dst_addr, dst.bytes);
  }
  check = csum_replace32(check, p.ip->src_addr, ip_v4(src));
  check = csum_replace32(check, p.ip->dst_addr, ip_v4(dst));
  return check;
}

// The pseudo-header sum of an L4 segment of l4_len bytes of protocol from src to dst (one
// family: the IPv4 pseudo-header for mapped addresses, else IPv6's), to start csum_sum() with.
inline uint64_t l4_pseudo_header_sum(const L3Addr& src, const L3Addr& dst, uint8_t protocol, uint16_t l4_len) {
  if (!ip_is_v4(src)) return ipv6_pseudo_header_sum(src.bytes, dst.bytes, l4_len, protocol);
  return static_cast<uint64_t>(ip_v4(src)) + ip_v4(dst) + rte_cpu_to_be_16(static_cast<uint16_t>(protocol)) +
         rte_cpu_to_be_16(l4_len);
}

// Full check of p's TCP checksum, pseudo-header included. A pass over the whole segment:
// done only for the few segments the gateway rebuilds, so that a corrupted one is not
// blessed with a fresh checksum.
inline bool l4_tcp_checksum_ok(const ParsedPacket& p) {
  uint64_t pseudo = l4_pseudo_header_sum(l3_src(p), l3_dst(p), IPPROTO_TCP, p.l4_len);
  return csum_sum(p.tcp, p.l4_len, pseudo) == 0xffff;
}

// Writes p's TCP checksum from scratch (the field must be 0).
inline void l4_tcp_checksum_fill(ParsedPacket& p) {
  uint64_t pseudo = l4_pseudo_header_sum(l3_src(p), l3_dst(p), IPPROTO_TCP, p.l4_len);
  p.tcp->cksum = static_cast<uint16_t>(~csum_sum(p.tcp, p.l4_len, pseudo));
}

// --- Rewrites ---------------------------------------------------------------------------

// Forwarding with new addresses: src, dst written, hop limit decremented (the caller has
// checked l3_hop_limit_expires), the header checksum kept right incrementally (IPv4).
// The L4 checksum is the caller's (l4_csum_readdress, before this call).
inline void l3_readdress_and_forward(ParsedPacket& p, const L3Addr& src_addr, const L3Addr& dst_addr) {
  if (p.ip6) {
    // No header checksum in IPv6 (RFC 8200): the L4 pseudo-header carries the addresses.
    p.ip6->hop_limits--;
    std::memcpy(p.ip6->src_addr, src_addr.bytes, 16);
    std::memcpy(p.ip6->dst_addr, dst_addr.bytes, 16);
    return;
  }
  rte_ipv4_hdr* ip = p.ip;
  const uint32_t src = ip_v4(src_addr), dst = ip_v4(dst_addr);
  // TTL shares a 16-bit word with the protocol. The word is decremented as a whole: a byte
  // store then a 16-bit reload of the same word defeats store-to-load forwarding (a ~40%
  // hot spot of fullnat_rewrite in perf annotate).
  uint16_t ttl_word_old = load16(&ip->time_to_live);
  uint16_t ttl_word_new = rte_cpu_to_be_16(static_cast<uint16_t>(rte_be_to_cpu_16(ttl_word_old) - 0x100));
  store16(&ip->time_to_live, ttl_word_new);
  uint16_t check = ip->hdr_checksum;
  check = csum_replace32(check, ip->src_addr, src);
  check = csum_replace32(check, ip->dst_addr, dst);
  check = csum_replace16(check, ttl_word_old, ttl_word_new);
  ip->hdr_checksum = check;
  ip->src_addr = src;
  ip->dst_addr = dst;
}

// The L4 payload (everything after the L3 header) is now l4_len bytes: the length field
// and the header checksum follow (incrementally), and so do p.ip_total_len and p.l4_len.
// Returns the change of the pseudo-header length word, for an L4 checksum the caller
// updates incrementally: (old, new) in network order.
struct LengthChange {
  uint16_t before, after;
};
inline LengthChange l3_set_payload_len(ParsedPacket& p, uint16_t l4_len) {
  // IPv6's pseudo-header length is 32 bits; its high half stays 0, so the low word is the change.
  LengthChange change{rte_cpu_to_be_16(p.l4_len), rte_cpu_to_be_16(l4_len)};
  uint16_t total = static_cast<uint16_t>(p.ip_header_len + l4_len);
  if (p.ip6) {
    p.ip6->payload_len = rte_cpu_to_be_16(static_cast<uint16_t>(total - sizeof(rte_ipv6_hdr)));  // extension headers count
    p.ip_total_len = total;
    p.l4_len = l4_len;
    return change;
  }
  uint16_t total_before = p.ip->total_length;
  p.ip->total_length = rte_cpu_to_be_16(total);
  p.ip->hdr_checksum = csum_replace16(p.ip->hdr_checksum, total_before, p.ip->total_length);
  p.ip_total_len = total;
  p.l4_len = l4_len;
  return change;
}

}  // namespace pc
