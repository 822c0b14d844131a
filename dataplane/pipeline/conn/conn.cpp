#include "pipeline/conn/conn.h"

#include <atomic>
#include <cstdio>
#include <cstring>
#include <rte_malloc.h>

namespace pc {

namespace {

// Every record free (low indices handed out first: better locality while the table is
// small), every wheel slot empty.
void set_up_empty(ConnTable* t) {
  for (uint32_t i = 0; i < t->capacity; i++) t->free_stack[i] = t->capacity - 1 - i;
  t->free_count = t->capacity;
  for (uint32_t i = 0; i < kWheelSlots; i++) t->wheel[i] = kNoConn;
}

}  // namespace

bool conn_table_init(ConnTable* t, uint32_t capacity, int socket_id, std::string* error) {
  if (capacity == 0 || capacity > (1u << 27)) {
    *error = "conn_capacity: must be 1..134217728, got " + std::to_string(capacity);
    return false;
  }
  t->capacity = capacity;
  t->records = static_cast<Conn*>(rte_zmalloc_socket("pc_conns", sizeof(Conn) * capacity, RTE_CACHE_LINE_SIZE, socket_id));
  t->free_stack = static_cast<uint32_t*>(rte_malloc_socket("pc_conn_free", sizeof(uint32_t) * capacity, 0, socket_id));
  t->wheel = static_cast<uint32_t*>(rte_malloc_socket("pc_conn_wheel", sizeof(uint32_t) * kWheelSlots, 0, socket_id));
  if (!t->records || !t->free_stack || !t->wheel) {
    *error = "connection table: out of memory for " + std::to_string(capacity) + " connections";
    conn_table_destroy(t);
    return false;
  }
  t->high_water = &t->own_high_water;
  set_up_empty(t);

  // Two entries per connection at <= 75% of the slots (so the load ends between 37% and 75%).
  uint64_t buckets = conn_bucket_count(capacity);
  t->bucket_mask = static_cast<uint32_t>(buckets - 1);
  t->buckets = static_cast<ConnBucket*>(
      rte_zmalloc_socket("pc_conn_index", sizeof(ConnBucket) * buckets, RTE_CACHE_LINE_SIZE, socket_id));
  if (!t->buckets) {
    *error = "connection index: out of memory for " + std::to_string(capacity) + " connections";
    conn_table_destroy(t);
    return false;
  }
  return true;
}

void conn_table_attach(ConnTable* t, uint32_t capacity, Conn* records, uint32_t* free_stack, ConnBucket* buckets,
                       uint32_t bucket_count, uint32_t* wheel, uint32_t* high_water, bool fresh) {
  *t = ConnTable{};
  t->external = true;
  t->capacity = capacity;
  t->records = records;
  t->free_stack = free_stack;
  t->buckets = buckets;
  t->bucket_mask = bucket_count - 1;
  t->wheel = wheel;
  t->high_water = high_water;
  if (fresh) set_up_empty(t);  // else an earlier process's table: nothing is handed out before adoption
}

void conn_table_destroy(ConnTable* t) {
  if (!t->external) {
    rte_free(t->buckets);
    rte_free(t->records);
    rte_free(t->free_stack);
    rte_free(t->wheel);
  }
  *t = ConnTable{};
}

void conn_table_clear_index(ConnTable* t) {
  std::memset(t->buckets, 0, sizeof(ConnBucket) * (size_t{t->bucket_mask} + 1));
  for (uint32_t i = 0; i < kWheelSlots; i++) t->wheel[i] = kNoConn;
  t->wheel_cursor = 0;
  t->wheel_started = false;
  t->free_count = 0;
}

void conn_table_rebuild_free_list(ConnTable* t) {
  t->free_count = 0;
  uint32_t high = *t->high_water < t->capacity ? *t->high_water : t->capacity;
  // Never handed out: free without reading them (the pages of an unused tail stay untouched).
  for (uint32_t i = t->capacity; i-- > high;) t->free_stack[t->free_count++] = i;
  for (uint32_t i = high; i-- > 0;)
    if (!t->records[i].in_use) t->free_stack[t->free_count++] = i;
}

uint32_t conn_alloc(ConnTable* t) {
  if (t->free_count == 0) return kNoConn;
  uint32_t index = t->free_stack[--t->free_count];
  if (index >= *t->high_water) *t->high_water = index + 1;
  Conn& c = t->records[index];
  std::memset(&c, 0, sizeof c);
  c.in_use = kConnAllocated;
  c.wheel_next = kNoConn;
  return index;
}

void conn_release(ConnTable* t, uint32_t index) {
  t->records[index].in_use = 0;
  t->free_stack[t->free_count++] = index;
}

static void wheel_start(ConnTable* t, uint64_t now_us) {
  if (t->wheel_started) return;
  t->wheel_cursor = now_us / kWheelTickUs;
  t->wheel_started = true;
}

// Files a record in the slot of its expiry tick, clamped to the future part of the wheel.
static void wheel_file(ConnTable* t, uint32_t index) {
  Conn& c = t->records[index];
  uint64_t tick = (c.expires_us + kWheelTickUs - 1) / kWheelTickUs;
  if (tick < t->wheel_cursor) tick = t->wheel_cursor;
  if (tick > t->wheel_cursor + kWheelSlots - 1) tick = t->wheel_cursor + kWheelSlots - 1;
  uint32_t slot = static_cast<uint32_t>(tick % kWheelSlots);
  c.wheel_next = t->wheel[slot];
  t->wheel[slot] = index;
}

namespace {

// Adds slot value `slot` for key (known absent): the first free slot from its home bucket on;
// every full bucket passed on the way counts one more spilled entry. False when none within
// kConnMaxProbe buckets.
bool index_add(ConnTable* t, ConnHash h, uint32_t slot) {
  uint32_t home = h.bucket & t->bucket_mask, b = home;
  for (uint32_t probe = 0; probe < kConnMaxProbe; probe++) {
    ConnBucket& bucket = t->buckets[b];
    for (uint32_t i = 0; i < kConnBucketSlots; i++) {
      if (bucket.slots[i]) continue;
      bucket.tags[i] = h.tag;
      bucket.slots[i] = slot;
      for (uint32_t k = home; k != b; k = (k + 1) & t->bucket_mask) t->buckets[k].spilled++;
      return true;
    }
    b = (b + 1) & t->bucket_mask;
  }
  return false;
}

// Removes slot value `slot` (stored for a key with hash h), undoing index_add's spill counts.
void index_remove(ConnTable* t, ConnHash h, uint32_t slot) {
  uint32_t home = h.bucket & t->bucket_mask, b = home;
  for (uint32_t probe = 0; probe < kConnMaxProbe; probe++) {
    ConnBucket& bucket = t->buckets[b];
    for (uint32_t i = 0; i < kConnBucketSlots; i++) {
      if (bucket.slots[i] != slot) continue;
      bucket.slots[i] = 0;
      bucket.tags[i] = 0;
      for (uint32_t k = home; k != b; k = (k + 1) & t->bucket_mask) t->buckets[k].spilled--;
      return;
    }
    b = (b + 1) & t->bucket_mask;
  }
}

inline uint32_t slot_value(uint32_t index, Direction direction) {
  return ((index << 1) | static_cast<uint32_t>(direction)) + 1;
}

}  // namespace

uint64_t conn_lookup_bulk(const ConnTable& t, const FlowKey* const* keys, uint32_t n, uint32_t* slots,
                          const void* tcp_side, uint32_t tcp_side_stride) {
  ConnHash h[kConnBulkMax];
  uint32_t candidate[kConnBulkMax];
  if (n > kConnBulkMax) n = kConnBulkMax;
  for (uint32_t k = 0; k < n; k++) {
    h[k] = conn_hash(*keys[k]);
    rte_prefetch0(&t.buckets[h[k].bucket & t.bucket_mask]);
  }
  for (uint32_t k = 0; k < n; k++) {
    const ConnBucket& bucket = t.buckets[h[k].bucket & t.bucket_mask];
    candidate[k] = 0;
    for (uint32_t i = 0; i < kConnBucketSlots; i++) {
      if (bucket.tags[i] == h[k].tag && bucket.slots[i]) {
        candidate[k] = bucket.slots[i];
        const Conn* c = &t.records[(candidate[k] - 1) >> 1];
        rte_prefetch0(c);  // a 96-byte record spans two lines
        rte_prefetch0(reinterpret_cast<const uint8_t*>(c) + sizeof(Conn) - 1);
        if (tcp_side && keys[k]->protocol == IPPROTO_TCP)
          rte_prefetch0(static_cast<const uint8_t*>(tcp_side) + size_t{(candidate[k] - 1) >> 1} * tcp_side_stride);
        break;
      }
    }
  }
  uint64_t hits = 0;
  for (uint32_t k = 0; k < n; k++) {
    // The first tag match is nearly always the key; anything else takes the full probe.
    uint32_t slot = candidate[k] && conn_key_matches(t, candidate[k], *keys[k]) ? candidate[k] : conn_find(t, *keys[k], h[k]);
    slots[k] = slot;
    if (slot) hits |= 1ull << k;
  }
  return hits;
}

bool conn_insert(ConnTable* t, uint32_t index, uint64_t now_us) {
  Conn& c = t->records[index];
  FlowKey client = conn_client_key(c), reply = conn_reply_key(c);
  bool with_client = conn_has_client_entry(c), with_reply = conn_has_reply_entry(c);
  ConnHash client_hash = conn_hash(client), reply_hash = conn_hash(reply);
  // Never let a new record take a tuple another one holds.
  if ((with_client && conn_find(*t, client, client_hash)) || (with_reply && conn_find(*t, reply, reply_hash))) return false;
  if (with_client && !index_add(t, client_hash, slot_value(index, Direction::INPUT))) return false;
  if (with_reply && !index_add(t, reply_hash, slot_value(index, Direction::OUTPUT))) {
    if (with_client) index_remove(t, client_hash, slot_value(index, Direction::INPUT));
    return false;
  }
  wheel_start(t, now_us);
  wheel_file(t, index);
  // Everything above is in memory before the record says it is complete (conn_store.h);
  // x86 keeps stores in order, the barrier keeps the compiler from moving this one up.
  std::atomic_signal_fence(std::memory_order_release);
  c.in_use = kConnCommitted;
  return true;
}

void conn_remove_reply_entry(ConnTable* t, uint32_t index) {
  index_remove(t, conn_hash(conn_reply_key(t->records[index])), slot_value(index, Direction::OUTPUT));
}

void conn_run_timers(ConnTable* t, uint64_t now_us, ConnExpireFn on_expire, void* ctx) {
  if (!t->wheel_started) return;  // nothing was ever filed
  uint64_t now_tick = now_us / kWheelTickUs;
  if (now_tick < t->wheel_cursor) return;  // the common case: nothing due yet
  // After a long pause one revolution visits every slot; older ticks add nothing.
  if (now_tick - t->wheel_cursor >= kWheelSlots) t->wheel_cursor = now_tick - kWheelSlots + 1;
  while (t->wheel_cursor <= now_tick) {
    uint32_t slot = static_cast<uint32_t>(t->wheel_cursor % kWheelSlots);
    uint32_t index = t->wheel[slot];
    t->wheel[slot] = kNoConn;
    t->wheel_cursor++;  // re-filed records land strictly after the slot being emptied
    while (index != kNoConn) {
      Conn& c = t->records[index];
      uint32_t next = c.wheel_next;
      if (c.expires_us <= now_us) {
        on_expire(ctx, c);
        if (conn_has_client_entry(c)) index_remove(t, conn_hash(conn_client_key(c)), slot_value(index, Direction::INPUT));
        if (conn_has_reply_entry(c)) index_remove(t, conn_hash(conn_reply_key(c)), slot_value(index, Direction::OUTPUT));
        conn_release(t, index);
      } else {
        wheel_file(t, index);  // activity moved the expiry: lazy re-arm
      }
      index = next;
    }
  }
}

}  // namespace pc
