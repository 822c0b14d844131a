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
  SchedInput in{svc, client_addr, client_port, w->loads, now_us};
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

}  // namespace pc
