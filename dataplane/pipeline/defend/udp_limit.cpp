#include "pipeline/defend/udp_limit.h"

#include <rte_malloc.h>

namespace pc {

bool source_buckets_resize(SourceBucketTable* table, uint32_t buckets, int socket_id) {
  uint32_t capacity = kSourceBucketWays;
  while (capacity < buckets && capacity < kMaxSourceBuckets) capacity <<= 1;
  if (capacity == table->capacity) return true;
  auto* slots = static_cast<SourceBucket*>(
      rte_zmalloc_socket("pc_udp_source_buckets", sizeof(SourceBucket) * capacity, RTE_CACHE_LINE_SIZE, socket_id));
  if (!slots) return false;
  rte_free(table->slots);
  table->slots = slots;
  table->capacity = capacity;
  table->set_bits = 0;
  for (uint32_t sets = capacity / kSourceBucketWays; sets > 1; sets >>= 1) table->set_bits++;
  return true;
}

void source_buckets_free(SourceBucketTable* table) {
  rte_free(table->slots);
  *table = SourceBucketTable{};
}

bool source_bucket_take(SourceBucketTable* table, uint32_t service_id, const IpAddr& source, const RateLimit& limit,
                        uint64_t now_us) {
  if (!table->slots) return true;  // could not allocate: fail open, the per-service bucket still applies
  uint64_t key = (static_cast<uint64_t>(service_id) << 32) | source_word(source);
  SourceBucket* ways = source_bucket_set(*table, source);
  SourceBucket* victim = &ways[0];
  for (uint32_t i = 0; i < kSourceBucketWays; i++) {
    SourceBucket& slot = ways[i];
    if (slot.key == key) return bucket_take(&slot.bucket, limit, now_us);
    if (slot.key == 0) {
      if (victim->key != 0) victim = &slot;  // prefer an empty way over evicting
    } else if (victim->key != 0 && slot.bucket.last_us < victim->bucket.last_us) {
      victim = &slot;
    }
  }
  if (victim->key != 0) table->evictions++;
  victim->key = key;
  victim->bucket = TokenBucket{};
  return bucket_take(&victim->bucket, limit, now_us);
}

}  // namespace pc
