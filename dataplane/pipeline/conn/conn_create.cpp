#include "pipeline/conn/conn_create.h"

#include "pipeline/cluster/handoff.h"
#include "pipeline/conn/conn_account.h"
#include "pipeline/conn/quic_route.h"
#include "pipeline/conn/server_choice.h"
#include "pipeline/output/route.h"
#include "pipeline/worker_state.h"

namespace pc {

namespace {

inline uint8_t conn_flag_for(ForwardMethod method) {
  switch (method) {
    case ForwardMethod::NAT: return kConnNat;
    case ForwardMethod::DR: return kConnDr;
    case ForwardMethod::TUN: return kConnTun;
    default: return 0;
  }
}

// A UDP FullNAT connection (same family on both sides) of a service that tells its servers
// the client's address: how, and for UOA how many datagrams carry it. uoa_ipo is an IPv4
// option: an IPv6 client has none (the model refuses uoa_ipo on IPv6 services).
inline void set_udp_carriage(Conn& c, const ServiceEntry& svc) {
  switch (svc.client_address) {
    case ClientAddress::UOA_IPO:
      if (!ip_is_v4(c.client_addr)) return;
      c.udp_carriage = kUdpCarriageUoaIpo, c.uoa_left = svc.uoa_datagrams;
      return;
    case ClientAddress::UOA_OPP: c.udp_carriage = kUdpCarriageUoaOpp, c.uoa_left = svc.uoa_datagrams; return;
    case ClientAddress::PROXY_V2: c.udp_carriage = kUdpCarriageProxyV2; return;
    default: return;
  }
}

// FullNAT: LIP + lport (round robin over the service's LIPs), record, both hash entries.
uint32_t create_fullnat(Worker* w, const ServiceEntry& svc, const ServerEntry& server, const ServerChoice& choice,
                        const ParsedPacket& p, uint64_t now_us, DropReason* reason) {
  ServiceRuntime& rt = w->services[svc.id];
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
  if (svc.one_packet) {  // reply entry only, its own short timeout (conn/conn.h, conn_stage.cpp)
    c.state = kStateUdpOnePacket;
    c.expires_us = conn_expiry(w, c, now_us);
  }
  if (c.protocol == IPPROTO_TCP && svc.client_address == ClientAddress::TOA) c.flags |= kConnToa;
  // NAT64 (an IPv6 VIP in front of IPv4 LIPs and servers; snapshot.cpp allows no other mix):
  // a flag, so that the forwarding dispatch reads the one byte it reads anyway.
  if (ip_is_v4(c.local_addr) != ip_is_v4(c.client_addr)) c.flags |= kConnNat64;
  else if (c.protocol == IPPROTO_UDP) set_udp_carriage(c, svc);
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

// NAT, DR, TUN: no LIP or lport; NAT's "local" side is the client itself, so its reply
// tuple is RIP:rport -> CIP:cport and the FullNAT rewrite leaves the source alone.
uint32_t create_other(Worker* w, const ServiceEntry& svc, const ServerEntry& server, const ServerChoice& choice,
                      const ParsedPacket& p, uint64_t now_us, DropReason* reason) {
  uint32_t index = conn_alloc(&w->conns);
  if (index == kNoConn) {
    *reason = DropReason::CONN_TABLE_FULL;
    return kNoConn;
  }
  Conn& c = w->conns.records[index];
  conn_fill_from_first_packet(w, c, p, svc, server, now_us);
  c.flags = conn_flag_for(server.forward);
  if (server.forward == ForwardMethod::NAT) {
    c.local_addr = c.client_addr;
    c.local_port = c.client_port;
  }
  if (!conn_insert(&w->conns, index, now_us)) {
    conn_release(&w->conns, index);
    *reason = DropReason::CONN_TABLE_FULL;
    return kNoConn;
  }
  count_new_connection(w, svc.id, server.id);
  bind_to_template(w, choice, c, now_us);
  return index;
}

}  // namespace

uint32_t conn_create(Worker* w, const Snapshot& s, const ServiceEntry& svc, const ParsedPacket& p, uint64_t now_us,
                     NextHop* hop, DropReason* reason) {
  ServerChoice choice = svc.quic && p.udp ? quic_choose_server(w, svc, p, now_us)
                                          : choose_server(w, svc, l3_src(p), l4_src_port(p), now_us);
  if (choice.index < 0) {
    *reason = DropReason::NO_REAL_SERVER;
    return kNoConn;
  }
  const ServerEntry& server = svc.servers[choice.index];
  bool fullnat = server.forward == ForwardMethod::FULLNAT;
  if (fullnat && w->services[svc.id].lips.empty()) {
    *reason = DropReason::NO_LOCAL_ADDRESS;
    return kNoConn;
  }
  // Route before taking anything, so an unroutable server leaves no half-made connection.
  // DR rewrites only the MAC: its server must be on-link.
  if (!route_to_server(s, server.addr, server.forward == ForwardMethod::DR, hop)) {
    *reason = DropReason::NO_ROUTE;
    return kNoConn;
  }
  uint32_t index = fullnat ? create_fullnat(w, svc, server, choice, p, now_us, reason)
                           : create_other(w, svc, server, choice, p, now_us, reason);
  // Cluster: the other nodes learn that this node owns the flow (cluster/handoff.h). A
  // one-packet datagram is no flow: any node may schedule the client's next one.
  if (unlikely(s.cluster.enabled) && index != kNoConn && !svc.one_packet) ownership_export(w, p);
  if (unlikely(w->session_log.tallies != nullptr) && index != kNoConn) log_session_created(w, index, now_us);
  return index;
}

}  // namespace pc
