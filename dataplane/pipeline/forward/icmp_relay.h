// ICMP error relay: an error (destination unreachable incl. fragmentation needed,
// time exceeded, parameter problem) that quotes a packet of a tracked connection is
// translated through the connection and sent to the other side, so PMTU discovery
// and fast failure work through FullNAT.
//
// From the inside (to a LIP, quoting LIP:lport→RIP:rport): relayed to the client as
// VIP → CIP quoting CIP:cport→VIP:vport, i.e. exactly the client's own packet. The
// outer source is the VIP, not the router that wrote the error: inside addresses
// are not the client's business (nor routable for it), and the client's stack
// matches errors by the quoted tuple only, so the VIP works for PMTUD and for any
// stateful firewall in front of the client that expects "related" traffic from the VIP.
// From the outside (to the VIP, quoting VIP:vport→CIP:cport): relayed to the server
// as LIP → RIP quoting RIP:rport→LIP:lport.
// A fragmentation-needed MTU relayed to a client of a TOA connection is lowered by
// the TOA length (the gateway grows that client's segments).
#pragma once
#include <cstdint>
#include <rte_mbuf.h>
#include "common/tx_queues.h"
#include "pipeline/l2l3/packet.h"
#include "pipeline/snapshot.h"

namespace pc {

struct Worker;

// Returns false when p is not an ICMP error about TCP/UDP (echo, other types, or a
// quote of another protocol): the caller handles it. True = consumed: relayed
// (ICMP_ERRORS_TO_CLIENT / _TO_SERVER) or dropped with one reason (MALFORMED_L4 for a
// truncated quote, NO_CONN when no tracked connection matches, NO_ROUTE).
// An ICMPv4 error about a NAT64 connection's LIP4→RIP4 packet is handed on to the
// client as ICMPv6 (relay_nat64_error_to_client, below).
bool icmp_relay_error(Worker* w, const Snapshot& s, rte_mbuf* m, ParsedPacket& p, uint64_t now_us, TxQueues& tx);

// NAT64 (forward/nat64.h), the families crossed with l2l3/translate_icmp.h (RFC 7915):
// - from the server side, an ICMPv4 error quoting our LIP4:lport→RIP4:rport packet reaches
//   the client as the ICMPv6 error it would have seen, from the VIP, quoting its own
//   CIP6:cport→VIP6:vport packet; fragmentation needed becomes Packet Too Big with MTU + 20
//   (less 20 more on a TOA connection: the option grows the client's segments);
// - from the client side (this function), an ICMPv6 error to the VIP quoting our
//   VIP6:vport→CIP6:cport packet reaches the server as ICMPv4 from the LIP, quoting its
//   RIP4:rport→LIP4:lport packet; Packet Too Big becomes fragmentation needed with MTU - 20.
// An error with no counterpart in the other family drops NAT64_ICMP_UNTRANSLATABLE.
// Returns false when p (ICMPv6, checksum verified) is not an error about a NAT64
// connection (informational, a quote that is not TCP/UDP right after the IPv6 header, no
// such connection): the caller handles it. True = consumed: relayed
// (ICMP_ERRORS_TO_SERVER) or dropped with one reason (NAT64_ICMP_UNTRANSLATABLE,
// MALFORMED_L4, NO_CONN for a quote of a packet that was not sent by the error's
// addressee, NO_ROUTE, MBUF_ALLOC_FAILED).
bool icmp_relay_nat64_error6(Worker* w, const Snapshot& s, rte_mbuf* m, ParsedPacket& p, uint64_t now_us, TxQueues& tx);

}  // namespace pc
