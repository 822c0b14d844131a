#include "pipeline/forward/fullnat.h"

#include <cstring>
#include <initializer_list>
#include "pipeline/l2l3/checksum.h"
#include "pipeline/conn/conn_setup.h"
#include "pipeline/defend/defend.h"
#include "pipeline/forward/forward_modes.h"
#include "pipeline/output/fragment.h"
#include "pipeline/output/neigh.h"
#include "pipeline/output/route.h"
#include "pipeline/conn/server_choice.h"
#include "pipeline/carriage/proxy_header.h"
#include "pipeline/synproxy/synproxy.h"
#include "pipeline/synproxy/synproxy_auto.h"
#include "pipeline/carriage/toa.h"
#include "pipeline/worker_state.h"

namespace pc {

namespace {

inline void drop(Worker* w, rte_mbuf* m, DropReason reason) {
  worker_discard(w, m);
  w->counters->drop(reason);
}

// The counters a connection still reports to: null when its id now names another object.
inline TrafficCounters* service_counters(Worker* w, const Conn& c) {
  return c.service_epoch == w->service_epoch[c.service_id] ? &w->counters->services[c.service_id] : nullptr;
}
inline TrafficCounters* server_counters(Worker* w, const Conn& c) {
  return c.server_epoch == w->server_epoch[c.server_id] ? &w->counters->servers[c.server_id] : nullptr;
}

// IPVS set_tcp_state() accounting: ESTABLISHED counts as active, every other state inactive.
inline void account_transition(Worker* w, const Conn& c, uint8_t old_state, uint8_t new_state) {
  bool was_active = old_state == kStateEstablished, is_active = new_state == kStateEstablished;
  if (was_active == is_active) return;
  int64_t delta = is_active ? 1 : -1;
  for (TrafficCounters* t : {service_counters(w, c), server_counters(w, c)}) {
    if (!t) continue;
    t->active_conns += delta;
    t->inactive_conns -= delta;
  }
}

inline bool tcp_opens_connection(const rte_tcp_hdr* tcp) {
  uint8_t flags = tcp->tcp_flags;
  return (flags & RTE_TCP_SYN_FLAG) && !(flags & (RTE_TCP_ACK_FLAG | RTE_TCP_RST_FLAG));
}

// A new flow to a service: server, LIP + lport, record, both hash entries.
// Returns the record index or kNoConn after counting the drop reason.
uint32_t create_connection(Worker* w, const Snapshot& s, const ServiceEntry& svc, const ParsedPacket& p,
                           uint64_t now_us, NextHop* hop, DropReason* reason) {
  ServiceRuntime& rt = w->services[svc.id];
  ServerChoice choice = choose_server(w, svc, p.ip->src_addr, l4_src_port(p), now_us);
  int chosen = choice.index;
  if (chosen < 0) {
    *reason = DropReason::NO_REAL_SERVER;
    return kNoConn;
  }
  const ServerEntry& server = svc.servers[chosen];
  if (server.forward != ForwardMethod::FULLNAT) return forward_new_connection(w, s, svc, server, choice, p, now_us, hop, reason);
  if (rt.lips.empty()) {
    *reason = DropReason::NO_LOCAL_ADDRESS;
    return kNoConn;
  }
  // Route before taking anything, so an unroutable server leaves no half-made connection.
  if (!route_lookup(s, server.addr, hop)) {
    *reason = DropReason::NO_ROUTE;
    return kNoConn;
  }
  uint32_t lip_count = static_cast<uint32_t>(rt.lips.size());
  uint32_t lip_slot = 0;
  uint16_t pool = 0, lport = 0;
  bool got_lport = false;
  for (uint32_t k = 0; k < lip_count && !got_lport; k++) {
    lip_slot = (rt.lip_cursor + k) % lip_count;
    pool = rt.lips[lip_slot].pool;
    if (lport_take(&w->lports, pool, &lport)) {
      got_lport = true;
      rt.lip_cursor = lip_slot + 1;
    } else {
      local_address_count_conflict(w, rt, lip_slot);
    }
  }
  if (!got_lport) {
    *reason = DropReason::LPORT_EXHAUSTED;
    return kNoConn;
  }
  uint32_t index = conn_alloc(&w->conns);
  if (index == kNoConn) {
    lport_give_back(&w->lports, pool, lport);
    *reason = DropReason::CONN_TABLE_FULL;
    return kNoConn;
  }
  Conn& c = w->conns.records[index];
  conn_fill_from_first_packet(w, c, p, svc, server, now_us);
  c.local_addr = w->lports.pools[pool].local_addr;
  c.local_port = lport;
  c.lport_pool = pool;
  if (c.protocol == IPPROTO_TCP && svc.client_address == ClientAddress::TOA) c.flags |= kConnToa;
  if (!conn_insert(&w->conns, index, now_us)) {
    conn_release(&w->conns, index);
    lport_give_back(&w->lports, pool, lport);
    *reason = DropReason::CONN_TABLE_FULL;
    return kNoConn;
  }
  count_new_connection(w, svc.id, server.id);
  local_address_count_conn(w, rt, lip_slot);
  bind_to_template(w, choice, c, now_us);
  return index;
}

}  // namespace

void fullnat_rewrite(ParsedPacket& p, const Conn& c, Direction direction) {
  rte_ipv4_hdr* ip = p.ip;
  uint8_t* l4 = l4_header(p);
  uint32_t new_src, new_dst;
  uint16_t new_sport, new_dport;
  if (direction == Direction::INPUT) {
    new_src = c.local_addr, new_sport = c.local_port, new_dst = c.server_addr, new_dport = c.server_port;
  } else {
    new_src = c.virtual_addr, new_sport = c.virtual_port, new_dst = c.client_addr, new_dport = c.client_port;
  }

  // L4 checksum covers the pseudo-header addresses and the ports.
  uint8_t* l4_check = l4_checksum_field(p);
  uint16_t check = load16(l4_check);
  bool udp_without_checksum = !p.tcp && check == 0;
  if (!udp_without_checksum) {
    check = csum_replace32(check, ip->src_addr, new_src);
    check = csum_replace32(check, ip->dst_addr, new_dst);
    check = csum_replace16(check, load16(l4), new_sport);
    check = csum_replace16(check, load16(l4 + 2), new_dport);
    if (!p.tcp && check == 0) check = 0xffff;  // 0 means "no checksum" in UDP
    store16(l4_check, check);
  }
  store16(l4, new_sport);
  store16(l4 + 2, new_dport);

  // IPv4 header: both addresses and the TTL (which shares a 16-bit word with the protocol).
  // The word is decremented as a whole: a byte store then a 16-bit reload of the same word
  // defeats store-to-load forwarding (a ~40% hot spot of this function in perf annotate).
  uint16_t ttl_word_old = load16(&ip->time_to_live);
  uint16_t ttl_word_new = rte_cpu_to_be_16(static_cast<uint16_t>(rte_be_to_cpu_16(ttl_word_old) - 0x100));  // TTL > 1
  store16(&ip->time_to_live, ttl_word_new);
  check = ip->hdr_checksum;
  check = csum_replace32(check, ip->src_addr, new_src);
  check = csum_replace32(check, ip->dst_addr, new_dst);
  check = csum_replace16(check, ttl_word_old, ttl_word_new);
  ip->hdr_checksum = check;
  ip->src_addr = new_src;
  ip->dst_addr = new_dst;
}

void fullnat_on_expire(void* worker, const Conn& c) {
  Worker* w = static_cast<Worker*>(worker);
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

bool fullnat_classify(Worker* w, rte_mbuf* m, const ParsedPacket& p, FlowKey* key) {
  const rte_ipv4_hdr* ip = p.ip;
  if (ip->time_to_live <= 1) {
    drop(w, m, DropReason::TTL_EXCEEDED);
    return false;
  }
  *key = make_flow_key(ip->next_proto_id, ip->src_addr, l4_src_port(p), ip->dst_addr, l4_dst_port(p));
  return true;
}

void fullnat_input(Worker* w, const Snapshot& s, rte_mbuf* m, ParsedPacket& p, uint8_t owned_kinds,
                   const FlowKey& key, const ConnHit& hit, uint64_t now_us, TxQueues& tx) {
  rte_ipv4_hdr* ip = p.ip;
  uint32_t index = hit.index;
  Direction direction = hit.direction;
  NextHop hop;
  bool hop_known = false;
  if (!hit.found && !(hit.recheck_miss && conn_lookup(w->conns, key, &index, &direction))) {
    if (!owned_kinds) return drop(w, m, DropReason::NOT_FOR_US);  // not a NAT reply we know (forward_modes.h)
    const ServiceEntry* svc = snapshot_find_service(s, ip->next_proto_id, ip->dst_addr, l4_dst_port(p));
    if (!svc) {
      // Traffic to a LIP is reply traffic: without a connection there is nothing to reply to.
      bool to_local_address = (owned_kinds & kOwnedLip) != 0;
      return drop(w, m, to_local_address ? DropReason::NO_CONN : DropReason::NO_SERVICE);
    }
    if (p.tcp && (svc->synproxy || (svc->synproxy_auto && synproxy_auto_takes(w, *svc, p, now_us))))
      return synproxy_new_flow(w, s, *svc, m, p, now_us, tx);
    if (p.tcp && !tcp_opens_connection(p.tcp)) return drop(w, m, DropReason::NO_CONN);
    DropReason reason;
    if (!defend_admit_connection(w, s, *svc, now_us, &reason)) return drop(w, m, reason);
    index = create_connection(w, s, *svc, p, now_us, &hop, &reason);
    if (index == kNoConn) return drop(w, m, reason);
    direction = Direction::INPUT;
    if (p.tcp && proxy_header_enabled(svc->client_address)) synproxy_track_proxy_header(w, index, svc->client_address, p);
    hop_known = true;
  }

  Conn& c = w->conns.records[index];
  if (c.flags & kConnOneWay) return forward_one_way(w, s, m, p, c, hop_known ? &hop : nullptr, now_us, tx);  // DR, TUN
  if (p.tcp && synproxy_owns(w->synproxy, index) && synproxy_conn_packet(w, s, index, direction, m, p, now_us, tx)) return;
  if (p.tcp) {
    uint8_t next = tcp_next_state(static_cast<ConnState>(c.state), direction, p.tcp->tcp_flags);
    if (next != c.state) {
      account_transition(w, c, c.state, next);
      c.state = next;
    }
    // A server that resets its connections shows here first (faults are data, like drops).
    if (p.tcp->tcp_flags & RTE_TCP_RST_FLAG) {
      w->counters->event(direction == Direction::OUTPUT ? Event::TCP_RESETS_FROM_SERVER : Event::TCP_RESETS_FROM_CLIENT);
    }
  }
  c.expires_us = conn_expiry(w, c, now_us);  // lazy: the wheel re-files it when its slot comes

  if (!hop_known && !route_lookup(s, direction == Direction::INPUT ? c.server_addr : c.client_addr, &hop))
    return drop(w, m, DropReason::NO_ROUTE);

  bool inbound = direction == Direction::INPUT;
  uint16_t bytes = p.ip_total_len;  // as received: a TOA option added below is ours, not the client's
  fullnat_rewrite(p, c, direction);
  if (p.tcp) {
    // A TOA option from the client would be believed by a server's TOA module: none passes.
    if (inbound) toa_remove_client_options(p, *w->counters);
    if ((c.flags & kConnToa) && !toa_process(m, p, c, direction, w->port_mtus[hop.port_index], *w->counters))
      return drop(w, m, DropReason::CLIENT_ADDRESS_BAD_CHECKSUM);
  }
  for (TrafficCounters* t : {service_counters(w, c), server_counters(w, c)}) {
    if (!t) continue;
    (inbound ? t->in_packets : t->out_packets)++;
    (inbound ? t->in_bytes : t->out_bytes) += bytes;
  }
  w->counters->event(inbound ? Event::PACKETS_FORWARDED_IN : Event::PACKETS_FORWARDED_OUT);
  ipv4_output(w, s, m, p, hop, now_us, tx);  // neigh_output, in fragments when over the MTU
}

// Entry points for stages that make or advance connections themselves (SYNPROXY).
uint32_t fullnat_new_connection(Worker* w, const Snapshot& s, const ServiceEntry& svc, const ParsedPacket& p,
                                uint64_t now_us, NextHop* hop, DropReason* reason) {
  return create_connection(w, s, svc, p, now_us, hop, reason);
}

void fullnat_set_state(Worker* w, Conn& c, uint8_t state) {
  account_transition(w, c, c.state, state);
  c.state = state;
}

}  // namespace pc
