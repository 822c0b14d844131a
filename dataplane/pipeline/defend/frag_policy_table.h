// The fragment policy part of a snapshot: which policy a fragment to (address,
// protocol) gets. A fragment carries no ports, so services are found by address:
// a VIP takes the policy of the services on it with that protocol, a LIP the policy
// of the services whose pool holds it (their replies arrive there). When several
// services share an address+protocol and disagree, the strictest wins: drop over
// limit over reassemble, and between two limits the lower rate and burst. Anything
// else owned (port addresses, other protocols) gets the global policy. Drops are also
// counted per service, against the service whose policy decided (FragPolicyEntry).
#pragma once
#include <cstdint>
#include <string>
#include <vector>
#include "common/config.h"

namespace pc {

struct FragPolicyKey {
  IpAddr addr;
  uint8_t protocol;
};
inline bool operator<(const FragPolicyKey& a, const FragPolicyKey& b) {
  return a.addr != b.addr ? a.addr < b.addr : a.protocol < b.protocol;
}

struct FragPolicyEntry {
  FragPolicyKey key;
  FragPolicyConfig policy;
  // The service whose policy this is (the first in config order when several give the same):
  // its drops are counted against it (DefenseCounters). 0 = none (the global policy's drops).
  uint32_t service_id = 0;
};

struct FragPolicyTable {
  FragPolicyConfig global;                // cfg.defense.fragments
  std::vector<FragPolicyEntry> entries;   // sorted by key
};

// Fills *table from the services of cfg and cfg.defense. False + *error on a bad value.
bool frag_policy_build(const DataplaneConfig& cfg, FragPolicyTable* table, std::string* error);

// The policy for a fragment to addr carrying protocol; *service_id = FragPolicyEntry::service_id
// (0 for the global policy).
const FragPolicyConfig& frag_policy_for(const FragPolicyTable& table, const IpAddr& addr, uint8_t protocol,
                                        uint32_t* service_id = nullptr);

}  // namespace pc
