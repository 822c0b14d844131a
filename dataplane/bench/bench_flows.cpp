#include "bench/bench_flows.h"

#include <emmintrin.h>
#include <time.h>
#include <algorithm>
#include <string>
#include <vector>
#include <rte_cycles.h>
#include <rte_ring.h>
#include "bench/bench_frames.h"
#include "core/worker_loop.h"

namespace pc {

namespace {

using namespace pc::bench;

constexpr uint32_t kDefaultColdConnections = 1u << 20;
constexpr uint32_t kDefaultConnections = 200000;
constexpr uint32_t kSetupBatch = 256;          // connections opened per setup step (cold)
constexpr uint32_t kConnBatch = 64;            // connections per measured batch (connections)
constexpr uint32_t kColdBurst = 32;            // frames per port per measured iteration (cold)
constexpr uint64_t kChunkPackets = 2048;
constexpr uint32_t kChecksumSample = 8;        // every 8th output has its checksums verified
constexpr uint16_t kRequestBytes = 64, kResponseBytes = 256;  // both < 1024 (see isn_of)
constexpr uint32_t kIdleStepsMax = 200;        // setup: steps with nothing moving before giving up
constexpr uint64_t kIdleAdvanceUs = 1000;      // ... each moving the clock (ARP retries)
// The simulated clock moves this much per batch of kConnBatch connections: 640 connections
// per simulated second, so with the bench's 120 s longest closing timeout about 77 k records
// are live (beyond L2) and, once that much time has passed, each batch's timer run frees
// about one batch.
constexpr uint64_t kConnBatchAdvanceUs = 100 * 1000;
constexpr uint64_t kPastEveryTimeoutUs = 1000ull * 1000 * 1000;  // past the 900 s established timeout
// Past the bench config's closing timeouts (≤ 120 s) but not the neighbours' 240 s refresh:
// closed connections expire while every neighbour stays resolved.
constexpr uint64_t kPastClosingTimeoutsUs = 121ull * 1000 * 1000;

uint64_t wall_ns() {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return static_cast<uint64_t>(t.tv_sec) * 1000000000ull + static_cast<uint64_t>(t.tv_nsec);
}

// One simulated connection. A flow's number k picks its client tuple; its ISNs carry k's
// slot (isn_of), which is how either peer finds the flow of a segment from its sequence
// numbers, independently of the addresses it then checks.
struct Flow {
  uint32_t client_ip = 0;  // network order, as every address and port here
  uint16_t client_port = 0;
  uint16_t local_port = 0;  // learnt by the server from the first segment it receives
  uint32_t local_ip = 0;
  uint32_t server_ip = 0;
  uint8_t server_seen = 0;  // the server got this flow's first segment
  uint8_t done = 0;         // connections: the client got the server's FIN
};

inline uint32_t isn_of(uint32_t slot) { return slot << 10; }
inline uint32_t slot_of(uint32_t seq, uint32_t mask) { return (seq >> 10) & mask; }

struct Rng {
  uint64_t s = 0x9e3779b97f4a7c15ull;
  uint64_t next() {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 0x2545f4914f6cdd1dull;
  }
};

// The simulated clients (outside) and servers (inside) of both scenarios, with the checks
// every frame the data plane sends them must pass.
struct Peers {
  const Dataplane::TestRig* env = nullptr;
  rte_mempool* pool = nullptr;
  uint8_t protocol = IPPROTO_TCP;
  uint32_t vip = 0;
  uint16_t vport = 0, rport = 0;
  std::vector<uint32_t> lips, servers;
  ClientPlan plan;
  std::vector<Flow> flows;
  uint32_t mask = 0;            // flows.size() - 1 (a power of two)
  bool request = true;          // false: the client stops at the handshake's ACK (cold setup)
  bool answer = true;           // false: frames are checked and freed, never answered (cold, measured)
  std::vector<rte_mbuf*> to_outside, to_inside;  // frames for the ports' rx rings
  uint64_t received = 0, checked = 0, errors = 0, completed = 0, learnt = 0;
  std::string first_error;

  void fail(const std::string& what) {
    if (errors++ == 0) first_error = what;
  }

  // Flow k's client tuple: host k % hosts, port 1024 + (k / hosts) % 64512 (a tuple recurs
  // only after 12 M connections).
  void init_flow(uint64_t k) {
    Flow& f = flows[k & mask];
    f = Flow{};
    f.client_ip = htonl(plan.low32[k % plan.low32.size()]);
    f.client_port = htons(static_cast<uint16_t>(1024 + (k / plan.low32.size()) % 64512));
  }

  rte_mbuf* alloc() {
    rte_mbuf* m = rte_pktmbuf_alloc(pool);
    if (!m) fail("mbuf pool exhausted");
    return m;
  }

  void client_send(rte_mbuf* m, uint32_t slot, uint32_t seq, uint32_t ack, uint8_t flags, uint16_t len) {
    const Flow& f = flows[slot];
    uint8_t mac[6];
    mac_for_ip(f.client_ip, mac);
    write_ipv4_frame(m, {mac, env->outside->mac, f.client_ip, vip, f.client_port, vport, protocol, seq, ack, flags,
                         len, slot});
    to_outside.push_back(m);
  }

  void server_send(rte_mbuf* m, uint32_t slot, uint32_t seq, uint32_t ack, uint8_t flags, uint16_t len) {
    const Flow& f = flows[slot];
    uint8_t mac[6];
    mac_for_ip(f.server_ip, mac);
    write_ipv4_frame(m, {mac, env->inside->mac, f.server_ip, f.local_ip, rport, f.local_port, protocol, seq, ack,
                         flags, len, slot});
    to_inside.push_back(m);
  }

  // How many flows to open at once from flow k: a few while the first use of each client
  // host and server has the data plane resolve it (its hold queue per neighbour is bounded),
  // then kSetupBatch.
  uint32_t open_batch(uint64_t k) const { return k < plan.low32.size() + 8 ? 8 : kSetupBatch; }

  // The first segment (SYN) or datagram of flow k from its client.
  void open(uint64_t k) {
    init_flow(k);
    rte_mbuf* m = alloc();
    if (!m) return;
    const uint32_t slot = static_cast<uint32_t>(k & mask);
    if (protocol == IPPROTO_TCP)
      client_send(m, slot, isn_of(slot), 0, kTcpSyn, 0);
    else
      client_send(m, slot, 0, 0, 0, kPayloadBytes);
  }

  bool sample_checksums(const rte_mbuf* m, const char* side) {
    if (received % kChecksumSample != 0 || ipv4_checksums_ok(m)) return true;
    fail(std::string(side) + ": bad IPv4 or L4 checksum");
    return false;
  }

  // A frame the data plane sent to the clients: from VIP:vport to the flow's own tuple.
  void client_receive(rte_mbuf* m) {
    if (answer_arp(m)) {
      to_outside.push_back(m);
      return;
    }
    received++;
    Decoded d;
    if (!decode_ipv4(m, &d) || d.protocol != protocol) {
      fail("client side: not an IPv4 frame of the service's protocol");
      rte_pktmbuf_free(m);
      return;
    }
    const uint32_t slot = protocol == IPPROTO_TCP ? slot_of(d.ack, mask) : (d.tag & mask);
    Flow& f = flows[slot];
    checked++;
    if (d.saddr != vip || d.sport != vport || d.daddr != f.client_ip || d.dport != f.client_port) {
      fail("client side: a reply not from VIP:vport to its client's address and port (slot " + std::to_string(slot) +
           ")");
      rte_pktmbuf_free(m);
      return;
    }
    if (!sample_checksums(m, "client side") || protocol != IPPROTO_TCP || !answer) {
      rte_pktmbuf_free(m);
      return;
    }
    const uint32_t isn = isn_of(slot);
    if ((d.tcp_flags & (kTcpSyn | kTcpAck)) == (kTcpSyn | kTcpAck)) {
      client_send(m, slot, isn + 1, d.seq + 1, kTcpAck, 0);
      if (request) {
        rte_mbuf* r = alloc();
        if (r) client_send(r, slot, isn + 1, d.seq + 1, kTcpPsh | kTcpAck, kRequestBytes);
      }
    } else if (d.tcp_flags & kTcpFin) {
      f.done = 1;
      completed++;
      rte_pktmbuf_free(m);
    } else if (d.payload_len > 0) {
      client_send(m, slot, isn + 1 + kRequestBytes, d.seq + d.payload_len, kTcpFin | kTcpAck, 0);
    } else {
      rte_pktmbuf_free(m);
    }
  }

  bool is_lip(uint32_t a) const { return std::find(lips.begin(), lips.end(), a) != lips.end(); }
  bool is_server(uint32_t a) const { return std::find(servers.begin(), servers.end(), a) != servers.end(); }

  // A frame the data plane sent to the servers: from one of the service's LIPs to a server's
  // rport; after the first, always from the same LIP:lport to the same server.
  void server_receive(rte_mbuf* m) {
    if (answer_arp(m)) {
      to_inside.push_back(m);
      return;
    }
    received++;
    Decoded d;
    if (!decode_ipv4(m, &d) || d.protocol != protocol) {
      fail("server side: not an IPv4 frame of the service's protocol");
      rte_pktmbuf_free(m);
      return;
    }
    const uint32_t slot = protocol == IPPROTO_TCP ? slot_of(d.seq, mask) : (d.tag & mask);
    Flow& f = flows[slot];
    checked++;
    if (!is_lip(d.saddr) || !is_server(d.daddr) || d.dport != rport) {
      fail("server side: a frame not from a LIP to a server's port (slot " + std::to_string(slot) + ")");
      rte_pktmbuf_free(m);
      return;
    }
    if (!f.server_seen) {
      f.server_seen = 1;
      f.local_ip = d.saddr;
      f.local_port = d.sport;
      f.server_ip = d.daddr;
      learnt++;
    } else if (d.saddr != f.local_ip || d.sport != f.local_port || d.daddr != f.server_ip) {
      fail("server side: a flow's frame from another LIP:lport or to another server (slot " + std::to_string(slot) +
           ")");
      rte_pktmbuf_free(m);
      return;
    }
    if (!sample_checksums(m, "server side") || !answer) {
      rte_pktmbuf_free(m);
      return;
    }
    if (protocol != IPPROTO_TCP) {  // UDP: each datagram answered (and the client's neighbour resolved)
      server_send(m, slot, 0, 0, 0, kPayloadBytes);
      return;
    }
    const uint32_t isn = isn_of(slot);
    if (d.tcp_flags & kTcpSyn) {
      server_send(m, slot, isn, d.seq + 1, kTcpSyn | kTcpAck, 0);
    } else if (d.tcp_flags & kTcpFin) {
      server_send(m, slot, isn + 1 + kResponseBytes, d.seq + 1, kTcpFin | kTcpAck, 0);
    } else if (d.payload_len > 0) {
      server_send(m, slot, isn + 1, d.seq + d.payload_len, kTcpPsh | kTcpAck, kResponseBytes);
    } else {
      rte_pktmbuf_free(m);
    }
  }

  // Everything the data plane transmitted, answered; returns frames taken.
  uint32_t collect() {
    void* objs[64];
    uint32_t total = 0;
    unsigned n;
    while ((n = rte_ring_dequeue_burst(env->outside->tx_rings[0], objs, 64, nullptr)) > 0) {
      for (unsigned i = 0; i < n; i++) client_receive(static_cast<rte_mbuf*>(objs[i]));
      total += n;
    }
    while ((n = rte_ring_dequeue_burst(env->inside->tx_rings[0], objs, 64, nullptr)) > 0) {
      for (unsigned i = 0; i < n; i++) server_receive(static_cast<rte_mbuf*>(objs[i]));
      total += n;
    }
    return total;
  }

  // The frames the peers made, into the ports' rx rings; returns how many.
  uint32_t deliver() {
    uint32_t total = 0;
    for (auto [frames, port] : {std::pair{&to_outside, env->outside}, std::pair{&to_inside, env->inside}}) {
      unsigned sent = rte_ring_enqueue_burst(port->rx_rings[0], reinterpret_cast<void**>(frames->data()),
                                             static_cast<unsigned>(frames->size()), nullptr);
      if (sent < frames->size()) fail("a port's rx ring was full");
      for (size_t i = sent; i < frames->size(); i++) rte_pktmbuf_free((*frames)[i]);
      total += sent;
      frames->clear();
    }
    return total;
  }
};

uint32_t pow2_at_least(uint32_t n) {
  uint32_t p = 1;
  while (p < n) p <<= 1;
  return p;
}

bool set_up_peers(const Dataplane::TestRig& env, Peers* peers, std::string* error) {
  if (env.config->services.empty()) {
    *error = "bench: needs an applied config with a service";
    return false;
  }
  const ServiceConfig& svc = env.config->services[0];
  if (!ip_is_v4(svc.vip) || svc.servers.empty() || svc.local_addresses.empty()) {
    *error = "bench: cold/connections need an IPv4 FullNAT service with servers and LIPs";
    return false;
  }
  peers->env = &env;
  peers->pool = env.pool;
  peers->protocol = svc.protocol;
  peers->vip = ip_v4(svc.vip);
  peers->vport = htons(svc.vport);
  peers->rport = htons(svc.servers[0].port);
  for (const auto& server : svc.servers) {
    if (server.port != svc.servers[0].port || !ip_is_v4(server.addr)) {
      *error = "bench: cold/connections need IPv4 servers on one port";
      return false;
    }
    peers->servers.push_back(ip_v4(server.addr));
  }
  for (const IpAddr& l : svc.local_addresses) peers->lips.push_back(ip_v4(l));
  if (!plan_clients(*env.config, env.outside_index, svc.vip, &peers->plan)) {
    *error = "bench: the outside port's first prefix has no free host addresses for clients";
    return false;
  }
  return true;
}

// One stage of the measured loop as the worker loop does it for one port: rx burst,
// pipeline, tx flush. Returns packets received.
inline uint16_t stage(WorkerContext& c, const Snapshot* s, Port* from, uint16_t from_index, uint64_t now_us) {
  rte_mbuf* pkts[kRxBurst];
  uint16_t n = rte_eth_rx_burst(from->port_id, 0, pkts, kRxBurst);
  if (n == 0) return 0;
  c.counters->event(Event::RX_PACKETS, n);
  worker_process_burst(c.worker, s, from_index, pkts, n, now_us, c.tx);
  c.tx.flush_all();
  return n;
}

// Until both rx rings are empty; returns packets received.
inline uint32_t drain_ports(const Dataplane::TestRig& env, const Snapshot* s, uint64_t now_us) {
  uint32_t total = 0, n;
  do {
    n = stage(*env.worker, s, env.outside, env.outside_index, now_us);
    n += stage(*env.worker, s, env.inside, env.inside_index, now_us);
    total += n;
  } while (n > 0);
  return total;
}

// Unmeasured: runs the peers and the pipeline until nothing moves (ARP answered, handshakes
// done), the clock moving on idle steps so held packets' ARP retries fire.
void settle(const Dataplane::TestRig& env, const Snapshot* s, Peers* peers, uint64_t* now_us) {
  uint32_t idle = 0;
  while (idle < kIdleStepsMax) {
    uint32_t moved = peers->deliver();
    worker_run_timers(env.worker->worker, s, *now_us, env.worker->tx);
    moved += worker_poll_ports(*env.worker, s, *now_us);
    env.worker->tx.flush_all();
    moved += peers->collect();
    if (moved > 0) {
      idle = 0;
    } else {
      idle++;
      *now_us += kIdleAdvanceUs;
    }
    if (peers->to_outside.empty() && peers->to_inside.empty() && moved == 0 && idle > 2) break;
  }
}

uint64_t counter(const WorkerContext& c, Event e) { return c.counters->events[static_cast<unsigned>(e)]; }
uint64_t total_drops(const WorkerCounters& c) {
  uint64_t sum = 0;
  for (uint64_t d : c.drops) sum += d;
  return sum;
}

// One frame of an established flow picked at random, written as the NIC would leave it:
// its header lines flushed from every cache level.
inline void write_cold(Peers* p, rte_mbuf* m, uint32_t slot, bool from_client) {
  const uint32_t isn = isn_of(slot);
  if (from_client)
    p->client_send(m, slot, isn + 1, isn + 1, kTcpAck, kPayloadBytes);
  else
    p->server_send(m, slot, isn + 1, isn + 1, kTcpAck, kPayloadBytes);
  const char* data = rte_pktmbuf_mtod(m, const char*);
  _mm_clflush(data);
  _mm_clflush(data + 64);
}

Status run_cold(const Dataplane::TestRig& env, const Snapshot* s, const BenchOptions& opt, Peers* peers,
                uint64_t* now_us, BenchResult* result) {
  WorkerContext& c = *env.worker;
  const uint32_t n = opt.connections ? opt.connections : kDefaultColdConnections;
  if (n > kMaxColdConnections)
    return Status::Error("EINVAL", "bench: options.connections: expected 1.." + std::to_string(kMaxColdConnections));
  peers->flows.assign(pow2_at_least(n), Flow{});
  peers->mask = static_cast<uint32_t>(peers->flows.size() - 1);
  peers->request = false;
  // Set-up, unmeasured: every connection opened through the pipeline (TCP: the client's SYN,
  // the server's SYN-ACK, the client's ACK: established; UDP: a datagram each way).
  const uint64_t created_before = counter(c, Event::CONNS_CREATED);
  for (uint32_t k = 0; k < n;) {
    const uint32_t end = std::min(n, k + peers->open_batch(k));
    for (; k < end; k++) peers->open(k);
    settle(env, s, peers, now_us);
    if (peers->errors) break;
  }
  const uint64_t created = counter(c, Event::CONNS_CREATED) - created_before;
  if (peers->errors || peers->learnt != n || created != n)
    return Status::Error("EINVAL", "bench: cold: set-up made " + std::to_string(created) + " connections, servers saw " +
                                       std::to_string(peers->learnt) + " of " + std::to_string(n) + " flows" +
                                       (peers->errors ? ": " + peers->first_error : std::string()) +
                                       " (conn_capacity and LIPs enough for them?)");
  // Measured: each iteration kColdBurst frames of random flows onto each port's rx ring.
  peers->received = peers->checked = 0;
  peers->answer = false;
  Rng rng;
  std::vector<double> chunks;
  chunks.reserve(opt.packets / kChunkPackets + 1);
  const uint64_t drops_before = total_drops(*c.counters), created_measured = counter(c, Event::CONNS_CREATED);
  uint64_t packets = 0, harness = 0, chunk_harness = 0, chunk_packets = 0;
  rte_mbuf* fresh[2 * kColdBurst];
  const uint64_t wall_start = wall_ns();
  uint64_t chunk_start = rte_rdtsc_precise();
  const uint64_t start = chunk_start;
  while (packets < opt.packets) {
    const uint64_t h0 = rte_rdtsc();
    if (rte_pktmbuf_alloc_bulk(peers->pool, fresh, 2 * kColdBurst) != 0)
      return Status::Error("NOMEM", "bench: cold: mbuf pool exhausted");
    for (uint32_t i = 0; i < 2 * kColdBurst; i++)
      write_cold(peers, fresh[i], static_cast<uint32_t>(rng.next() % n), i < kColdBurst);
    _mm_mfence();
    peers->deliver();
    const uint64_t h1 = rte_rdtsc();
    uint32_t got = drain_ports(env, s, *now_us);
    const uint64_t h2 = rte_rdtsc();
    const uint64_t out_before = peers->received;
    peers->collect();
    if (peers->received - out_before != got)
      peers->fail("cold: " + std::to_string(got) + " frames in, " + std::to_string(peers->received - out_before) + " out");
    const uint64_t now = rte_rdtsc();
    const uint64_t peer_cycles = (h1 - h0) + (now - h2);
    harness += peer_cycles;
    chunk_harness += peer_cycles;
    packets += got;
    chunk_packets += got;
    if (chunk_packets >= kChunkPackets) {
      chunks.push_back(static_cast<double>(now - chunk_start - chunk_harness) / static_cast<double>(chunk_packets));
      chunk_start = now;
      chunk_harness = chunk_packets = 0;
    }
    if (got == 0 || peers->errors > 100) break;
  }
  const uint64_t end = rte_rdtsc_precise();
  if (packets < opt.packets)
    peers->fail("cold: the loop stopped after " + std::to_string(packets) + " of " + std::to_string(opt.packets) +
                " packets");
  result->wall_ns = wall_ns() - wall_start;
  result->packets = packets;
  result->cycles = end - start - harness;
  result->harness_cycles = harness;
  result->dropped = total_drops(*c.counters) - drops_before;
  result->conns_created = counter(c, Event::CONNS_CREATED) - created_measured;
  result->connections = n;
  bench_summarise_chunks(&chunks, result);
  return Status::Ok();
}

// One batch of kConnBatch whole connections: SYNs in, the peers answering until nothing
// moves, then the clock moves on and the timers run (freeing the connections whose closing
// timeout ran out). Returns the data plane's cycles (peers' excluded); *packets += received.
uint64_t connection_batch(const Dataplane::TestRig& env, const Snapshot* s, Peers* peers, uint64_t* next,
                          uint64_t* now_us, uint64_t* packets) {
  WorkerContext& c = *env.worker;
  const uint64_t batch_start = rte_rdtsc();
  const uint64_t completed_before = peers->completed;
  for (uint32_t k = 0; k < kConnBatch; k++) peers->open((*next)++);
  peers->deliver();
  uint64_t peer_cycles = rte_rdtsc() - batch_start;
  for (;;) {
    *packets += drain_ports(env, s, *now_us);
    const uint64_t h = rte_rdtsc();
    uint32_t moved = peers->collect();
    moved += peers->deliver();
    peer_cycles += rte_rdtsc() - h;
    if (moved == 0) break;
  }
  *now_us += kConnBatchAdvanceUs;
  worker_run_timers(c.worker, s, *now_us, c.tx);
  c.tx.flush_all();
  const uint64_t cycles = rte_rdtsc() - batch_start - peer_cycles;
  if (peers->completed - completed_before != kConnBatch)
    peers->fail("connections: a batch completed " + std::to_string(peers->completed - completed_before) + " of " +
                std::to_string(kConnBatch) + " connections");
  for (Port* p : {env.outside, env.inside})
    if (rte_ring_count(p->tx_rings[0]) > 0) peers->fail("connections: the timers transmitted frames");
  return cycles;
}

Status run_connections(const Dataplane::TestRig& env, const Snapshot* s, const BenchOptions& opt, Peers* peers,
                       uint64_t* now_us, BenchResult* result) {
  WorkerContext& c = *env.worker;
  if (peers->protocol != IPPROTO_TCP) return Status::Error("EINVAL", "bench: connections: the first service must be TCP");
  const uint32_t n = opt.connections ? opt.connections : kDefaultConnections;
  peers->flows.assign(1u << 16, Flow{});  // in flight at once: one batch
  peers->mask = (1u << 16) - 1;
  const uint64_t live_before = worker_connection_count(c.worker);
  // Warm-up, unmeasured: more connections than client hosts, a few at a time, so every
  // neighbour (clients, servers) is resolved whatever a previous round left of them. They
  // expire during the steady-state batches below.
  for (uint32_t k = 0; k < kSetupBatch;) {
    const uint32_t end = std::min(kSetupBatch, k + peers->open_batch(k));
    for (; k < end; k++) peers->open(k);
    settle(env, s, peers, now_us);
  }
  if (peers->errors || peers->completed != kSetupBatch)
    return Status::Error("EINVAL", "bench: connections: warm-up completed " + std::to_string(peers->completed) + " of " +
                                       std::to_string(kSetupBatch) + " connections" +
                                       (peers->errors ? ": " + peers->first_error : std::string()));
  // Steady state, unmeasured: one closing timeout's worth of batches, so from the first
  // measured batch on, every timer run frees about as many connections as the batch made.
  uint64_t next = kSetupBatch;  // flow numbers continue after the warm-up's
  uint64_t unmeasured_packets = 0;
  for (uint64_t t = 0; t <= kPastClosingTimeoutsUs && !peers->errors; t += kConnBatchAdvanceUs)
    connection_batch(env, s, peers, &next, now_us, &unmeasured_packets);
  peers->completed = peers->received = peers->checked = 0;
  const uint64_t drops_before = total_drops(*c.counters), created_before = counter(c, Event::CONNS_CREATED),
                 expired_before = counter(c, Event::CONNS_EXPIRED);
  std::vector<double> chunks;
  chunks.reserve(n / kConnBatch + 1);
  uint64_t packets = 0, cycles = 0;
  const uint64_t wall_start = wall_ns();
  const uint64_t start = rte_rdtsc_precise();
  for (uint32_t done = 0; done < n && !peers->errors; done += kConnBatch) {
    const uint64_t batch = connection_batch(env, s, peers, &next, now_us, &packets);
    cycles += batch;
    chunks.push_back(static_cast<double>(batch) / kConnBatch);
  }
  const uint64_t end = rte_rdtsc_precise();
  result->wall_ns = wall_ns() - wall_start;
  result->packets = packets;
  result->cycles = cycles;
  result->harness_cycles = end - start - cycles;
  result->dropped = total_drops(*c.counters) - drops_before;
  result->conns_created = counter(c, Event::CONNS_CREATED) - created_before;
  result->conns_expired = counter(c, Event::CONNS_EXPIRED) - expired_before;
  result->connections = peers->completed;
  // Unmeasured: the last closing timeout's connections, so the next round starts empty.
  *now_us += kPastClosingTimeoutsUs;
  worker_run_timers(c.worker, s, *now_us, c.tx);
  c.tx.flush_all();
  if (worker_connection_count(c.worker) != live_before)
    peers->fail("connections: " + std::to_string(worker_connection_count(c.worker)) + " records left after expiry");
  bench_summarise_chunks(&chunks, result);
  return Status::Ok();
}

}  // namespace

void bench_summarise_chunks(std::vector<double>* figures, BenchResult* result) {
  if (figures->empty()) return;
  std::sort(figures->begin(), figures->end());
  const size_t n = figures->size();
  result->chunk_median = (*figures)[n / 2];
  result->chunk_p10 = (*figures)[n / 10];
  result->chunk_p90 = (*figures)[std::min(n - 1, n * 9 / 10)];
  result->chunks = static_cast<uint32_t>(n);
}

Status bench_run_flows(Dataplane& dataplane, const BenchOptions& opt, BenchResult* result) {
  Dataplane::TestRig env;
  Status rig = dataplane.test_rig("bench", &env);
  if (!rig.ok()) return rig;
  const Snapshot* s = worker_current_snapshot(*env.worker);
  Peers peers;
  std::string error;
  if (!set_up_peers(env, &peers, &error)) return Status::Error("EINVAL", error);
  for (Port* p : {env.outside, env.inside}) {
    drain_ring(p->rx_rings[0]);
    drain_ring(p->tx_rings[0]);
  }
  const int64_t in_use_before = rte_mempool_in_use_count(env.pool);
  uint64_t now_us = env.now_us;
  Status st = opt.scenario == BenchScenario::COLD ? run_cold(env, s, opt, &peers, &now_us, result)
                                                  : run_connections(env, s, opt, &peers, &now_us, result);
  for (Port* p : {env.outside, env.inside}) {
    drain_ring(p->rx_rings[0]);
    drain_ring(p->tx_rings[0]);
  }
  free_all(&peers.to_outside);
  free_all(&peers.to_inside);
  if (opt.scenario == BenchScenario::COLD) {
    // The next round starts from an empty table as well (unmeasured).
    now_us += kPastEveryTimeoutUs;
    worker_run_timers(env.worker->worker, s, now_us, env.worker->tx);
    env.worker->tx.flush_all();
    for (Port* p : {env.outside, env.inside}) drain_ring(p->tx_rings[0]);
  }
  // The test clock keeps what the scenario's clock reached: the timer wheel's cursor went
  // that far, and a next round starting from an older time would file its records behind it
  // (freed only a wheel revolution later).
  dataplane.advance_clock_us(now_us - env.now_us);
  result->packets_out = peers.received;
  result->output_checked = peers.checked;
  result->output_errors = peers.errors;
  result->first_error = peers.first_error;
  result->tsc_hz = rte_get_tsc_hz();
  result->mbufs_leaked = static_cast<int64_t>(rte_mempool_in_use_count(env.pool)) - in_use_before;
  return st;
}

}  // namespace pc
