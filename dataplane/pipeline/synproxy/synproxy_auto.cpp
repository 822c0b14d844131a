#include "pipeline/synproxy/synproxy_auto.h"

#include "pipeline/snapshot.h"
#include "pipeline/synproxy/synproxy_cookie.h"
#include "pipeline/worker_state.h"

namespace pc {

namespace {

// A cookie stays valid this long after it was sent (synproxy_cookie.h).
constexpr uint64_t kCookieLifetimeUs = kCookiePeriodUs * kCookieMaxAge;

inline uint32_t worker_share(uint32_t whole, uint16_t workers) {
  uint32_t share = whole / workers;
  return share ? share : 1;
}

void set_engaged(Worker* w, uint32_t service_id, SynproxyAutoState& st, bool engaged, uint64_t now_us) {
  st.engaged = engaged;
  w->counters->defense.services[service_id].synproxy_engaged = engaged ? 1 : 0;
  if (engaged) {
    st.ever_engaged = true;
    w->counters->event(Event::SYNPROXY_AUTO_ENGAGED);
  } else {
    st.disengaged_at_us = now_us;
    w->counters->event(Event::SYNPROXY_AUTO_DISENGAGED);
  }
}

inline void maybe_disengage(Worker* w, uint32_t service_id, SynproxyAutoState& st, uint64_t now_us) {
  if (st.engaged && now_us - st.last_high_us >= st.hold_us) set_engaged(w, service_id, st, false, now_us);
}

}  // namespace

void synproxy_auto_init(SynproxyAutoWorker* a) { a->services.assign(kMaxServiceId + 1, SynproxyAutoState{}); }

void synproxy_auto_adopt(Worker* w, const Snapshot& s) {
  SynproxyAutoWorker& a = w->synproxy_auto;
  std::vector<uint32_t> now_auto;
  for (const ServiceEntry& svc : s.services) {
    SynproxyAutoState& st = a.services[svc.id];
    if (!svc.synproxy_auto || st.generation != svc.generation) {
      st = SynproxyAutoState{};
      st.generation = svc.generation;
      w->counters->defense.services[svc.id].synproxy_engaged = 0;
    }
    if (!svc.synproxy_auto) continue;
    // A changed threshold or hold time applies from now on; the engaged state carries over.
    st.syn_share = worker_share(svc.synproxy_auto_syn_rate, w->params.count);
    st.hold_us = static_cast<uint64_t>(svc.synproxy_auto_hold_ms) * 1000;
    now_auto.push_back(svc.id);
  }
  // Services that left the snapshot: nothing reaches them any more; forget their state.
  for (uint32_t id : a.auto_service_ids) {
    bool kept = false;
    for (uint32_t still : now_auto) kept = kept || still == id;
    if (!kept && a.services[id].engaged) {
      a.services[id] = SynproxyAutoState{};
      w->counters->defense.services[id].synproxy_engaged = 0;
    }
  }
  a.auto_service_ids.swap(now_auto);
}

bool synproxy_auto_takes(Worker* w, const ServiceEntry& svc, const ParsedPacket& p, uint64_t now_us) {
  SynproxyAutoState& st = w->synproxy_auto.services[svc.id];
  uint8_t flags = p.tcp->tcp_flags;
  bool syn = (flags & RTE_TCP_SYN_FLAG) && !(flags & (RTE_TCP_ACK_FLAG | RTE_TCP_RST_FLAG | RTE_TCP_FIN_FLAG));
  if (!syn) return st.engaged || (st.ever_engaged && now_us - st.disengaged_at_us < kCookieLifetimeUs);
  if (now_us - st.window_start_us >= kSynproxyAutoWindowUs) {
    st.window_start_us = now_us;
    st.window_syns = 0;
  }
  st.window_syns++;
  if (st.window_syns >= st.syn_share) {
    st.last_high_us = now_us;
    if (!st.engaged) set_engaged(w, svc.id, st, true, now_us);
  } else {
    maybe_disengage(w, svc.id, st, now_us);
  }
  return st.engaged;
}

void synproxy_auto_run_timers(Worker* w, uint64_t now_us) {
  SynproxyAutoWorker& a = w->synproxy_auto;
  if (a.auto_service_ids.empty() || now_us < a.next_tick_us) return;
  a.next_tick_us = now_us + kSynproxyAutoTickUs;
  for (uint32_t id : a.auto_service_ids) maybe_disengage(w, id, a.services[id], now_us);
}

}  // namespace pc
