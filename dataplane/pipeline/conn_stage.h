// The connection stage: every TCP/UDP packet to an owned address (or a NAT server's
// reply to a client) after parse and the defences. It finds the packet's connection,
// or makes one for a new flow (service, SYNPROXY handoff, admission limits, scheduler,
// LIP + lport: conn/conn_create.h), advances the connection's state and expiry, and
// hands the packet to the connection's forwarding method (forward/), which rewrites
// and sends it. SYNPROXY (synproxy/) answers SYNs for its services and owns a
// connection's packets until the backend handshake is done.
#pragma once
#include <cstdint>
#include <rte_mbuf.h>
#include "common/tx_queues.h"
#include "pipeline/conn/conn.h"
#include "pipeline/l2l3/packet.h"
#include "pipeline/snapshot.h"

namespace pc {

struct Worker;

// Stage entry, split in two so the worker can look a whole burst up at once:
// conn_stage_classify() drops what cannot be forwarded (TTL) and fills the hash key;
// conn_stage_input() finishes the packet given the lookup result (hit = *found).
// On a bulk miss it looks again: a flow may have been created earlier in the burst.
bool conn_stage_classify(Worker* w, rte_mbuf* m, const ParsedPacket& p, FlowKey* key);

struct ConnHit {
  bool found = false;
  uint32_t index = 0;
  Direction direction = Direction::INPUT;
  // A miss may be stale when a connection was made since the lookup (earlier in the same
  // burst): then conn_stage_input looks again. False when the caller knows none was.
  bool recheck_miss = true;
};

void conn_stage_input(Worker* w, const Snapshot& s, rte_mbuf* m, ParsedPacket& p, uint8_t owned_kinds,
                      const FlowKey& key, const ConnHit& hit, uint64_t now_us, TxQueues& tx);

// Timer callback of the connection table: what every owner of a connection's resources
// gives back (SYNPROXY hold, gauges, lport, LIP counters, persistence template); the
// table frees the record after.
// Every end of a connection passes here (the session log's end record is written here).
void conn_stage_expire(void* worker, const Conn& c);
// The giving back alone, for an end the caller has logged itself (one-packet UDP answered).
void conn_stage_release(Worker* w, const Conn& c);

}  // namespace pc
