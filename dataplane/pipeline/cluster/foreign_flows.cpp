#include "pipeline/cluster/foreign_flows.h"

#include <cstring>
#include "pipeline/conn/conn.h"

namespace pc {

namespace {

inline bool same_key(const FlowKey& a, const FlowKey& b) { return std::memcmp(&a, &b, sizeof(FlowKey)) == 0; }

inline uint32_t bucket_of(const ForeignFlowTable& t, const FlowKey& key) { return conn_hash(key).bucket & t.bucket_mask; }

uint32_t find(const ForeignFlowTable& t, const FlowKey& key) {
  for (uint32_t i = t.buckets[bucket_of(t, key)]; i != kForeignNone; i = t.slots[i].next)
    if (same_key(t.slots[i].key, key)) return i;
  return kForeignNone;
}

void unlink(ForeignFlowTable* t, uint32_t slot) {
  uint32_t* link = &t->buckets[bucket_of(*t, t->slots[slot].key)];
  while (*link != slot) link = &t->slots[*link].next;
  *link = t->slots[slot].next;
  t->slots[slot].in_use = false;
  t->count--;
}

}  // namespace

bool foreign_flows_init(ForeignFlowTable* t, uint32_t capacity, uint64_t idle_us) {
  *t = ForeignFlowTable{};
  t->idle_us = idle_us;
  uint32_t buckets = 1;
  while (buckets < capacity) buckets <<= 1;  // load ≤ 1: chains stay short
  t->slots.reset(new (std::nothrow) ForeignFlow[capacity]);
  t->buckets.reset(new (std::nothrow) uint32_t[buckets]);
  if (!t->slots || !t->buckets) {
    *t = ForeignFlowTable{};
    return false;
  }
  std::memset(t->slots.get(), 0, sizeof(ForeignFlow) * capacity);
  for (uint32_t i = 0; i < buckets; i++) t->buckets[i] = kForeignNone;
  t->capacity = capacity;
  t->bucket_mask = buckets - 1;
  return true;
}

ForeignLearn foreign_flows_learn(ForeignFlowTable* t, const FlowKey& key, uint8_t owner, uint8_t owner_worker,
                                 uint64_t now_us) {
  if (t->capacity == 0) return ForeignLearn::REFUSED;
  uint32_t slot = find(*t, key);
  if (slot != kForeignNone) {
    t->slots[slot].owner = owner;
    t->slots[slot].owner_worker = owner_worker;
    t->slots[slot].last_used_us = now_us;
    return ForeignLearn::REFRESHED;
  }
  slot = t->next_slot;
  t->next_slot = slot + 1 == t->capacity ? 0 : slot + 1;
  bool evicting = t->slots[slot].in_use;  // the slot array wrapped: this is the oldest entry
  if (evicting) unlink(t, slot);
  ForeignFlow& f = t->slots[slot];
  f.key = key;
  f.owner = owner;
  f.owner_worker = owner_worker;
  f.last_used_us = now_us;
  f.in_use = true;
  uint32_t& head = t->buckets[bucket_of(*t, key)];
  f.next = head;
  head = slot;
  t->count++;
  return evicting ? ForeignLearn::ADDED_EVICTING : ForeignLearn::ADDED;
}

int foreign_flows_owner(ForeignFlowTable* t, const FlowKey& key, uint64_t now_us, uint8_t* owner_worker) {
  if (t->count == 0) return -1;
  uint32_t slot = find(*t, key);
  if (slot == kForeignNone) return -1;
  ForeignFlow& f = t->slots[slot];
  if (now_us - f.last_used_us > t->idle_us) return -1;
  f.last_used_us = now_us;
  *owner_worker = f.owner_worker;
  return f.owner;
}

}  // namespace pc
