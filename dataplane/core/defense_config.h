// Flood-defence part of the desired state (issue 5), as plain structs. The
// control plane validates and resolves defaults; the addon copies JS input in;
// pipeline/defend/ turns it into snapshot tables. Addresses HOST order.
#pragma once
#include <cstdint>
#include <vector>

namespace pc {

constexpr uint32_t kMaxAclEntries = 65536;          // per list
constexpr uint32_t kDefaultSourceBuckets = 65536;   // per worker, per-source UDP buckets
constexpr uint32_t kMaxSourceBuckets = 1u << 22;

enum class AclAction : uint8_t { ALLOW, DENY };

struct AclEntryConfig {
  uint32_t addr = 0;  // host order, host bits zero
  uint8_t length = 32;
  AclAction action = AclAction::DENY;
  uint64_t ttl_ms = 0;  // 0 = no expiry; else the entry stops matching ttl_ms after a worker adopts the snapshot
};

// Longest prefix wins; no match (or only expired matches) = default_action.
struct AclConfig {
  AclAction default_action = AclAction::ALLOW;
  std::vector<AclEntryConfig> entries;
  bool empty() const { return entries.empty() && default_action == AclAction::ALLOW; }
};

// Token bucket: pps tokens per second, at most burst tokens. pps == 0 = unlimited.
struct RateLimit {
  uint32_t pps = 0;
  uint32_t burst = 0;
  bool enabled() const { return pps != 0; }
};

struct ServiceDefenseConfig {
  uint32_t service_id = 0;
  AclConfig acl;
  RateLimit udp_per_source;   // resolved by the control plane (service value, else global default)
  RateLimit udp_per_service;  // the whole service, split evenly between workers
  RateLimit new_conn_rate;    // new connections/s for the whole service, split between workers
  uint32_t max_conns = 0;     // concurrent connections for the whole service (0 = no cap)
};

struct DefenseConfig {
  AclConfig acl;                          // global: every packet to a VIP, before any service list
  uint32_t source_buckets = kDefaultSourceBuckets;
  std::vector<ServiceDefenseConfig> services;
};

}  // namespace pc
