#include "pipeline/conn/persist.h"

#include <rte_malloc.h>

namespace pc {

namespace {

uint32_t home_slot(const PersistKey& key) {
  uint64_t x = (static_cast<uint64_t>(key.service_id) << 32) ^ ip_fold32(key.client_net);
  x *= 0x9E3779B97F4A7C15ull;  // Fibonacci hashing: the high bits are well mixed
  return static_cast<uint32_t>(x >> 48) & (kPersistCapacity - 1);
}

bool matches(const PersistTemplate& t, const PersistKey& key) {
  return t.service_id == key.service_id && t.service_epoch == key.service_epoch && t.client_net == key.client_net;
}

bool live(const PersistTemplate& t, uint64_t now_us) { return persist_live(t, now_us); }

}  // namespace

bool persist_init(PersistTable* table, int socket_id, PersistTemplate* slots) {
  table->external = slots != nullptr;
  table->slots = slots ? slots : static_cast<PersistTemplate*>(rte_zmalloc_socket(
      "pc_persist", sizeof(PersistTemplate) * kPersistCapacity, RTE_CACHE_LINE_SIZE, socket_id));
  return table->slots != nullptr;
}

void persist_destroy(PersistTable* table) {
  if (!table->external) rte_free(table->slots);
  table->slots = nullptr;
}

uint32_t persist_find(PersistTable* table, const PersistKey& key, uint64_t now_us) {
  uint32_t home = home_slot(key);
  for (uint32_t k = 0; k < kPersistProbe; k++) {
    uint32_t slot = (home + k) & (kPersistCapacity - 1);
    const PersistTemplate& t = table->slots[slot];
    if (t.service_id == 0) return kNoTemplate;  // never used: the key was never placed beyond
    if (matches(t, key)) return live(t, now_us) ? slot : kNoTemplate;
  }
  return kNoTemplate;
}

uint32_t persist_claim(PersistTable* table, const PersistKey& key, uint64_t now_us) {
  uint32_t home = home_slot(key), reusable = kNoTemplate;
  for (uint32_t k = 0; k < kPersistProbe; k++) {
    uint32_t slot = (home + k) & (kPersistCapacity - 1);
    const PersistTemplate& t = table->slots[slot];
    if (matches(t, key)) return slot;  // its own (dead or invalid) template is replaced
    bool free_slot = t.service_id == 0 || !live(t, now_us);
    if (free_slot && reusable == kNoTemplate) reusable = slot;
    if (t.service_id == 0) break;
  }
  return reusable;
}

void persist_sweep(PersistTable* table, uint64_t now_us, PersistDeadFn on_dead, void* ctx) {
  if (table->counted == 0 || now_us <= table->swept_us) {
    // Nothing to find (or no time passed): start the next slice from now, not from long ago.
    if (table->counted == 0) table->swept_us = now_us;
    return;
  }
  uint64_t due = (now_us - table->swept_us) * kPersistCapacity / kPersistSweepPeriodUs;
  if (due == 0) return;  // let the time add up to at least one slot
  if (due > kPersistCapacity) due = kPersistCapacity;
  table->swept_us = now_us;
  for (uint64_t k = 0; k < due && table->counted; k++) {
    PersistTemplate& t = table->slots[table->sweep_cursor];
    table->sweep_cursor = (table->sweep_cursor + 1) & (kPersistCapacity - 1);
    if (t.counted && !live(t, now_us)) on_dead(ctx, t);
  }
}

void persist_attach(PersistTable* table, uint32_t slot, uint64_t now_us, uint64_t timeout_us) {
  PersistTemplate& t = table->slots[slot];
  t.controlled++;
  t.expires_us = now_us + timeout_us;
}

void persist_detach(PersistTable* table, const PersistKey& key, uint16_t server_id, uint8_t server_epoch,
                    uint64_t now_us, uint64_t timeout_us) {
  uint32_t home = home_slot(key);
  for (uint32_t k = 0; k < kPersistProbe; k++) {
    PersistTemplate& t = table->slots[(home + k) & (kPersistCapacity - 1)];
    if (t.service_id == 0) return;
    if (!matches(t, key)) continue;
    // A replaced template (its server left) does not control the old server's conns.
    if (t.server_id != server_id || t.server_epoch != server_epoch || t.controlled == 0) return;
    if (--t.controlled == 0 && t.expires_us <= now_us && timeout_us) {
      // The IPVS timer fired while connections lived and re-armed by whole timeouts:
      // the template lives out the period it is in.
      uint64_t periods = (now_us - t.expires_us) / timeout_us + 1;
      t.expires_us += periods * timeout_us;
    }
    return;
  }
}

}  // namespace pc
