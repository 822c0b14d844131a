// NAT64 as DPVS does it: an IPv6 VIP whose real servers are IPv4, reached through IPv4
// LIPs (FullNAT only; snapshot.cpp refuses any other mix). A client's CIP6:cport →
// VIP6:vport leaves as LIP4:lport → RIP4:rport in an IPv4 header, and the server's
// RIP4 → LIP4:lport comes back as VIP6 → CIP6. The ports are FullNAT's
// (fullnat_rewrite_ports), then the L3 header is translated (l2l3/translate.h, RFC 7915:
// TTL = hop limit - 1 and DF set going in; hop limit = TTL - 1 coming out, a UDP checksum
// of 0 computed, since IPv6 requires one).
//
// Sizes: the header grows 20 bytes towards the client and shrinks towards the server.
// - The server's SYN-ACK MSS (which it derived from its IPv4 MTU) is lowered by those 20
//   bytes so the client's segments still fit its path as IPv6 (event NAT64_MSS_LOWERED).
//   The client's SYN MSS stays: it was sized for IPv6, which is what the server's IPv4
//   segments become again on the way back. Both are clamped to the ports' MTUs as well
//   (egress_mtu.h), each in its own family's terms.
// - A server packet that would not fit the egress MTU once IPv6 is refused with an
//   ICMPv4 fragmentation-needed to the server saying MTU - 20 (DF set or not: IPv6 is
//   never fragmented on the way, and we do not emit IPv6 fragments), dropped
//   EGRESS_MTU_EXCEEDED. A client packet that would not fit once IPv4 (only when the
//   inside MTU is the smaller by more than 20) gets a Packet Too Big saying MTU + 20.
// - IPv4 fragments from the server meet the fragment policy before the connection
//   stage, like any IPv4 fragment; so do the client's IPv6 fragments, and a datagram
//   rebuilt from them leaves as IPv4 without DF, fragmented to the MTU (ip_output).
// TOA: called after the translation, like FullNAT's: the option carries the IPv6 client.
// ICMP errors through a NAT64 connection: forward/icmp_relay.h.
#pragma once
#include <cstdint>
#include <rte_mbuf.h>
#include "common/tx_queues.h"
#include "pipeline/conn/conn.h"
#include "pipeline/l2l3/packet.h"
#include "pipeline/snapshot.h"

namespace pc {

struct Worker;

// The packet of NAT64 connection c (kConnNat64): ports rewritten, header translated to
// the other family, TOA when c carries it, counted, sent. known_hop as forward_fullnat's.
void forward_nat64(Worker* w, const Snapshot& s, rte_mbuf* m, ParsedPacket& p, Conn& c, Direction direction,
                   const NextHop* known_hop, uint64_t now_us, TxQueues& tx);

}  // namespace pc
