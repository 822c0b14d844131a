// The data plane facade the addon calls: lifecycle (start/stop), config
// publication (apply), observation (stats, ports, connections) and the test-mode
// driver (inject/step/capture/advanceClock, and the doors dataplane/bench uses). Control thread only (Node's
// main thread = EAL main lcore). Every call returns a Status; nothing throws.
#pragma once
#include <atomic>
#include <memory>
#include <string>
#include <vector>
#include <rte_mempool.h>
#include "common/config.h"
#include "core/conn_region.h"
#include "core/ports.h"
#include "core/redirect.h"
#include "core/snapshot_publisher.h"
#include "core/stats.h"
#include "core/status.h"
#include "core/worker_loop.h"
#include "pipeline/pipeline.h"
#include "pipeline/capture.h"
#include "pipeline/trace.h"

namespace pc {

struct StartOptions {
  bool live = false;
  std::vector<std::string> eal;
  std::vector<PortSpec> ports;
  uint16_t workers = 1;
  PollingMode polling = PollingMode::BUSY;
  PortPoller poll_override = nullptr;  // benchmark only (bench/bench_bridge.h); live mode
  uint32_t conn_capacity = 1u << 20;
  uint32_t mbufs = 16383;
  FragTableConfig fragments;  // per-worker reassembly table; also sizes the reassembly mbuf pool
  std::string conn_region;       // file of the connection region (core/conn_region.h); "" = process memory
  bool conn_region_hold = false; // takeover: map without the lock, workers held until release()
};

// stats().connRegion: what happened to the region (src/dataplane/types.ts ConnRegionReport).
struct RegionReport {
  bool present = false;
  std::string path;
  const char* outcome = "created";  // held | created | adopted
  std::string rejected_reason, rejected_path;
  ConnAdoptReport totals;
  uint64_t adopt_us = 0;  // slowest worker
};

struct PortInfo {
  std::string name;
  uint16_t port_id = 0;
  std::string mac;
  std::string driver;
  uint16_t queues = 1;
  bool rss = false;
  bool flow_steering = false;   // IPv4 LIPs' replies steered by rte_flow
  bool flow_steering6 = false;  // IPv6 LIPs' replies steered by rte_flow
};

struct Frame {
  const uint8_t* data;
  size_t length;
};

constexpr uint64_t kTestClockStartUs = 1000000;

class Dataplane {
 public:
  bool started() const { return started_; }
  bool live() const { return live_; }
  std::vector<std::string> port_names() const;

  // ESTATE if started; EAL_INIT_FAILED / EAL_GONE; EINVAL (too few worker lcores);
  // NOMEM; PORT_FAILED. On failure nothing stays allocated (EAL aside).
  Status start(const StartOptions& options, std::vector<PortInfo>* ports);
  // ESTATE before start; EINVAL when config.ports do not match the started ports;
  // CONFIG_REJECTED when the pipeline refuses it (the old snapshot stays live).
  Status apply(const DataplaneConfig& config, uint64_t* version);
  Status stats(StatsReport* report);
  // One page of the connection tables from cursor (0 = start; core/conn_listing.h): up to
  // limit (1..65536) connections, reading at most kListingSlotsPerRequest records, so a page
  // may be short or empty with *next_cursor != 0; *next_cursor == 0 = every table was read.
  // Live mode: each scan runs on the worker's thread, one per loop iteration. EINVAL for a
  // limit out of range or a cursor this data plane did not hand out; ESTATE when a worker
  // does not answer in time.
  Status connections(uint64_t cursor, uint32_t limit, std::vector<ConnectionInfo>* out, uint64_t* next_cursor);
  // Opt-in packet trace (pipeline/trace.h; core/trace_control.cpp). trace_set replaces every
  // worker's filter and empties its ring; trace_read drains all workers' unread records,
  // oldest first. ESTATE before start or when a worker does not answer in time (live);
  // NOMEM when a ring cannot be allocated. Setting enabled=false is always harmless.
  Status trace_set(const TraceFilter& filter);
  Status trace_read(std::vector<TraceRecord>* out, uint64_t* lost);
  // Opt-in packet capture (pipeline/capture.h; core/capture_control.cpp). capture_set
  // replaces every worker's filter and empties its ring (enabled=false stops and frees the
  // rings; always harmless); capture_read drains all workers' copies (worker after worker, each oldest first), with
  // *lost = copies refused by full rings and *clock_offset_us = what turns a copy's worker
  // clock into wall-clock µs (0 in test mode: the injected clock stays). ESTATE before
  // start or when a worker does not answer in time (live); NOMEM when a ring cannot be
  // allocated (then no worker keeps a capture).
  Status capture_set(const CaptureFilter& filter);
  Status capture_read(std::vector<CaptureSlot>* out, uint64_t* lost, uint64_t* clock_offset_us);
  // Harmless when not started. Live mode also cleans up EAL.
  void stop();
  void ports(std::vector<PortInfo>* out) const;

  // Ring ports, either mode (live: the caller's thread is the rings' other end, as
  // the test driver is in test mode). inject enqueues on rx queue `queue` (one per
  // worker: queue w is read by worker w); capture drains every tx queue of the port.
  Status inject(const std::string& port, const std::vector<Frame>& frames, uint16_t queue, uint32_t* accepted);
  Status capture(const std::string& port, std::vector<std::vector<uint8_t>>* frames);

  // Test mode only. step() runs every worker on the caller's thread, in index order,
  // sweep after sweep until no port or redirect ring has anything left.
  Status step(uint32_t* received);
  // Cluster hand-off, either mode, control thread. ownership_drain appends up to max 40-byte
  // ownership records of every worker's new connections to *out; foreign_learn queues the
  // records (a multiple of 40 bytes) for every worker, owner = node index; *accepted = how
  // many every worker took. ESTATE before start, EINVAL for a length not a multiple of 40.
  Status ownership_drain(uint32_t max, std::vector<uint8_t>* out);
  Status foreign_learn(const uint8_t* records, size_t bytes, uint8_t owner, uint32_t* accepted);
  // NAT session logging, either mode, control thread: appends up to max 128-byte session
  // records (pipeline/conn/session_log.h) of every worker to *out; *now_us = the workers'
  // clock when the drain began, so the caller can turn record times into wall-clock times.
  Status session_log_drain(uint32_t max, std::vector<uint8_t>* out, uint64_t* now_us);
  // The workers' clock now (TSC-derived when live, the injected clock in test mode).
  uint64_t clock_now_us() const;
  Status advance_clock_us(uint64_t us);

  // Restart and takeover (core/conn_region.h). hand_over: every worker held (ESTATE when one does
  // not answer within 1 s; all are resumed then), lock released, *held_at_us = CLOCK_MONOTONIC.
  // resume: lock again (EBUSY if taken), forward again. release: lock (EBUSY), workers adopt and
  // forward; waits for them (ESTATE without a configured snapshot or when one does not finish).
  Status hand_over(uint64_t* held_at_us);
  Status resume();
  Status release(RegionReport* report);
  void region_report(RegionReport* report) const;
  // Test mode: every worker's table invariants (pipeline worker_check_tables).
  Status check_tables(std::vector<std::string>* problems);

  // Test mode only: what the harness in dataplane/bench reaches (it sits above the core, which
  // never includes it). `what` names the caller in errors.
  struct TestRig {
    WorkerContext* worker = nullptr;  // worker 0 (the caller's thread)
    Port* outside = nullptr;          // the ring ports named "outside" and "inside"
    Port* inside = nullptr;
    uint16_t outside_index = 0;
    uint16_t inside_index = 0;
    rte_mempool* pool = nullptr;
    const DataplaneConfig* config = nullptr;  // the applied config
    uint64_t now_us = 0;                      // the test clock
  };
  Status test_rig(const char* what, TestRig* rig);
  // Parameters for a worker of the harness' own: same ports and pool (capacity left to it).
  Status test_worker_params(const char* what, WorkerParams* params);
  // Worker `index` and the test clock; EINVAL for a bad index.
  Status test_worker(const char* what, uint16_t index, Worker** worker, uint64_t* now_us);

 private:
  Status require_test_mode(const char* what) const;
  Status require_started(const char* what) const;
  Status find_ring_port(const std::string& name, const char* what, size_t* index);
  // A ring port by name, data port or exception interface (test mode: inject/capture).
  Status find_ring(const std::string& name, const char* what, Port** out);
  // Creates the kernel interface of data port index i (ring in test mode); start() only.
  Status open_exception_port(const PortSpec& spec, uint16_t index, uint16_t queues);
  Status launch_workers(const std::vector<unsigned>& lcores);
  // Rules steering replies to LIPs by lport class, on ports that support them (core/flow_steering.h).
  void install_flow_rules(const DataplaneConfig& config);
  // Undoes everything start() created; cleanup_eal = also rte_eal_cleanup (live stop).
  void teardown(bool cleanup_eal);
  // Runs job(worker, arg) on w's worker: here in test mode (every worker runs on this thread),
  // else through its mailbox (core/conn_listing.h). ESTATE naming `what` and the worker when a
  // live worker did not pick it up in time (the job then never ran).
  Status run_on_worker(WorkerContext& w, void (*job)(Worker* worker, void* arg), void* arg, const char* what);

  bool started_ = false;
  bool live_ = false;
  unsigned start_count_ = 0;  // makes mempool names unique per start
  rte_mempool* pool_ = nullptr;
  std::vector<Port> ports_;
  std::vector<Port> exception_ports_;  // exception path interfaces (DESIGN.md §3), any order
  uint16_t exception_port_of_[kMaxPorts] = {};  // data port index -> DPDK port id of its tap
  bool has_exception_port_[kMaxPorts] = {};
  uint8_t port_macs_[kMaxPorts][6] = {};
  uint16_t port_mtus_[kMaxPorts] = {};
  rte_mempool* frag_pool_ = nullptr;  // rebuilt datagrams (bigger than pool_'s mbufs)
  SnapshotPublisher publisher_;
  RedirectRings redirect_;  // worker-to-worker reply steering, several workers only
  std::vector<IpAddr> flow_rule_lips_;  // LIPs the ports' rte_flow rules cover (sorted)
  std::vector<std::unique_ptr<WorkerContext>> workers_;
  ConnRegion region_;          // the connection tables when they outlive the process
  bool region_released_ = true;  // false while a takeover start waits for release()
  bool handed_over_ = false;     // the region went to another process: stop() leaves the ports alone
  std::vector<unsigned> launched_lcores_;
  std::atomic<bool> stop_flag_{false};
  uint64_t next_version_ = 1;
  DataplaneConfig applied_;   // last config applied (the benchmark needs its first service)
  uint64_t test_clock_us_ = kTestClockStartUs;
};

// The process-wide instance (EAL and ports are per process anyway).
Dataplane& dataplane();

}  // namespace pc
