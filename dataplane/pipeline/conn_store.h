// Where a worker's connection state lives when it must outlive the process
// (core/conn_region.h maps it from a shared file): the records, the SYNPROXY sequence
// state parallel to them, the index buckets, the free list, the timer wheel, the
// persistence templates and a stamp of the worker's clock. Everything refers to
// records by index, never by pointer, so the next process may map it anywhere.
//
// The records are the truth. A record is committed (Conn::in_use == kConnCommitted)
// only once both its index entries and its wheel slot are written, so after a crash
// at any instant a record is either committed and complete, or not committed and
// dropped. Adoption (conn_adopt.cpp) rebuilds the index, free list, wheel, lport
// bitmaps, gauges and template control counts from the committed records, which is
// what makes a table left by kill -9 consistent by construction.
#pragma once
#include <cstddef>
#include <cstdint>
#include "pipeline/conn/conn.h"
#include "pipeline/conn/persist.h"
#include "pipeline/synproxy/synproxy.h"

namespace pc {

// Written by the worker at every timer run (about every millisecond), read by the next process.
struct ConnStoreStamp {
  uint64_t now_us;       // the worker's clock then
  uint64_t mono_us;      // CLOCK_MONOTONIC then (live); 0 in test mode (its clock is injected)
  uint32_t high_water;   // records [0, high_water) have ever been handed out (written through by conn_alloc)
  uint32_t reserved;
};

struct ConnStore {
  Conn* records = nullptr;
  SynproxyConn* synproxy = nullptr;
  uint32_t* free_stack = nullptr;
  ConnBucket* buckets = nullptr;
  uint32_t bucket_count = 0;
  uint32_t* wheel = nullptr;
  PersistTemplate* persist = nullptr;
  ConnStoreStamp* stamp = nullptr;
  bool adopt = false;  // holds an earlier process's tables: adopt them at the first configured snapshot
  bool live = false;   // the stamp's mono_us is real time (downtime is subtracted on adoption)
};

// Byte offsets of each array in one worker's slice, every one 64-byte aligned.
struct ConnStoreLayout {
  size_t records, synproxy, free_stack, buckets, wheel, persist, stamp;
  uint32_t bucket_count;
  size_t bytes;  // the slice, rounded up to 4 KiB
};

inline ConnStoreLayout conn_store_layout(uint32_t capacity) {
  auto align = [](size_t n, size_t to) { return (n + to - 1) / to * to; };
  ConnStoreLayout l{};
  l.bucket_count = conn_bucket_count(capacity);
  size_t at = 0;
  l.stamp = at;
  at = align(at + sizeof(ConnStoreStamp), 64);
  l.records = at;
  at = align(at + sizeof(Conn) * size_t{capacity}, 64);
  l.synproxy = at;
  at = align(at + sizeof(SynproxyConn) * size_t{capacity}, 64);
  l.free_stack = at;
  at = align(at + sizeof(uint32_t) * size_t{capacity}, 64);
  l.buckets = at;
  at = align(at + sizeof(ConnBucket) * size_t{l.bucket_count}, 64);
  l.wheel = at;
  at = align(at + sizeof(uint32_t) * size_t{kWheelSlots}, 64);
  l.persist = at;
  at = align(at + sizeof(PersistTemplate) * size_t{kPersistCapacity}, 64);
  l.bytes = align(at, 4096);
  return l;
}

inline ConnStore conn_store_at(uint8_t* slice, const ConnStoreLayout& l) {
  ConnStore s;
  s.records = reinterpret_cast<Conn*>(slice + l.records);
  s.synproxy = reinterpret_cast<SynproxyConn*>(slice + l.synproxy);
  s.free_stack = reinterpret_cast<uint32_t*>(slice + l.free_stack);
  s.buckets = reinterpret_cast<ConnBucket*>(slice + l.buckets);
  s.bucket_count = l.bucket_count;
  s.wheel = reinterpret_cast<uint32_t*>(slice + l.wheel);
  s.persist = reinterpret_cast<PersistTemplate*>(slice + l.persist);
  s.stamp = reinterpret_cast<ConnStoreStamp*>(slice + l.stamp);
  return s;
}

// What must be equal for a process to adopt another's region: every size and constant
// that shapes the layout, the worker count (lport residue classes) and the capacity.
uint64_t conn_store_compat_hash(uint32_t capacity, uint16_t workers);

}  // namespace pc
