// A token bucket in integer micro-tokens: refilled from the worker clock on use,
// so an idle bucket costs nothing. pps == 0 never reaches here (limit disabled).
#pragma once
#include <cstdint>
#include "common/defense_config.h"

namespace pc {

constexpr uint64_t kMicroTokens = 1000000;  // one token, in the bucket's unit

struct TokenBucket {
  uint64_t tokens = 0;   // micro-tokens
  uint64_t last_us = 0;  // worker clock of the last refill
  bool primed = false;   // a fresh bucket starts full
};

// The share of a whole-service limit one of `workers` workers enforces (at least 1 pps / 1 token).
inline RateLimit worker_share(const RateLimit& whole, uint16_t workers) {
  RateLimit share;
  share.pps = whole.pps / workers ? whole.pps / workers : 1;
  share.burst = whole.burst / workers ? whole.burst / workers : 1;
  return share;
}

// Takes one token if there is one. limit.pps > 0. Any struct with TokenBucket's three fields
// will do (the per-source table packs them beside its key).
template <typename Bucket>
inline bool bucket_take(Bucket* b, const RateLimit& limit, uint64_t now_us) {
  uint64_t capacity = static_cast<uint64_t>(limit.burst ? limit.burst : 1) * kMicroTokens;
  if (!b->primed) {
    b->primed = true;
    b->tokens = capacity;
  } else if (now_us > b->last_us) {
    uint64_t elapsed = now_us - b->last_us;
    // elapsed * pps fits in 64 bits below 4e9 us (pps < 2^32); beyond that any bucket is full.
    uint64_t refill = elapsed < 4000000000ull ? elapsed * limit.pps : capacity;
    uint64_t room = capacity > b->tokens ? capacity - b->tokens : 0;
    b->tokens = refill >= room ? capacity : b->tokens + refill;
  }
  b->last_us = now_us;
  if (b->tokens > capacity) b->tokens = capacity;  // the limit may have been lowered since
  if (b->tokens < kMicroTokens) return false;
  b->tokens -= kMicroTokens;
  return true;
}

}  // namespace pc
