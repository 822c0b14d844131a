// Neighbour discovery (RFC 4861), IPv6's half of neighbour resolution: the solicitation
// the neighbour table (neigh.h) sends, and the NS/NA input.
//
// - Receive (neigh6_input, after the ICMPv6 checksum verified): every message is
//   validated as RFC 4861 7.1 says (hop limit 255, code 0, length, options of non-zero
//   length, target neither multicast nor IPv4-mapped: the table keys IPv4 neighbours by
//   their mapped address, which no IPv6 node has), else ND_INVALID.
//   NS for an address owned on the port (to the address itself or to its solicited-node
//   group ff02::1:ffXX:XXXX) → NA in place (solicited, override, target link-layer
//   option); its source link-layer option is learned when the source is on-link. NS from
//   :: (duplicate address detection) → neither answered nor learned (ND_DAD_PROBES_IGNORED;
//   configured addresses need no DAD). NA → its target link-layer address learned when we
//   asked for it or it is on-link (ND_ADVERTISEMENTS_LEARNED), else ND_NOT_FOR_US.
//   Router solicitations/advertisements and redirects → ND_ROUTER_MESSAGES_IGNORED.
// - Send: an NS to the next hop's solicited-node group (MAC 33:33:ff + its low 24 bits,
//   hop limit 255) with our source link-layer option; the table decides when.
#pragma once
#include <cstdint>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include "common/counters.h"
#include "common/ip_address.h"
#include "common/tx_queues.h"
#include "pipeline/l2l3/packet.h"
#include "pipeline/output/neigh.h"
#include "pipeline/snapshot.h"

namespace pc {

constexpr uint8_t kNdHopLimit = 255;  // RFC 4861: every ND message is sent with, and must arrive with, 255

// ICMPv6 types (RFC 4443, RFC 4861).
constexpr uint8_t kIcmp6EchoRequest = 128;
constexpr uint8_t kIcmp6EchoReply = 129;
constexpr uint8_t kNdRouterSolicitation = 133;
constexpr uint8_t kNdRouterAdvertisement = 134;
constexpr uint8_t kNdNeighborSolicitation = 135;
constexpr uint8_t kNdNeighborAdvertisement = 136;
constexpr uint8_t kNdRedirect = 137;

inline bool icmp6_is_nd(uint8_t type) { return type >= kNdRouterSolicitation && type <= kNdRedirect; }

// ff02::1:ffXX:XXXX for addr (RFC 4291 2.7.1) and its Ethernet group 33:33:ff:XX:XX:XX (RFC 2464 7).
IpAddr nd_solicited_node(const IpAddr& addr);
void nd_multicast_mac(const IpAddr& group, uint8_t mac[6]);

constexpr uint16_t kNdMessageBytes = 24;         // NS/NA: type, code, checksum, 4 flag/reserved bytes, target
constexpr uint16_t kNdLinkLayerOptionBytes = 8;  // type, length (1 = 8 bytes), MAC
// An NS or NA with one link-layer option, as we send them: Ethernet + IPv6 (no extension headers) + ICMPv6.
constexpr uint16_t kNdFrameBytes = sizeof(rte_ether_hdr) + sizeof(rte_ipv6_hdr) + kNdMessageBytes + kNdLinkLayerOptionBytes;

// Writes an NS for target from source/our_mac to target's solicited-node group at frame (kNdFrameBytes).
void nd_write_solicitation(uint8_t* frame, const uint8_t* our_mac, const IpAddr& source, const IpAddr& target);

// An ND message (ICMPv6 type 133..137, checksum verified) received on in_port: answer,
// learn, ignore or drop; m is always consumed.
void neigh6_input(NeighTable* t, const Snapshot& s, uint16_t in_port, rte_mbuf* m, const ParsedPacket& p,
                  uint64_t now_us, TxQueues& tx);

}  // namespace pc
