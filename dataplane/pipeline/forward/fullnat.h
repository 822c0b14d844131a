// The FullNAT stage: TCP/UDP to an owned address. Finds the connection (or makes
// one for a new flow: schedule, LIP + lport, insert), advances its state,
// rewrites addresses/ports with incremental checksums, and hands the packet to
// routing + neighbour resolution.
#pragma once
#include <cstdint>
#include <rte_mbuf.h>
#include "core/tx_queues.h"
#include "pipeline/conn/conn.h"
#include "pipeline/l2l3/packet.h"
#include "pipeline/snapshot.h"

namespace pc {

struct Worker;

// Stage entry, split in two so the worker can look a whole burst up at once:
// fullnat_classify() drops what cannot be translated (TTL) and fills the hash key;
// fullnat_input() finishes the packet given the lookup result (hit = *found).
// On a bulk miss it looks again: a flow may have been created earlier in the burst.
bool fullnat_classify(Worker* w, rte_mbuf* m, const ParsedPacket& p, FlowKey* key);

struct ConnHit {
  bool found = false;
  uint32_t index = 0;
  Direction direction = Direction::INPUT;
  // A miss may be stale when a connection was made since the lookup (earlier in the same
  // burst): then fullnat_input looks again. False when the caller knows none was.
  bool recheck_miss = true;
};

void fullnat_input(Worker* w, const Snapshot& s, rte_mbuf* m, ParsedPacket& p, uint8_t owned_kinds,
                   const FlowKey& key, const ConnHit& hit, uint64_t now_us, TxQueues& tx);

// Rewrites p for conn c in the given direction: INPUT → LIP:lport ⇒ RIP:rport,
// OUTPUT → VIP:vport ⇒ CIP:cport; decrements TTL; updates the IPv4 header and
// TCP/UDP checksums incrementally (RFC 1624); a UDP checksum of 0 stays 0.
// The caller has checked TTL > 1.
void fullnat_rewrite(ParsedPacket& p, const Conn& c, Direction direction);

// A new connection for p to svc (scheduled server, LIP + lport, both hash entries), state
// NONE; *hop = the route to the server. kNoConn with *reason when it cannot be made.
uint32_t fullnat_new_connection(Worker* w, const Snapshot& s, const ServiceEntry& svc, const ParsedPacket& p,
                                uint64_t now_us, NextHop* hop, DropReason* reason);
// Moves c to state with the active/inactive gauges kept right.
void fullnat_set_state(Worker* w, Conn& c, uint8_t state);

// Expiry bookkeeping (counters, lport); the conn table frees the record after.
void fullnat_on_expire(void* worker, const Conn& c);

}  // namespace pc
