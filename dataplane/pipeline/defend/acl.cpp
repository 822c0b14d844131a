#include "pipeline/defend/acl.h"

#include <algorithm>
#include <rte_byteorder.h>

namespace pc {

namespace {

// One prefix as a numeric range of its family (IPv4 host order or ip_number), inclusive.
struct Sorted {
  IpNumber start, end;
  uint8_t length;
  uint32_t entry;
};

// Appends "from `at` on, the covering entry is `entry`"; a later call at the
// same address overrides (an inner prefix starting where its parent starts).
template <typename Range, typename Start>
void mark(std::vector<Range>* ranges, IpNumber at, uint32_t entry) {
  const Start start = static_cast<Start>(at);
  if (!ranges->empty() && ranges->back().start == start) {
    ranges->back().entry = entry;
    if (ranges->size() >= 2 && (*ranges)[ranges->size() - 2].entry == entry) ranges->pop_back();
    return;
  }
  if (!ranges->empty() && ranges->back().entry == entry) return;  // same verdict continues
  ranges->push_back(Range{start, entry});
}

// Flattens one family's prefixes (a laminar family) into sorted disjoint ranges over
// [0, last], each naming its longest covering entry, and records every entry's parent.
template <typename Range, typename Start>
void flatten(std::vector<Sorted>* sorted, IpNumber last, AclTable* table, std::vector<Range>* ranges) {
  // Outer prefixes first at a shared start; for an identical prefix, deny after allow so deny wins.
  std::sort(sorted->begin(), sorted->end(), [&](const Sorted& a, const Sorted& b) {
    if (a.start != b.start) return a.start < b.start;
    if (a.length != b.length) return a.length < b.length;
    return table->entries[a.entry].action < table->entries[b.entry].action;
  });
  std::vector<const Sorted*> open;  // enclosing prefixes, innermost last
  ranges->clear();
  if (sorted->empty()) return;
  mark<Range, Start>(ranges, 0, kNoAclEntry);
  // Closes every open prefix that ends before `position` (all of them when everything is set).
  auto close_until = [&](IpNumber position, bool everything) {
    while (!open.empty() && (everything || open.back()->end < position)) {
      const IpNumber end = open.back()->end;
      open.pop_back();
      if (end != last) mark<Range, Start>(ranges, end + 1, open.empty() ? kNoAclEntry : open.back()->entry);
    }
  };
  for (const Sorted& s : *sorted) {
    close_until(s.start, false);
    table->entries[s.entry].parent = open.empty() ? kNoAclEntry : open.back()->entry;
    open.push_back(&s);
    mark<Range, Start>(ranges, s.start, s.entry);
  }
  close_until(0, true);
}

}  // namespace

bool acl_build(const AclConfig& cfg, const std::string& path, AclTable* table, uint32_t* next_slot,
               std::vector<uint64_t>* ttl_ms_by_slot, std::string* error) {
  table->default_action = cfg.default_action;
  table->active = !cfg.empty();
  if (cfg.entries.size() > kMaxAclEntries) {
    *error = path + ".entries: at most " + std::to_string(kMaxAclEntries) + " entries, got " +
             std::to_string(cfg.entries.size());
    return false;
  }
  const IpNumber all_ones = ~static_cast<IpNumber>(0);
  std::vector<Sorted> sorted4, sorted6;
  table->entries.reserve(cfg.entries.size());
  for (size_t i = 0; i < cfg.entries.size(); i++) {
    const AclEntryConfig& c = cfg.entries[i];
    std::string where = path + ".entries[" + std::to_string(i) + "]";
    const uint8_t length = c.prefix.length;
    const unsigned family_bits = ip_family_bits(c.prefix.addr);
    if (length > family_bits) {
      *error = where + ": prefix length must be 0.." + std::to_string(family_bits);
      return false;
    }
    AclEntry entry{c.action, kNoAclEntry, kNoAclEntry};
    if (c.ttl_ms) {
      entry.expiry_slot = (*next_slot)++;
      ttl_ms_by_slot->push_back(c.ttl_ms);
    }
    table->entries.push_back(entry);
    if (ip_is_v4(c.prefix.addr)) {
      uint32_t mask = length == 0 ? 0 : length == 32 ? 0xffffffffu : ~(0xffffffffu >> length);
      uint32_t start = rte_be_to_cpu_32(ip_v4(c.prefix.addr)) & mask;
      sorted4.push_back(Sorted{start, static_cast<IpNumber>(start) + (0xffffffffull >> length), length,
                               static_cast<uint32_t>(i)});
    } else {
      const IpNumber host_bits = length == 0 ? all_ones : length == 128 ? 0 : all_ones >> length;
      const IpNumber start = ip_number(c.prefix.addr) & ~host_bits;
      sorted6.push_back(Sorted{start, start | host_bits, length, static_cast<uint32_t>(i)});
    }
  }
  flatten<AclRange, uint32_t>(&sorted4, 0xffffffffu, table, &table->ranges);
  flatten<AclRange6, IpNumber>(&sorted6, all_ones, table, &table->ranges6);
  acl_build_index(table);
  return true;
}

void acl_build_index(AclTable* table) {
  table->by_high16.clear();
  if (table->ranges.size() <= kAclIndexThreshold) return;
  table->by_high16.resize(65537);
  uint32_t r = 0, n = static_cast<uint32_t>(table->ranges.size());
  for (uint32_t high = 0; high <= 65536; high++) {
    uint64_t from = static_cast<uint64_t>(high) << 16;
    while (r < n && table->ranges[r].start < from) r++;
    table->by_high16[high] = r;
  }
}

}  // namespace pc
