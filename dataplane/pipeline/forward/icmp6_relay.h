// ICMPv6 error relay (RFC 4443 §3): destination unreachable, Packet Too Big, time
// exceeded and parameter problem that quote a packet of a tracked IPv6 connection are
// translated through it and sent to the other side, as icmp_relay.h does for IPv4, so
// PMTU discovery and fast failure work through FullNAT v6. IPv6 routers never fragment:
// without the Packet Too Big relay a path narrower than the ports is a black hole.
//
// From the inside (to a LIP, quoting LIP:lport→RIP:rport): relayed to the client as
// VIP → CIP quoting CIP:cport→VIP:vport. From the outside (to the VIP, quoting
// VIP:vport→CIP:cport): relayed to the server as LIP → RIP quoting RIP:rport→LIP:lport.
// The quoted IPv6 header's addresses and ports are rewritten, the quoted TCP/UDP
// checksum too when the quote reaches it; the ICMPv6 checksum is recomputed over the new
// pseudo-header (after the received one was verified); hop limit 64 (the relayed error is
// ours: its source is the VIP or the LIP, as for IPv4).
// Packet Too Big to the client of a TOA connection announces the MTU minus the option
// (20 bytes for an IPv6 client: the gateway grows that client's segments by it), never
// below 1280, the IPv6 minimum every link carries (RFC 8200 §5). An MTU the router
// announced below 1280 is passed on untouched (the client's stack ignores it, RFC 8201).
#pragma once
#include <cstdint>
#include <rte_mbuf.h>
#include "common/tx_queues.h"
#include "pipeline/l2l3/packet.h"
#include "pipeline/snapshot.h"

namespace pc {

struct Worker;

// ICMPv6 error types (RFC 4443): 1..4; informational messages are 128 and up.
inline bool icmp6_is_error(uint8_t type) { return type >= 1 && type <= 4; }

// p: an ICMPv6 message with a verified checksum, not to a multicast group. Returns false
// when it is not an error about TCP/UDP (informational, or a quote of another protocol or
// of a later fragment): the caller handles it. True = consumed: relayed
// (ICMP_ERRORS_TO_CLIENT / _TO_SERVER) or dropped with one reason (MALFORMED_L4 for a
// quote too short to hold the IPv6 header, its extension headers and 8 bytes of L4;
// NO_CONN when no tracked connection matches or the error is not addressed to the quoted
// packet's sender; NO_ROUTE; ICMP_UNSUPPORTED for a connection whose other side is not
// IPv6 (NAT64 translates those)). An error about a DR or TUN connection quotes the
// server's direct reply: it goes to that server, unchanged (DR) or in the IPv6-in-IPv6
// tunnel (TUN), as IPv4's does (dr.h, tun.h).
bool icmp6_relay_error(Worker* w, const Snapshot& s, rte_mbuf* m, ParsedPacket& p, uint64_t now_us, TxQueues& tx);

}  // namespace pc
