// Flood-defence part of the desired state (issue 5), as plain structs. The
// control plane validates and resolves defaults; the addon copies JS input in;
// pipeline/defend/ turns it into snapshot tables. Addresses are IpAddr (network
// order, IPv4 held mapped; common/ip_address.h).
#pragma once
#include <cstdint>
#include <vector>
#include "common/ip_address.h"

namespace pc {

constexpr uint32_t kMaxAclEntries = 65536;          // per list
constexpr uint32_t kDefaultSourceBuckets = 65536;   // per worker, per-source UDP buckets
constexpr uint32_t kMaxSourceBuckets = 1u << 22;
// IPv6 sources share a per-source bucket per prefix of this length unless a service says
// otherwise: one subscriber (or attacker) is handed a whole /64.
constexpr uint8_t kDefaultSourcePrefix6 = 64;

enum class AclAction : uint8_t { ALLOW, DENY };

struct AclEntryConfig {
  IpPrefix prefix;  // host bits zero; length in the family's own terms
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

// IPv4 and IPv6 fragments to an owned address (pipeline/defend/frag_policy.h). A fragment has no
// ports, so the policy is picked by (destination address, protocol); several services on
// one address+protocol resolve to the strictest (drop > limit > reassemble).
enum class FragPolicy : uint8_t { DROP, LIMIT, REASSEMBLE };

struct FragPolicyConfig {
  FragPolicy policy = FragPolicy::DROP;
  RateLimit per_source;  // LIMIT only: fragments/s per source address; admitted ones are reassembled
};

// Per-worker reassembly table, fixed at start (daemon config dataplane.fragments).
constexpr uint32_t kDefaultFragTableSets = 4096;
constexpr uint32_t kMaxFragTableSets = 1u << 20;
constexpr uint32_t kDefaultFragTimeoutMs = 1000;
constexpr uint32_t kMaxFragTimeoutMs = 60000;
constexpr uint32_t kDefaultFragMaxFragments = 16;
constexpr uint32_t kMaxFragMaxFragments = 64;
constexpr uint32_t kDefaultFragMaxDatagram = 9216;  // bytes, IP header included
constexpr uint32_t kMaxFragMaxDatagram = 65535;

struct FragTableConfig {
  uint32_t sets = kDefaultFragTableSets;          // incomplete datagrams held at once, per worker
  uint32_t timeout_ms = kDefaultFragTimeoutMs;    // an incomplete set is discarded this long after its first fragment
  uint32_t max_fragments = kDefaultFragMaxFragments;  // pieces per datagram
  uint32_t max_datagram = kDefaultFragMaxDatagram;    // reassembled IP datagram size limit
};

struct ServiceDefenseConfig {
  uint32_t service_id = 0;
  AclConfig acl;
  RateLimit udp_per_source;   // resolved by the control plane (service value, else global default)
  uint8_t udp_source_prefix6 = kDefaultSourcePrefix6;  // udpPerSource.ipv6PrefixLength, 1..128
  RateLimit udp_per_service;  // the whole service, split evenly between workers
  RateLimit new_conn_rate;    // new connections/s for the whole service, split between workers
  uint32_t max_conns = 0;     // concurrent connections for the whole service (0 = no cap)
  bool has_fragments = false; // false: the global fragment policy applies
  FragPolicyConfig fragments;
};

struct DefenseConfig {
  AclConfig acl;                          // global: every packet to a VIP, before any service list
  uint32_t source_buckets = kDefaultSourceBuckets;
  std::vector<ServiceDefenseConfig> services;
  FragPolicyConfig fragments;             // services without their own, and addresses/protocols with no service
};

}  // namespace pc
