#include "pipeline/conn.h"

#include <atomic>
#include <cstdio>
#include <cstring>
#include <rte_errno.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>

namespace pc {

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
  // Hand out low indices first (better locality while the table is small).
  for (uint32_t i = 0; i < capacity; i++) t->free_stack[i] = capacity - 1 - i;
  t->free_count = capacity;
  for (uint32_t i = 0; i < kWheelSlots; i++) t->wheel[i] = kNoConn;

  static std::atomic<uint32_t> hash_counter{0};
  char name[RTE_HASH_NAMESIZE];
  std::snprintf(name, sizeof name, "pc_conn_%u", hash_counter.fetch_add(1));
  rte_hash_parameters params{};
  params.name = name;
  params.entries = capacity * 2 < 16 ? 16 : capacity * 2;  // two tuples per connection
  params.key_len = sizeof(FlowKey);
  params.hash_func = rte_hash_crc;
  params.socket_id = socket_id;
  // The extendable table guarantees every one of `entries` fits (plain cuckoo may refuse earlier).
  params.extra_flag = RTE_HASH_EXTRA_FLAGS_EXT_TABLE;
  t->hash = rte_hash_create(&params);
  if (!t->hash) {
    *error = std::string("connection hash: ") + rte_strerror(rte_errno);
    conn_table_destroy(t);
    return false;
  }
  return true;
}

void conn_table_destroy(ConnTable* t) {
  if (t->hash) rte_hash_free(t->hash);
  rte_free(t->records);
  rte_free(t->free_stack);
  rte_free(t->wheel);
  *t = ConnTable{};
}

uint32_t conn_alloc(ConnTable* t) {
  if (t->free_count == 0) return kNoConn;
  uint32_t index = t->free_stack[--t->free_count];
  Conn& c = t->records[index];
  std::memset(&c, 0, sizeof c);
  c.in_use = 1;
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

bool conn_insert(ConnTable* t, uint32_t index, uint64_t now_us) {
  Conn& c = t->records[index];
  FlowKey client = conn_client_key(c), reply = conn_reply_key(c);
  bool one_way = (c.flags & kConnOneWay) != 0;  // DR/TUN: replies never pass through us
  // rte_hash_add_key_data overwrites an existing key: never let a new record steal a tuple.
  if (rte_hash_lookup(t->hash, &client) >= 0 || (!one_way && rte_hash_lookup(t->hash, &reply) >= 0)) return false;
  void* client_data = reinterpret_cast<void*>((static_cast<uintptr_t>(index) << 1) | 0);
  void* reply_data = reinterpret_cast<void*>((static_cast<uintptr_t>(index) << 1) | 1);
  if (rte_hash_add_key_data(t->hash, &client, client_data) < 0) return false;
  if (!one_way && rte_hash_add_key_data(t->hash, &reply, reply_data) < 0) {
    rte_hash_del_key(t->hash, &client);
    return false;
  }
  wheel_start(t, now_us);
  wheel_file(t, index);
  return true;
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
        FlowKey client = conn_client_key(c), reply = conn_reply_key(c);
        rte_hash_del_key(t->hash, &client);
        if (!(c.flags & kConnOneWay)) rte_hash_del_key(t->hash, &reply);
        conn_release(t, index);
      } else {
        wheel_file(t, index);  // activity moved the expiry: lazy re-arm
      }
      index = next;
    }
  }
}

}  // namespace pc
