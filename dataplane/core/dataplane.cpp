#include "core/dataplane.h"

#include <algorithm>
#include <cstring>
#include <new>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_random.h>
#include "core/eal.h"
#include "core/flow_steering.h"
#include "core/port_mtu.h"
#include "core/clock.h"
#include "pipeline/cluster/cluster_worker.h"
#include "pipeline/conn/session_log.h"

namespace pc {

namespace {

constexpr unsigned kMempoolCacheMax = 256;
constexpr unsigned kFragPoolPerWorker = 256;  // rebuilt datagrams in flight per worker
constexpr uint32_t kStepMaxSweeps = 1024;      // step(): bound on rx sweeps (a pipeline loop can't hang it)
constexpr uint32_t kMaxConnectionsListed = 65536;
constexpr size_t kInjectMaxFrameBytes = 65535;  // test driver: any IPv4 datagram in one frame, chained when needed

std::string quoted_list(const std::vector<std::string>& names) {
  std::string out = "[";
  for (size_t i = 0; i < names.size(); i++) out += (i ? ", \"" : "\"") + names[i] + "\"";
  return out + "]";
}

// A frame longer than one mbuf's data room becomes a chain of mbufs, as a device with RX
// scatter would deliver it: tests can show what the pipeline does with one. Null when the
// pool runs dry (nothing is left allocated).
rte_mbuf* frame_to_mbufs(rte_mempool* pool, const Frame& f) {
  const size_t room = rte_pktmbuf_data_room_size(pool) - RTE_PKTMBUF_HEADROOM;
  rte_mbuf* head = nullptr;
  size_t done = 0;
  do {
    rte_mbuf* segment = rte_pktmbuf_alloc(pool);
    if (!segment || (head && rte_pktmbuf_chain(head, segment) != 0)) {
      if (segment) rte_pktmbuf_free(segment);
      if (head) rte_pktmbuf_free(head);
      return nullptr;
    }
    if (!head) head = segment;
    size_t n = std::min(room, f.length - done);
    char* data = rte_pktmbuf_append(head, static_cast<uint16_t>(n));  // into the last segment
    if (n) memcpy(data, f.data + done, n);
    done += n;
  } while (done < f.length);
  return head;
}

}  // namespace

Dataplane& dataplane() {
  // Never destroyed: a static destructor at exit() would free state under running
  // workers. The addon's exit hooks call stop() instead.
  static Dataplane* instance = new Dataplane();
  return *instance;
}

std::vector<std::string> Dataplane::port_names() const {
  std::vector<std::string> names;
  for (const auto& p : ports_) names.push_back(p.name);
  return names;
}

Status Dataplane::start(const StartOptions& options, std::vector<PortInfo>* infos) {
  if (started_) return Status::Error("ESTATE", "start: the data plane is already started; call stop() first");
  if (options.ports.empty() || options.ports.size() > kMaxPorts)
    return Status::Error("EINVAL", "options.ports: expected 1.." + std::to_string(kMaxPorts) + " ports, got " +
                                       std::to_string(options.ports.size()));
  // Test mode may have several workers too: step() runs them all on the caller's thread.
  uint16_t workers = options.workers;
  if (workers == 0 || workers > kMaxWorkers)
    return Status::Error("EINVAL", "options.workers: expected 1.." + std::to_string(kMaxWorkers) + ", got " +
                                       std::to_string(workers));

  // One linear mbuf per frame: the pool's buffers fit the largest frame any port delivers.
  std::vector<PortSpec> specs = options.ports;
  uint32_t rx_buffer = kDefaultRxBufferBytes;
  for (size_t i = 0; i < specs.size(); i++) {
    specs[i].index = static_cast<uint16_t>(i);
    uint32_t bytes = 0;
    Status sized = port_rx_buffer_bytes(specs[i], &bytes);
    if (!sized.ok()) return sized;
    rx_buffer = std::max(rx_buffer, bytes);
  }

  Status st = eal_ensure(options.eal);
  if (!st.ok()) return st;

  std::vector<unsigned> lcores;
  if (options.live) {
    unsigned lcore;
    RTE_LCORE_FOREACH_WORKER(lcore) {
      if (lcores.size() < workers) lcores.push_back(lcore);
    }
    if (lcores.size() < workers)
      return Status::Error("EINVAL", "options.workers: expected at most " + std::to_string(lcores.size()) +
                                         " (worker lcores EAL has; the main lcore never polls), got " +
                                         std::to_string(workers));
  }

  live_ = options.live;
  started_ = true;  // from here on teardown() undoes whatever was created
  stop_flag_.store(false);
  test_clock_us_ = kTestClockStartUs;
  next_version_ = 1;
  applied_ = DataplaneConfig();

  char pool_name[RTE_MEMPOOL_NAMESIZE];
  snprintf(pool_name, sizeof(pool_name), "pc_pkt_%u", start_count_++);
  unsigned cache = std::min<unsigned>(kMempoolCacheMax, options.mbufs * 2 / 3);
  cache = std::min<unsigned>(cache, RTE_MEMPOOL_CACHE_MAX_SIZE);
  pool_ = rte_pktmbuf_pool_create(pool_name, options.mbufs, cache, 0, static_cast<uint16_t>(RTE_PKTMBUF_HEADROOM + rx_buffer),
                                  SOCKET_ID_ANY);
  if (!pool_) {
    int err = rte_errno;
    teardown(false);
    return Status::Error("NOMEM", "rte_pktmbuf_pool_create(" + std::to_string(options.mbufs) + " mbufs of " +
                                      std::to_string(rx_buffer) + " data bytes): " + rte_strerror(err) +
                                      " (more EAL memory: -m / hugepages)");
  }

  // Rebuilt datagrams need one linear mbuf of up to fragments.max_datagram bytes; they live
  // only from reassembly to tx, so a small pool per worker is enough.
  snprintf(pool_name, sizeof(pool_name), "pc_frag_%u", start_count_ - 1);
  uint32_t frag_room = RTE_PKTMBUF_HEADROOM + 18 + options.fragments.max_datagram;
  if (frag_room > UINT16_MAX) frag_room = UINT16_MAX;
  frag_pool_ = rte_pktmbuf_pool_create(pool_name, kFragPoolPerWorker * workers - 1, 0, 0,
                                       static_cast<uint16_t>(frag_room), SOCKET_ID_ANY);
  if (!frag_pool_) {
    int err = rte_errno;
    teardown(false);
    return Status::Error("NOMEM", "rte_pktmbuf_pool_create(reassembly, " + std::to_string(kFragPoolPerWorker * workers) +
                                      " x " + std::to_string(frag_room) + " bytes): " + rte_strerror(err));
  }

  for (const auto& spec : specs) {
    Port port;
    st = port_open(spec, workers, pool_, &port);
    if (!st.ok()) {
      teardown(false);
      return st;
    }
    static const uint8_t kZeroMac[6] = {};
    if (port.is_ring && memcmp(port.mac, kZeroMac, 6) == 0) {
      // Ring ethdevs come up with 00:00:00:00:00:00; give them a stable locally
      // administered one (02:70:63 = "pc", then the port index) so ARP/L2 work.
      const uint8_t mac[6] = {0x02, 0x70, 0x63, 0x00, 0x00, static_cast<uint8_t>(ports_.size() + 1)};
      memcpy(port.mac, mac, 6);
    }
    if (workers > 1) flow_steering_probe(&port, workers);
    memcpy(port_macs_[ports_.size()], port.mac, 6);
    port_mtus_[ports_.size()] = spec.mtu;
    ports_.push_back(std::move(port));
    if (spec.exception_path) {
      st = open_exception_port(spec, static_cast<uint16_t>(ports_.size() - 1), workers);
      if (!st.ok()) {
        teardown(false);
        return st;
      }
    }
  }

  st = publisher_.init(options.live ? workers : 0);
  if (!st.ok()) {
    teardown(false);
    return st;
  }
  // Until the first apply, workers run a snapshot that owns nothing: every packet is a counted drop.
  DataplaneConfig empty;
  for (const auto& p : ports_) empty.ports.push_back(PortAddresses{p.name, {}});
  std::string error;
  Snapshot* initial = snapshot_build(empty, 0, nullptr, &error);
  if (!initial) {
    teardown(false);
    return Status::Error("CONFIG_REJECTED", "empty start-up snapshot: " + error);
  }
  publisher_.publish(initial);

  st = redirect_.init(workers, start_count_);
  if (!st.ok()) {
    teardown(false);
    return st;
  }

  if (!options.conn_region.empty()) {
    // Before any worker exists: a region another process owns refuses the start (EBUSY).
    st = region_.open(options.conn_region, workers, options.conn_capacity, !options.conn_region_hold);
    if (!st.ok()) {
      teardown(false);
      return st;
    }
    region_released_ = !options.conn_region_hold;
  }

  uint16_t port_ids[kMaxPorts];
  for (size_t i = 0; i < ports_.size(); i++) port_ids[i] = ports_[i].port_id;
  for (uint16_t w = 0; w < workers; w++) {
    std::unique_ptr<WorkerContext> ctx(new (std::nothrow) WorkerContext());
    if (!ctx) {
      teardown(false);
      return Status::Error("NOMEM", "worker context");
    }
    WorkerParams params;
    params.index = w;
    params.count = workers;
    params.conn_capacity = options.conn_capacity;
    int socket = options.live ? static_cast<int>(rte_lcore_to_socket_id(lcores[w])) : static_cast<int>(rte_socket_id());
    params.socket_id = socket < 0 ? 0 : socket;
    params.pool = pool_;
    params.frag = options.fragments;
    params.frag_pool = frag_pool_;
    params.port_macs = port_macs_;
    params.port_mtus = port_mtus_;
    params.port_count = static_cast<uint16_t>(ports_.size());
    // Live: a seed nobody can guess from the worker index; test mode keeps the fixed one.
    if (options.live) params.sched_seed = rte_rand() | 1;
    ConnStore store;
    if (region_.mapped()) {
      store = region_.store(w, options.live);
      params.store = &store;
    }
    ctx->worker = worker_create(params, &error);
    if (!ctx->worker) {
      teardown(false);
      return Status::Error("NOMEM", "worker " + std::to_string(w) + ": " + error);
    }
    ctx->counters = &worker_counters(ctx->worker);
    ctx->index = w;
    ctx->port_count = static_cast<uint16_t>(ports_.size());
    memcpy(ctx->port_ids, port_ids, sizeof(port_ids));
    ctx->tx.init(port_ids, ctx->port_count, w, ctx->counters);
    for (uint16_t i = 0; i < ctx->port_count; i++)
      if (has_exception_port_[i]) ctx->tx.set_exception(i, exception_port_of_[i]);
    redirect_.attach(w, pool_, &ctx->redirect);
    ctx->tx.set_worker_rings(ctx->redirect.self, ctx->redirect.count, ctx->redirect.to);
    ctx->publisher = &publisher_;
    ctx->polling = options.polling;
    ctx->poll_override = options.poll_override;
    ctx->stop = &stop_flag_;
    ctx->held.store(!region_released_);
    workers_.push_back(std::move(ctx));
  }
  {  // Connection-count schedulers sum every worker's per-server gauges.
    std::vector<Worker*> all;
    for (auto& c : workers_) all.push_back(c->worker);
    worker_share_counters(all.data(), static_cast<uint16_t>(all.size()));
  }

  if (options.live) {
    st = launch_workers(lcores);
    if (!st.ok()) {
      teardown(false);
      return st;
    }
  }
  ports(infos);
  return Status::Ok();
}

Status Dataplane::open_exception_port(const PortSpec& data, uint16_t index, uint16_t queues) {
  PortSpec spec;
  spec.name = exception_interface_name(data.name);
  // The kernel interface carries the data port's MAC: what the kernel sends leaves
  // by the data port unchanged, and what we punt to it is addressed to that MAC.
  spec.has_mac = true;
  memcpy(spec.mac, port_macs_[index], 6);
  spec.mtu = data.mtu;
  spec.index = data.index;
  if (live_)
    spec.device = "net_tap" + std::to_string(exception_ports_.size()) + ",iface=" + spec.name;
  else
    spec.device = "ring";
  Port port;
  Status st = port_open(spec, queues, pool_, &port);
  if (!st.ok()) return st;
  exception_port_of_[index] = port.port_id;
  has_exception_port_[index] = true;
  exception_ports_.push_back(std::move(port));
  return Status::Ok();
}

Status Dataplane::launch_workers(const std::vector<unsigned>& lcores) {
  for (size_t w = 0; w < workers_.size(); w++) {
    workers_[w]->lcore = lcores[w];
    int rc = rte_eal_remote_launch(worker_main, workers_[w].get(), lcores[w]);
    if (rc != 0)
      return Status::Error("EINVAL", "cannot launch worker " + std::to_string(w) + " on lcore " +
                                         std::to_string(lcores[w]) + ": " + rte_strerror(-rc));
    launched_lcores_.push_back(lcores[w]);
  }
  return Status::Ok();
}

void Dataplane::teardown(bool cleanup_eal) {
  stop_flag_.store(true);
  for (unsigned lcore : launched_lcores_) rte_eal_wait_lcore(lcore);
  launched_lcores_.clear();
  // Workers first: they may hold mbufs (ARP queues) that go back to the pool.
  for (auto& w : workers_)
    if (w->worker) worker_destroy(w->worker);
  workers_.clear();
  region_.close();  // after the workers: the file (and what it holds) stays for the next start
  region_released_ = true;
  redirect_.destroy();  // packets still handed over between workers go back to the pool
  if (handed_over_) {
    // The new owner's ports sit on the same kernel interfaces: stopping ours would set the
    // exception taps down under it. The process is about to exit; the kernel closes them.
    ports_.clear();
    exception_ports_.clear();
    cleanup_eal = false;
  }
  handed_over_ = false;
  for (auto& p : ports_) port_close(&p);
  ports_.clear();
  for (auto& p : exception_ports_) port_close(&p);
  exception_ports_.clear();
  for (auto& has : has_exception_port_) has = false;
  publisher_.destroy();
  if (pool_) rte_mempool_free(pool_);
  pool_ = nullptr;
  if (frag_pool_) rte_mempool_free(frag_pool_);
  frag_pool_ = nullptr;
  applied_ = DataplaneConfig();
  flow_rule_lips_.clear();
  started_ = false;
  live_ = false;
  if (cleanup_eal) eal_cleanup();
}

void Dataplane::stop() {
  // Only a live run that really started gives EAL up; a failed start leaves it usable.
  if (started_) teardown(live_);
}

Status Dataplane::apply(const DataplaneConfig& config, uint64_t* version) {
  if (!started_) return Status::Error("ESTATE", "apply: the data plane is not started; call start() first");
  std::vector<std::string> names = port_names();
  bool same = config.ports.size() == names.size();
  for (size_t i = 0; same && i < names.size(); i++) same = config.ports[i].name == names[i];
  if (!same) {
    std::vector<std::string> got;
    for (const auto& p : config.ports) got.push_back(p.name);
    return Status::Error("EINVAL", "config.ports: expected the started ports in order " + quoted_list(names) +
                                       ", got " + quoted_list(got));
  }
  std::string error;
  Snapshot* next = snapshot_build(config, next_version_, publisher_.current(), &error);
  if (!next) return Status::Error("CONFIG_REJECTED", error.empty() ? "snapshot_build refused the config" : error);
  // The cluster rings exist before any worker sees a snapshot that uses them (published below).
  for (auto& w : workers_)
    if ((config.cluster.enabled && !worker_cluster_prepare(w->worker, &error)) ||
        (config.session_log && !worker_session_log_prepare(w->worker, &error))) {
      snapshot_free(next);
      return Status::Error("NOMEM", error);
    }
  publisher_.publish(next);
  *version = next_version_++;
  applied_ = config;
  install_flow_rules(config);
  return Status::Ok();
}

void Dataplane::install_flow_rules(const DataplaneConfig& config) {
  std::vector<IpAddr> lips;
  for (const auto& service : config.services)
    for (const IpAddr& lip : service.local_addresses)
      if (std::find(lips.begin(), lips.end(), lip) == lips.end()) lips.push_back(lip);
  std::sort(lips.begin(), lips.end());
  if (lips == flow_rule_lips_) return;  // most applies change servers, not LIPs: keep the rules
  flow_rule_lips_ = lips;
  std::string error;
  for (auto& port : ports_)
    // A refusal clears the port's flag(s): the worker rings carry those replies from now on.
    flow_steering_install(&port, static_cast<uint16_t>(workers_.size()), lips, &error);
}

Status Dataplane::stats(StatsReport* report) {
  if (!started_) return Status::Error("ESTATE", "stats: the data plane is not started");
  std::vector<WorkerContext*> workers;
  for (auto& w : workers_) workers.push_back(w.get());
  stats_collect(workers, ports_, publisher_.current(), report);
  report->mbufs_in_use = rte_mempool_in_use_count(pool_) + (frag_pool_ ? rte_mempool_in_use_count(frag_pool_) : 0);
  return Status::Ok();
}

namespace {

Status worker_did_not_answer(const char* what, uint16_t index) {
  return Status::Error("ESTATE", std::string(what) + ": worker " + std::to_string(index) + " did not answer within " +
                                     std::to_string(kConnListingTimeoutUs / 1000) + " ms");
}

}  // namespace

Status Dataplane::run_on_worker(WorkerContext& w, void (*job)(Worker* worker, void* arg), void* arg, const char* what) {
  if (!live_) {
    job(w.worker, arg);
    return Status::Ok();
  }
  return worker_mailbox_run(w.listing, job, arg) ? Status::Ok() : worker_did_not_answer(what, w.index);
}

Status Dataplane::connections(uint64_t cursor, uint32_t limit, std::vector<ConnectionInfo>* out,
                              uint64_t* next_cursor) {
  out->clear();
  *next_cursor = 0;
  if (!started_) return Status::Error("ESTATE", "connections: the data plane is not started");
  if (limit == 0 || limit > kMaxConnectionsListed)
    return Status::Error("EINVAL", "connections: limit: expected 1.." + std::to_string(kMaxConnectionsListed) +
                                       ", got " + std::to_string(limit));
  const uint64_t workers = workers_.size();
  uint64_t worker = listing_cursor_worker(cursor);
  uint32_t position = listing_cursor_position(cursor);
  // A cursor is only ever one this data plane handed out; anything else (garbage, or from a
  // daemon with fewer workers or smaller tables) is refused rather than guessed at.
  if (worker >= workers || position > worker_connection_capacity(workers_[worker]->worker))
    return Status::Error("EINVAL", "connections: cursor: expected 0 or a next cursor of this data plane (worker < " +
                                       std::to_string(workers) + ", record <= " +
                                       std::to_string(worker_connection_capacity(workers_[0]->worker)) +
                                       "), got " + std::to_string(cursor) + " (worker " + std::to_string(worker) +
                                       ", record " + std::to_string(position) + ")");
  out->resize(limit);
  uint32_t n = 0;
  uint32_t budget = kListingSlotsPerRequest;
  // Worker by worker, scan by scan: each scan is one of the worker's loop iterations (live)
  // and reads at most kListingSlotsPerScan records; the request stops at budget records.
  while (worker < workers && n < limit && budget > 0) {
    WorkerContext& w = *workers_[worker];
    if (position >= worker_connection_capacity(w.worker)) {
      worker++;
      position = 0;
      continue;
    }
    uint32_t slots = std::min(budget, kListingSlotsPerScan);
    uint32_t copied = 0, next = position;
    if (!live_) {
      // Test mode: every worker runs on this thread, so it can scan here.
      copied = conn_listing_scan(w.listing, w.worker, position, slots, out->data() + n, limit - n, &next);
    } else if (!conn_listing_request(w.listing, position, slots, out->data() + n, limit - n, &copied, &next)) {
      out->clear();
      return worker_did_not_answer("connections", w.index);
    }
    n += copied;
    budget -= std::min(budget, next - position);
    position = next;
  }
  // Point past finished tables, so the cursor after the last connection is 0 (done), not
  // an empty page more.
  while (worker < workers && position >= worker_connection_capacity(workers_[worker]->worker)) {
    worker++;
    position = 0;
  }
  *next_cursor = worker < workers ? listing_cursor(static_cast<uint16_t>(worker), position) : 0;
  out->resize(n);
  return Status::Ok();
}

void Dataplane::ports(std::vector<PortInfo>* out) const {
  out->clear();
  for (const auto& p : ports_)
    out->push_back(PortInfo{p.name, p.port_id, format_mac(p.mac), p.driver, p.queues, p.rss, p.flow_steering, p.flow_steering6});
}

Status Dataplane::require_test_mode(const char* what) const {
  if (!started_) return Status::Error("ESTATE", std::string(what) + ": the data plane is not started");
  if (live_) return Status::Error("ESTATE", std::string(what) + ": only available in test mode (started in live mode)");
  return Status::Ok();
}

Status Dataplane::require_started(const char* what) const {
  if (!started_) return Status::Error("ESTATE", std::string(what) + ": the data plane is not started");
  return Status::Ok();
}

Status Dataplane::find_ring_port(const std::string& name, const char* what, size_t* index) {
  for (size_t i = 0; i < ports_.size(); i++) {
    if (ports_[i].name != name) continue;
    if (!ports_[i].is_ring)
      return Status::Error("EINVAL", std::string(what) + ": port \"" + name + "\" is device \"" +
                                         ports_[i].device + "\", expected a ring port");
    *index = i;
    return Status::Ok();
  }
  return Status::Error("EINVAL", std::string(what) + ": port: expected one of " + quoted_list(port_names()) +
                                     ", got \"" + name + "\"");
}

Status Dataplane::find_ring(const std::string& name, const char* what, Port** out) {
  for (auto& p : exception_ports_)
    if (p.name == name && p.is_ring) {
      *out = &p;
      return Status::Ok();
    }
  size_t pi;
  Status st = find_ring_port(name, what, &pi);
  if (st.ok()) *out = &ports_[pi];
  return st;
}

Status Dataplane::inject(const std::string& port, const std::vector<Frame>& frames, uint16_t queue,
                         uint32_t* accepted) {
  *accepted = 0;
  Status st = require_started("inject");
  if (!st.ok()) return st;
  Port* target = nullptr;
  st = find_ring(port, "inject", &target);
  if (!st.ok()) return st;
  if (queue >= target->rx_rings.size())
    return Status::Error("EINVAL", "inject: queue: expected 0.." + std::to_string(target->rx_rings.size() - 1) +
                                       " (one per worker), got " + std::to_string(queue));
  for (size_t i = 0; i < frames.size(); i++)
    if (frames[i].length > kInjectMaxFrameBytes)
      return Status::Error("EINVAL", "inject: frames[" + std::to_string(i) + "]: expected at most " +
                                         std::to_string(kInjectMaxFrameBytes) + " bytes, got " + std::to_string(frames[i].length));
  rte_ring* ring = target->rx_rings[queue];
  for (const auto& f : frames) {
    rte_mbuf* m = frame_to_mbufs(pool_, f);
    if (!m) break;  // pool exhausted: report how many fit
    if (rte_ring_enqueue(ring, m) != 0) {
      rte_pktmbuf_free(m);
      break;
    }
    (*accepted)++;
  }
  return Status::Ok();
}

Status Dataplane::step(uint32_t* received) {
  *received = 0;
  Status st = require_test_mode("step");
  if (!st.ok()) return st;
  for (auto& w : workers_) {
    WorkerContext& c = *w;
    if (c.held.load()) continue;
    const Snapshot* s = worker_current_snapshot(c);
    worker_adopt_if_due(c, s, test_clock_us_);
    worker_run_timers(c.worker, s, test_clock_us_, c.tx);
    worker_stamp_clock(c.worker, test_clock_us_, 0);
    c.tx.flush_all();
  }
  // A reply one worker hands over is processed by its owner in the next sweep at the latest.
  for (uint32_t sweep = 0; sweep < kStepMaxSweeps; sweep++) {
    uint32_t n = 0;
    for (auto& w : workers_) {
      WorkerContext& c = *w;
      if (c.held.load()) {
        n += worker_discard_held(c);
      } else {
        const Snapshot* s = worker_current_snapshot(c);
        worker_adopt_if_due(c, s, test_clock_us_);
        n += worker_poll_ports(c, s, test_clock_us_);
      }
      c.tx.flush_all();
    }
    if (n == 0) break;
    *received += n;
  }
  return Status::Ok();
}

Status Dataplane::capture(const std::string& port, std::vector<std::vector<uint8_t>>* frames) {
  Status st = require_started("capture");
  if (!st.ok()) return st;
  Port* source = nullptr;
  st = find_ring(port, "capture", &source);
  if (!st.ok()) return st;
  void* objs[64];
  unsigned n;
  for (rte_ring* ring : source->tx_rings) {
    while ((n = rte_ring_dequeue_burst(ring, objs, 64, nullptr)) > 0) {
      for (unsigned i = 0; i < n; i++) {
        rte_mbuf* m = static_cast<rte_mbuf*>(objs[i]);
        std::vector<uint8_t> bytes(rte_pktmbuf_pkt_len(m));
        const void* p = rte_pktmbuf_read(m, 0, bytes.size(), bytes.data());
        if (p && p != bytes.data()) memcpy(bytes.data(), p, bytes.size());
        frames->push_back(std::move(bytes));
        rte_pktmbuf_free(m);
      }
    }
  }
  return Status::Ok();
}

Status Dataplane::ownership_drain(uint32_t max, std::vector<uint8_t>* out) {
  Status st = require_started("ownershipDrain");
  if (!st.ok()) return st;
  for (auto& w : workers_) {
    size_t at = out->size();
    uint32_t room = max - static_cast<uint32_t>(at / kOwnershipRecordBytes);
    if (room == 0) break;
    out->resize(at + size_t{room} * kOwnershipRecordBytes);
    uint32_t n = worker_ownership_drain(w->worker, out->data() + at, room);
    out->resize(at + size_t{n} * kOwnershipRecordBytes);
  }
  return Status::Ok();
}

Status Dataplane::session_log_drain(uint32_t max, std::vector<uint8_t>* out, uint64_t* now_us) {
  Status st = require_started("sessionLogDrain");
  if (!st.ok()) return st;
  // The clock first: a record a worker writes while this drain runs is at most the drain's length later.
  *now_us = clock_now_us();
  for (auto& w : workers_) {
    size_t at = out->size();
    uint32_t room = max - static_cast<uint32_t>(at / kSessionEventBytes);
    if (room == 0) break;
    out->resize(at + size_t{room} * kSessionEventBytes);
    uint32_t n = worker_session_log_drain(w->worker, out->data() + at, room);
    out->resize(at + size_t{n} * kSessionEventBytes);
  }
  return Status::Ok();
}

uint64_t Dataplane::clock_now_us() const {
  if (!live_) return test_clock_us_;
  TscClock clock;  // the workers' clock (core/worker_loop.cpp): TSC cycles / cycles per µs
  clock.init();
  return clock.us_from_cycles(rte_rdtsc());
}

Status Dataplane::foreign_learn(const uint8_t* records, size_t bytes, uint8_t owner, uint32_t* accepted) {
  Status st = require_started("foreignLearn");
  if (!st.ok()) return st;
  if (bytes % kOwnershipRecordBytes != 0)
    return Status::Error("EINVAL", "foreignLearn: records must be a multiple of 40 bytes, got " + std::to_string(bytes));
  uint32_t count = static_cast<uint32_t>(bytes / kOwnershipRecordBytes);
  *accepted = count;
  for (auto& w : workers_) {
    uint32_t n = worker_foreign_queue(w->worker, records, count, owner);
    if (n < *accepted) *accepted = n;
  }
  return Status::Ok();
}

Status Dataplane::advance_clock_us(uint64_t us) {
  Status st = require_test_mode("advanceClock");
  if (!st.ok()) return st;
  test_clock_us_ += us;
  return Status::Ok();
}

Status Dataplane::test_rig(const char* what, TestRig* rig) {
  Status st = require_test_mode(what);
  if (!st.ok()) return st;
  size_t outside, inside;
  st = find_ring_port("outside", what, &outside);
  if (!st.ok()) return st;
  st = find_ring_port("inside", what, &inside);
  if (!st.ok()) return st;
  rig->worker = workers_[0].get();
  rig->outside = &ports_[outside];
  rig->inside = &ports_[inside];
  rig->outside_index = static_cast<uint16_t>(outside);
  rig->inside_index = static_cast<uint16_t>(inside);
  rig->pool = pool_;
  rig->config = &applied_;
  rig->now_us = test_clock_us_;
  return Status::Ok();
}

Status Dataplane::test_worker_params(const char* what, WorkerParams* params) {
  Status st = require_test_mode(what);
  if (!st.ok()) return st;
  int socket = static_cast<int>(rte_socket_id());
  params->socket_id = socket < 0 ? 0 : socket;
  params->pool = pool_;
  params->port_macs = port_macs_;
  params->port_mtus = port_mtus_;
  params->port_count = static_cast<uint16_t>(ports_.size());
  return Status::Ok();
}

Status Dataplane::test_worker(const char* what, uint16_t index, Worker** worker, uint64_t* now_us) {
  Status st = require_test_mode(what);
  if (!st.ok()) return st;
  if (index >= workers_.size())
    return Status::Error("EINVAL", std::string(what) + ": worker: expected 0.." + std::to_string(workers_.size() - 1) +
                                       ", got " + std::to_string(index));
  *worker = workers_[index]->worker;
  *now_us = test_clock_us_;
  return Status::Ok();
}

// ---- restart and takeover (core/conn_region.h) ----

namespace {

// Waits until done(c) holds for every worker, test mode at once (the caller's thread runs them).
template <typename Done>
bool wait_workers(const std::vector<std::unique_ptr<WorkerContext>>& workers, uint64_t timeout_us, Done done) {
  uint64_t deadline = monotonic_us() + timeout_us;
  for (;;) {
    bool all = true;
    for (const auto& w : workers) all = all && done(*w);
    if (all) return true;
    if (monotonic_us() > deadline) return false;
    timespec ts{0, 200 * 1000};
    nanosleep(&ts, nullptr);
  }
}

}  // namespace

Status Dataplane::hand_over(uint64_t* held_at_us) {
  Status st = require_started("handOver");
  if (!st.ok()) return st;
  if (!region_.mapped() || !region_.locked() || !region_released_)
    return Status::Error("ESTATE", "handOver: this data plane does not own a connection region (start with connRegion)");
  for (auto& w : workers_) w->held.store(true, std::memory_order_release);
  if (!live_) {
    // Test mode: the caller's thread is every worker; stamp as a held live worker would.
    for (auto& w : workers_) {
      worker_stamp_clock(w->worker, test_clock_us_, 0);
      w->held_ack.store(true);
    }
  }
  bool all_held = wait_workers(workers_, 1000 * 1000, [](const WorkerContext& c) { return c.held_ack.load(std::memory_order_acquire); });
  if (!all_held) {
    for (auto& w : workers_) w->held.store(false, std::memory_order_release);
    return Status::Error("ESTATE", "handOver: a worker did not stop within 1 s; every worker forwards again");
  }
  region_.unlock();
  handed_over_ = true;
  *held_at_us = monotonic_us();
  return Status::Ok();
}

Status Dataplane::resume() {
  Status st = require_started("resume");
  if (!st.ok()) return st;
  if (!region_.mapped() || !region_released_) return Status::Error("ESTATE", "resume: nothing was handed over");
  st = region_.lock();
  if (!st.ok()) return st;
  handed_over_ = false;
  for (auto& w : workers_) {
    w->held.store(false, std::memory_order_release);
    w->held_ack.store(false);
  }
  return Status::Ok();
}

Status Dataplane::release(RegionReport* report) {
  Status st = require_started("release");
  if (!st.ok()) return st;
  if (!region_.mapped() || region_released_)
    return Status::Error("ESTATE", "release: this data plane was not started to take over (connRegion.holdUntilRelease)");
  if (snapshot_version(publisher_.current()) == 0)
    return Status::Error("ESTATE", "release: apply the configuration first: adoption checks every connection against it");
  st = region_.lock();
  if (!st.ok()) return st;
  region_released_ = true;
  for (auto& w : workers_) w->held.store(false, std::memory_order_release);
  if (!live_) {
    uint32_t received = 0;
    step(&received);  // test mode: the caller's thread adopts now
  }
  if (region_.adopting()) {
    bool done = wait_workers(workers_, 10 * 1000 * 1000, [](const WorkerContext& c) { return c.adopted.load(std::memory_order_acquire); });
    if (!done) return Status::Error("ESTATE", "release: a worker did not finish adopting within 10 s");
  }
  region_report(report);
  return Status::Ok();
}

void Dataplane::region_report(RegionReport* report) const {
  *report = RegionReport{};
  if (!region_.mapped()) return;
  report->present = true;
  report->path = region_.path();
  report->rejected_reason = region_.rejected_reason();
  report->rejected_path = region_.rejected_path();
  report->outcome = !region_released_ ? "held" : region_.adopting() ? "adopted" : "created";
  for (const auto& w : workers_) {
    if (!w->adopted.load(std::memory_order_acquire)) continue;
    const ConnAdoptReport& r = w->adopt_report;
    ConnAdoptReport& t = report->totals;
    t.adopted += r.adopted;
    t.uncommitted += r.uncommitted;
    t.stale += r.stale;
    t.duplicate += r.duplicate;
    t.synproxy_pending += r.synproxy_pending;
    t.invalid += r.invalid;
    report->adopt_us = std::max(report->adopt_us, w->adopt_us);
  }
}

Status Dataplane::check_tables(std::vector<std::string>* problems) {
  Status st = require_test_mode("checkConnTables");
  if (!st.ok()) return st;
  for (auto& w : workers_) worker_check_tables(w->worker, problems);
  return Status::Ok();
}

}  // namespace pc
