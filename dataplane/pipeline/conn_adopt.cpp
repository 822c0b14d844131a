// Adoption of connection tables an earlier process left in the region (conn_store.h).
// The committed records are the truth; everything derived from them is rebuilt here,
// against the new process's first configured snapshot:
//   - a record whose service id now names another VIP/port/protocol, whose server id is no
//     longer that service's server at the same address/port and method, or whose LIP left
//     the service, is dropped as stale (its peers get a reset or time out, as after a
//     config change that removed them);
//   - a SYNPROXY handshake in progress is dropped: its held client segments were packets of
//     the dead process; the client retransmits its ACK and the cookie is accepted again;
//   - epochs are renewed (they count per process), deadlines keep their remaining time.
#include <cstring>
#include <vector>
#include "pipeline/conn/conn_account.h"
#include "pipeline/conn/local_address.h"
#include "pipeline/conn/server_choice.h"
#include "pipeline/pipeline.h"
#include "pipeline/sched/scheduler.h"
#include "pipeline/worker_state.h"

namespace pc {

namespace {

enum class Verdict { ADOPT, INVALID, STALE, SYNPROXY_PENDING };

bool method_matches(const Conn& c, ForwardMethod method) {
  switch (method) {
    case ForwardMethod::NAT: return (c.flags & kConnNotFullnat) == kConnNat;
    case ForwardMethod::DR: return (c.flags & kConnNotFullnat) == kConnDr;
    case ForwardMethod::TUN: return (c.flags & kConnNotFullnat) == kConnTun;
    default: return (c.flags & kConnNotFullnat) == 0;
  }
}

Verdict judge(const Conn& c, const SynproxyConn& sc, const std::vector<const ServiceEntry*>& by_id) {
  if ((c.protocol != IPPROTO_TCP && c.protocol != IPPROTO_UDP) || c.state >= kConnStateCount || c.service_id == 0 ||
      c.service_id > kMaxServiceId || c.server_id == 0)
    return Verdict::INVALID;
  // UDP carriage (conn_create.cpp): UDP FullNAT in one family only, a UOA countdown only with UOA.
  if (c.udp_carriage != kUdpCarriageNone &&
      (c.protocol != IPPROTO_UDP || (c.flags & (kConnNotFullnat | kConnNat64))))
    return Verdict::INVALID;
  if (c.uoa_left != 0 && c.udp_carriage != kUdpCarriageUoaIpo && c.udp_carriage != kUdpCarriageUoaOpp)
    return Verdict::INVALID;
  const ServiceEntry* svc = by_id[c.service_id];
  if (!svc || svc->protocol != c.protocol || svc->vip != c.virtual_addr || svc->vport != c.virtual_port)
    return Verdict::STALE;
  int index = server_index_by_id(*svc, c.server_id);
  if (index < 0) return Verdict::STALE;
  const ServerEntry& server = svc->servers[index];
  if (server.addr != c.server_addr || server.port != c.server_port || !method_matches(c, server.forward))
    return Verdict::STALE;
  if (!(c.flags & kConnNotFullnat)) {
    bool lip_kept = false;
    for (const IpAddr& lip : svc->local_addresses) lip_kept |= lip == c.local_addr;
    if (!lip_kept) return Verdict::STALE;
  }
  if (synproxy_handshake_pending(sc)) return Verdict::SYNPROXY_PENDING;
  return Verdict::ADOPT;
}

uint64_t moved(uint64_t deadline_us, int64_t shift_us, uint64_t now_us) {
  int64_t at = static_cast<int64_t>(deadline_us) + shift_us;
  return at > static_cast<int64_t>(now_us) ? static_cast<uint64_t>(at) : now_us;
}

void forget(Worker* w, uint32_t index) {
  std::memset(&w->conns.records[index], 0, sizeof(Conn));
  w->synproxy.conns[index] = SynproxyConn{};
}

// A FullNAT record takes its own lport back; false when another adopted record holds it
// (or it is not of this worker's class).
bool take_lport(Worker* w, Conn& c) {
  if (c.flags & kConnNotFullnat) return true;
  uint16_t pool = lport_pool_for(&w->lports, c.local_addr);
  if (!lport_take_exact(&w->lports, pool, c.local_port)) return false;
  c.lport_pool = pool;  // pool indices are per process
  return true;
}

// Gauges, LIP and template counts of an adopted record.
void count_adopted(Worker* w, Conn& c) {
  ServiceRuntime& rt = w->services[c.service_id];
  bool active = c.state == kStateEstablished;
  for (TrafficCounters* t : {service_counters(w, c), server_counters(w, c)}) {
    if (t) (active ? t->active_conns : t->inactive_conns)++;
  }
  if (!(c.flags & kConnNotFullnat)) local_address_count_adopted(w, rt, c.lport_pool);
  if ((c.flags & kConnPersistent) && !adopt_template_control(w, c)) c.flags = static_cast<uint8_t>(c.flags & ~kConnPersistent);
}

}  // namespace

bool worker_adopt_due(const Worker* w) { return w->adopt_pending; }

void worker_stamp_clock(Worker* w, uint64_t now_us, uint64_t mono_us) {
  if (!w->store.stamp || w->adopt_pending) return;  // nothing of ours in the region yet
  w->store.stamp->now_us = now_us;
  w->store.stamp->mono_us = mono_us;
}

void worker_adopt_region(Worker* w, const Snapshot& s, uint64_t now_us, uint64_t mono_now_us, ConnAdoptReport* report) {
  *report = ConnAdoptReport{};
  if (!w->adopt_pending) return;
  w->adopt_pending = false;
  ConnTable& t = w->conns;
  const ConnStoreStamp stamp = *w->store.stamp;
  uint64_t downtime_us = w->store.live && stamp.mono_us && mono_now_us > stamp.mono_us ? mono_now_us - stamp.mono_us : 0;
  int64_t shift_us = static_cast<int64_t>(now_us) - static_cast<int64_t>(stamp.now_us) - static_cast<int64_t>(downtime_us);
  uint32_t high = stamp.high_water < t.capacity ? stamp.high_water : t.capacity;

  std::vector<const ServiceEntry*> by_id(kMaxServiceId + 1, nullptr);
  for (const ServiceEntry& svc : s.services) by_id[svc.id] = &svc;

  conn_table_clear_index(&t);
  adopt_templates(w, by_id, shift_us);
  for (uint32_t i = 0; i < high; i++) {
    Conn& c = t.records[i];
    if (c.in_use == 0) {
      w->synproxy.conns[i] = SynproxyConn{};
      continue;
    }
    if (c.in_use != kConnCommitted) {
      report->uncommitted++;
      forget(w, i);
      continue;
    }
    if (c.state == kStateUdpAnswered) {  // an answered one-packet datagram: it held nothing but the record
      forget(w, i);
      continue;
    }
    switch (judge(c, w->synproxy.conns[i], by_id)) {
      case Verdict::INVALID: report->invalid++; forget(w, i); continue;
      case Verdict::STALE: report->stale++; forget(w, i); continue;
      case Verdict::SYNPROXY_PENDING: report->synproxy_pending++; forget(w, i); continue;
      case Verdict::ADOPT: break;
    }
    c.service_epoch = w->service_epoch[c.service_id];
    c.server_epoch = w->server_epoch[c.server_id];
    c.expires_us = moved(c.expires_us, shift_us, now_us);
    c.wheel_next = kNoConn;
    if (!take_lport(w, c)) {
      report->duplicate++;
      forget(w, i);
      continue;
    }
    if (!conn_insert(&t, i, now_us)) {  // a tuple an earlier record holds
      if (!(c.flags & kConnNotFullnat)) lport_give_back(&w->lports, c.lport_pool, c.local_port);
      report->duplicate++;
      forget(w, i);
      continue;
    }
    count_adopted(w, c);
    report->adopted++;
  }
  conn_table_rebuild_free_list(&t);
  count_adopted_templates(w, now_us);
  w->store.stamp->now_us = now_us;
  w->store.stamp->mono_us = mono_now_us;
}

}  // namespace pc
