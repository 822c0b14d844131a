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
bool icmp_relay_error(Worker* w, const Snapshot& s, rte_mbuf* m, ParsedPacket& p, uint64_t now_us, TxQueues& tx);

}  // namespace pc
