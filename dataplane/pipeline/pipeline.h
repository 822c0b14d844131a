// The contract between the core (EAL, ports, worker loop, RCU, addon) and the
// packet pipeline. The core owns threads, ports, clocks and publication; the
// pipeline owns packet semantics, per-worker tables and snapshot contents.
//
// Threading: snapshot_build/snapshot_free run on the control thread, off the
// packet path. Everything taking a Worker* runs on that worker's thread only
// (in test mode: the caller's thread). Nothing here throws or logs per packet.
#pragma once
#include <cstdint>
#include <string>
#include <vector>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include "common/config.h"
#include "common/counters.h"
#include "common/tx_queues.h"

namespace pc {

struct Snapshot;  // immutable once built; defined in pipeline/snapshot.h
struct Worker;    // per-worker state; defined in pipeline/worker_state.h
struct ConnStore;  // pipeline/conn_store.h

// Builds the lookup tables for cfg. `previous` (may be null) lets the builder
// carry object generations: an id present in previous with the same identity
// keeps its generation, a new id gets generation == version. Returns null and
// fills *error ("services[2].local_addresses: empty" style) on a config the
// pipeline cannot use; never partially publishes anything.
Snapshot* snapshot_build(const DataplaneConfig& cfg, uint64_t version, const Snapshot* previous,
                         std::string* error);
void snapshot_free(Snapshot* snapshot);
uint64_t snapshot_version(const Snapshot* snapshot);

// Generation of service id (is_server false) or server id (true) in the snapshot.
// False when the id is not there. A worker's TrafficCounters for that id belong to
// this object only when their .generation equals it (a worker that has not adopted
// the snapshot yet may still hold counters of a previous object with the same id).
bool snapshot_object_generation(const Snapshot* snapshot, bool is_server, uint32_t id, uint64_t* generation);

// Ids of the services and real servers present in the snapshot (the core reports
// per-id counters only for these). Control thread; appends to the vectors.
// (Added by the core engineer; the pipeline implements it.)
void snapshot_object_ids(const Snapshot* snapshot, std::vector<uint32_t>* services,
                         std::vector<uint32_t>* servers);

// Each service's LIPs with the id and generation of their per-worker counters
// (WorkerCounters::local_addresses; they belong to the pair only when their
// .generation equals it). Control thread; appends, services and LIPs in config order.
struct LocalAddressIdentity {
  uint32_t service_id;
  IpAddr addr;
  uint32_t id;
  uint64_t generation;
};
void snapshot_local_addresses(const Snapshot* snapshot, std::vector<LocalAddressIdentity>* out);

struct WorkerParams {
  uint16_t index = 0;          // 0..count-1
  uint16_t count = 1;          // number of workers (lport residue classes)
  uint32_t conn_capacity = 1u << 20;  // max concurrent connections for this worker
  int socket_id = 0;           // NUMA socket for allocations
  rte_mempool* pool = nullptr; // for packets the pipeline generates (ARP, ICMP replies)
  const uint8_t (*port_macs)[6] = nullptr;  // port_macs[i] = MAC of port index i
  uint16_t port_count = 0;
  const uint16_t* port_mtus = nullptr;      // port_mtus[i] = IP MTU of port index i; null = 1500 each
  FragTableConfig frag;                     // reassembly table bounds (pipeline/defend/reassembly.h)
  rte_mempool* frag_pool = nullptr;         // mbufs big enough for a rebuilt datagram; null = `pool`
  const ConnStore* store = nullptr;         // tables that outlive the process (conn_store.h); null = rte_malloc
  uint64_t sched_seed = 0;                  // twos' random source; 0 = fixed by index (test mode repeats exactly)
};

// Returns null and fills *error on allocation failure (start-up only).
Worker* worker_create(const WorkerParams& params, std::string* error);
void worker_destroy(Worker* worker);

// Lets the connection-count schedulers and thresholds of every worker read all
// workers' per-server gauges (sched/server_load.h). Call once after creating the
// workers and before any processes packets; without it a worker sees only its own.
void worker_share_counters(Worker* const* workers, uint16_t count);

// Called by the worker before processing with a snapshot it has not seen yet
// (old may be null). Resets counters of ids whose generation changed and copies
// whatever per-service data established connections need (e.g. timeouts).
void worker_adopt_snapshot(Worker* worker, const Snapshot* snapshot);

// Processes n received packets from port index in_port. Every packet ends up
// pushed to tx or freed with exactly one drop reason counted. now_us is the
// worker clock (TSC-derived in live mode, injected in test mode).
void worker_process_burst(Worker* worker, const Snapshot* snapshot, uint16_t in_port,
                          rte_mbuf** packets, uint16_t n, uint64_t now_us, TxQueues& tx);

// Expires connections and neighbour entries, retries ARP. Cheap when nothing is due;
// the core calls it every loop iteration (live) or every step() (test).
void worker_run_timers(Worker* worker, const Snapshot* snapshot, uint64_t now_us, TxQueues& tx);

// Multi-worker reply steering (DESIGN.md §3): the worker index that owns the
// connection a received frame belongs to, when that can be told from the frame
// alone — a TCP/UDP packet to a LIP that is not also a service address, whose
// destination port is an lport (owner = lport % worker_count), or an ICMP error to a
// LIP quoting such a packet (owner from the quoted lport), a NAT server's reply (or ICMP
// error) to the client (owner from the client endpoint: conn/client_owner.h), or a cluster
// hand-off to this node (owner from the outer header's id: cluster/handoff.h). Returns -1 when any
// worker may take the frame (ARP, other ICMP, client-side traffic, anything malformed:
// the pipeline drops those with a reason). Read-only; safe on any worker thread.
int packet_owner_worker(const Snapshot* snapshot, const rte_mbuf* m, uint16_t worker_count);

// ---- tables that outlive the process (conn_store.h, conn_adopt.cpp) ----
// What adoption found in one worker's region.
struct ConnAdoptReport {
  uint64_t adopted = 0;
  uint64_t uncommitted = 0;       // allocated, never committed: the writer died mid-insert
  uint64_t stale = 0;             // service, server or LIP gone or changed
  uint64_t duplicate = 0;         // tuple or lport already held by an adopted record
  uint64_t synproxy_pending = 0;  // backend handshake in progress (held packets died with the process)
  uint64_t invalid = 0;           // fields no connection can have
};
// The worker holds an earlier process's tables, not adopted yet.
bool worker_adopt_due(const Worker* worker);
// Adopts them against snapshot (the first configured one): validates every committed record,
// rebuilds index, free list, wheel, lports, gauges and template counts; deadlines keep their
// remaining time minus the downtime (mono_now_us - the stamp's, live only). Worker thread.
void worker_adopt_region(Worker* worker, const Snapshot& snapshot, uint64_t now_us, uint64_t mono_now_us,
                         ConnAdoptReport* report);
// Records the worker's clock in its region (every timer run); no-op without a region.
void worker_stamp_clock(Worker* worker, uint64_t now_us, uint64_t mono_us);
// Every invariant of the worker's tables; appends one line per violation (conn_check.cpp).
void worker_check_tables(const Worker* worker, std::vector<std::string>* problems);

WorkerCounters& worker_counters(Worker* worker);
uint64_t worker_connection_count(const Worker* worker);

// One connection as shown to operators (pcadm -Lnc). Ports host order; an address not
// used by the connection (a NAT/DR/TUN local side) is all zero.
struct ConnectionInfo {
  uint8_t protocol;
  IpAddr client_addr; uint16_t client_port;
  IpAddr virtual_addr; uint16_t virtual_port;
  IpAddr local_addr; uint16_t local_port;
  IpAddr server_addr; uint16_t server_port;
  uint32_t service_id, server_id;
  const char* state;        // IPVS state name: "ESTABLISHED", "SYN_RECV", ..., "UDP"
  uint64_t expires_in_ms;
};
// One bounded step of a listing: reads the connection records from `position` on, at most
// max_slots of them, copying each live one into out until max are copied. Returns how many
// were copied; *next = the first record not read (the capacity once the table is done). A
// connection keeps its record for life, so a listing resumed at *next never shows one twice.
// Runs on the worker's own thread (core/conn_listing.h), or the caller's in test mode.
uint32_t worker_list_connections(const Worker* worker, uint32_t position, uint32_t max_slots, ConnectionInfo* out,
                                 uint32_t max, uint32_t* next);
// Records in the worker's table (fixed at creation, so any thread may read it).
uint32_t worker_connection_capacity(const Worker* worker);

// Cluster hand-off (pipeline/cluster/handoff.h), control thread only (the rings' other end).
// Allocates the worker's two rings unless it has them (before publishing the first snapshot
// with a cluster: a standalone gateway never pays for them). False with *error when out of memory.
bool worker_cluster_prepare(Worker* worker, std::string* error);
// Moves up to max ownership records (40 bytes each) of the worker's new connections into
// out; returns how many.
uint32_t worker_ownership_drain(Worker* worker, uint8_t* out, uint32_t max);
// Queues count foreign records (40 bytes each, owner = node index) for the worker, which
// learns them on its next timer run; returns how many fit (the rest are not queued).
uint32_t worker_foreign_queue(Worker* worker, const uint8_t* records, uint32_t count, uint8_t owner);

// NAT session logging (pipeline/conn/session_log.h), control thread only. Allocates the
// worker's tallies and event ring unless it has them (before publishing the first snapshot
// with logging on). False with *error when out of memory.
bool worker_session_log_prepare(Worker* worker, std::string* error);
// Moves up to max session records (128 bytes each, SessionEvent) into out; returns how many.
uint32_t worker_session_log_drain(Worker* worker, uint8_t* out, uint32_t max);

}  // namespace pc
