// Per-source UDP token buckets: one bucket per (service, source address or IPv6 prefix) in a
// bounded, set-associative table owned by one worker. A full set evicts its
// least recently used bucket (LRU within the set: bounded memory, no list to
// maintain, and a spoofed-source flood can only churn the sets it lands in).
#pragma once
#include <cstdint>
#include "common/ip_address.h"
#include "pipeline/defend/token_bucket.h"

namespace pc {

constexpr uint32_t kSourceBucketWays = 8;

// What a bucket is keyed by: an IPv4 source itself, an IPv6 source masked to the configured
// prefix (one attacker holds a whole /64, so per-address buckets would not limit it), as the
// two words of ip_number. Exact: two prefixes never share a bucket, whatever they hash to.
struct SourceKey {
  uint64_t high, low;
};

inline SourceKey source_key(const IpAddr& source, unsigned ipv6_prefix_length) {
  const IpNumber n = ip_number(ip_is_v4(source) ? source : ip_masked(source, ipv6_prefix_length));
  return SourceKey{static_cast<uint64_t>(n >> 64), static_cast<uint64_t>(n)};
}

// A TokenBucket's fields laid out beside the key: 40 bytes (a TokenBucket member would pad
// to 48), five cache lines per 8-way set.
struct SourceBucket {
  SourceKey source;
  uint64_t tokens;
  uint64_t last_us;
  uint32_t service_id;  // 0 = empty (service ids start at 1)
  bool primed;
};
static_assert(sizeof(SourceBucket) == 40, "five cache lines per set");

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
// An IPv4 source picks its set by its 32 bits (host order) as it always has; an IPv6 prefix
// by both words mixed, so every bit of the prefix moves it.
inline SourceBucket* source_bucket_set(const SourceBucketTable& table, const SourceKey& key) {
  const uint64_t word = key.high == 0 && (key.low >> 32) == 0xffff ? (key.low & 0xffffffffu)
                                                                    : key.high * 0xC2B2AE3D27D4EB4Full ^ key.low;
  uint64_t set = table.set_bits ? (word * 0x9E3779B97F4A7C15ull) >> (64 - table.set_bits) : 0;
  return table.slots + set * kSourceBucketWays;
}

// Starts loading an IPv4 source's set (5 cache lines) ahead of source_bucket_take.
inline void source_bucket_prefetch(const SourceBucketTable& table, const IpAddr& source) {
  if (!table.slots) return;
  const char* set = reinterpret_cast<const char*>(source_bucket_set(table, source_key(source, 128)));
  for (uint32_t line = 0; line < kSourceBucketWays * sizeof(SourceBucket); line += 64) __builtin_prefetch(set + line);
}

// Takes a token from (service_id, source)'s bucket, creating or evicting as needed. An IPv6
// source counts against the bucket of its /ipv6_prefix_length (1..128).
bool source_bucket_take(SourceBucketTable* table, uint32_t service_id, const IpAddr& source,
                        unsigned ipv6_prefix_length, const RateLimit& limit, uint64_t now_us);

}  // namespace pc
