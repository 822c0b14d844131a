// Everything one worker owns. Touched only by that worker's thread (or the
// caller's thread in test mode), so nothing here is atomic or locked.
#pragma once
#include <cstdint>
#include <vector>
#include "pipeline/cluster/cluster_worker.h"
#include "pipeline/conn/conn.h"
#include "pipeline/conn_store.h"
#include "pipeline/conn/local_address.h"
#include "pipeline/conn/lport.h"
#include "pipeline/output/arp.h"
#include "pipeline/output/nd.h"
#include "pipeline/output/neigh.h"
#include "pipeline/conn/persist.h"
#include "pipeline/conn/session_log.h"
#include "pipeline/pipeline.h"
#include "pipeline/sched/scheduler.h"
#include "pipeline/synproxy/synproxy.h"
#include "pipeline/synproxy/synproxy_auto.h"
#include "pipeline/conn/tcp_state.h"
#include "pipeline/defend/defend.h"
#include "pipeline/defend/reassembly.h"
#include "pipeline/capture.h"
#include "pipeline/trace.h"

namespace pc {

// Per (worker, service id) state that outlives snapshots.
struct ServiceRuntime {
  bool present = false;        // in the adopted snapshot
  StateTimeouts timeouts;      // kept after removal: the service's connections still expire by them
  Scheduler* scheduler = nullptr;
  SchedulerKind scheduler_kind = SchedulerKind::RR;
  uint64_t server_set_fingerprint = 0;
  std::vector<LipBinding> lips;          // each LIP: lport pool + counters (local_address.h), snapshot order
  std::vector<LipBinding> retired_lips;  // LIPs that left with connections still on them
  uint32_t lip_cursor = 0;               // round robin over lips
  // Persistence (persist.h); kept after removal: ending connections release their template by them.
  uint32_t persistence_netmask = 0;   // IPv4 clients, network order
  uint8_t persistence_prefix_v6 = 128;  // IPv6 clients
  uint64_t persistence_timeout_us = 0;
};

constexpr uint32_t kDropBinSize = 64;

struct Worker {
  // Packets dropped during the current burst, freed together at its end: one
  // rte_pktmbuf_free_bulk (one mempool put) instead of one per packet.
  rte_mbuf* drop_bin[kDropBinSize];
  uint32_t drop_bin_count = 0;
  WorkerParams params;
  uint8_t port_macs[kMaxPorts][6] = {};
  uint16_t port_mtus[kMaxPorts] = {};  // what a grown packet (TOA) must still fit
  WorkerCounters* counters = nullptr;
  ConnTable conns;
  SynproxyTable synproxy;  // parallel to conns.records
  SynproxyAutoWorker synproxy_auto;  // SYNPROXY auto: per-service SYN rate and engaged state
  NeighTable neigh;  // neighbours of both families: ARP (arp.h) and ND (nd.h) fill one table
  DefendState defend;
  ReassemblyTable reassembly;  // incomplete IPv4/IPv6 datagrams (fragment policy limit/reassemble)
  uint32_t frag6_next_id = 0;  // identification of the next IPv6 datagram sent in fragments (output/fragment.h)
  LportAllocator lports;
  PersistTable persist;  // persistence templates
  ServerLoads loads;     // every worker's per-server gauges + OVERLOAD flags (sched/server_load.h)
  SchedRandom sched_random;  // draws of the randomised schedulers (twos), seeded in worker_create
  std::vector<ServiceRuntime> services;  // indexed by service id
  std::vector<uint32_t> present_service_ids;
  // Bumped whenever an id's counters are zeroed for a new generation (see Conn).
  std::vector<uint8_t> service_epoch;  // indexed by service id
  std::vector<uint8_t> server_epoch;   // indexed by server id
  const Snapshot* adopted = nullptr;
  uint64_t adopted_version = 0;
  bool adopted_once = false;
  // Set for the duration of worker_run_timers: expiry may have to send (SYNPROXY client reset).
  const Snapshot* timer_snapshot = nullptr;
  TxQueues* timer_tx = nullptr;
  uint64_t now_us = 0;  // last clock seen (for listing expiry times)
  uint16_t rx_port = 0;  // port index of the burst being processed (what a hand-off to another worker keeps)
  TraceRing* trace = nullptr;  // opt-in packet trace (pipeline/trace.h); null until first traceSet
  CaptureRing* capture = nullptr;  // opt-in packet capture (pipeline/capture.h); null unless one runs
  bool observing = false;  // a trace or a capture is on: the burst loop's one branch (worker_update_observing)
  ClusterWorker cluster;  // ownership export and foreign flows (pipeline/cluster/handoff.h)
  SessionLogWorker session_log;  // NAT session records and per-connection tallies (conn/session_log.h)
  // Tables in a region that outlives the process (conn_store.h); store.records null = none.
  ConnStore store;
  bool adopt_pending = false;  // an earlier process's tables wait for the first configured snapshot (conn_adopt.cpp)
};

// Keeps Worker::observing in step with the trace's and the capture's filters.
inline void worker_update_observing(Worker* w) {
  w->observing = (w->trace && w->trace->filter.enabled) || (w->capture && w->capture->filter.match.enabled);
}

inline void worker_flush_drops(Worker* w) {
  if (w->drop_bin_count == 0) return;
  rte_pktmbuf_free_bulk(w->drop_bin, w->drop_bin_count);
  w->drop_bin_count = 0;
}

// Frees m (a dropped packet) by the end of the burst; the caller counts the reason.
inline void worker_discard(Worker* w, rte_mbuf* m) {
  w->drop_bin[w->drop_bin_count++] = m;
  if (w->drop_bin_count == kDropBinSize) worker_flush_drops(w);
}

// A packet dropped with exactly one reason.
inline void worker_drop(Worker* w, rte_mbuf* m, DropReason reason) {
  worker_discard(w, m);
  w->counters->drop(reason);
}

}  // namespace pc
