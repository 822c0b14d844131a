// The defence part of a snapshot: immutable after build, read by every worker.
#pragma once
#include <cstdint>
#include <string>
#include <vector>
#include "common/config.h"
#include "pipeline/defend/acl.h"
#include "pipeline/defend/frag_policy_table.h"

namespace pc {

struct ServiceDefense {
  AclTable acl;
  RateLimit udp_per_source;
  uint8_t udp_source_prefix6 = kDefaultSourcePrefix6;  // IPv6 sources share a bucket per prefix this long
  RateLimit udp_per_service;
  RateLimit new_conn_rate;
  uint32_t max_conns = 0;
};

constexpr uint16_t kNoServiceDefense = UINT16_MAX;

struct DefenseTables {
  bool active = false;  // anything configured at all; false = the stage is one branch
  bool udp_source_limits = false;  // some service limits UDP per source: the worker prefetches bucket sets
  AclTable global_acl;
  std::vector<ServiceDefense> services;
  std::vector<uint16_t> index_by_service_id;  // kMaxServiceId + 1 entries, kNoServiceDefense = none
  std::vector<uint64_t> acl_ttl_ms;           // by expiry slot, across every list
  uint32_t source_buckets = kDefaultSourceBuckets;
  FragPolicyTable fragments;  // IPv4/IPv6 fragment policy by (address, protocol); built by snapshot_build
};

// Builds tables from cfg. service_present(id) says whether id is a service of the
// snapshot. False + *error naming the field ("defense.services[1].serviceId: ...").
bool defense_build(const DefenseConfig& cfg, const std::vector<uint32_t>& service_ids, DefenseTables* tables,
                   std::string* error);

inline const ServiceDefense* defense_for_service(const DefenseTables& t, uint32_t service_id) {
  if (t.index_by_service_id.empty() || service_id > kMaxServiceId) return nullptr;
  uint16_t i = t.index_by_service_id[service_id];
  return i == kNoServiceDefense ? nullptr : &t.services[i];
}

}  // namespace pc
