// DR (ipvsadm -g, direct routing): the frame goes unchanged (IP header, TTL, ports) to
// the server's MAC on the same segment; neigh resolves the RIP. The server holds the
// VIP on a non-ARPing interface and answers the client directly.
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

// A client packet of DR connection c, to the server's MAC.
// known_hop = the route when the connection stage already has it (a connection made by
// this packet), else null: the method routes.
void forward_dr(Worker* w, const Snapshot& s, rte_mbuf* m, const ParsedPacket& p, const Conn& c,
                const NextHop* known_hop, uint64_t now_us, TxQueues& tx);

// An ICMP error about a DR connection (it quotes the server's direct reply to the client):
// the server must hear it (PMTU of its reply path), so it goes there unchanged, as IPVS
// does. Event ICMP_ERRORS_TO_SERVER.
void forward_dr_icmp_error(Worker* w, const Snapshot& s, rte_mbuf* m, const Conn& c, uint64_t now_us, TxQueues& tx);

}  // namespace pc
