// The immutable, read-only view of the desired state the workers forward with.
// Built off the packet path by snapshot_build() (snapshot.cpp); never modified
// after publication, so workers read it without locks. Addresses and ports that
// are compared with packet fields are stored in NETWORK order; sorted lookup
// tables are keyed in host order (so that numeric order = prefix order).
#pragma once
#include <cstdint>
#include <string>
#include <vector>
#include <rte_byteorder.h>
#include "common/config.h"
#include "pipeline/defend/defense_tables.h"

struct rte_lpm;

namespace pc {

struct ServerEntry {
  uint32_t id = 0;
  uint32_t addr = 0;   // network order
  uint16_t port = 0;   // network order
  uint32_t weight = 0;
  // IPVS dest->last_weight: the last weight > 0 this server id had (its weight when
  // quiesced), so Maglev keeps a quiesced server's slots. 0 if it never had one.
  uint32_t last_weight = 0;
  uint32_t upper_threshold = 0;  // see RealServerConfig
  uint32_t lower_threshold = 0;
  ForwardMethod forward = ForwardMethod::FULLNAT;
  uint64_t generation = 0;
};

// One LIP of a service, as its counters know it. id (1..kMaxLocalAddressId) indexes
// WorkerCounters::local_addresses; the pair keeps id and generation while it is in
// consecutive snapshots under the same service generation; a pair that (re)appears
// gets generation == the snapshot version (its counters start again).
struct LocalAddressEntry {
  uint32_t id = 0;
  uint64_t generation = 0;
};

struct ServiceEntry {
  uint32_t id = 0;
  uint8_t protocol = 0;
  uint32_t vip = 0;    // network order
  uint16_t vport = 0;  // network order
  SchedulerKind scheduler = SchedulerKind::RR;
  std::vector<uint32_t> local_addresses;  // network order, config order
  std::vector<LocalAddressEntry> local_address_ids;  // parallel to local_addresses
  std::vector<ServerEntry> servers;       // config order (schedulers walk it as IPVS walks its list)
  Timeouts timeouts;
  ClientAddress client_address = ClientAddress::NONE;  // copied into each new Conn's flags
  uint8_t sched_flags = 0;                // SchedFlag bits
  uint32_t persistence_timeout = 0;       // seconds; 0 = not persistent
  uint32_t persistence_netmask = 0;       // network order
  // Maglev lookup table (scheduler mh only): slot -> index into servers, built off the
  // packet path by sched/mh_table.h; kMaglevNoServer when no server has a weight.
  std::vector<uint16_t> maglev;
  bool synproxy = false;
  bool synproxy_rst_on_bad_cookie = false;
  bool synproxy_auto = false;            // pipeline/synproxy_auto.h
  uint32_t synproxy_auto_syn_rate = 0;   // SYNs/s, whole service
  uint32_t synproxy_auto_hold_ms = 0;
  uint64_t generation = 0;
  // Changes whenever anything a scheduler depends on changes (ids, addresses, ports, weights, order).
  uint64_t server_set_fingerprint = 0;
};

// What an owned address is; one address may be several at once.
enum OwnedKind : uint8_t { kOwnedPortAddress = 1, kOwnedVip = 2, kOwnedLip = 4 };

struct OwnedAddress {
  uint32_t addr_host;
  uint8_t kinds;
};

struct SnapshotPort {
  std::string name;
  std::vector<Ipv4Prefix> addresses;     // host order, as configured
  std::vector<uint32_t> arp_owned_host;  // sorted: owned addresses inside this port's connected prefixes
  std::vector<IpPrefix> addresses6;      // IPv6 port addresses with their connected prefix, as configured
  std::vector<IpAddr> nd_owned6;         // sorted: owned IPv6 addresses inside this port's IPv6 prefixes
};

struct NextHop {
  uint16_t port_index = 0;
  uint32_t gateway = 0;  // network order; 0 = on-link (the destination itself is the next hop)
};

// rte_lpm always allocates its 2^24-entry first level (64 MiB), so snapshots whose
// ports and routes are unchanged share one table (refcounted on the control thread,
// where snapshots are built and freed).
struct RouteTable {
  rte_lpm* lpm = nullptr;
  std::vector<NextHop> next_hops;  // lpm next-hop value = index here
  std::string identity;            // canonical text of the inputs, to recognise an unchanged table
  uint32_t refs = 1;
};

struct ServiceKey {
  uint64_t key;  // protocol << 48 | vip_host << 16 | vport_host
  uint32_t index;
};

struct Snapshot {
  uint64_t version = 0;
  std::vector<SnapshotPort> ports;
  std::vector<ServiceEntry> services;
  std::vector<ServiceKey> service_index;  // sorted by key
  std::vector<OwnedAddress> owned;        // sorted by addr_host
  std::vector<IpAddr> owned6;             // sorted: owned IPv6 addresses (port addresses for now)
  RouteTable* routes = nullptr;
  DefenseTables defense;  // flood defences (pipeline/defend/)
  // Some server is reached by NAT: its replies are addressed to the client, not to us,
  // so packets to addresses we do not own must be looked up before NOT_FOR_US.
  bool has_nat_servers = false;
};

inline uint64_t service_key(uint8_t protocol, uint32_t vip_host, uint16_t vport_host) {
  return (static_cast<uint64_t>(protocol) << 48) | (static_cast<uint64_t>(vip_host) << 16) | vport_host;
}

// Null when (protocol, vip, vport) is not a service. Arguments network order.
const ServiceEntry* snapshot_find_service(const Snapshot& s, uint8_t protocol, uint32_t vip, uint16_t vport);

// OwnedKind bits of addr (network order); 0 = not ours.
uint8_t snapshot_owned_kinds(const Snapshot& s, uint32_t addr);

// True when addr (network order) is owned and inside a connected prefix of port_index.
bool snapshot_arp_owned(const Snapshot& s, uint16_t port_index, uint32_t addr);

// The port address whose connected prefix holds addr (network order); false if addr is not on-link there.
bool snapshot_on_link_source(const Snapshot& s, uint16_t port_index, uint32_t addr, uint32_t* source);

// ---- IPv6 ownership (neighbour discovery, ICMPv6 echo). What the snapshot must provide:
// owned6 (every IPv6 address we answer for: port addresses now; VIPs and LIPs with FullNAT v6)
// and per port addresses6 + nd_owned6 (owned addresses inside the port's IPv6 prefixes).

// True when addr (IPv6) is one of ours.
bool snapshot_owns_v6(const Snapshot& s, const IpAddr& addr);

// True when addr is owned and inside an IPv6 prefix of port_index (NS answered there).
bool snapshot_nd_owned(const Snapshot& s, uint16_t port_index, const IpAddr& addr);

// True when group is the solicited-node multicast address (ff02::1:ffXX:XXXX) of an
// address owned on port_index.
bool snapshot_nd_solicited_group(const Snapshot& s, uint16_t port_index, const IpAddr& group);

// The port's IPv6 address whose prefix holds addr (longest prefix); false if addr is not on-link there.
bool snapshot_on_link_source_v6(const Snapshot& s, uint16_t port_index, const IpAddr& addr, IpAddr* source);

inline bool prefix_contains(const Ipv4Prefix& prefix, uint32_t addr_host) {
  if (prefix.length == 0) return true;
  uint32_t mask = prefix.length >= 32 ? 0xffffffffu : ~(0xffffffffu >> prefix.length);
  return (addr_host & mask) == (prefix.addr & mask);
}

}  // namespace pc
