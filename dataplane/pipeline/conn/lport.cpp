#include "pipeline/conn/lport.h"

#include <rte_byteorder.h>
#include "common/config.h"

namespace pc {

void lport_allocator_init(LportAllocator* a, uint16_t worker_index, uint16_t worker_count) {
  if (worker_count == 0) worker_count = 1;
  a->worker_index = worker_index;
  a->worker_count = worker_count;
  uint32_t offset = (worker_index % worker_count + worker_count - kLportMin % worker_count) % worker_count;
  a->first_port = static_cast<uint16_t>(kLportMin + offset);
}

uint16_t lport_pool_for(LportAllocator* a, const IpAddr& local_addr) {
  auto it = a->pool_by_addr.find(local_addr);
  if (it != a->pool_by_addr.end()) return it->second;
  LportPool pool;
  pool.local_addr = local_addr;
  pool.port_count = (65535u - a->first_port) / a->worker_count + 1;
  pool.in_use.assign((pool.port_count + 63) / 64, 0);
  uint16_t index = static_cast<uint16_t>(a->pools.size());
  a->pools.push_back(std::move(pool));
  a->pool_by_addr[local_addr] = index;
  return index;
}

bool lport_take(LportAllocator* a, uint16_t pool_index, uint16_t* port) {
  LportPool& pool = a->pools[pool_index];
  if (pool.used >= pool.port_count) return false;
  // Word-at-a-time next-fit scan from the cursor; bounded by the bitmap size.
  uint32_t words = static_cast<uint32_t>(pool.in_use.size());
  uint32_t word = pool.cursor / 64;
  for (uint32_t step = 0; step <= words; step++, word = (word + 1) % words) {
    uint64_t free_bits = ~pool.in_use[word];
    if (word == pool.cursor / 64 && step == 0) free_bits &= ~0ull << (pool.cursor % 64);  // from the cursor on
    if (word == words - 1 && pool.port_count % 64) free_bits &= (1ull << (pool.port_count % 64)) - 1;
    if (!free_bits) continue;
    uint32_t bit = static_cast<uint32_t>(__builtin_ctzll(free_bits));
    uint32_t k = word * 64 + bit;
    pool.in_use[word] |= 1ull << bit;
    pool.used++;
    pool.cursor = (k + 1) % pool.port_count;
    *port = rte_cpu_to_be_16(static_cast<uint16_t>(a->first_port + k * a->worker_count));
    return true;
  }
  return false;
}

namespace {

// The bit of lport (network order) in this worker's pools, or false when it is not of its class.
bool lport_bit(const LportAllocator& a, uint16_t port, uint32_t* k) {
  uint16_t host = rte_be_to_cpu_16(port);
  if (host < a.first_port || (host - a.first_port) % a.worker_count != 0) return false;
  *k = (host - a.first_port) / a.worker_count;
  return true;
}

}  // namespace

bool lport_take_exact(LportAllocator* a, uint16_t pool_index, uint16_t port) {
  uint32_t k;
  if (pool_index >= a->pools.size() || !lport_bit(*a, port, &k)) return false;
  LportPool& pool = a->pools[pool_index];
  if (k >= pool.port_count || (pool.in_use[k / 64] >> (k % 64) & 1)) return false;
  pool.in_use[k / 64] |= 1ull << (k % 64);
  pool.used++;
  return true;
}

bool lport_taken(const LportAllocator& a, uint16_t pool_index, uint16_t port) {
  uint32_t k;
  if (pool_index >= a.pools.size() || !lport_bit(a, port, &k)) return false;
  const LportPool& pool = a.pools[pool_index];
  return k < pool.port_count && (pool.in_use[k / 64] >> (k % 64) & 1);
}

void lport_give_back(LportAllocator* a, uint16_t pool_index, uint16_t port) {
  if (pool_index >= a->pools.size()) return;
  LportPool& pool = a->pools[pool_index];
  uint16_t host = rte_be_to_cpu_16(port);
  if (host < a->first_port) return;
  uint32_t k = (host - a->first_port) / a->worker_count;
  if (k >= pool.port_count) return;
  uint64_t bit = 1ull << (k % 64);
  if (pool.in_use[k / 64] & bit) {
    pool.in_use[k / 64] &= ~bit;
    pool.used--;
  }
}

}  // namespace pc
