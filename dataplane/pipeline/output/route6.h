// IPv6 longest-prefix match for the route table: one hash entry per (network, length),
// probed for each distinct prefix length present, longest first. A gateway holds a few
// connected /64s and a handful of static routes, so a lookup is a few hash probes; and
// unlike rte_lpm6, whose first level alone is 64 MiB, it costs memory only per route,
// which matters because every snapshot change builds a second table beside the live one.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <unordered_map>
#include <vector>
#include <rte_hash_crc.h>
#include "common/ip_address.h"

namespace pc {

struct Route6Key {
  IpAddr network;  // host bits cleared
  uint8_t length;
  bool operator==(const Route6Key& o) const { return length == o.length && network == o.network; }
};

struct Route6KeyHash {
  size_t operator()(const Route6Key& k) const {
    uint64_t a, b;
    std::memcpy(&a, k.network.bytes, 8);
    std::memcpy(&b, k.network.bytes + 8, 8);
    return rte_hash_crc_8byte(b, rte_hash_crc_8byte(a, k.length));
  }
};

struct Route6Table {
  std::vector<uint8_t> lengths;  // distinct prefix lengths present, longest first
  std::unordered_map<Route6Key, uint32_t, Route6KeyHash> routes;  // -> next-hop index
};

// Adds or replaces (the later rule for the same prefix wins, as rte_lpm_add does).
inline void route6_add(Route6Table* t, const IpAddr& addr, uint8_t length, uint32_t index) {
  t->routes[Route6Key{ip_masked(addr, length), length}] = index;
  if (std::find(t->lengths.begin(), t->lengths.end(), length) == t->lengths.end()) {
    t->lengths.push_back(length);
    std::sort(t->lengths.begin(), t->lengths.end(), [](uint8_t x, uint8_t y) { return x > y; });
  }
}

inline bool route6_lookup(const Route6Table& t, const IpAddr& dst, uint32_t* index) {
  for (uint8_t length : t.lengths) {
    auto it = t.routes.find(Route6Key{ip_masked(dst, length), length});
    if (it != t.routes.end()) {
      *index = it->second;
      return true;
    }
  }
  return false;
}

}  // namespace pc
