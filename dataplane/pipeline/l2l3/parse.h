// Stage 1: validate a received frame layer by layer. Each function returns true
// and fills ParsedPacket, or returns false with *reason set (the caller frees
// the packet and counts the reason). Nothing reads past rte_pktmbuf_data_len.
#pragma once
#include <cstdint>
#include <rte_mbuf.h>
#include "common/drop_reasons.h"
#include "pipeline/l2l3/packet.h"

namespace pc {

enum class L2Kind : uint8_t { ARP, IPV4 };

// Ethernet: runt/multi-segment frames, MAC not ours nor broadcast, ethertypes we do not handle.
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

// TCP/UDP/ICMP header within the IP payload; other protocols → UNSUPPORTED_L4.
bool parse_l4(ParsedPacket* p, DropReason* reason);

}  // namespace pc
