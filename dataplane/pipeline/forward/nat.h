// NAT (ipvsadm -m, masquerading): the connection's "local" side is the client itself
// (local_addr:local_port = CIP:cport, conn/conn_create.cpp), so its reply tuple is
// RIP:rport -> CIP:cport and fullnat_rewrite() becomes exactly NAT's rewrite: inbound
// dst -> RIP:rport (the source is rewritten to itself), replies src -> VIP:vport. The
// servers route their replies through us; those are addressed to the client, so the
// worker looks them up before dropping NOT_FOR_US (Snapshot::has_nat_servers).
#pragma once
#include <cstdint>
#include <rte_mbuf.h>
#include "common/tx_queues.h"
#include "pipeline/conn/conn.h"
#include "pipeline/l2l3/packet.h"
#include "pipeline/snapshot.h"

namespace pc {

struct Worker;

// The packet of NAT connection c: rewritten, client TOA options removed inbound (no TOA
// of ours: the server sees the client's address), counted, sent.
// known_hop = the route when the connection stage already has it (a connection made by
// this packet), else null: the method routes.
void forward_nat(Worker* w, const Snapshot& s, rte_mbuf* m, ParsedPacket& p, const Conn& c, Direction direction,
                 const NextHop* known_hop, uint64_t now_us, TxQueues& tx);

}  // namespace pc
