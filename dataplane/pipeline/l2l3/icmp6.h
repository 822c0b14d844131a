// ICMPv6 addressed to an owned IPv6 address (RFC 4443): checksum verification (it covers
// the IPv6 pseudo-header, unlike ICMPv4's) and echo replies built in place. Neighbour
// discovery messages are output/nd.h's; the dispatcher (worker.cpp) routes between them
// and sends the reply (neigh_output to an on-link requester, else back to its MAC).
#pragma once
#include <cstdint>
#include <rte_mbuf.h>
#include "pipeline/l2l3/packet.h"

namespace pc {

// The message's checksum, pseudo-header included, verifies (p.icmp set by parse_l4 over IPv6).
bool icmp6_checksum_ok(const ParsedPacket& p);

inline bool icmp6_is_echo_request(const ParsedPacket& p) { return p.icmp->icmp_type == 128 && p.icmp->icmp_code == 0; }

// Turns an echo request into its reply in the same buffer: addresses swapped, hop limit 64,
// extension headers removed (the reply is IPv6 + ICMPv6), type 129, checksum recomputed;
// Ethernet source = port_mac, destination = the requester's MAC. p is stale afterwards.
void icmp6_echo_reply_in_place(rte_mbuf* m, const ParsedPacket& p, const uint8_t* port_mac);

}  // namespace pc
