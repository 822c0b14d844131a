// TUN (ipvsadm -i): the client's packet is wrapped in an outer header of its own family
// from our address on the egress port to the RIP; the server decapsulates and answers
// directly.
// - IPv4: IPIP (RFC 2003), outer IPv4 header, protocol 4, TTL 64, TOS and DF copied.
// - IPv6: IPv6-in-IPv6 (RFC 2473), outer IPv6 header, next header 41, hop limit 64, traffic
//   class and flow label copied (the client's per-flow label keeps a flow on one inside
//   path), no tunnel encapsulation limit option (RFC 2473 §5.1 makes it optional; Linux's
//   ip6tnl decapsulates without it).
// A packet that no longer fits the egress MTU with the outer header is dropped
// (TUNNEL_FRAG_NEEDED): we never fragment. Its sender hears about it first:
// - IPv4 with DF: ICMP fragmentation-needed, next-hop MTU = egress MTU - 20. Without DF the
//   packet is dropped all the same (see docs/forwarding-modes.md).
// - IPv6: ICMPv6 Packet Too Big with MTU = egress MTU - 40, but never below 1280 (RFC 2473
//   §7.1: the tunnel MTU is at least the IPv6 minimum). Where the egress MTU is below 1320
//   the RFC has the entry point fragment the outer packet for inner packets up to 1280
//   bytes; we do not, so those are dropped without an error (no smaller MTU could be
//   announced) and the inside link must carry 1320 bytes for such packets to pass.
// No error answers an ICMP error (RFC 1122 §3.2.2, RFC 4443 §2.4(e)): an error too big for
// the tunnel is only dropped.
//
// DR and TUN connections are one-way (client tuple only, kConnOneWay) and follow
// IPVS's INPUT-ONLY state table; the server port equals the service port (no rewrite).
#pragma once
#include <cstdint>
#include <rte_mbuf.h>
#include "common/tx_queues.h"
#include "pipeline/conn/conn.h"
#include "pipeline/l2l3/packet.h"
#include "pipeline/snapshot.h"

namespace pc {

struct Worker;

// A client packet of TUN connection c, wrapped for the server (or refused, see above).
// known_hop = the route when the connection stage already has it (a connection made by
// this packet), else null: the method routes.
void forward_tun(Worker* w, const Snapshot& s, rte_mbuf* m, const ParsedPacket& p, const Conn& c,
                 const NextHop* known_hop, uint64_t now_us, TxQueues& tx);

// An ICMP or ICMPv6 error about a TUN connection: to the server, wrapped like the client's
// packets (see forward_dr_icmp_error). Event ICMP_ERRORS_TO_SERVER.
void forward_tun_icmp_error(Worker* w, const Snapshot& s, rte_mbuf* m, const ParsedPacket& p, const Conn& c,
                            uint64_t now_us, TxQueues& tx);

}  // namespace pc
