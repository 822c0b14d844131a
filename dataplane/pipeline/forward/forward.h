// The forwarding methods, one file each, chosen per real server (ipvsadm -m / -g / -i,
// RealServerConfig::forward; FullNAT when absent). The connection stage
// (conn_stage.h) has found or made the connection and advanced its state; a method
// only rewrites the packet and sends it (route, then output/).
//
// - FullNAT (fullnat.cpp): both addresses and ports rewritten (CIP:cport -> VIP:vport
//   becomes LIP:lport -> RIP:rport and back); the client's address reaches the server
//   in TOA (carriage/toa.h) or a PROXY header (synproxy/, which shifts the sequence
//   space); out in fragments when over the egress MTU (output/fragment.h).
// - NAT (nat.cpp, -m, masquerading): the connection's "local" side is the client itself
//   (local_addr:local_port = CIP:cport), so its reply tuple is RIP:rport -> CIP:cport
//   and fullnat_rewrite() becomes exactly NAT's rewrite: inbound dst -> RIP:rport (the
//   source is rewritten to itself), replies src -> VIP:vport. The servers route their
//   replies through us; those are addressed to the client, so the worker looks them up
//   before dropping NOT_FOR_US (Snapshot::has_nat_servers).
// - DR (dr.cpp, -g, direct routing): the frame goes unchanged (IP header, TTL, ports) to
//   the server's MAC on the same segment; neigh resolves the RIP. The server holds the
//   VIP on a non-ARPing interface and answers the client directly.
// - TUN (tun.cpp, -i, IPIP): the packet is wrapped in an outer IPv4 header (protocol 4)
//   from our address on the egress port to the RIP; the server decapsulates and answers
//   directly. A packet that no longer fits the egress MTU is dropped
//   (TUNNEL_FRAG_NEEDED); when its DF bit is set the client gets an ICMP
//   fragmentation-needed with next-hop MTU = egress MTU - 20 (PMTU discovery).
//   Without DF it is dropped too: we do not fragment (see docs/forwarding-modes.md).
//
// DR and TUN connections are one-way (client tuple only, kConnOneWay) and follow
// IPVS's INPUT-ONLY state table; the server port equals the service port (no rewrite).
//
// Every method takes known_hop = the route to the destination when the connection stage
// already has it (a connection made by this packet), else null: the method routes.
#pragma once
#include <cstdint>
#include <rte_mbuf.h>
#include "core/tx_queues.h"
#include "pipeline/conn/conn.h"
#include "pipeline/l2l3/packet.h"
#include "pipeline/snapshot.h"

namespace pc {

struct Worker;

// FullNAT: rewrite to the other side of c (fullnat_rewrite), client TOA options removed
// inbound, TOA added when c carries it, counted, out (fragmented when over the MTU).
void forward_fullnat(Worker* w, const Snapshot& s, rte_mbuf* m, ParsedPacket& p, Conn& c, Direction direction,
                     const NextHop* known_hop, uint64_t now_us, TxQueues& tx);

// NAT: the same rewrite with the client as the local side; no TOA of ours (the server sees
// the client's address), client TOA options still removed.
void forward_nat(Worker* w, const Snapshot& s, rte_mbuf* m, ParsedPacket& p, const Conn& c, Direction direction,
                 const NextHop* known_hop, uint64_t now_us, TxQueues& tx);

// DR: a client packet to the server's MAC, IP header untouched.
void forward_dr(Worker* w, const Snapshot& s, rte_mbuf* m, const ParsedPacket& p, const Conn& c,
                const NextHop* known_hop, uint64_t now_us, TxQueues& tx);

// TUN: a client packet wrapped for the server (or refused: too big, see above).
void forward_tun(Worker* w, const Snapshot& s, rte_mbuf* m, const ParsedPacket& p, const Conn& c,
                 const NextHop* known_hop, uint64_t now_us, TxQueues& tx);

// Rewrites p for conn c in the given direction: INPUT → LIP:lport ⇒ RIP:rport,
// OUTPUT → VIP:vport ⇒ CIP:cport; decrements TTL; updates the IPv4 header and
// TCP/UDP checksums incrementally (RFC 1624); a UDP checksum of 0 stays 0.
// The caller has checked TTL > 1. FullNAT's and NAT's rewrite (fullnat.cpp).
void fullnat_rewrite(ParsedPacket& p, const Conn& c, Direction direction);

// An ICMP error about a DR/TUN connection (p quotes the server's direct reply to the client):
// the server must hear it (PMTU of its reply path), so it goes to the server as the client's
// packets do, unchanged (DR) or wrapped (TUN), as IPVS does. Event ICMP_ERRORS_TO_SERVER.
void forward_dr_icmp_error(Worker* w, const Snapshot& s, rte_mbuf* m, const Conn& c, uint64_t now_us, TxQueues& tx);
void forward_tun_icmp_error(Worker* w, const Snapshot& s, rte_mbuf* m, const ParsedPacket& p, const Conn& c,
                            uint64_t now_us, TxQueues& tx);

}  // namespace pc
