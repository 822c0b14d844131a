// Egress fragmentation: a translated datagram bigger than the egress port's MTU
// (one rebuilt from fragments, typically) leaves as fragments again instead of
// being refused by the port. Datagrams with DF set never get here bigger than the
// MTU: the translated methods refuse them first with an ICMP frag-needed
// (output/egress_mtu.h). Pieces come from the worker's pool; when it runs dry the
// datagram is dropped as frag_out_failed. IP options ride in the first fragment only.
#pragma once
#include <cstdint>
#include <rte_mbuf.h>
#include "common/tx_queues.h"
#include "pipeline/l2l3/packet.h"

namespace pc {

struct Worker;
struct Snapshot;
struct NextHop;

// Replaces neigh_output() for FullNAT output: m (Ethernet + IPv4, p parsed) goes to
// hop whole, or in fragments when it exceeds the port's MTU. IPv6 goes whole (the MTU
// was checked with egress_mtu_fits: IPv6 is never fragmented on the way), except a datagram
// the gateway rebuilt from fragments (p.reassembled_from): it leaves in fragments no bigger
// than the biggest it arrived in, with a fresh identification (the gateway is the translated
// packet's source), so every hop after the gateway sees the sizes its sender chose.
void ip_output(Worker* w, const Snapshot& s, rte_mbuf* m, const ParsedPacket& p, const NextHop& hop, uint64_t now_us,
                 TxQueues& tx);

}  // namespace pc
