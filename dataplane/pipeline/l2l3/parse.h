// Stage 1: validate a received frame layer by layer. Each function returns true
// and fills ParsedPacket, or returns false with *reason set (the caller frees
// the packet and counts the reason). Nothing reads past rte_pktmbuf_data_len.
#pragma once
#include <cstdint>
#include <rte_mbuf.h>
#include "common/drop_reasons.h"
#include "pipeline/l2l3/packet.h"

namespace pc {

enum class L2Kind : uint8_t { ARP, IPV4, IPV6 };

// Ethernet: runt/multi-segment frames, MAC not ours nor broadcast, ethertypes we do not handle.
// IPv6 frames to a 33:33:xx multicast MAC pass (neighbour discovery's solicited-node groups);
// the IPv6 destination decides later whether the group is ours.
bool parse_l2(rte_mbuf* m, const uint8_t* port_mac, ParsedPacket* p, L2Kind* kind, DropReason* reason);

// ARP for Ethernet/IPv4 only, request or reply.
bool parse_arp(rte_mbuf* m, ParsedPacket* p, DropReason* reason);

// IPv4 header: version, ihl, total length, header checksum; trims Ethernet padding.
// Fragments are NOT rejected here (the caller decides after the ownership check).
bool parse_ipv4(rte_mbuf* m, ParsedPacket* p, DropReason* reason);

inline bool ipv4_is_fragment(const rte_ipv4_hdr* ip) {
  // MF set or a non-zero offset; DF is fine.
  return (ip->fragment_offset & rte_cpu_to_be_16(RTE_IPV4_HDR_MF_FLAG | RTE_IPV4_HDR_OFFSET_MASK)) != 0;
}

// Bounds of the IPv6 extension-header walk: no legitimate packet to a load balancer comes
// near them, and they keep a crafted chain from costing more than a few cache lines.
constexpr unsigned kIpv6MaxExtHeaders = 8;
constexpr unsigned kIpv6MaxExtBytes = 512;

// IPv6 (RFC 8200): version, payload length against the frame (trims Ethernet padding),
// addresses (a forged packet never aliases an IPv4 flow: IPv4-mapped source or destination
// drops), then the extension headers: hop-by-hop (first only), destination options (their
// options honoured), routing (segments left 0 only), fragment (ip6_fragment_at; a non-first
// fragment stops the walk, it has no L4 header). Sets ip6, ip_header_len (40 + extension
// bytes), ip_total_len, l4_protocol. An unspecified source (::) passes only when the next
// header is ICMPv6 directly (duplicate address detection); the ICMPv6 stage decides.
bool parse_ipv6(rte_mbuf* m, ParsedPacket* p, DropReason* reason);

inline bool ipv6_is_fragment(const ParsedPacket& p) { return p.ip6_fragment_at != 0; }
// A fragment with a non-zero offset: no L4 header in it.
bool ipv6_is_later_fragment(const ParsedPacket& p);
// Offset 0 and M clear (RFC 6946): a whole packet that merely carries a Fragment header.
bool ipv6_is_atomic_fragment(const ParsedPacket& p);
// RFC 7112: a first fragment (offset 0, M set) must hold the whole header chain through the
// TCP/UDP/ICMPv6 header (parse_ipv6 already refused one that ends inside the extension
// headers, FRAG_HEADER_CHAIN_INCOMPLETE). True for any other packet.
bool ipv6_first_fragment_holds_l4(const ParsedPacket& p);

// TCP/UDP/ICMP (IPv4) or TCP/UDP/ICMPv6 (IPv6) header within the IP payload; other
// protocols → UNSUPPORTED_L4. For IPv6 call it only when the packet is not a later fragment.
bool parse_l4(ParsedPacket* p, DropReason* reason);

}  // namespace pc
