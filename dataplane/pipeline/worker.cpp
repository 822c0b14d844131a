// The worker API of pipeline.h: create/destroy, snapshot adoption, the burst
// dispatcher (parse → ARP | ICMP | connection stage; IPv6 → ND | ICMPv6 echo | ICMPv6 error relay), timers and connection listing.
#include <cstring>
#include <new>
#include <rte_malloc.h>
#include <rte_prefetch.h>
#include "pipeline/cluster/handoff.h"
#include "pipeline/conn_stage.h"
#include "pipeline/l2l3/icmp.h"
#include "pipeline/l2l3/icmp6.h"
#include "pipeline/forward/icmp_relay.h"
#include "pipeline/forward/icmp6_relay.h"
#include "pipeline/l2l3/l3.h"
#include "pipeline/l2l3/parse.h"
#include "pipeline/output/route.h"
#include "pipeline/conn/server_choice.h"
#include "pipeline/defend/defend.h"
#include "pipeline/defend/frag_policy.h"
#include "pipeline/worker_state.h"
#include "pipeline/worker_capture.h"
#include "pipeline/worker_trace.h"

namespace pc {

Worker* worker_create(const WorkerParams& params, std::string* error) {
  if (params.port_count > kMaxPorts || (params.port_count && !params.port_macs)) {
    *error = "worker: port_count must be 0.." + std::to_string(kMaxPorts) + " with port_macs";
    return nullptr;
  }
  if (params.count == 0 || params.index >= params.count) {
    *error = "worker: index " + std::to_string(params.index) + " out of 0.." + std::to_string(params.count) + "-1";
    return nullptr;
  }
  Worker* w = new (std::nothrow) Worker();
  if (!w) {
    *error = "worker: out of memory";
    return nullptr;
  }
  w->params = params;
  w->sched_random.seed(params.sched_seed ? params.sched_seed : sched_random_default_seed(params.index));
  for (uint16_t i = 0; i < params.port_count; i++) std::memcpy(w->port_macs[i], params.port_macs[i], 6);
  w->params.port_macs = w->port_macs;  // never keep the caller's pointer
  for (uint16_t i = 0; i < kMaxPorts; i++) w->port_mtus[i] = params.port_mtus && i < params.port_count ? params.port_mtus[i] : 1500;
  w->params.port_mtus = w->port_mtus;
  void* counters = rte_zmalloc_socket("pc_worker_counters", sizeof(WorkerCounters), RTE_CACHE_LINE_SIZE, params.socket_id);
  if (!counters) {
    *error = "worker: out of memory for counters";
    delete w;
    return nullptr;
  }
  w->counters = new (counters) WorkerCounters();
  const ConnStore* store = params.store;
  if (store) {
    // The tables live in the region (conn_store.h); an earlier process's are adopted later.
    w->store = *store;
    w->adopt_pending = store->adopt;
    conn_table_attach(&w->conns, params.conn_capacity, store->records, store->free_stack, store->buckets,
                      store->bucket_count, store->wheel, &w->store.stamp->high_water, !store->adopt);
  } else if (!conn_table_init(&w->conns, params.conn_capacity, params.socket_id, error)) {
    rte_free(w->counters);
    delete w;
    return nullptr;
  }
  if (!synproxy_init(&w->synproxy, params.conn_capacity, params.socket_id, store ? store->synproxy : nullptr, error)) {
    conn_table_destroy(&w->conns);
    rte_free(w->counters);
    delete w;
    return nullptr;
  }
  neigh_init(&w->neigh, w->port_macs, params.port_count, w->counters, params.pool);
  lport_allocator_init(&w->lports, params.index, params.count);
  w->frag6_next_id = params.index;  // stepped by params.count: no two workers share one
  w->services.resize(kMaxServiceId + 1);
  w->service_epoch.assign(kMaxServiceId + 1, 0);
  w->server_epoch.assign(kMaxServerId + 1, 0);
  Timeouts defaults;
  for (auto& rt : w->services) rt.timeouts = state_timeouts_from(defaults);
  w->loads.workers[0] = w->counters;  // until worker_share_counters() names all workers
  w->loads.worker_count = 1;
  if (!persist_init(&w->persist, params.socket_id, store ? store->persist : nullptr)) {
    *error = "worker: out of memory for persistence templates";
    worker_destroy(w);
    return nullptr;
  }
  if (!defend_init(&w->defend, params.socket_id)) {
    *error = "worker: out of memory for UDP source buckets";
    worker_destroy(w);
    return nullptr;
  }
  if (!reassembly_init(&w->reassembly, params.frag, params.frag_pool ? params.frag_pool : params.pool, params.pool,
                       params.count, params.socket_id, error)) {
    worker_destroy(w);
    return nullptr;
  }
  synproxy_auto_init(&w->synproxy_auto);
  return w;
}

void worker_destroy(Worker* w) {
  if (!w) return;
  worker_flush_drops(w);
  neigh_destroy(&w->neigh);
  worker_trace_free(w);
  session_log_destroy(&w->session_log);
  worker_capture_free(w);
  reassembly_destroy(&w->reassembly);
  defend_destroy(&w->defend);
  persist_destroy(&w->persist);
  synproxy_destroy(&w->synproxy, w->counters);
  conn_table_destroy(&w->conns);
  for (auto& rt : w->services) delete rt.scheduler;
  rte_free(w->counters);
  delete w;
}

// A different object now carries this id: start its counters from zero and
// disown the connections made for the previous one (their epoch no longer matches).
// True when it did.
static bool reset_if_new_generation(TrafficCounters& counters, uint8_t* epoch, uint64_t generation) {
  if (counters.generation == generation) return false;
  counters = TrafficCounters{};
  counters.generation = generation;
  (*epoch)++;
  return true;
}

void worker_share_counters(Worker* const* workers, uint16_t count) {
  if (count > kMaxSchedWorkers) count = kMaxSchedWorkers;
  for (uint16_t i = 0; i < count; i++) {
    ServerLoads& loads = workers[i]->loads;
    for (uint16_t k = 0; k < count; k++) loads.workers[k] = workers[k]->counters;
    loads.worker_count = count;
  }
}

void worker_adopt_snapshot(Worker* w, const Snapshot* s) {
  // Pointer AND version: a freed snapshot's address may be reused by the next one.
  if (!w || (s == w->adopted && snapshot_version(s) == w->adopted_version && w->adopted_once)) return;
  // The previous snapshot may already be reclaimed: only the worker's own records are used here.
  for (uint32_t id : w->present_service_ids) w->services[id].present = false;
  std::vector<uint32_t> now_present;
  if (s) {
    for (const ServiceEntry& svc : s->services) {
      bool new_service =
          reset_if_new_generation(w->counters->services[svc.id], &w->service_epoch[svc.id], svc.generation);
      for (const ServerEntry& server : svc.servers) {
        // Templates of the server's previous generation no longer count (their epoch is stale).
        if (reset_if_new_generation(w->counters->servers[server.id], &w->server_epoch[server.id], server.generation)) {
          w->counters->persist_templates[server.id] = 0;
          w->counters->refusals[server.id] = ServerRefusals{};
        }
      }

      ServiceRuntime& rt = w->services[svc.id];
      rt.present = true;
      rt.timeouts = state_timeouts_from(svc.timeouts);
      rt.persistence_netmask = svc.persistence_netmask;
      rt.persistence_prefix_v6 = svc.persistence_prefix_v6;
      rt.persistence_timeout_us = static_cast<uint64_t>(svc.persistence_timeout) * 1000000ull;
      if (!rt.scheduler || rt.scheduler_kind != svc.scheduler) {
        delete rt.scheduler;
        rt.scheduler = scheduler_create(svc.scheduler);  // null only on OOM: new flows then drop NO_REAL_SERVER
        rt.scheduler_kind = svc.scheduler;
        if (rt.scheduler) rt.scheduler->reset(svc);
      } else if (rt.server_set_fingerprint != svc.server_set_fingerprint) {
        rt.scheduler->reset(svc);
      }
      rt.server_set_fingerprint = svc.server_set_fingerprint;
      local_addresses_adopt(w, rt, svc, new_service);
      now_present.push_back(svc.id);
    }
  }
  // Services that left: drop their scheduler state (a re-added service starts fresh).
  for (uint32_t id : w->present_service_ids) {
    ServiceRuntime& rt = w->services[id];
    if (rt.present) continue;
    delete rt.scheduler;
    rt.scheduler = nullptr;
    rt.server_set_fingerprint = 0;
    local_addresses_forget(rt);
  }
  w->present_service_ids.swap(now_present);
  if (s) defend_adopt(w, *s);
  if (s) synproxy_auto_adopt(w, *s);
  cluster_adopt(w, s);
  session_log_adopt(&w->session_log, s && s->session_log, w->conns.capacity);
  w->adopted = s;
  w->adopted_version = s ? s->version : 0;
  w->adopted_once = true;
  w->counters->event(Event::SNAPSHOTS_ADOPTED);
}

static inline void drop(Worker* w, rte_mbuf* m, DropReason reason) {
  worker_discard(w, m);
  w->counters->drop(reason);
}

namespace {

constexpr uint16_t kPrefetchAhead = 4;  // packets whose headers are prefetched ahead of classify

// Packets of one burst waiting for the connection lookup.
struct PendingNat {
  rte_mbuf* m;
  ParsedPacket parsed;
  FlowKey key;
  uint8_t owned;
};

// A chunk's PendingNat slots, not constructed up front: classify() resets the parsed
// header of each slot it fills. An array of PendingNat would write all 64 slots' defaults
// (8.7 KB) every chunk: about half of process_chunk's samples in a flood the defence drops whole.
union PendingSlots {
  PendingSlots() {}
  PendingNat at[kConnBulkMax];
};

// Exception path (DESIGN.md §3): TCP/UDP to a port address that is neither VIP nor LIP
// belongs to the host's own sockets (health checks, ssh), not to FullNAT.
inline bool is_for_host_stack(uint8_t owned, const ParsedPacket& p) {
  if (owned & (kOwnedVip | kOwnedLip)) return false;
  return l3_protocol(p) == IPPROTO_TCP || l3_protocol(p) == IPPROTO_UDP;
}

// ICMP to a port address that is not a request the data plane answers itself (echo;
// IPv6's neighbour discovery is handled before this): echo replies and errors belong to the
// kernel's own sockets — its ping (icmp health checks) and its UDP probes, which learn
// "port unreachable" from them. No connection's packets leave from a port address that is
// not also a LIP or VIP, so no error the relays want is taken from them.
inline bool is_icmp_for_host_stack(uint8_t owned, const ParsedPacket& p) {
  if (!owned || (owned & (kOwnedVip | kOwnedLip))) return false;
  return p.ip6 ? !icmp6_is_echo_request(p) : !icmp_is_echo_request(p);
}

// Hands m to the port's kernel interface, unchanged, and counts it.
inline bool punt(Worker* w, uint16_t in_port, rte_mbuf* m, TxQueues& tx) {
  w->counters->event(Event::EXCEPTION_PUNTED);
  tx.push_exception(in_port, m);
  return true;
}

// Either family: hands such a packet to the port's kernel interface. False when it stays in
// the pipeline (not the host's, or the port has no exception path).
inline bool punt_to_host_stack(Worker* w, uint16_t in_port, rte_mbuf* m, const ParsedPacket& p, uint8_t owned,
                               TxQueues& tx) {
  if (!owned || !tx.has_exception(in_port) || !is_for_host_stack(owned, p)) return false;
  return punt(w, in_port, m, tx);
}

// ICMP's counterpart (p.icmp set, so after parse_l4): replies and errors for a port address.
inline bool punt_icmp_to_host_stack(Worker* w, uint16_t in_port, rte_mbuf* m, const ParsedPacket& p, uint8_t owned,
                                    TxQueues& tx) {
  if (!tx.has_exception(in_port) || !is_icmp_for_host_stack(owned, p)) return false;
  return punt(w, in_port, m, tx);
}

// An IPv6 fragment to a port address that is neither VIP nor LIP, when the port has an
// exception path: the kernel's (its protocol is unknown until reassembly).
inline bool punt_fragment_to_host_stack(Worker* w, uint16_t in_port, rte_mbuf* m, uint8_t owned, TxQueues& tx) {
  if (!owned || (owned & (kOwnedVip | kOwnedLip)) || !tx.has_exception(in_port)) return false;
  return punt(w, in_port, m, tx);
}

// Hands the kernel a copy of m (the original goes on through the pipeline).
void exception_copy(Worker* w, uint16_t in_port, const rte_mbuf* m, TxQueues& tx) {
  rte_mbuf* copy = rte_pktmbuf_copy(m, w->params.pool, 0, UINT32_MAX);
  if (!copy) return w->counters->drop(DropReason::MBUF_ALLOC_FAILED);
  punt(w, in_port, copy, tx);
}

// The kernel resolves its next hops itself: it gets a copy of every ARP reply for a
// port address (the original still teaches our own neighbour table).
void exception_copy_arp_reply(Worker* w, const Snapshot& s, uint16_t in_port, rte_mbuf* m, const ParsedPacket& p,
                              TxQueues& tx) {
  if (p.arp->arp_opcode != rte_cpu_to_be_16(RTE_ARP_OP_REPLY)) return;
  if (!(snapshot_owned_kinds(s, ip_from_v4(p.arp->arp_data.arp_tip)) & kOwnedPortAddress)) return;
  exception_copy(w, in_port, m, tx);
}

// IPv6's counterpart: a copy of every neighbour advertisement sent to a port address (the
// answers to the kernel's own solicitations; the original teaches our neighbour table).
// Solicitations for a port address stay ours: the data plane answers them for both.
void exception_copy_neighbour_advert(Worker* w, uint16_t in_port, const rte_mbuf* m, const ParsedPacket& p,
                                     uint8_t owned, TxQueues& tx) {
  if (p.icmp->icmp_type != kNdNeighborAdvertisement || !(owned & kOwnedPortAddress)) return;
  exception_copy(w, in_port, m, tx);
}

// A datagram rebuilt here whose connection another worker owns (a fragmented reply: the
// fragments stayed on the worker that received them, only the whole datagram names its
// owner) goes to that worker like any other reply; true when it was handed over.
bool hand_rebuilt_to_owner(Worker* w, const Snapshot& s, rte_mbuf* m, uint16_t largest_fragment, TxQueues& tx) {
  if (tx.worker_count() <= 1) return false;
  const int owner = packet_owner_worker(&s, m, tx.worker_count());
  if (!tx.can_hand_to(owner)) return false;
  reassembly_mark_handed(m, largest_fragment);
  w->counters->event(Event::REASSEMBLED_HANDED_OVER);
  tx.push_to_worker(static_cast<uint16_t>(owner), w->rx_port, m);
  return true;
}

// IPv6: parse → neighbour discovery | ICMPv6 echo | defences → the connection stage, as
// IPv4 does. Returns true when the packet is TCP/UDP for the connection stage: *pending filled.
bool classify_ipv6(Worker* w, const Snapshot& s, uint16_t in_port, rte_mbuf* m, PendingNat* pending, uint64_t now_us,
                   TxQueues& tx) {
  ParsedPacket& p = pending->parsed;
  DropReason reason;
  if (!parse_ipv6(m, &p, &reason)) return drop(w, m, reason), false;
  const IpAddr dst = ip_from_v6(p.ip6->dst_addr);
  // Multicast: only the all-nodes group and the solicited-node groups of our addresses on
  // this port, and only for neighbour discovery (checked below).
  static const IpAddr kAllNodes = {{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01}};
  const bool to_group = dst.bytes[0] == 0xff;
  const uint8_t owned = to_group ? 0 : snapshot_owned_kinds(s, dst);
  if (to_group ? !(dst == kAllNodes || snapshot_nd_solicited_group(s, in_port, dst)) : !owned && !s.has_nat_servers)
    return drop(w, m, DropReason::NOT_FOR_US), false;
  // Fragments (RFC 8200 4.5) meet the fragment policy as IPv4's do; an atomic fragment
  // (offset 0, M clear) is a whole packet and goes on as one (RFC 6946).
  if (ipv6_is_fragment(p) && !ipv6_is_atomic_fragment(p)) {
    // Neighbour discovery is never fragmented (RFC 6980), and nothing else is taken from a group.
    if (to_group) return drop(w, m, DropReason::NOT_FOR_US), false;
    if (!ipv6_first_fragment_holds_l4(p)) return drop(w, m, DropReason::FRAG_HEADER_CHAIN_INCOMPLETE), false;
    // For the host's own sockets the kernel reassembles, as it does IPv4's: every fragment is
    // handed over, since only the first names the upper protocol.
    if (punt_fragment_to_host_stack(w, in_port, m, owned, tx)) return false;
    uint16_t largest_fragment = 0;
    m = frag_input(w, s, m, p, now_us, &largest_fragment);  // the rebuilt datagram, or null: held or dropped (counted)
    if (!m) return false;
    const bool handed_off = p.handed_off;
    p = ParsedPacket{};  // parse the whole datagram afresh (same checks as any received frame)
    p.handed_off = handed_off;
    L2Kind kind;
    if (!parse_l2(m, w->port_macs[in_port], &p, &kind, &reason)) return drop(w, m, reason), false;
    if (kind != L2Kind::IPV6) return drop(w, m, DropReason::IPV6_MALFORMED), false;
    if (!parse_ipv6(m, &p, &reason)) return drop(w, m, reason), false;
    p.reassembled_from = largest_fragment;
    if (hand_rebuilt_to_owner(w, s, m, largest_fragment, tx)) return false;
  } else {
    p.reassembled_from = reassembly_take_handed_size(m);  // rebuilt by another worker, else 0
  }
  if (!parse_l4(&p, &reason)) return drop(w, m, reason), false;
  if (p.icmp) {
    if (!owned && !to_group) {
      // An ICMPv6 error from a NAT server to the client is relayed like a reply (icmp6_relay.h).
      if (!icmp6_is_error(p.icmp->icmp_type)) return drop(w, m, DropReason::NOT_FOR_US), false;
      if (!icmp6_checksum_ok(p)) return drop(w, m, DropReason::ICMP6_BAD_CHECKSUM), false;
      if (!icmp6_relay_error(w, s, m, p, now_us, tx)) drop(w, m, DropReason::NOT_FOR_US);
      return false;
    }
    if (!icmp6_checksum_ok(p)) return drop(w, m, DropReason::ICMP6_BAD_CHECKSUM), false;
    const uint8_t type = p.icmp->icmp_type;
    if (icmp6_is_nd(type)) {
      if (tx.has_exception(in_port)) exception_copy_neighbour_advert(w, in_port, m, p, owned, tx);
      return neigh6_input(&w->neigh, s, in_port, m, p, now_us, tx), false;
    }
    // Past neighbour discovery the source must be a single node (parse let :: through for DAD).
    const IpAddr src = ip_from_v6(p.ip6->src_addr);
    if (ip_is_zero(src)) return drop(w, m, DropReason::IPV6_BAD_ADDRESS), false;
    if (to_group) return drop(w, m, DropReason::NOT_FOR_US), false;
    if (punt_icmp_to_host_stack(w, in_port, m, p, owned, tx)) return false;
    if (icmp_relay_nat64_error6(w, s, m, p, now_us, tx)) return false;  // relayed to a NAT64 server, or dropped
    // Any other error about one of our connections goes to its other side (icmp6_relay.h).
    if (icmp6_relay_error(w, s, m, p, now_us, tx)) return false;
    if (!icmp6_is_echo_request(p)) return drop(w, m, DropReason::ICMP_UNSUPPORTED), false;
    icmp6_echo_reply_in_place(m, p, w->port_macs[in_port]);
    w->counters->event(Event::ICMP6_ECHO_ANSWERED);
    // The reply goes where a route says (an on-link requester is resolved by NS first, as
    // Linux does); with no route back, to the MAC it came from.
    NextHop back;
    if (route_lookup(s, src, &back)) return neigh_output(&w->neigh, s, m, back.port_index, back.gateway, now_us, tx), false;
    tx.push(in_port, m);
    return false;
  }
  if (to_group) return drop(w, m, DropReason::NOT_FOR_US), false;
  if (punt_to_host_stack(w, in_port, m, p, owned, tx)) return false;
  if (!defend_input(w, s, m, p, owned, now_us)) return false;  // dropped and counted
  if (!conn_stage_classify(w, m, p, &pending->key)) return false;
  pending->m = m;
  pending->owned = owned;
  return true;
}

// Parses one packet and finishes everything that needs no connection lookup (ARP,
// ICMP, drops). Returns true when the packet is TCP/UDP for the connection stage: *pending filled.
bool classify(Worker* w, const Snapshot& s, uint16_t in_port, rte_mbuf* m, uint64_t now_us, TxQueues& tx,
              PendingNat* pending, bool handed_off = false) {
  ParsedPacket& p = pending->parsed;
  p = ParsedPacket{};
  p.handed_off = handed_off;
  L2Kind kind;
  DropReason reason;
  if (!parse_l2(m, w->port_macs[in_port], &p, &kind, &reason)) return drop(w, m, reason), false;
  if (kind == L2Kind::ARP) {
    if (!parse_arp(m, &p, &reason)) return drop(w, m, reason), false;
    if (tx.has_exception(in_port)) exception_copy_arp_reply(w, s, in_port, m, p, tx);
    neigh_input_arp(&w->neigh, s, in_port, m, p, now_us, tx);
    return false;
  }
  if (kind == L2Kind::IPV6) return classify_ipv6(w, s, in_port, m, pending, now_us, tx);
  if (!parse_ipv4(m, &p, &reason)) return drop(w, m, reason), false;
  // Another cluster node's hand-off (cluster/handoff.h): the inner packet is processed as if
  // it had arrived on this port.
  if (unlikely(handoff_is_encapsulated(s, p))) {
    if (!handoff_decapsulate(w, s, m, p)) return false;  // dropped, counted
    return classify(w, s, in_port, m, now_us, tx, pending, true);
  }
  uint8_t owned = snapshot_owned_kinds(s, l3_dst(p));
  // We are not a router, except for the replies of NAT servers (to the client): those go
  // on to the connection lookup, and a miss there is NOT_FOR_US (forward/nat.h).
  if (!owned && !s.has_nat_servers) return drop(w, m, DropReason::NOT_FOR_US), false;
  if (punt_to_host_stack(w, in_port, m, p, owned, tx)) return false;
  if (ipv4_is_fragment(p.ip)) {
    m = frag_input(w, s, m, p, now_us);  // the rebuilt datagram, or null: held or dropped (counted)
    if (!m) return false;
    p = ParsedPacket{};  // parse the whole datagram afresh (same checks as any received frame)
    p.handed_off = handed_off;
    if (!parse_l2(m, w->port_macs[in_port], &p, &kind, &reason) || kind != L2Kind::IPV4 || !parse_ipv4(m, &p, &reason))
      return drop(w, m, DropReason::MALFORMED_L3), false;
    if (hand_rebuilt_to_owner(w, s, m, 0, tx)) return false;
  }
  if (!parse_l4(&p, &reason)) return drop(w, m, reason), false;
  if (!owned && p.icmp) {
    // An ICMP error from a NAT server to the client is relayed like a reply (icmp_relay.h).
    if (!icmp_relay_error(w, s, m, p, now_us, tx)) drop(w, m, DropReason::NOT_FOR_US);
    return false;
  }
  if (!defend_input(w, s, m, p, owned, now_us)) return false;  // dropped and counted
  if (p.icmp) {
    if (punt_icmp_to_host_stack(w, in_port, m, p, owned, tx)) return false;
    if (icmp_relay_error(w, s, m, p, now_us, tx)) return false;
    icmp_input(m, p, in_port, w->port_macs[in_port], *w->counters, tx);
    return false;
  }
  if (!conn_stage_classify(w, m, p, &pending->key)) return false;
  pending->m = m;
  pending->owned = owned;
  return true;
}

// Up to kConnBulkMax packets: classify, one bulk lookup, translate.
void process_chunk(Worker* w, const Snapshot& s, uint16_t in_port, rte_mbuf** packets, uint16_t n, uint64_t now_us,
                   TxQueues& tx) {
  PendingSlots slots_storage;
  PendingNat* pending = slots_storage.at;
  const FlowKey* keys[kConnBulkMax];
  uint32_t count = 0;
  // Headers a few packets ahead (their mbufs were prefetched for the whole burst): by the
  // time classify reaches a packet its first lines are in L1.
  for (uint16_t i = 0; i < n && i < kPrefetchAhead; i++) rte_prefetch0(rte_pktmbuf_mtod(packets[i], void*));
  defend_prefetch_chunk(w, s, packets, n);  // the per-source bucket sets of the whole chunk
  for (uint16_t i = 0; i < n; i++) {
    if (i + kPrefetchAhead < n) rte_prefetch0(rte_pktmbuf_mtod(packets[i + kPrefetchAhead], void*));
    if (classify(w, s, in_port, packets[i], now_us, tx, &pending[count])) {
      keys[count] = &pending[count].key;
      count++;
    }
  }
  if (count == 0) return;
  uint32_t slots[kConnBulkMax];
  // Also prefetches the hits' records and, for TCP, their SYNPROXY entries (synproxy_owns).
  uint64_t hits = conn_lookup_bulk(w->conns, keys, count, slots, w->synproxy.conns, sizeof(SynproxyConn));
  const uint64_t& created = w->counters->events[static_cast<unsigned>(Event::CONNS_CREATED)];
  const uint64_t created_at_lookup = created;
  for (uint32_t k = 0; k < count; k++) {
    ConnHit hit;
    if (hits & (1ull << k)) {
      hit.found = true;
      hit.index = (slots[k] - 1) >> 1;
      hit.direction = static_cast<Direction>((slots[k] - 1) & 1);
    }
    hit.recheck_miss = created != created_at_lookup;  // no new connection since the lookup: the miss stands
    if (unlikely(w->observing))  // opt-in trace or capture (pipeline/trace.h, pipeline/capture.h)
      conn_stage_input_observed(w, s, in_port, pending[k].m, pending[k].parsed, pending[k].owned, pending[k].key, hit,
                           now_us, tx);
    else
      conn_stage_input(w, s, pending[k].m, pending[k].parsed, pending[k].owned, pending[k].key, hit, now_us, tx);
  }
}

}  // namespace

void worker_process_burst(Worker* w, const Snapshot* s, uint16_t in_port, rte_mbuf** packets, uint16_t n,
                          uint64_t now_us, TxQueues& tx) {
  w->now_us = now_us;  // (RX_PACKETS is counted by the core's poll loop, not here)
  w->rx_port = in_port;
  // The core adopts before processing; this only guards against running on a stale view.
  if (s != w->adopted || snapshot_version(s) != w->adopted_version) worker_adopt_snapshot(w, s);
  if (!s || in_port >= w->params.port_count) {
    // No configuration yet (nothing is ours), or a port this worker was not told about.
    for (uint16_t i = 0; i < n; i++) drop(w, packets[i], DropReason::NOT_FOR_US);
    worker_flush_drops(w);
    return;
  }
  for (uint16_t i = 0; i < n; i++) rte_prefetch0(packets[i]);  // mbuf first lines (buf_addr, data_off, lengths)
  for (uint16_t done = 0; done < n;) {
    uint16_t chunk = static_cast<uint16_t>(static_cast<uint32_t>(n - done) < kConnBulkMax ? n - done : kConnBulkMax);
    process_chunk(w, *s, in_port, packets + done, chunk, now_us, tx);
    done = static_cast<uint16_t>(done + chunk);
  }
  worker_flush_drops(w);
}

void worker_run_timers(Worker* w, const Snapshot* s, uint64_t now_us, TxQueues& tx) {
  w->now_us = now_us;
  w->timer_snapshot = s;
  w->timer_tx = &tx;
  conn_run_timers(&w->conns, now_us, conn_stage_expire, w);
  expire_templates(w, now_us);
  w->timer_snapshot = nullptr;
  w->timer_tx = nullptr;
  neigh_run_timers(&w->neigh, now_us, tx);
  reassembly_run_timers(&w->reassembly, w->counters, now_us);
  synproxy_auto_run_timers(w, now_us);
  cluster_learn_pending(w, now_us);
  worker_flush_drops(w);
}

WorkerCounters& worker_counters(Worker* w) { return *w->counters; }

// An earlier process's tables not adopted yet count nothing (their free list is not rebuilt).
uint64_t worker_connection_count(const Worker* w) { return w->adopt_pending ? 0 : conn_count(w->conns); }

uint32_t worker_connection_capacity(const Worker* w) { return w->conns.capacity; }

bool worker_session_log_prepare(Worker* w, std::string* error) {
  if (!session_log_prepare(&w->session_log, w->conns.capacity, w->params.socket_id, error)) {
    *error += " (worker " + std::to_string(w->params.index) + ")";
    return false;
  }
  return true;
}

uint32_t worker_session_log_drain(Worker* w, uint8_t* out, uint32_t max) {
  return session_log_drain(&w->session_log, out, max);
}

uint32_t worker_list_connections(const Worker* w, uint32_t position, uint32_t max_slots, ConnectionInfo* out,
                                 uint32_t max, uint32_t* next) {
  const uint32_t capacity = w->conns.capacity;
  const uint32_t end = position < capacity && capacity - position > max_slots ? position + max_slots : capacity;
  uint32_t copied = 0, i = position < capacity ? position : capacity;
  for (; i < end && copied < max; i++) {
    const Conn& c = w->conns.records[i];
    if (!c.in_use || c.state == kStateUdpAnswered) continue;  // answered one-packet: no longer a connection
    ConnectionInfo& info = out[copied++];
    info.protocol = c.protocol;
    info.client_addr = c.client_addr;
    info.client_port = rte_be_to_cpu_16(c.client_port);
    info.virtual_addr = c.virtual_addr;
    info.virtual_port = rte_be_to_cpu_16(c.virtual_port);
    bool fullnat = !(c.flags & kConnNotFullnat);  // NAT keeps the client there; DR/TUN nothing
    // No local side: the unspecified address of the connection's family (0.0.0.0 for IPv4).
    info.local_addr = fullnat ? c.local_addr : ip_is_v4(c.client_addr) ? ip_from_v4(0) : IpAddr{};
    info.local_port = fullnat ? rte_be_to_cpu_16(c.local_port) : 0;
    info.server_addr = c.server_addr;
    info.server_port = rte_be_to_cpu_16(c.server_port);
    info.service_id = c.service_id;
    info.server_id = c.server_id;
    info.state = conn_state_name(c.state);
    info.expires_in_ms = c.expires_us > w->now_us ? (c.expires_us - w->now_us) / 1000 : 0;
  }
  *next = i;
  return copied;
}

}  // namespace pc
