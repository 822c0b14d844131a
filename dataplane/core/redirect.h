// Reply steering between workers without NIC help (DESIGN.md §3). Each worker hands
// lports out of its own residue class, so a reply's destination port names the
// worker that owns its connection (pipeline.h: packet_owner_worker). When a reply
// lands on another worker's queue (af_packet fanout, RSS, virtio, tap: anything but
// an rte_flow rule per lport class) that worker passes it to the owner through a
// single-producer/single-consumer rte_ring for that ordered pair of workers; the
// owner processes it as if it had received it on the original port. A cluster hand-off
// from another node (one outer tuple: it lands on one queue) goes the same way to the
// worker its outer id names, which decapsulates it (pipeline/cluster/handoff.h).
//
// ARP replies are copied to every other worker instead: neighbour tables are per
// worker, and a reply to worker A's request may well be received by worker B.
//
// Nothing here runs with one worker: the poll loop calls it only when count > 1.
#pragma once
#include <cstdint>
#include <vector>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>
#include "common/counters.h"
#include "core/status.h"
#include "common/tx_queues.h"
#include "pipeline/pipeline.h"

namespace pc {

// Per ordered pair: enough for a few bursts while the owner is busy or waking from an
// idle sleep (at most kSleepMaxUs), small enough that N² rings stay cheap (8 KiB each).
constexpr unsigned kRedirectRingSlots = 1024;
constexpr uint16_t kRedirectBurst = 32;

// One worker's ends of the rings. `to[j]` is filled by this worker for worker j,
// `from[i]` is filled by worker i for this one; both null on the diagonal.
struct WorkerRedirect {
  uint16_t self = 0;
  uint16_t count = 1;
  rte_ring* to[kMaxWorkers] = {};
  rte_ring* from[kMaxWorkers] = {};
  rte_mempool* pool = nullptr;  // ARP reply copies
  // Packets of the burst being split, per destination, enqueued in one call each.
  rte_mbuf* staged[kMaxWorkers][kRedirectBurst];
  uint16_t staged_count[kMaxWorkers] = {};
};

// Owns the N×(N−1) rings of one start(); control thread only.
class RedirectRings {
 public:
  // No rings for workers <= 1. instance makes ring names unique per start().
  // NOMEM naming the ring when one cannot be created (then nothing stays allocated).
  Status init(uint16_t workers, unsigned instance);
  // Wires a worker's ends (count, self, ring pointers, pool).
  void attach(uint16_t worker, rte_mempool* pool, WorkerRedirect* out) const;
  // Frees every queued mbuf and the rings. Workers must have stopped. Harmless twice.
  void destroy();

 private:
  uint16_t workers_ = 0;
  std::vector<rte_ring*> rings_;  // [from * workers_ + to]; null when from == to
};

// Splits a received burst from port index in_port: packets another worker owns go to
// its ring, ARP replies are also copied to every other worker (ARP_REPLIES_SHARED).
// Every packet a ring takes counts REDIRECTED_OUT; a full ring drops it
// (REDIRECT_RING_FULL). The packets this
// worker must process stay in pkts, in order; returns how many.
uint16_t redirect_split(WorkerRedirect& r, WorkerCounters& counters, const Snapshot* s, uint16_t in_port,
                        rte_mbuf** pkts, uint16_t n);

// Processes what other workers handed over (at most one burst per ring), each packet
// as received on the port index it carries in mbuf->port. Returns packets taken
// (event REDIRECTED_IN), which the poll loop counts as work.
uint32_t redirect_drain(WorkerRedirect& r, Worker* worker, WorkerCounters& counters, const Snapshot* s,
                        uint64_t now_us, TxQueues& tx);

}  // namespace pc
