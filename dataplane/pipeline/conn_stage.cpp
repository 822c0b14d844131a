#include "pipeline/conn_stage.h"

#include "pipeline/carriage/proxy_header.h"
#include "pipeline/cluster/handoff.h"
#include "pipeline/conn/client_owner.h"
#include "pipeline/conn/conn_account.h"
#include "pipeline/conn/conn_create.h"
#include "pipeline/conn/server_choice.h"
#include "pipeline/defend/defend.h"
#include "pipeline/forward/dr.h"
#include "pipeline/forward/fullnat.h"
#include "pipeline/forward/nat.h"
#include "pipeline/forward/nat64.h"
#include "pipeline/forward/tun.h"
#include "pipeline/l2l3/l3.h"
#include "pipeline/l2l3/parse.h"
#include "pipeline/synproxy/synproxy.h"
#include "pipeline/synproxy/synproxy_auto.h"
#include "pipeline/worker_state.h"

namespace pc {

namespace {

inline bool tcp_opens_connection(const rte_tcp_hdr* tcp) {
  uint8_t flags = tcp->tcp_flags;
  return (flags & RTE_TCP_SYN_FLAG) && !(flags & (RTE_TCP_ACK_FLAG | RTE_TCP_RST_FLAG));
}

// A packet without a connection: a new flow to a service gets one (or SYNPROXY takes it).
// Returns the new record index, *hop = the route to its server; kNoConn when the packet
// was consumed (SYNPROXY) or dropped with its reason.
uint32_t new_flow(Worker* w, const Snapshot& s, rte_mbuf* m, ParsedPacket& p, uint8_t owned_kinds,
                  uint64_t now_us, TxQueues& tx, NextHop* hop) {
  if (!owned_kinds) return worker_drop(w, m, DropReason::NOT_FOR_US), kNoConn;  // not a NAT reply we know (forward/nat.h)
  // Mid-flow packet of a connection another cluster node made (the routers moved the flow):
  // to its owner, before NO_CONN and before SYNPROXY takes a bare ACK for a cookie. A SYN
  // goes on as a new connection here (the client starts over; the owner's old one expires).
  if (unlikely(s.cluster.enabled) && (owned_kinds & kOwnedVip) && !p.handed_off &&
      (p.udp || (p.tcp && !tcp_opens_connection(p.tcp))) && handoff_to_owner(w, s, m, p, now_us, tx))
    return kNoConn;
  const ServiceEntry* svc = snapshot_find_service(s, l3_protocol(p), l3_dst(p), l4_dst_port(p));
  if (!svc) {
    // Traffic to a LIP is reply traffic: without a connection there is nothing to reply to.
    bool to_local_address = (owned_kinds & kOwnedLip) != 0;
    return worker_drop(w, m, to_local_address ? DropReason::NO_CONN : DropReason::NO_SERVICE), kNoConn;
  }
  // Several workers, a NAT or persistent service: only the worker its client names makes the
  // connection (conn/client_owner.h), so this packet without one here goes there, SYN or not.
  if (unlikely(tx.worker_count() > 1) && (svc->has_nat_servers || svc->persistence_timeout)) {
    const int owner = service_client_owner(s, *svc, l3_src(p), l4_src_port(p), tx.worker_count());
    if (tx.can_hand_to(owner)) {
      w->counters->event(Event::CLIENT_FLOWS_HANDED_OVER);
      tx.push_to_worker(static_cast<uint16_t>(owner), w->rx_port, m);
      return kNoConn;
    }
  }
  if (p.tcp && (svc->synproxy || (svc->synproxy_auto && synproxy_auto_takes(w, *svc, p, now_us))))
    return synproxy_new_flow(w, s, *svc, m, p, now_us, tx), kNoConn;
  if (p.tcp && !tcp_opens_connection(p.tcp)) return worker_drop(w, m, DropReason::NO_CONN), kNoConn;
  DropReason reason;
  if (!defend_admit_connection(w, s, *svc, now_us, &reason)) return worker_drop(w, m, reason), kNoConn;
  uint32_t index = conn_create(w, s, *svc, p, now_us, hop, &reason);
  if (index == kNoConn) return worker_drop(w, m, reason), kNoConn;
  if (p.tcp && proxy_header_enabled(svc->client_address)) synproxy_track_proxy_header(w, index, svc->client_address, p);
  return index;
}

// One-packet UDP (ipvsadm -o): the server's first reply to a datagram ends its connection
// here, before the reply is forwarded (the record's fields stay as they are for that).
// Everything it held goes back as on expiry (gauges, the lport, the LIP's count, event
// conns_expired) and its reply entry leaves the index, so a second reply is a reply
// without a connection (no_conn). The lport is free again at once: the allocator's next-fit
// cursor (conn/lport.cpp) hands it out again only after the rest of the worker's pool.
// The record itself waits, holding nothing, until the wheel reaches its slot (at most
// timeouts.udp_one_packet): the wheel's lists are singly linked, so it cannot leave earlier.
[[gnu::noinline]] void one_packet_answered(Worker* w, Conn& c, uint64_t now_us) {
  if (unlikely(w->session_log.tallies != nullptr)) log_session_ended(w, c, now_us, kSessionAnswered);
  conn_stage_release(w, c);
  conn_remove_reply_entry(&w->conns, static_cast<uint32_t>(&c - w->conns.records));
  c.state = kStateUdpAnswered;
  c.expires_us = now_us;
}

// The state machine: IPVS's INPUT-ONLY table for one-way (DR/TUN) connections, the full
// one for the others; then the expiry (lazy: the wheel re-files it when its slot comes).
inline void advance(Worker* w, Conn& c, const ParsedPacket& p, Direction direction, uint64_t now_us) {
  if (p.tcp) {
    uint8_t flags = p.tcp->tcp_flags;
    const uint8_t before = c.state;
    uint8_t next = (c.flags & kConnOneWay) ? tcp_next_state_input_only(static_cast<ConnState>(c.state), flags)
                                           : tcp_next_state(static_cast<ConnState>(c.state), direction, flags);
    if (next != c.state) conn_set_state(w, c, next);
    // A server that resets its connections shows here first (faults are data, like drops).
    if ((flags & RTE_TCP_RST_FLAG) && !(c.flags & kConnOneWay)) {
      bool from_server = direction == Direction::OUTPUT;
      w->counters->event(from_server ? Event::TCP_RESETS_FROM_SERVER : Event::TCP_RESETS_FROM_CLIENT);
      // Passive health: a server that refuses or breaks connections (not one closing them).
      if (from_server && tcp_state_opening_or_established(before)) count_reset_from_server(w, c);
    }
  } else if (unlikely(c.state == kStateUdpOnePacket) && direction == Direction::OUTPUT) {
    // The reply belongs to the connection it ends: in its tally before the end record is written.
    if (unlikely(w->session_log.tallies != nullptr))
      session_log_count(w->session_log, static_cast<uint32_t>(&c - w->conns.records), false, p.ip_total_len);
    return one_packet_answered(w, c, now_us);
  }
  c.expires_us = conn_expiry(w, c, now_us);
}

// Client segments SYNPROXY held during the backend handshake, now that it is done: each
// goes through this stage as if it arrived now.
void replay_held(Worker* w, const Snapshot& s, uint32_t index, const SynproxyReleased& held, uint64_t now_us,
                 TxQueues& tx) {
  for (uint32_t i = 0; i < held.count; i++) {
    rte_mbuf* h = held.packets[i];
    ParsedPacket hp;
    L2Kind kind;
    DropReason reason;
    const uint8_t* dst_mac = rte_pktmbuf_mtod(h, rte_ether_hdr*)->dst_addr.addr_bytes;
    if (!parse_l2(h, dst_mac, &hp, &kind, &reason) ||
        !(kind == L2Kind::IPV6 ? parse_ipv6(h, &hp, &reason) : parse_ipv4(h, &hp, &reason)) || !parse_l4(&hp, &reason)) {
      worker_drop(w, h, reason);  // cannot happen: it parsed when it arrived
      continue;
    }
    FlowKey key = l3_flow_key(hp);
    ConnHit hit;
    hit.found = true, hit.index = index, hit.direction = Direction::INPUT;
    conn_stage_input(w, s, h, hp, snapshot_owned_kinds(s, l3_dst(hp)), key, hit, now_us, tx);
  }
}

// SYNPROXY's part of a packet of one of its connections; true when it consumed the
// packet. Out of line (like new_flow_input) so the established path below keeps a small
// frame and ends in a tail call to the forwarding method: a call frame more per packet
// cost ~4% on established FullNAT when the stage and the methods were split.
[[gnu::noinline]] bool synproxy_takes_packet(Worker* w, const Snapshot& s, uint32_t index, Direction direction,
                                             rte_mbuf* m, ParsedPacket& p, uint64_t now_us, TxQueues& tx) {
  SynproxyReleased released;
  bool consumed = synproxy_conn_packet(w, s, index, direction, m, p, now_us, tx, &released);
  replay_held(w, s, index, released, now_us, tx);
  return consumed;
}

// The packet of connection index: its state advanced, then its forwarding method.
// known_hop = the route when a new connection found it already, else null.
[[gnu::always_inline]] inline void forward_on(Worker* w, const Snapshot& s, rte_mbuf* m, ParsedPacket& p, uint32_t index,
                       Direction direction, const NextHop* known_hop, uint64_t now_us, TxQueues& tx) {
  Conn& c = w->conns.records[index];
  if (c.flags & kConnOneWay) {  // DR, TUN: client packets only
    advance(w, c, p, direction, now_us);
    if (c.flags & kConnTun) return forward_tun(w, s, m, p, c, known_hop, now_us, tx);
    return forward_dr(w, s, m, p, c, known_hop, now_us, tx);
  }
  if (p.tcp && synproxy_owns(w->synproxy, index) && synproxy_takes_packet(w, s, index, direction, m, p, now_us, tx))
    return;
  advance(w, c, p, direction, now_us);
  if (c.flags & (kConnNat | kConnNat64)) {  // one test on the FullNAT path for both
    if (c.flags & kConnNat) return forward_nat(w, s, m, p, c, direction, known_hop, now_us, tx);
    return forward_nat64(w, s, m, p, c, direction, known_hop, now_us, tx);
  }
  return forward_fullnat(w, s, m, p, c, direction, known_hop, now_us, tx);
}

// A packet without a connection: new_flow, then on to the new connection's method.
[[gnu::noinline]] void new_flow_input(Worker* w, const Snapshot& s, rte_mbuf* m, ParsedPacket& p, uint8_t owned_kinds,
                                      uint64_t now_us, TxQueues& tx) {
  NextHop hop;
  uint32_t index = new_flow(w, s, m, p, owned_kinds, now_us, tx, &hop);
  if (index == kNoConn) return;
  forward_on(w, s, m, p, index, Direction::INPUT, &hop, now_us, tx);
}

}  // namespace

bool conn_stage_classify(Worker* w, rte_mbuf* m, const ParsedPacket& p, FlowKey* key) {
  if (l3_hop_limit_expires(p)) {
    worker_drop(w, m, DropReason::TTL_EXCEEDED);
    return false;
  }
  *key = l3_flow_key(p);
  return true;
}

void conn_stage_input(Worker* w, const Snapshot& s, rte_mbuf* m, ParsedPacket& p, uint8_t owned_kinds,
                      const FlowKey& key, const ConnHit& hit, uint64_t now_us, TxQueues& tx) {
  uint32_t index = hit.index;
  Direction direction = hit.direction;
  if (!hit.found && !(hit.recheck_miss && conn_lookup(w->conns, key, &index, &direction)))
    return new_flow_input(w, s, m, p, owned_kinds, now_us, tx);
  // The burst was looked up at once: a second reply to a one-packet datagram in the same burst
  // as the first still holds the hit that the first one ended (one_packet_answered). It is a
  // reply without a connection, as it would be one burst later.
  if (unlikely(w->conns.records[index].state == kStateUdpAnswered))
    return new_flow_input(w, s, m, p, owned_kinds, now_us, tx);
  forward_on(w, s, m, p, index, direction, nullptr, now_us, tx);
}

void conn_stage_expire(void* worker, const Conn& c) {
  if (c.state == kStateUdpAnswered) return;  // one_packet_answered() gave everything back (and logged the end)
  Worker* w = static_cast<Worker*>(worker);
  if (unlikely(w->session_log.tallies != nullptr)) log_session_ended(w, c, w->now_us, kSessionExpired);
  conn_stage_release(w, c);
}

void conn_stage_release(Worker* w, const Conn& c) {
  synproxy_on_expire(w, static_cast<uint32_t>(&c - w->conns.records));
  bool active = c.state == kStateEstablished;
  for (TrafficCounters* t : {service_counters(w, c), server_counters(w, c)}) {
    if (t) (active ? t->active_conns : t->inactive_conns)--;
  }
  if (!(c.flags & kConnNotFullnat)) {
    lport_give_back(&w->lports, c.lport_pool, c.local_port);
    local_address_release(w, c);
  }
  release_from_template(w, c);
  w->counters->event(Event::CONNS_EXPIRED);
}

}  // namespace pc
