// TUN (ipvsadm -i, IPIP, RFC 2003): the packet is wrapped in an outer IPv4 header
// (protocol 4) from our address on the egress port to the RIP; the server decapsulates
// and answers directly. A packet that no longer fits the egress MTU is dropped
// (TUNNEL_FRAG_NEEDED); when its DF bit is set the client gets an ICMP
// fragmentation-needed with next-hop MTU = egress MTU - 20 (PMTU discovery). Without DF
// it is dropped too: we do not fragment (see docs/forwarding-modes.md).
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

// An ICMP error about a TUN connection: to the server, wrapped like the client's packets
// (see forward_dr_icmp_error). Event ICMP_ERRORS_TO_SERVER.
void forward_tun_icmp_error(Worker* w, const Snapshot& s, rte_mbuf* m, const ParsedPacket& p, const Conn& c,
                            uint64_t now_us, TxQueues& tx);

}  // namespace pc
