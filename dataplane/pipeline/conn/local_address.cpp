#include "pipeline/conn/local_address.h"

#include <utility>
#include "pipeline/worker_state.h"

namespace pc {

namespace {

LipBinding* find_by_pool(std::vector<LipBinding>& list, uint16_t pool) {
  for (auto& b : list)
    if (b.pool == pool) return &b;
  return nullptr;
}

}  // namespace

void local_addresses_adopt(Worker* w, ServiceRuntime& rt, const ServiceEntry& svc, bool new_generation) {
  std::vector<LipBinding> before;
  if (!new_generation) {
    before = std::move(rt.lips);
    before.insert(before.end(), rt.retired_lips.begin(), rt.retired_lips.end());
  }
  rt.lips.clear();
  rt.retired_lips.clear();
  for (size_t k = 0; k < svc.local_addresses.size(); k++) {
    LipBinding b;
    b.pool = lport_pool_for(&w->lports, svc.local_addresses[k]);
    b.id = svc.local_address_ids[k].id;
    b.generation = svc.local_address_ids[k].generation;
    if (LipBinding* old = find_by_pool(before, b.pool)) {
      b.live = old->live;  // connections still on this LIP (kept, or back after a removal)
      old->live = 0;       // taken over: not retired below
    }
    LocalAddressCounters& counters = w->counters->local_addresses[b.id];
    if (counters.generation != b.generation) {
      counters.conns = b.live;
      counters.conflicts = 0;
      counters.generation = b.generation;
    }
    rt.lips.push_back(b);
  }
  for (const auto& old : before)
    if (old.live > 0) rt.retired_lips.push_back(old);
  if (!rt.lips.empty()) rt.lip_cursor %= static_cast<uint32_t>(rt.lips.size());
}

void local_addresses_forget(ServiceRuntime& rt) {
  rt.lips.clear();
  rt.retired_lips.clear();
  rt.lip_cursor = 0;
}

void local_address_count_conn(Worker* w, ServiceRuntime& rt, uint32_t slot) {
  LipBinding& b = rt.lips[slot];
  b.live++;
  w->counters->local_addresses[b.id].conns++;  // adoption made its generation current
}

bool local_address_count_adopted(Worker* w, ServiceRuntime& rt, uint16_t pool) {
  LipBinding* b = find_by_pool(rt.lips, pool);
  if (!b) return false;
  b->live++;
  w->counters->local_addresses[b->id].conns++;
  return true;
}

void local_address_count_conflict(Worker* w, const ServiceRuntime& rt, uint32_t slot) {
  w->counters->local_addresses[rt.lips[slot].id].conflicts++;
}

void local_address_release(Worker* w, const Conn& c) {
  if (c.service_epoch != w->service_epoch[c.service_id]) return;  // a previous service's connection
  ServiceRuntime& rt = w->services[c.service_id];
  LipBinding* b = find_by_pool(rt.lips, c.lport_pool);
  bool retired = false;
  if (!b) {
    b = find_by_pool(rt.retired_lips, c.lport_pool);
    retired = true;
  }
  if (!b) return;  // the service left the snapshot meanwhile
  b->live--;
  LocalAddressCounters& counters = w->counters->local_addresses[b->id];
  if (counters.generation == b->generation) counters.conns--;  // else the id names another pair now
  if (retired && b->live <= 0) {
    *b = rt.retired_lips.back();
    rt.retired_lips.pop_back();
  }
}

}  // namespace pc
