#include "bench/bench.h"

#include <arpa/inet.h>
#include <algorithm>
#include <cstring>
#include <vector>
#include <rte_arp.h>
#include <rte_cycles.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_tcp.h>
#include <rte_udp.h>
#include <malloc.h>
#include <time.h>
#include <string>
#include <rte_malloc.h>
#include "bench/bench_fill.h"
#include "bench/bench_flows.h"
#include "bench/bench_frames.h"
#include "pipeline/l2l3/checksum.h"
#include "pipeline/output/nd.h"

namespace pc {

namespace {

using namespace pc::bench;

constexpr uint32_t kMaxFlows = 2048;           // all flows in flight at once; ring ports hold 4096
constexpr uint32_t kWarmupRounds = 2000;
constexpr size_t kWarmupFlowsPerRound = 8;
constexpr uint64_t kWarmupIdleAdvanceUs = 1000; // lets the pipeline's ARP retry timers fire
constexpr uint32_t kMaxIdleIterations = 1000;   // measured loop: give up when everything is dropped
constexpr uint64_t kChunkPackets = 2048;        // packets per timed chunk of the measured loop


// What every frame the data plane sends in the measured loop must show: to the clients,
// from VIP:vport (synproxy: a SYN-ACK); to the servers, from one of the LIPs to a server's
// port. Drop rows must send nothing. ARP and neighbour traffic is not counted.
struct OutputCheck {
  IpAddr vip{};
  uint16_t vport = 0, rport = 0;  // network order
  std::vector<IpAddr> lips, servers;
  bool synack = false;
  uint64_t out = 0, checked = 0, errors = 0;
  std::string first_error;

  void fail(const std::string& what) {
    if (errors++ == 0) first_error = what;
  }

  // Source and destination address and port of an IPv4/IPv6 TCP/UDP frame.
  static bool tuple(rte_mbuf* m, IpAddr* src, IpAddr* dst, uint16_t* sport, uint16_t* dport, uint8_t* flags) {
    auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
    const uint8_t* l4;
    uint8_t protocol;
    if (is_ipv6_frame(eth)) {
      auto* ip6 = reinterpret_cast<rte_ipv6_hdr*>(eth + 1);
      memcpy(src->bytes, ip6->src_addr, 16);
      memcpy(dst->bytes, ip6->dst_addr, 16);
      protocol = ip6->proto;
      l4 = reinterpret_cast<const uint8_t*>(ip6 + 1);
    } else if (eth->ether_type == htons(RTE_ETHER_TYPE_IPV4)) {
      auto* ip = reinterpret_cast<rte_ipv4_hdr*>(eth + 1);
      *src = ip_from_v4(ip->src_addr);
      *dst = ip_from_v4(ip->dst_addr);
      protocol = ip->next_proto_id;
      l4 = reinterpret_cast<const uint8_t*>(ip) + (ip->version_ihl & 0x0f) * 4;
    } else {
      return false;
    }
    if (protocol != IPPROTO_TCP && protocol != IPPROTO_UDP) return false;
    memcpy(sport, l4, 2);
    memcpy(dport, l4 + 2, 2);
    *flags = protocol == IPPROTO_TCP ? reinterpret_cast<const rte_tcp_hdr*>(l4)->tcp_flags : 0;
    return true;
  }

  bool sampled_checksums_ok(rte_mbuf* m) {
    if (out % 64 != 0) return true;
    const auto* eth = rte_pktmbuf_mtod(m, const rte_ether_hdr*);
    return eth->ether_type != htons(RTE_ETHER_TYPE_IPV4) || ipv4_checksums_ok(m);
  }

  void client_side(rte_mbuf* m) {
    out++;
    IpAddr src, dst;
    uint16_t sport, dport;
    uint8_t flags;
    if (!tuple(m, &src, &dst, &sport, &dport, &flags)) return fail("to the clients: not a TCP/UDP frame");
    checked++;
    if (!(src == vip) || sport != vport) return fail("to the clients: not from VIP:vport");
    if (synack && flags != (kTcpSyn | kTcpAck)) return fail("to the clients: not a SYN-ACK");
    if (!sampled_checksums_ok(m)) fail("to the clients: bad checksum");
  }

  void server_side(rte_mbuf* m) {
    out++;
    IpAddr src, dst;
    uint16_t sport, dport;
    uint8_t flags;
    if (!tuple(m, &src, &dst, &sport, &dport, &flags)) return fail("to the servers: not a TCP/UDP frame");
    checked++;
    if (std::find(lips.begin(), lips.end(), src) == lips.end()) return fail("to the servers: not from a LIP");
    if (std::find(servers.begin(), servers.end(), dst) == servers.end() || dport != rport)
      return fail("to the servers: not to a server's address and port");
    if (!sampled_checksums_ok(m)) fail("to the servers: bad checksum");
  }
};

// Simulated hosts behind a port: take what the port transmitted, answer ARP,
// mirror IPv4 into the reply, and feed it back into the port's rx ring (or into
// *collect when given). Anything else is freed.
// When check is given, every frame is checked first (to_clients: which side the port faces).
uint32_t bounce(Port* port, uint8_t tcp_flags, bool syn_gets_synack, std::vector<rte_mbuf*>* collect,
                OutputCheck* check = nullptr, bool to_clients = false) {
  void* objs[kTxBurst];
  uint32_t moved = 0;
  unsigned n;
  while ((n = rte_ring_dequeue_burst(port->tx_rings[0], objs, kTxBurst, nullptr)) > 0) {
    unsigned keep = 0;
    for (unsigned i = 0; i < n; i++) {
      rte_mbuf* m = static_cast<rte_mbuf*>(objs[i]);
      if (answer_arp(m)) {
        objs[keep++] = m;
        continue;
      }
      if (check) to_clients ? check->client_side(m) : check->server_side(m);
      uint8_t flags = tcp_flags;
      if (syn_gets_synack && (tcp_flags_of(m) & kTcpSyn)) flags = kTcpSyn | kTcpAck;
      mirror(m, flags);
      const rte_ether_hdr* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
      if (collect && (eth->ether_type == htons(RTE_ETHER_TYPE_IPV4) || is_ipv6_frame(eth))) {
        collect->push_back(m);
        moved++;
        continue;
      }
      objs[keep++] = m;
    }
    unsigned sent = rte_ring_enqueue_burst(port->rx_rings[0], objs, keep, nullptr);
    for (unsigned i = sent; i < keep; i++) rte_pktmbuf_free(static_cast<rte_mbuf*>(objs[i]));
    moved += sent;
    if (n < kTxBurst) break;
  }
  return moved;
}

// Drop rows: what the port transmitted is checked and freed; ARP is answered.
void check_and_free(Port* port, OutputCheck* check, bool to_clients) {
  void* objs[kTxBurst];
  unsigned n;
  while ((n = rte_ring_dequeue_burst(port->tx_rings[0], objs, kTxBurst, nullptr)) > 0) {
    for (unsigned i = 0; i < n; i++) {
      rte_mbuf* m = static_cast<rte_mbuf*>(objs[i]);
      if (answer_arp(m)) {
        if (rte_ring_enqueue(port->rx_rings[0], m) != 0) rte_pktmbuf_free(m);
        continue;
      }
      to_clients ? check->client_side(m) : check->server_side(m);
      rte_pktmbuf_free(m);
    }
  }
}

// Frames the drop scenario's client peer copies into fresh mbufs (all the same length).
struct FrameTemplates {
  std::vector<uint8_t> bytes;
  uint16_t length = 0;
  uint32_t count = 0;
  uint32_t next = 0;
};

bool save_templates(const std::vector<rte_mbuf*>& frames, FrameTemplates* t) {
  if (frames.empty()) return false;
  t->length = rte_pktmbuf_data_len(frames[0]);
  t->count = static_cast<uint32_t>(frames.size());
  t->bytes.resize(static_cast<size_t>(t->length) * t->count);
  for (uint32_t i = 0; i < t->count; i++)
    memcpy(&t->bytes[static_cast<size_t>(i) * t->length], rte_pktmbuf_mtod(frames[i], uint8_t*), t->length);
  return true;
}

// Client peer of the drop scenario: n fresh frames (the templates in turn) onto port's rx.
void refill(Port* port, rte_mempool* pool, FrameTemplates* t, unsigned n) {
  rte_mbuf* fresh[kTxBurst];
  if (n > kTxBurst) n = kTxBurst;
  if (n == 0 || rte_pktmbuf_alloc_bulk(pool, fresh, n) != 0) return;
  for (unsigned i = 0; i < n; i++) {
    memcpy(rte_pktmbuf_mtod(fresh[i], uint8_t*), &t->bytes[static_cast<size_t>(t->next) * t->length], t->length);
    fresh[i]->data_len = t->length;
    fresh[i]->pkt_len = t->length;
    if (++t->next == t->count) t->next = 0;
  }
  unsigned queued = rte_ring_enqueue_burst(port->rx_rings[0], reinterpret_cast<void**>(fresh), n, nullptr);
  for (unsigned i = queued; i < n; i++) rte_pktmbuf_free(fresh[i]);
}

// The newconn scenario's peers: every SYN the server side receives comes back to the
// client side as the SYN of the next flow (client address and port from a sequence
// long enough that a tuple recurs only after its connection was expired).
struct NewFlowMaker {
  std::vector<uint8_t> frame;  // a client SYN (valid checksums) for client 0 / port kFirstPort
  uint32_t template_addr = 0;  // the client address's last 4 bytes, network order, as in the frame
  uint16_t template_port = 0;
  const ClientPlan* plan = nullptr;
  uint64_t next = 0;
  static constexpr uint16_t kFirstPort = 1024;
  static constexpr uint32_t kPorts = 65536 - kFirstPort;

  void write_next(rte_mbuf* m) {
    rte_pktmbuf_reset_headroom(m);
    uint8_t* data = rte_pktmbuf_mtod(m, uint8_t*);
    memcpy(data, frame.data(), frame.size());
    m->data_len = static_cast<uint16_t>(frame.size());
    m->pkt_len = static_cast<uint32_t>(frame.size());
    uint64_t i = next++;
    uint32_t addr = htonl(plan->low32[i % plan->low32.size()]);
    uint16_t port = htons(static_cast<uint16_t>(kFirstPort + (i / plan->low32.size()) % kPorts));
    auto* eth = reinterpret_cast<rte_ether_hdr*>(data);
    mac_for_ip(addr, eth->src_addr.addr_bytes);
    uint16_t old_hi = static_cast<uint16_t>(template_addr & 0xffff), old_lo = static_cast<uint16_t>(template_addr >> 16);
    uint16_t new_hi = static_cast<uint16_t>(addr & 0xffff), new_lo = static_cast<uint16_t>(addr >> 16);
    rte_tcp_hdr* tcp;
    if (is_ipv6_frame(eth)) {
      // Clients differ in the source address's last 4 bytes; no header checksum to patch.
      auto* ip6 = reinterpret_cast<rte_ipv6_hdr*>(eth + 1);
      memcpy(ip6->src_addr + 12, &addr, 4);
      tcp = reinterpret_cast<rte_tcp_hdr*>(ip6 + 1);
    } else {
      auto* ip = reinterpret_cast<rte_ipv4_hdr*>(eth + 1);
      ip->src_addr = addr;
      ip->hdr_checksum = csum_replace(csum_replace(ip->hdr_checksum, old_hi, new_hi), old_lo, new_lo);
      tcp = reinterpret_cast<rte_tcp_hdr*>(ip + 1);
    }
    uint16_t check = csum_replace(csum_replace(tcp->cksum, old_hi, new_hi), old_lo, new_lo);
    tcp->cksum = csum_replace(check, template_port, port);
    tcp->src_port = port;
  }
};

// Server peer of newconn: ARP is answered; each translated SYN becomes the next client SYN.
void renew_syns(Port* inside, Port* outside, NewFlowMaker* maker, OutputCheck* check) {
  void* objs[kTxBurst];
  unsigned n;
  while ((n = rte_ring_dequeue_burst(inside->tx_rings[0], objs, kTxBurst, nullptr)) > 0) {
    void* arp[kTxBurst];
    unsigned arps = 0, syns = 0;
    for (unsigned i = 0; i < n; i++) {
      rte_mbuf* m = static_cast<rte_mbuf*>(objs[i]);
      if (answer_arp(m)) {
        arp[arps++] = m;
        continue;
      }
      check->server_side(m);
      maker->write_next(m);
      objs[syns++] = m;
    }
    unsigned sent = rte_ring_enqueue_burst(inside->rx_rings[0], arp, arps, nullptr);
    for (unsigned i = sent; i < arps; i++) rte_pktmbuf_free(static_cast<rte_mbuf*>(arp[i]));
    sent = rte_ring_enqueue_burst(outside->rx_rings[0], objs, syns, nullptr);
    for (unsigned i = sent; i < syns; i++) rte_pktmbuf_free(static_cast<rte_mbuf*>(objs[i]));
    if (n < kTxBurst) break;
  }
}

uint64_t wall_ns() {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return static_cast<uint64_t>(t.tv_sec) * 1000000000ull + static_cast<uint64_t>(t.tv_nsec);
}

uint64_t total_drops(const WorkerCounters& c) {
  uint64_t sum = 0;
  for (uint64_t d : c.drops) sum += d;
  return sum;
}

// Past every TCP/UDP timeout of the bench configs' SYN states: the whole table expires.
constexpr uint64_t kEmptyTableAdvanceUs = 121ull * 1000 * 1000;

// Empties the connection table (newconn between rounds): clock forward, timers.
void expire_all(WorkerContext& c, const Snapshot* s, uint64_t* now_us) {
  *now_us += kEmptyTableAdvanceUs;
  worker_run_timers(c.worker, s, *now_us, c.tx);
  c.tx.flush_all();
}

// One stage of the measured loop, as the worker loop does it for one port: a burst
// from `from`'s rx through the pipeline (or, io, straight to `to`'s tx), then the tx
// flush. Returns packets received.
inline uint16_t stage(const Dataplane::TestRig& env, const Snapshot* s, bool pipeline, Port* from, uint16_t from_index,
                      Port* to, uint64_t now_us) {
  rte_mbuf* pkts[kTxBurst];
  uint16_t n = rte_eth_rx_burst(from->port_id, 0, pkts, kTxBurst);
  if (n == 0) return 0;
  WorkerContext& c = *env.worker;
  if (pipeline) {
    c.counters->event(Event::RX_PACKETS, n);
    worker_process_burst(c.worker, s, from_index, pkts, n, now_us, c.tx);
    c.tx.flush_all();
  } else {
    uint16_t sent = rte_eth_tx_burst(to->port_id, 0, pkts, n);
    for (uint16_t i = sent; i < n; i++) rte_pktmbuf_free(pkts[i]);
  }
  return n;
}

}  // namespace

Status bench_run(Dataplane& dataplane, const BenchOptions& opt, BenchResult* result) {
  if (opt.scenario == BenchScenario::COLD || opt.scenario == BenchScenario::CONNECTIONS)
    return bench_run_flows(dataplane, opt, result);
  Dataplane::TestRig env;
  Status rig = dataplane.test_rig("bench", &env);
  if (!rig.ok()) return rig;
  if (opt.flows == 0 || opt.flows > kMaxFlows)
    return Status::Error("EINVAL", "bench: options.flows: expected 1.." + std::to_string(kMaxFlows) + ", got " +
                                       std::to_string(opt.flows));
  WorkerContext& c = *env.worker;
  const Snapshot* s = worker_current_snapshot(c);

  // Every scenario but io sends its frames through the pipeline.
  const bool pipeline = opt.scenario != BenchScenario::IO;
  const bool synproxy = opt.scenario == BenchScenario::SYNPROXY;
  const bool newconn = opt.scenario == BenchScenario::NEWCONN;
  const bool drops = opt.scenario == BenchScenario::DROP;
  IpAddr vip = ip_from_v4(htonl(0xc612000a));  // io: any destination; otherwise the first service's
  uint16_t vport = 80;
  uint8_t protocol = IPPROTO_UDP;
  if (pipeline) {
    if (env.config->services.empty())
      return Status::Error("EINVAL", "bench: pipeline scenarios need an applied config with a service");
    const ServiceConfig& svc = env.config->services[0];
    if (synproxy && !(svc.synproxy && svc.protocol == IPPROTO_TCP))
      return Status::Error("EINVAL", "bench: scenario 'synproxy' needs the first service to be TCP with synproxy on");
    if (newconn && !(svc.protocol == IPPROTO_TCP && !svc.synproxy))
      return Status::Error("EINVAL", "bench: scenario 'newconn' needs the first service to be TCP without synproxy");
    vip = svc.vip;
    vport = svc.vport;
    protocol = svc.protocol;
  }
  ClientPlan plan;
  if (!plan_clients(*env.config, env.outside_index, vip, &plan))
    return Status::Error("EINVAL", "bench: the outside port's first prefix has no free host addresses for clients");

  // Start from empty rings so counts below are ours.
  for (Port* p : {env.outside, env.inside}) {
    drain_ring(p->rx_rings[0]);
    drain_ring(p->tx_rings[0]);
  }
  const int64_t in_use_before = rte_mempool_in_use_count(env.pool);

  std::vector<rte_mbuf*> ready;  // client frames that will circulate in the measured loop
  ready.reserve(opt.flows);
  uint8_t first_flags = pipeline ? kTcpSyn : kTcpAck;
  // What the client side turns a frame from the pipeline into: the ACK of an established
  // flow, or (synproxy) a fresh SYN made of the SYN-ACK (its ISN is the old cookie).
  const uint8_t client_flags = synproxy ? kTcpSyn : kTcpAck;
  std::vector<rte_mbuf*> firsts;
  for (uint32_t i = 0; i < opt.flows; i++) {
    IpAddr cip = plan.address(i);
    uint16_t cport = static_cast<uint16_t>(20000 + i / plan.low32.size());
    rte_mbuf* m = build_frame(env.pool, env.outside->mac, cip, cport, vip, vport, protocol, first_flags);
    if (!m) {
      free_all(&firsts);
      return Status::Error("NOMEM", "bench: mbuf pool exhausted building " + std::to_string(opt.flows) + " flows");
    }
    firsts.push_back(m);
  }
  FrameTemplates templates;  // drop: what the client peer keeps sending
  NewFlowMaker maker;        // newconn: the client SYN every new flow starts from
  if (drops) save_templates(firsts, &templates);
  if (newconn) {
    rte_mbuf* t = build_frame(env.pool, env.outside->mac, plan.address(0), NewFlowMaker::kFirstPort, vip, vport,
                              IPPROTO_TCP, kTcpSyn);
    if (!t) {
      free_all(&firsts);
      return Status::Error("NOMEM", "bench: mbuf pool exhausted building the SYN template");
    }
    const uint8_t* data = rte_pktmbuf_mtod(t, const uint8_t*);
    maker.frame.assign(data, data + rte_pktmbuf_data_len(t));
    maker.template_addr = htonl(plan.low32[0]);
    maker.template_port = htons(NewFlowMaker::kFirstPort);
    maker.plan = &plan;
    rte_pktmbuf_free(t);
  }

  uint64_t now_us = env.now_us;
  if (!pipeline) {
    ready.swap(firsts);
  } else {
    // Warm-up: first packet of every flow through the pipeline; the simulated hosts
    // answer ARP and reply (server: SYN-ACK / datagram; client: ACK, or a new SYN for
    // synproxy), so every flow has a connection (synproxy: none) and resolved
    // neighbours before the clock starts.
    // Flows start a few at a time so the pipeline's bounded ARP queues are not
    // overrun by the very first burst.
    size_t next_first = 0;
    for (uint32_t round = 0; round < kWarmupRounds && (drops || ready.size() < opt.flows); round++) {
      if (next_first < firsts.size()) {
        unsigned batch = static_cast<unsigned>(std::min<size_t>(kWarmupFlowsPerRound, firsts.size() - next_first));
        unsigned queued = rte_ring_enqueue_burst(env.outside->rx_rings[0],
                                                 reinterpret_cast<void**>(firsts.data() + next_first), batch, nullptr);
        for (unsigned i = queued; i < batch; i++) rte_pktmbuf_free(firsts[next_first + i]);
        next_first += batch;
      }
      worker_run_timers(c.worker, s, now_us, c.tx);
      uint32_t received = worker_poll_ports(c, s, now_us);
      c.tx.flush_all();
      uint32_t moved = bounce(env.inside, kTcpAck, true, nullptr);
      moved += bounce(env.outside, client_flags, false, &ready);
      if (received == 0 && moved == 0) now_us += kWarmupIdleAdvanceUs;
    }
    for (size_t i = next_first; i < firsts.size(); i++) rte_pktmbuf_free(firsts[i]);
    firsts.clear();
    if (ready.empty() && !drops) {
      for (Port* p : {env.outside, env.inside}) {
        drain_ring(p->rx_rings[0]);
        drain_ring(p->tx_rings[0]);
      }
      return Status::Error("EINVAL",
                           "bench: warm-up: no flow came back to the client side through the pipeline "
                           "(check the applied config: service, servers, LIPs, routes)");
    }
    if (drops || newconn) {
      // Neighbours are resolved now; the flows themselves are not what these measure.
      free_all(&ready);
      if (newconn) expire_all(c, s, &now_us);
      for (Port* p : {env.outside, env.inside}) drain_ring(p->tx_rings[0]);
    }
    if (drops) {
      for (int i = 0; i < 2; i++) refill(env.outside, env.pool, &templates, kTxBurst);
    }
    if (newconn) {
      std::vector<rte_mbuf*> syns(opt.flows);
      if (rte_pktmbuf_alloc_bulk(env.pool, syns.data(), opt.flows) != 0)
        return Status::Error("NOMEM", "bench: mbuf pool exhausted building " + std::to_string(opt.flows) + " SYNs");
      for (rte_mbuf* m : syns) maker.write_next(m);
      ready.swap(syns);
    }
  }

  unsigned queued = rte_ring_enqueue_burst(env.outside->rx_rings[0], reinterpret_cast<void**>(ready.data()),
                                           static_cast<unsigned>(ready.size()), nullptr);
  for (size_t i = queued; i < ready.size(); i++) rte_pktmbuf_free(ready[i]);
  ready.clear();

  const uint32_t round_connections = opt.round_connections ? opt.round_connections : 200000;
  const uint64_t drops_before = total_drops(*c.counters);
  const uint64_t created_before = c.counters->events[static_cast<unsigned>(Event::CONNS_CREATED)];
  uint64_t packets = 0, harness = 0;
  uint32_t idle = 0;
  // Per-chunk figures: a chunk is short (~0.2 ms) next to a scheduler time slice, so on a
  // shared box a preempted chunk is an outlier the median and the 10th percentile ignore.
  std::vector<double> chunk_figures;
  chunk_figures.reserve(opt.packets / kChunkPackets + 1);
  OutputCheck check;
  if (pipeline) {
    const ServiceConfig& svc = env.config->services[0];
    check.vip = vip;
    check.vport = htons(vport);
    check.rport = htons(svc.servers.empty() ? 0 : svc.servers[0].port);
    check.lips = svc.local_addresses;
    for (const auto& server : svc.servers) check.servers.push_back(server.addr);
    check.synack = synproxy;
  }
  const uint64_t wall_start = wall_ns();
  uint64_t chunk_start = rte_rdtsc_precise(), chunk_harness = 0, chunk_packets = 0;
  const uint64_t start = chunk_start;
  while (packets < opt.packets) {
    uint32_t from_outside = stage(env, s, pipeline, env.outside, env.outside_index, env.inside, now_us);
    uint64_t peer_start = rte_rdtsc();
    if (newconn) {
      renew_syns(env.inside, env.outside, &maker, &check);
      if (worker_connection_count(c.worker) >= round_connections) expire_all(c, s, &now_us);
    } else if (!drops) {
      bounce(env.inside, kTcpAck, false, nullptr, pipeline ? &check : nullptr, false);
    }
    uint64_t peer_end = rte_rdtsc();
    uint32_t from_inside = stage(env, s, pipeline, env.inside, env.inside_index, env.outside, now_us);
    uint64_t peer2_start = rte_rdtsc();
    if (drops) {
      refill(env.outside, env.pool, &templates, from_outside);
      // The few the defence lets through (a source's first token) are checked, not answered.
      check_and_free(env.outside, &check, true);
      check_and_free(env.inside, &check, false);
    } else if (newconn) {
      drain_ring(env.outside->tx_rings[0]);
    } else {
      bounce(env.outside, client_flags, false, nullptr, pipeline ? &check : nullptr, true);
    }
    uint64_t now = rte_rdtsc();
    uint64_t peers = (peer_end - peer_start) + (now - peer2_start);
    harness += peers;
    chunk_harness += peers;
    uint32_t n = from_outside + from_inside;
    packets += n;
    chunk_packets += n;
    if (chunk_packets >= kChunkPackets) {
      chunk_figures.push_back(static_cast<double>(now - chunk_start - chunk_harness) / static_cast<double>(chunk_packets));
      chunk_start = now;
      chunk_harness = chunk_packets = 0;
    }
    if (n == 0 && ++idle > kMaxIdleIterations) break;
  }
  const uint64_t end = rte_rdtsc_precise();

  for (Port* p : {env.outside, env.inside}) {
    drain_ring(p->rx_rings[0]);
    drain_ring(p->tx_rings[0]);
  }
  if (newconn) expire_all(c, s, &now_us);  // the next round starts from an empty table
  // The test clock keeps what this run's clock reached (the wheel's cursor went that far).
  dataplane.advance_clock_us(now_us - env.now_us);
  result->wall_ns = wall_ns() - wall_start;
  result->packets = packets;
  result->harness_cycles = harness;
  bench_summarise_chunks(&chunk_figures, result);
  // Every packet in makes one packet out, except in the drop rows (bench/pipeline.ts checks
  // that ≥ 99 % were dropped under their reason) and newconn, whose client side is not looked
  // at (the SYNs' server side is).
  result->packets_out = check.out;
  result->output_checked = check.checked;
  result->output_errors = check.errors;
  result->first_error = check.first_error;
  if (pipeline && !drops && !newconn && check.out != packets) {
    result->output_errors++;
    if (result->first_error.empty())
      result->first_error = std::to_string(packets) + " packets in, " + std::to_string(check.out) + " out";
  }
  result->cycles = end - start - harness;
  result->tsc_hz = rte_get_tsc_hz();
  result->dropped = total_drops(*c.counters) - drops_before;
  result->conns_created = c.counters->events[static_cast<unsigned>(Event::CONNS_CREATED)] - created_before;
  result->mbufs_leaked = static_cast<int64_t>(rte_mempool_in_use_count(env.pool)) - in_use_before;
  return Status::Ok();
}

Status bench_memory(Dataplane& dataplane, uint32_t connections, bool ipv6, BenchMemoryResult* result) {
  WorkerParams params;
  Status template_status = dataplane.test_worker_params("benchMemory", &params);
  if (!template_status.ok()) return template_status;
  params.conn_capacity = connections;
  rte_malloc_socket_stats before{}, after{};
  rte_malloc_get_socket_stats(params.socket_id, &before);
  struct mallinfo2 libc_before = mallinfo2();
  std::string error;
  Worker* w = worker_create(params, &error);
  if (!w) return Status::Error("NOMEM", "bench: memory: " + error + " (more EAL memory: -m)");
  result->connections = worker_fill_connections(w, connections, 0, 0, ipv6);
  rte_malloc_get_socket_stats(params.socket_id, &after);
  struct mallinfo2 libc_after = mallinfo2();
  result->dpdk_bytes = after.heap_allocsz_bytes - before.heap_allocsz_bytes;
  result->libc_bytes = libc_after.uordblks > libc_before.uordblks ? libc_after.uordblks - libc_before.uordblks : 0;
  worker_destroy(w);
  return Status::Ok();
}

Status bench_fill_connections(Dataplane& dataplane, uint16_t worker, uint32_t count, uint32_t first,
                              uint32_t* inserted) {
  *inserted = 0;
  Worker* w = nullptr;
  uint64_t now_us = 0;
  Status st = dataplane.test_worker("fillConnections", worker, &w, &now_us);
  if (!st.ok()) return st;
  *inserted = worker_fill_connections(w, count, now_us, first);
  return Status::Ok();
}

}  // namespace pc
