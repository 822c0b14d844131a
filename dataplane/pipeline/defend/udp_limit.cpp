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

bool source_bucket_take(SourceBucketTable* table, uint32_t service_id, const IpAddr& source,
                        unsigned ipv6_prefix_length, const RateLimit& limit, uint64_t now_us) {
  if (!table->slots) return true;  // could not allocate: fail open, the per-service bucket still applies
  const SourceKey key = source_key(source, ipv6_prefix_length);
  SourceBucket* ways = source_bucket_set(*table, key);
  SourceBucket* victim = &ways[0];
  for (uint32_t i = 0; i < kSourceBucketWays; i++) {
    SourceBucket& slot = ways[i];
    if (slot.service_id == service_id && slot.source.high == key.high && slot.source.low == key.low)
      return bucket_take(&slot, limit, now_us);
    if (slot.service_id == 0) {
      if (victim->service_id != 0) victim = &slot;  // prefer an empty way over evicting
    } else if (victim->service_id != 0 && slot.last_us < victim->last_us) {
      victim = &slot;
    }
  }
  if (victim->service_id != 0) table->evictions++;
  victim->source = key;
  victim->service_id = service_id;
  victim->tokens = 0;
  victim->last_us = 0;
  victim->primed = false;
  return bucket_take(victim, limit, now_us);
}

}  // namespace pc
