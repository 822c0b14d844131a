#include "pipeline/conn/server_choice.h"

#include "pipeline/conn/persist.h"
#include "pipeline/worker_state.h"

namespace pc {

namespace {

PersistKey template_key(const Worker* w, uint32_t service_id, uint8_t service_epoch, const IpAddr& client_addr) {
  const ServiceRuntime& rt = w->services[service_id];
  return PersistKey{static_cast<uint16_t>(service_id), service_epoch,
                    persist_client_net(client_addr, rt.persistence_netmask, rt.persistence_prefix_v6)};
}

// ipvsadm PersistConn: the template counts for its server while it lives. A server id
// given to a new server since (epoch moved on) had its gauge zeroed then: nothing to undo.
void count_template(Worker* w, PersistTemplate& t) {
  t.counted = 1;
  w->persist.counted++;
  w->counters->persist_templates[t.server_id]++;
}

void uncount_template(Worker* w, PersistTemplate& t) {
  if (!t.counted) return;
  t.counted = 0;
  w->persist.counted--;
  if (w->server_epoch[t.server_id] == t.server_epoch) w->counters->persist_templates[t.server_id]--;
}

void on_template_dead(void* worker, PersistTemplate& t) { uncount_template(static_cast<Worker*>(worker), t); }

}  // namespace

ServerChoice choose_server(Worker* w, const ServiceEntry& svc, const IpAddr& client_addr, uint16_t client_port,
                           uint64_t now_us) {
  ServiceRuntime& rt = w->services[svc.id];
  SchedInput in{svc, client_addr, client_port, w->loads, now_us, w->sched_random};
  if (svc.persistence_timeout == 0) return {rt.scheduler ? rt.scheduler->pick(in) : -1, kNoTemplate};

  PersistKey key = template_key(w, svc.id, w->service_epoch[svc.id], client_addr);
  uint32_t slot = persist_find(&w->persist, key, now_us);
  if (slot != kNoTemplate) {
    const PersistTemplate& t = w->persist.slots[slot];
    int index = server_index_by_id(svc, t.server_id);
    // ip_vs_check_template(): a template whose server left is invalid; schedule afresh.
    if (index >= 0 && w->server_epoch[t.server_id] == t.server_epoch) {
      w->counters->event(Event::PERSIST_TEMPLATE_HITS);
      return {index, slot};
    }
  }
  int index = rt.scheduler ? rt.scheduler->pick(in) : -1;
  if (index < 0) return {-1, kNoTemplate};
  slot = persist_claim(&w->persist, key, now_us);
  if (slot == kNoTemplate) {
    w->counters->event(Event::PERSIST_TABLE_FULL);
    return {index, kNoTemplate};
  }
  const ServerEntry& server = svc.servers[index];
  PersistTemplate& t = w->persist.slots[slot];
  uncount_template(w, t);  // the slot's previous template (dead, or replaced because its server left)
  t.client_net = key.client_net;
  t.service_id = key.service_id;
  t.service_epoch = key.service_epoch;
  t.server_id = static_cast<uint16_t>(server.id);
  t.server_epoch = w->server_epoch[server.id];
  t.controlled = 0;
  t.expires_us = now_us + static_cast<uint64_t>(svc.persistence_timeout) * 1000000ull;
  count_template(w, t);
  w->counters->event(Event::PERSIST_TEMPLATES_CREATED);
  return {index, slot};
}

void bind_to_template(Worker* w, const ServerChoice& choice, Conn& c, uint64_t now_us) {
  if (choice.template_slot == kNoTemplate) return;
  persist_attach(&w->persist, choice.template_slot, now_us, w->services[c.service_id].persistence_timeout_us);
  c.flags |= kConnPersistent;
}

void release_from_template(Worker* w, const Conn& c) {
  if (!(c.flags & kConnPersistent)) return;
  // The netmask and timeout are the service's current ones (kept after the service
  // is removed, like its timeouts); a netmask changed meanwhile misses the template,
  // which then stays alive until its service id is reused.
  const ServiceRuntime& rt = w->services[c.service_id];
  // When the connection really ended, not when the timer wheel got to it (up to a tick later).
  uint64_t ended_us = c.expires_us < w->now_us ? c.expires_us : w->now_us;
  persist_detach(&w->persist, template_key(w, c.service_id, c.service_epoch, c.client_addr), c.server_id,
                 c.server_epoch, ended_us, rt.persistence_timeout_us);
}

void expire_templates(Worker* w, uint64_t now_us) { persist_sweep(&w->persist, now_us, on_template_dead, w); }

void adopt_templates(Worker* w, const std::vector<const ServiceEntry*>& by_id, int64_t shift_us) {
  w->persist.counted = 0;
  w->persist.sweep_cursor = 0;
  w->persist.swept_us = 0;
  for (uint32_t k = 0; k < kPersistCapacity; k++) {
    PersistTemplate& t = w->persist.slots[k];
    if (t.service_id == 0) continue;
    const ServiceEntry* svc = t.service_id <= kMaxServiceId ? by_id[t.service_id] : nullptr;
    if (!svc || svc->persistence_timeout == 0 || server_index_by_id(*svc, t.server_id) < 0) {
      // Its service or server is gone: a slot that was used (service_id 0 would end probes early).
      t.service_epoch = static_cast<uint8_t>(w->service_epoch[t.service_id % (kMaxServiceId + 1)] + 1);
      t.controlled = 0;
      t.counted = 0;
      t.expires_us = 0;
      continue;
    }
    t.service_epoch = w->service_epoch[t.service_id];
    t.server_epoch = w->server_epoch[t.server_id];
    t.controlled = 0;
    t.counted = 0;
    int64_t moved = static_cast<int64_t>(t.expires_us) + shift_us;
    t.expires_us = moved > 0 ? static_cast<uint64_t>(moved) : 0;
  }
}

bool adopt_template_control(Worker* w, const Conn& c) {
  const ServiceRuntime& rt = w->services[c.service_id];
  PersistKey key = template_key(w, c.service_id, c.service_epoch, c.client_addr);
  uint32_t slot = persist_find(&w->persist, key, 0);  // now 0: found while it exists, whatever its deadline
  if (slot == kNoTemplate || rt.persistence_timeout_us == 0) return false;
  PersistTemplate& t = w->persist.slots[slot];
  if (t.server_id != c.server_id || t.server_epoch != c.server_epoch) return false;
  t.controlled++;
  return true;
}

void count_adopted_templates(Worker* w, uint64_t now_us) {
  for (uint32_t k = 0; k < kPersistCapacity; k++) {
    PersistTemplate& t = w->persist.slots[k];
    if (t.service_id != 0 && t.service_epoch == w->service_epoch[t.service_id] && persist_live(t, now_us)) count_template(w, t);
  }
}

}  // namespace pc
