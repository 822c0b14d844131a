// The LVS forwarding methods other than FullNAT, chosen per real server
// (ipvsadm -m / -g / -i; RealServerConfig::forward):
//
// - NAT (-m, masquerading): the connection's "local" side is the client itself
//   (local_addr:local_port = CIP:cport), so its reply tuple is RIP:rport -> CIP:cport
//   and fullnat_rewrite() becomes exactly NAT's rewrite: inbound dst -> RIP:rport (the
//   source is rewritten to itself), replies src -> VIP:vport. The servers route their
//   replies through us; those are addressed to the client, so the worker looks them up
//   before dropping NOT_FOR_US (Snapshot::has_nat_servers).
// - DR (-g, direct routing): the frame goes unchanged (IP header, TTL, ports) to the
//   server's MAC on the same segment; neigh resolves the RIP. The server holds the VIP
//   on a non-ARPing interface and answers the client directly.
// - TUN (-i, IPIP): the packet is wrapped in an outer IPv4 header (protocol 4) from
//   our address on the egress port to the RIP; the server decapsulates and answers
//   directly. A packet that no longer fits the egress MTU is dropped
//   (TUNNEL_FRAG_NEEDED); when its DF bit is set the client gets an ICMP
//   fragmentation-needed with next-hop MTU = egress MTU - 20 (PMTU discovery).
//   Without DF it is dropped too: we do not fragment (see docs/forwarding-modes.md).
//
// DR and TUN connections are one-way (client tuple only, kConnOneWay) and follow
// IPVS's INPUT-ONLY state table; the server port equals the service port (no rewrite).
#pragma once
#include <cstdint>
#include <rte_mbuf.h>
#include "core/tx_queues.h"
#include "pipeline/conn/conn.h"
#include "pipeline/l2l3/packet.h"
#include "pipeline/conn/server_choice.h"
#include "pipeline/snapshot.h"

namespace pc {

struct Worker;

// The new-connection step for a server that is not FullNAT: no LIP or lport, route to
// the server (DR: must be on-link), record + hash entries (one for DR/TUN), counters.
// Returns the record index, or kNoConn with *reason.
uint32_t forward_new_connection(Worker* w, const Snapshot& s, const ServiceEntry& svc, const ServerEntry& server,
                                const ServerChoice& choice, const ParsedPacket& p, uint64_t now_us, NextHop* hop,
                                DropReason* reason);

// A client packet of a DR or TUN connection: state (INPUT-ONLY table), expiry,
// counters, then out to the server. known_hop is the route when the caller has it.
void forward_one_way(Worker* w, const Snapshot& s, rte_mbuf* m, ParsedPacket& p, Conn& c, const NextHop* known_hop,
                     uint64_t now_us, TxQueues& tx);

// An ICMP error about a DR/TUN connection (p quotes the server's direct reply to the client):
// the server must hear it (PMTU of its reply path), so it goes to the server as the client's
// packets do, unchanged (DR) or wrapped (TUN), as IPVS does. Event ICMP_ERRORS_TO_SERVER.
void forward_icmp_one_way(Worker* w, const Snapshot& s, rte_mbuf* m, const ParsedPacket& p, const Conn& c,
                          uint64_t now_us, TxQueues& tx);

// TUN: true when p plus the 20-byte outer header fits the MTU of hop's port. Otherwise
// the packet is dropped (TUNNEL_FRAG_NEEDED), after an ICMP fragmentation-needed to the
// client when its DF bit is set.
bool tunnel_fits(Worker* w, const Snapshot& s, rte_mbuf* m, const ParsedPacket& p, const NextHop& hop,
                 uint64_t now_us, TxQueues& tx);

// TUN: wraps p's IPv4 packet in an outer header to server_addr and sends it along hop.
void tunnel_output(Worker* w, const Snapshot& s, rte_mbuf* m, const ParsedPacket& p, uint32_t server_addr,
                   const NextHop& hop, uint64_t now_us, TxQueues& tx);

}  // namespace pc
