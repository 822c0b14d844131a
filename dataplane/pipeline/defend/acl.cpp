#include "pipeline/defend/acl.h"

#include <algorithm>
#include <rte_byteorder.h>
#include "pipeline/snapshot.h"

namespace pc {

namespace {

struct Sorted {
  uint64_t start, end;  // inclusive range, 64-bit so end + 1 never wraps
  uint8_t length;
  uint32_t entry;
};

// Appends "from `at` on, the covering entry is `entry`"; a later call at the
// same address overrides (an inner prefix starting where its parent starts).
void mark(std::vector<AclRange>* ranges, uint64_t at, uint32_t entry) {
  if (at > UINT32_MAX) return;  // past the end of the address space
  uint32_t start = static_cast<uint32_t>(at);
  if (!ranges->empty() && ranges->back().start == start) {
    ranges->back().entry = entry;
    if (ranges->size() >= 2 && (*ranges)[ranges->size() - 2].entry == entry) ranges->pop_back();
    return;
  }
  if (!ranges->empty() && ranges->back().entry == entry) return;  // same verdict continues
  ranges->push_back(AclRange{start, entry});
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
  std::vector<Sorted> sorted;
  sorted.reserve(cfg.entries.size());
  table->entries.reserve(cfg.entries.size());
  for (size_t i = 0; i < cfg.entries.size(); i++) {
    const AclEntryConfig& c = cfg.entries[i];
    std::string where = path + ".entries[" + std::to_string(i) + "]";
    if (!snapshot_accepts_address(c.prefix.addr, where + ".prefix", error)) return false;
    const uint8_t length = c.prefix.length;
    if (length > 32) {
      *error = where + ": prefix length must be 0..32";
      return false;
    }
    uint32_t mask = length == 0 ? 0 : length == 32 ? 0xffffffffu : ~(0xffffffffu >> length);
    uint32_t start = rte_be_to_cpu_32(ip_v4(c.prefix.addr)) & mask;
    AclEntry entry{c.action, kNoAclEntry, kNoAclEntry};
    if (c.ttl_ms) {
      entry.expiry_slot = (*next_slot)++;
      ttl_ms_by_slot->push_back(c.ttl_ms);
    }
    table->entries.push_back(entry);
    sorted.push_back(Sorted{start, static_cast<uint64_t>(start) + (0xffffffffull >> length),
                            length, static_cast<uint32_t>(i)});
  }
  // Outer prefixes first at a shared start; for an identical prefix, deny after allow so deny wins.
  std::sort(sorted.begin(), sorted.end(), [&](const Sorted& a, const Sorted& b) {
    if (a.start != b.start) return a.start < b.start;
    if (a.length != b.length) return a.length < b.length;
    return table->entries[a.entry].action < table->entries[b.entry].action;
  });
  std::vector<const Sorted*> open;  // enclosing prefixes, innermost last
  table->ranges.clear();
  mark(&table->ranges, 0, kNoAclEntry);
  auto close_until = [&](uint64_t position) {
    while (!open.empty() && open.back()->end < position) {
      uint64_t after = open.back()->end + 1;
      open.pop_back();
      mark(&table->ranges, after, open.empty() ? kNoAclEntry : open.back()->entry);
    }
  };
  for (const Sorted& s : sorted) {
    close_until(s.start);
    table->entries[s.entry].parent = open.empty() ? kNoAclEntry : open.back()->entry;
    open.push_back(&s);
    mark(&table->ranges, s.start, s.entry);
  }
  close_until(UINT64_MAX);
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
