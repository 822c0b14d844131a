#include "pipeline/defend/frag_policy_table.h"

#include <algorithm>
#include <map>
#include <rte_byteorder.h>

namespace pc {

namespace {

int strictness(FragPolicy policy) {
  switch (policy) {
    case FragPolicy::DROP: return 2;
    case FragPolicy::LIMIT: return 1;
    case FragPolicy::REASSEMBLE: return 0;
  }
  return 2;
}

FragPolicyConfig stricter(const FragPolicyConfig& a, const FragPolicyConfig& b) {
  if (strictness(a.policy) != strictness(b.policy)) return strictness(a.policy) > strictness(b.policy) ? a : b;
  if (a.policy != FragPolicy::LIMIT) return a;
  FragPolicyConfig both = a;
  both.per_source.pps = std::min(a.per_source.pps, b.per_source.pps);
  both.per_source.burst = std::min(a.per_source.burst, b.per_source.burst);
  return both;
}

bool check(const FragPolicyConfig& c, const std::string& path, std::string* error) {
  if (static_cast<uint8_t>(c.policy) > static_cast<uint8_t>(FragPolicy::REASSEMBLE)) {
    *error = path + ".policy: must be drop, limit or reassemble";
    return false;
  }
  if (c.policy == FragPolicy::LIMIT && (c.per_source.pps == 0 || c.per_source.burst == 0)) {
    *error = path + ".perSource: policy limit needs pps >= 1 and burst >= 1";
    return false;
  }
  return true;
}

}  // namespace

bool frag_policy_build(const DataplaneConfig& cfg, FragPolicyTable* table, std::string* error) {
  if (!check(cfg.defense.fragments, "defense.fragments", error)) return false;
  table->global = cfg.defense.fragments;
  std::map<uint32_t, const FragPolicyConfig*> own;  // service id -> its own policy
  for (size_t i = 0; i < cfg.defense.services.size(); i++) {
    const ServiceDefenseConfig& sd = cfg.defense.services[i];
    if (!sd.has_fragments) continue;
    if (!check(sd.fragments, "defense.services[" + std::to_string(i) + "].fragments", error)) return false;
    own[sd.service_id] = &sd.fragments;
  }
  std::map<FragPolicyKey, FragPolicyEntry> merged;
  auto add = [&](const IpAddr& addr, uint8_t protocol, const FragPolicyConfig& policy, uint32_t service_id) {
    FragPolicyKey key{addr, protocol};
    auto found = merged.find(key);
    if (found == merged.end()) {
      merged.emplace(key, FragPolicyEntry{key, policy, service_id});
      return;
    }
    FragPolicyEntry& entry = found->second;
    const FragPolicyConfig both = stricter(entry.policy, policy);
    // The stricter policy names the service its drops count against; a tie keeps the first.
    if (strictness(policy.policy) > strictness(entry.policy.policy)) entry.service_id = service_id;
    entry.policy = both;
  };
  for (const ServiceConfig& svc : cfg.services) {
    auto it = own.find(svc.id);
    const FragPolicyConfig& policy = it != own.end() ? *it->second : table->global;
    add(svc.vip, svc.protocol, policy, svc.id);
    for (const IpAddr& lip : svc.local_addresses) add(lip, svc.protocol, policy, svc.id);
  }
  table->entries.clear();
  for (const auto& [key, entry] : merged) table->entries.push_back(entry);
  return true;
}

const FragPolicyConfig& frag_policy_for(const FragPolicyTable& table, const IpAddr& addr, uint8_t protocol,
                                        uint32_t* service_id) {
  FragPolicyKey key{addr, protocol};
  auto it = std::lower_bound(table.entries.begin(), table.entries.end(), key,
                             [](const FragPolicyEntry& e, const FragPolicyKey& k) { return e.key < k; });
  const bool found = it != table.entries.end() && it->key.addr == addr && it->key.protocol == protocol;
  if (service_id) *service_id = found ? it->service_id : 0;
  return found ? it->policy : table.global;
}

}  // namespace pc
