// Per-source UDP token buckets: one bucket per (service, source address) in a
// bounded, set-associative table owned by one worker. A full set evicts its
// least recently used bucket (LRU within the set: bounded memory, no list to
// maintain, and a spoofed-source flood can only churn the sets it lands in).
#pragma once
#include <cstdint>
#include "common/ip_address.h"
#include "pipeline/defend/token_bucket.h"

namespace pc {

constexpr uint32_t kSourceBucketWays = 8;

struct SourceBucket {
  uint64_t key;  // service_id << 32 | source_word(source); 0 = empty (service ids start at 1)
  TokenBucket bucket;
};

// A source as the table keys it: an IPv4 address itself (host order). IPv6 sources are
// folded (ip_fold32) until the IPv6 per-source limit aggregates them by prefix; none
// reach the table yet (the snapshot holds no IPv6 service).
inline uint32_t source_word(const IpAddr& source) { return __builtin_bswap32(ip_fold32(source)); }

struct SourceBucketTable {
  SourceBucket* slots = nullptr;  // sets * kSourceBucketWays
  uint32_t set_bits = 0;
  uint32_t capacity = 0;          // buckets (a power of two >= kSourceBucketWays)
  uint64_t evictions = 0;
};

// (Re)sizes the table to hold at least `buckets` (rounded up to a power of two); keeps
// nothing when the size changes. False on allocation failure (the old table stays).
bool source_buckets_resize(SourceBucketTable* table, uint32_t buckets, int socket_id);
void source_buckets_free(SourceBucketTable* table);

// The set a source's buckets live in (every service's bucket for that source: the set
// depends on the source alone, so it can be prefetched before the service is known).
inline SourceBucket* source_bucket_set(const SourceBucketTable& table, const IpAddr& source) {
  const uint64_t source_host = source_word(source);
  uint64_t set = table.set_bits ? (source_host * 0x9E3779B97F4A7C15ull) >> (64 - table.set_bits) : 0;
  return table.slots + set * kSourceBucketWays;
}

// Starts loading a source's set (4 cache lines) ahead of source_bucket_take.
inline void source_bucket_prefetch(const SourceBucketTable& table, const IpAddr& source) {
  if (!table.slots) return;
  const char* set = reinterpret_cast<const char*>(source_bucket_set(table, source));
  for (uint32_t line = 0; line < kSourceBucketWays * sizeof(SourceBucket); line += 64) __builtin_prefetch(set + line);
}

// Takes a token from (service_id, source)'s bucket, creating or evicting as needed.
bool source_bucket_take(SourceBucketTable* table, uint32_t service_id, const IpAddr& source, const RateLimit& limit,
                        uint64_t now_us);

}  // namespace pc
