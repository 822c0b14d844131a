// Per-source UDP token buckets: one bucket per (service, source address) in a
// bounded, set-associative table owned by one worker. A full set evicts its
// least recently used bucket (LRU within the set: bounded memory, no list to
// maintain, and a spoofed-source flood can only churn the sets it lands in).
#pragma once
#include <cstdint>
#include "pipeline/defend/token_bucket.h"

namespace pc {

constexpr uint32_t kSourceBucketWays = 8;

struct SourceBucket {
  uint64_t key;  // service_id << 32 | source (host order); 0 = empty (service ids start at 1)
  TokenBucket bucket;
};

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

// Takes a token from (service_id, source)'s bucket, creating or evicting as needed.
bool source_bucket_take(SourceBucketTable* table, uint32_t service_id, uint32_t source_host, const RateLimit& limit,
                        uint64_t now_us);

}  // namespace pc
