// CIDR allow/deny lists with longest-prefix match and optional expiry.
//
// Prefixes form a laminar family (two prefixes are nested or disjoint), so the
// build flattens a list into sorted disjoint ranges, each naming the longest
// prefix that covers it; a lookup is one binary search (13 steps for 8k
// entries) instead of a 32-step trie walk or a 64 MiB rte_lpm per list.
// Each entry also records its enclosing entry, so an expired entry falls back
// to the next shorter prefix without rebuilding anything.
//
// A list holds both families in two range tables: IPv4 over its 32 bits (host
// order, with the /16 index below), IPv6 over its 128 bits (ip_number order). The
// two never mix: an IPv4 prefix matches no IPv6 address and the other way round,
// and ::/0 is an IPv6 entry (an operator's "every IPv6 source"), not a catch-all.
// The rules are the same for both: the longest live prefix wins, an identical
// prefix listed twice resolves to deny, an expired entry falls back to its parent.
#pragma once
#include <cstdint>
#include <string>
#include <vector>
#include "common/defense_config.h"
#include "common/ip_address.h"

namespace pc {

constexpr uint32_t kNoAclEntry = UINT32_MAX;

struct AclRange {
  uint32_t start;  // host order; the range runs to the next range's start - 1
  uint32_t entry;  // longest covering entry (index into AclTable::entries) or kNoAclEntry
};

struct AclRange6 {
  IpNumber start;  // the range runs to the next range's start - 1
  uint32_t entry;
};

struct AclEntry {
  AclAction action;
  uint32_t parent;       // enclosing entry or kNoAclEntry
  uint32_t expiry_slot;  // index into the worker's deadline array, or kNoAclEntry (never expires)
};

// Above this many ranges a lookup first narrows by the address's top 16 bits: a 13-step
// binary search over 8k ranges was ~4 dependent cache misses per packet (perf: the ACL
// drop path); the index costs 256 KiB per such table.
constexpr size_t kAclIndexThreshold = 64;

struct AclTable {
  AclAction default_action = AclAction::ALLOW;
  std::vector<AclRange> ranges;    // sorted by start; ranges[0].start == 0 when not empty
  std::vector<AclEntry> entries;
  // Empty, or 65537 entries: by_high16[h] = index of the first range starting at or after h << 16.
  std::vector<uint32_t> by_high16;
  std::vector<AclRange6> ranges6;  // sorted by start; ranges6[0].start == 0 when not empty
  bool active = false;             // false: lookups always allow (nothing configured)
};

// Fills table->by_high16 from table->ranges (acl_build calls it).
void acl_build_index(AclTable* table);

// Builds table from cfg. Expiring entries take consecutive slots from *next_slot
// and append their ttl to ttl_ms_by_slot. False + *error ("acl.entries[3]: ...") on bad input.
bool acl_build(const AclConfig& cfg, const std::string& path, AclTable* table, uint32_t* next_slot,
               std::vector<uint64_t>* ttl_ms_by_slot, std::string* error);

// The verdict of entry e (the longest prefix covering the address) or its first live ancestor.
inline AclAction acl_verdict(const AclTable& table, uint32_t e, const uint64_t* deadlines_us, uint64_t now_us) {
  while (e != kNoAclEntry) {
    const AclEntry& entry = table.entries[e];
    if (entry.expiry_slot == kNoAclEntry || deadlines_us[entry.expiry_slot] > now_us) return entry.action;
    e = entry.parent;
  }
  return table.default_action;
}

// IPv6: a binary search over 128-bit starts (IPv6 lists are short next to IPv4 block
// lists, which is what the /16 index is for; 16 steps cover 64k ranges).
inline AclAction acl_lookup6(const AclTable& table, const IpAddr& addr, const uint64_t* deadlines_us, uint64_t now_us) {
  if (table.ranges6.empty()) return table.default_action;
  const IpNumber number = ip_number(addr);
  uint32_t lo = 0, hi = static_cast<uint32_t>(table.ranges6.size());
  while (hi - lo > 1) {
    uint32_t mid = (lo + hi) / 2;
    if (table.ranges6[mid].start <= number) lo = mid;
    else hi = mid;
  }
  return acl_verdict(table, table.ranges6[lo].entry, deadlines_us, now_us);
}

// The verdict for a source address. deadlines_us[slot] = when the expiring entry
// stops matching (worker clock); now_us = the worker clock.
inline AclAction acl_lookup(const AclTable& table, const IpAddr& addr, const uint64_t* deadlines_us, uint64_t now_us) {
  if (!table.active) return AclAction::ALLOW;
  if (!ip_is_v4(addr)) return acl_lookup6(table, addr, deadlines_us, now_us);
  const uint32_t addr_host = __builtin_bswap32(ip_v4(addr));
  // Last range whose start <= addr (ranges[0].start == 0, so there is one). With the index it
  // lies in [by_high16[h] - 1, by_high16[h + 1]): the range before the first one starting in
  // this /16 covers the /16's beginning, and none starting in a later /16 can be it.
  uint32_t lo = 0, hi = static_cast<uint32_t>(table.ranges.size());
  if (!table.by_high16.empty()) {
    uint32_t high = addr_host >> 16;
    uint32_t first = table.by_high16[high];
    lo = first ? first - 1 : 0;
    hi = table.by_high16[high + 1];
  }
  while (hi - lo > 1) {
    uint32_t mid = (lo + hi) / 2;
    if (table.ranges[mid].start <= addr_host) lo = mid;
    else hi = mid;
  }
  return acl_verdict(table, table.ranges.empty() ? kNoAclEntry : table.ranges[lo].entry, deadlines_us, now_us);
}

}  // namespace pc
