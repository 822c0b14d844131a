// The immutable, read-only view of the desired state the workers forward with.
// Built off the packet path by snapshot_build() (snapshot.cpp); never modified
// after publication, so workers read it without locks. Addresses are IpAddr
// (common/ip_address.h: network order, IPv4 held mapped; its operator< is numeric
// order = prefix order, which the sorted tables use); ports are NETWORK order.
#pragma once
#include <cstdint>
#include <string>
#include <vector>
#include <rte_byteorder.h>
#include "common/config.h"
#include "pipeline/output/route6.h"
#include "pipeline/defend/defense_tables.h"

struct rte_lpm;

namespace pc {

struct ServerEntry {
  uint32_t id = 0;
  IpAddr addr{};
  uint16_t port = 0;   // network order
  uint32_t weight = 0;
  // IPVS dest->last_weight: the last weight > 0 this server id had (its weight when
  // quiesced), so Maglev keeps a quiesced server's slots. 0 if it never had one.
  uint32_t last_weight = 0;
  uint32_t upper_threshold = 0;  // see RealServerConfig
  uint32_t lower_threshold = 0;
  ForwardMethod forward = ForwardMethod::FULLNAT;
  uint16_t quic_id = 0;  // QUIC service: the id in the connection ids this server issues; 0 = none
  uint64_t generation = 0;
};

// A QUIC service's server ids, sorted by quic_id, for the lookup of a new flow's id.
struct QuicServerId {
  uint16_t quic_id;
  uint16_t index;  // into ServiceEntry::servers
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
  IpAddr vip{};
  uint16_t vport = 0;  // network order
  SchedulerKind scheduler = SchedulerKind::RR;
  std::vector<IpAddr> local_addresses;    // config order
  std::vector<LocalAddressEntry> local_address_ids;  // parallel to local_addresses
  std::vector<ServerEntry> servers;       // config order (schedulers walk it as IPVS walks its list)
  Timeouts timeouts;
  ClientAddress client_address = ClientAddress::NONE;  // copied into each new Conn's flags
  uint8_t uoa_datagrams = kUoaDatagramsDefault;        // UOA_*: copied into each new UDP Conn
  uint8_t sched_flags = 0;                // SchedFlag bits
  uint32_t persistence_timeout = 0;       // seconds; 0 = not persistent
  uint32_t persistence_netmask = 0;       // IPv4 clients, network order (ServiceConfig)
  uint8_t persistence_prefix_v6 = 128;    // IPv6 clients
  // Some server is reached by NAT: with several workers a new connection is made on the worker
  // its client endpoint names (conn/client_owner.h), where the replies will be steered.
  bool has_nat_servers = false;
  // Maglev lookup table (scheduler mh only): slot -> index into servers, built off the
  // packet path by sched/mh_table.h; kMaglevNoServer when no server has a weight.
  std::vector<uint16_t> maglev;
  bool synproxy = false;
  bool synproxy_rst_on_bad_cookie = false;
  bool synproxy_auto = false;            // pipeline/synproxy_auto.h
  bool one_packet = false;               // ipvsadm -o: UDP only (ServiceConfig)
  uint32_t synproxy_auto_syn_rate = 0;   // SYNs/s, whole service
  uint32_t synproxy_auto_hold_ms = 0;
  // UDP: a flow without a connection goes to the server its QUIC connection id names
  // (conn/quic_route.h); quic_ids sorted by quic_id, servers with quic_id 0 left out.
  bool quic = false;
  std::vector<QuicServerId> quic_ids;
  uint64_t generation = 0;
  // Changes whenever anything a scheduler depends on changes (ids, addresses, ports, weights, order).
  uint64_t server_set_fingerprint = 0;
};

// What an owned address is; one address may be several at once.
enum OwnedKind : uint8_t { kOwnedPortAddress = 1, kOwnedVip = 2, kOwnedLip = 4 };

struct OwnedAddress {
  IpNumber number;  // ip_number(addr): the sort key
  IpAddr addr;
  uint8_t kinds;
};

struct SnapshotPort {
  std::string name;
  std::vector<IpPrefix> addresses;  // as configured
  std::vector<IpAddr> arp_owned;    // sorted: owned addresses inside this port's connected prefixes
};

struct NextHop {
  IpAddr gateway{};  // all zero = on-link (the destination itself is the next hop); first: aligned loads
  uint16_t port_index = 0;
};

// rte_lpm always allocates its 2^24-entry first level (64 MiB), so snapshots whose
// ports and routes are unchanged share one table (refcounted on the control thread,
// where snapshots are built and freed).
struct RouteTable {
  rte_lpm* lpm = nullptr;
  Route6Table ipv6;                // IPv6 prefixes (output/route6.h)
  std::vector<NextHop> next_hops;  // lpm/ipv6 next-hop value = index here
  std::string identity;            // canonical text of the inputs, to recognise an unchanged table
  uint32_t refs = 1;
};

// (VIP, protocol, port) of a service, as two numbers ordered VIP first.
struct ServiceKey {
  IpNumber vip;
  uint32_t protocol_port;  // protocol << 16 | port (host order)
  uint32_t index;          // into Snapshot::services
};
inline uint32_t service_protocol_port(uint8_t protocol, uint16_t vport_network) {
  return static_cast<uint32_t>(protocol) << 16 | rte_be_to_cpu_16(vport_network);
}
inline bool service_key_less(const ServiceKey& a, const ServiceKey& b) {
  return a.vip != b.vip ? a.vip < b.vip : a.protocol_port < b.protocol_port;
}
inline bool service_key_same(const ServiceKey& a, const ServiceKey& b) {
  return a.vip == b.vip && a.protocol_port == b.protocol_port;
}

struct Snapshot {
  uint64_t version = 0;
  std::vector<SnapshotPort> ports;
  std::vector<ServiceEntry> services;
  std::vector<ServiceKey> service_index;  // sorted by service_key_less
  std::vector<OwnedAddress> owned;        // sorted by number
  RouteTable* routes = nullptr;
  DefenseTables defense;  // flood defences (pipeline/defend/)
  // Some server is reached by NAT: its replies are addressed to the client, not to us,
  // so packets to addresses we do not own must be looked up before NOT_FOR_US.
  bool has_nat_servers = false;
  // How NAT replies name their worker (conn/client_owner.h): the client address under this mask,
  // with its port unless a persistent service has NAT servers (then its clients share a worker).
  struct NatSteer {
    uint32_t netmask_v4 = 0xFFFFFFFFu;  // network order: AND of persistent NAT services' netmasks
    uint8_t prefix_v6 = 128;            // shortest of their IPv6 prefixes
    bool with_port = true;
  } nat_steer;
  ClusterConfig cluster;  // as applied (pipeline/cluster/handoff.h); enabled false = standalone
  bool session_log = false;  // NAT session records and tallies (pipeline/conn/session_log.h)
};

// Until the stages have their IPv6 branches, an IPv6 address anywhere in the desired
// state is refused at build time ("services[0].vip: IPv6 is not forwarded by the data
// plane yet"): true when addr is IPv4, else false with *error naming field.
bool snapshot_accepts_address(const IpAddr& addr, const std::string& field, std::string* error);

// Null when (protocol, vip, vport) is not a service. vport network order.
const ServiceEntry* snapshot_find_service(const Snapshot& s, uint8_t protocol, const IpAddr& vip, uint16_t vport);

// OwnedKind bits of addr; 0 = not ours.
uint8_t snapshot_owned_kinds(const Snapshot& s, const IpAddr& addr);

// True when addr is owned and inside a connected prefix of port_index.
bool snapshot_arp_owned(const Snapshot& s, uint16_t port_index, const IpAddr& addr);

// The port address whose connected prefix holds addr; false if addr is not on-link there.
bool snapshot_on_link_source(const Snapshot& s, uint16_t port_index, const IpAddr& addr, IpAddr* source);

// The port's first configured address of a family (ARP and neighbour solicitations
// for a next hop outside the connected prefixes, TUN's outer source); false if none.
bool snapshot_port_address(const Snapshot& s, uint16_t port_index, bool ipv6, IpAddr* addr);

// True when group is the solicited-node multicast address (ff02::1:ffXX:XXXX) of an IPv6
// address owned on port_index (neighbour solicitations are sent to it, RFC 4861 7.2.2).
bool snapshot_nd_solicited_group(const Snapshot& s, uint16_t port_index, const IpAddr& group);

}  // namespace pc
