// FullNAT, the default forwarding method (RealServerConfig::forward absent): both
// addresses and ports rewritten, CIP:cport -> VIP:vport becomes LIP:lport -> RIP:rport
// and back. The client's address reaches the server in TOA (carriage/toa.h) or a PROXY
// header (synproxy/ shifts the sequence space for it). Out in fragments when over the
// egress MTU (output/fragment.h).
//
// The forwarding methods are one file each (fullnat, nat, dr, tun), chosen per real
// server (ipvsadm -m / -g / -i). The connection stage (conn_stage.h) has found or made
// the connection and advanced its state; a method only rewrites the packet and sends it.
#pragma once
#include <cstdint>
#include <rte_mbuf.h>
#include "common/tx_queues.h"
#include "pipeline/conn/conn.h"
#include "pipeline/l2l3/packet.h"
#include "pipeline/snapshot.h"

namespace pc {

struct Worker;

// The packet of connection c: rewritten to the other side (fullnat_rewrite), client TOA
// options removed inbound, TOA added when c carries it, counted, sent.
// known_hop = the route when the connection stage already has it (a connection made by
// this packet), else null: the method routes.
void forward_fullnat(Worker* w, const Snapshot& s, rte_mbuf* m, ParsedPacket& p, Conn& c, Direction direction,
                     const NextHop* known_hop, uint64_t now_us, TxQueues& tx);

// Rewrites p for conn c in the given direction: INPUT → LIP:lport ⇒ RIP:rport,
// OUTPUT → VIP:vport ⇒ CIP:cport; decrements TTL; updates the IPv4 header and
// TCP/UDP checksums incrementally (RFC 1624); a UDP checksum of 0 stays 0.
// The caller has checked TTL > 1. NAT's rewrite too (nat.h).
void fullnat_rewrite(ParsedPacket& p, const Conn& c, Direction direction);

// The ports half of fullnat_rewrite (TCP/UDP checksum kept right for them, a UDP checksum
// of 0 left 0), for NAT64, whose addresses change with the header (l2l3/translate.h).
void fullnat_rewrite_ports(ParsedPacket& p, const Conn& c, Direction direction);

}  // namespace pc
