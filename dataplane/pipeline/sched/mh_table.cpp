#include "pipeline/sched/mh_table.h"

#include <numeric>
#include <rte_byteorder.h>
#include "pipeline/sched/hash.h"

namespace pc {

namespace {

constexpr uint64_t kHash1Key = 2654435761u;  // ip_vs_mh_hash1: both key words
constexpr uint64_t kHash2Key = 2654446892u;  // ip_vs_mh_hash2
constexpr int kMaglevTabBits = 6;           // IP_VS_MH_TAB_BITS = 12 / 2: caps turns per round

bool is_prime(uint32_t n) {
  if (n < 2) return false;
  for (uint32_t d = 2; d * d <= n; d++)
    if (n % d == 0) return false;
  return true;
}

int fls(uint32_t x) {  // 1-based index of the highest set bit, 0 for 0
  return x ? 32 - __builtin_clz(x) : 0;
}

}  // namespace

uint32_t maglev_table_size(size_t server_count) {
  static const uint32_t kIpvsPrimes[] = {4093, 8191, 16381, 32749, 65521, 131071};
  uint64_t wanted = 100ull * server_count;
  for (uint32_t p : kIpvsPrimes)
    if (p >= wanted) return p;
  uint32_t n = static_cast<uint32_t>(wanted);
  while (!is_prime(n)) n++;
  return n;
}

uint32_t maglev_hash(uint32_t addr_host, uint16_t port_host, uint32_t offset, bool second) {
  uint64_t key = second ? kHash2Key : kHash1Key;
  return hsiphash_u32(offset + port_host + addr_host, key, key);
}

bool maglev_build(ServiceEntry* service) {
  service->maglev.clear();
  const auto& servers = service->servers;
  size_t n = servers.size();
  if (n >= kMaglevNoServer) return false;
  uint32_t g = 0, max_weight = 0;
  for (const auto& s : servers) {
    if (s.last_weight == 0) continue;
    g = std::gcd(g, s.last_weight);  // gcd(0, w) == w
    if (s.last_weight > max_weight) max_weight = s.last_weight;
  }
  if (g == 0) return true;  // nobody ever had a weight: no table, no server
  int rshift = fls(max_weight / g) - kMaglevTabBits;
  if (rshift < 0) rshift = 0;

  const uint32_t size = maglev_table_size(n);
  std::vector<uint32_t> next(n), skip(n), turns(n);
  for (size_t i = 0; i < n; i++) {
    uint32_t addr = rte_be_to_cpu_32(ip_fold32(servers[i].addr));
    uint16_t port = rte_be_to_cpu_16(servers[i].port);
    next[i] = maglev_hash(addr, port, 0, false) % size;        // permutation offset
    skip[i] = maglev_hash(addr, port, 0, true) % (size - 1) + 1;
    uint32_t t = (servers[i].last_weight / g) >> rshift;
    turns[i] = t ? t : (servers[i].last_weight != 0);
  }
  service->maglev.assign(size, kMaglevNoServer);
  uint32_t filled = 0;
  // Round robin over the servers; each takes `turns` slots per round, each slot the
  // next free position of its own permutation offset, offset+skip, offset+2*skip...
  while (filled < size) {
    for (size_t i = 0; i < n && filled < size; i++) {
      for (uint32_t t = 0; t < turns[i] && filled < size; t++) {
        uint32_t c = next[i];
        while (service->maglev[c] != kMaglevNoServer) {
          c += skip[i];
          if (c >= size) c -= size;
        }
        next[i] = c;
        service->maglev[c] = static_cast<uint16_t>(i);
        filled++;
      }
    }
  }
  return true;
}

}  // namespace pc
