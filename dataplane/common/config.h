// The desired state as plain structs. The addon copies validated JS input into
// these (TypeScript validated it already; the addon re-checks only what would be
// unsafe for C++); snapshot_build() turns them into lookup tables. Addresses are
// IpAddr / IpPrefix (common/ip_address.h): NETWORK order, IPv4 held mapped, prefix
// lengths in the family's own terms. Ports are in HOST byte order here; the pipeline
// converts once at build time.
#pragma once
#include <cstdint>
#include <string>
#include <vector>
#include "common/defense_config.h"
#include "common/ip_address.h"

namespace pc {

// Hard bounds the control plane validates against (src/model mirrors them).
constexpr uint16_t kMaxPorts = 8;
constexpr uint16_t kMaxWorkers = 64;
constexpr uint32_t kMaxServiceId = 4095;  // ids are 1..kMaxServiceId
constexpr uint32_t kMaxServerId = 65535;  // ids are 1..kMaxServerId, unique across services
// (service, LIP) pairs over all services: snapshot_build numbers them 1..kMaxLocalAddressId
// for their per-worker counters (pcadm --get-laddr).
constexpr uint32_t kMaxLocalAddressId = 65535;
constexpr uint16_t kLportMin = 1024;      // lports handed out are kLportMin..65535
constexpr uint32_t kMaxRoutes = 1024;

struct PortAddresses {
  std::string name;                  // must equal the started port's name, same order
  std::vector<IpPrefix> addresses;   // owned addresses with their connected prefix
};

struct RouteConfig {
  IpPrefix prefix;
  IpAddr via{};              // next hop; all zero (::) = directly connected
  uint16_t port_index = 0;   // index into the started ports
};

// All in seconds; resolved by the control plane (global defaults merged in).
struct Timeouts {
  uint32_t tcp_established = 900;
  uint32_t tcp_syn_sent = 120;
  uint32_t tcp_syn_recv = 60;
  uint32_t tcp_fin_wait = 120;
  uint32_t tcp_time_wait = 120;
  uint32_t tcp_close = 10;
  uint32_t tcp_close_wait = 60;
  uint32_t tcp_last_ack = 30;
  uint32_t udp = 300;
  // A one-packet (ipvsadm -o) datagram waiting for its reply: glibc's resolver gives up on a
  // DNS try after 5 s (RES_TIMEOUT) and sends a new datagram, so a later reply helps no one.
  uint32_t udp_one_packet = 5;
};

enum class SchedulerKind : uint8_t { RR, WRR, LC, WLC, SED, NQ, DH, SH, LBLC, LBLCR, MH, FO, OVF, TWOS };
constexpr uint8_t kSchedulerKindCount = 14;

// ipvsadm -b scheduler flags (IP_VS_SVC_F_SCHED1/2): sh-fallback/mh-fallback, sh-port/mh-port.
enum SchedFlag : uint8_t { kSchedFallback = 1, kSchedPort = 2 };

// How a service tells its real servers the client's address (FullNAT hides it).
// TOA: TCP option kind 254 in the handshake ACK and first data segment (pipeline/toa.h).
// PROXY_V1/V2: PROXY protocol header in front of the TCP stream (synproxy/); PROXY_V2 on a
// UDP service: a DGRAM header in front of every datagram toward the server (carriage/proxy_dgram.h).
// UOA_IPO / UOA_OPP (UDP only): DPVS's UDP option of address on the first uoa_datagrams
// datagrams, as an IPv4 option or in the private protocol 248 header (carriage/uoa.h).
enum class ClientAddress : uint8_t { NONE, TOA, PROXY_V1, PROXY_V2, UOA_IPO, UOA_OPP };
constexpr uint8_t kUoaDatagramsDefault = 3;  // DPVS's uoa_max_trail default
constexpr uint8_t kUoaDatagramsMax = 255;    // one byte of the connection record counts them down

// ipvsadm -b / -m / -g / -i: how packets reach a real server (pipeline/forward/).
// FULLNAT: LIP:lport -> RIP:rport both ways. NAT (masquerading): destination rewrite only,
// replies route back through us. DR (direct routing): MAC rewrite, same L2 segment.
// TUN: IPIP (IPv6: IPv6-in-IPv6) to the server. DR and TUN servers answer the client directly.
enum class ForwardMethod : uint8_t { FULLNAT, NAT, DR, TUN };

struct RealServerConfig {
  uint32_t id = 0;
  IpAddr addr{};
  uint16_t port = 0;
  uint32_t weight = 1; // 0 = quiesced: no new connections, existing ones continue
  uint32_t upper_threshold = 0;  // ipvsadm -x: at this many connections no new ones; 0 = none
  uint32_t lower_threshold = 0;  // ipvsadm -y: resume below this; 0 = below 3/4 of upper
  ForwardMethod forward = ForwardMethod::FULLNAT;
  uint16_t quic_id = 0;  // QUIC service: the id this server writes in its connection ids (docs/schedulers.md, "QUIC"); 0 = none
};

struct ServiceConfig {
  uint32_t id = 0;
  uint8_t protocol = 6;  // IPPROTO_TCP or IPPROTO_UDP
  IpAddr vip{};
  uint16_t vport = 0;
  SchedulerKind scheduler = SchedulerKind::RR;
  std::vector<IpAddr> local_addresses;  // LIP pool
  std::vector<RealServerConfig> servers;
  Timeouts timeouts;
  ClientAddress client_address = ClientAddress::NONE;
  uint8_t uoa_datagrams = kUoaDatagramsDefault;  // UOA_*: datagrams per connection that carry it (1..255)
  uint8_t sched_flags = 0;               // SchedFlag bits
  uint32_t persistence_timeout = 0;      // seconds; 0 = not persistent (ipvsadm -p)
  // ipvsadm -M: IPv4 clients are grouped by a netmask (network order, as ipvsadm takes
  // it: any mask, contiguous or not), IPv6 clients by a prefix length (IPVS's -M for v6).
  uint32_t persistence_netmask = 0xffffffffu;
  uint8_t persistence_prefix_v6 = 128;
  bool synproxy = false;  // answer SYNs with cookies (pipeline/synproxy.h)
  bool synproxy_rst_on_bad_cookie = false;  // answer a bad-cookie ACK with RST as well as dropping it
  bool quic = false;  // UDP only: new flows routed by the server id in the QUIC destination connection id (docs/schedulers.md, "QUIC")
  // SYNPROXY auto (pipeline/synproxy_auto.h), only when synproxy is false: engage when the
  // service's SYN rate reaches synproxy_auto_syn_rate (SYNs/s for the whole service, split
  // between workers), disengage after synproxy_auto_hold_ms below it.
  bool synproxy_auto = false;
  uint32_t synproxy_auto_syn_rate = 0;
  uint32_t synproxy_auto_hold_ms = 0;
  // ipvsadm -o (UDP, FullNAT servers): each datagram is scheduled on its own and leaves only
  // a reply entry that ends at its first reply or after timeouts.udp_one_packet (conn_stage.cpp).
  bool one_packet = false;
};

// Cluster hand-off (pipeline/cluster/, docs/cluster.md): the gateways of the
// cluster by index, this node's index, the bound of the foreign-flow table. Absent
// (enabled false) = a standalone gateway: no ownership export, no hand-off, no decapsulation.
constexpr uint32_t kMaxClusterNodes = 64;
struct ClusterConfig {
  bool enabled = false;
  std::vector<IpAddr> nodes;        // node index = position; IPv4 (the outer header is IPv4)
  uint32_t self = 0;                // this node's index into nodes
  uint32_t foreign_flows = 1u << 20;  // entries of each worker's foreign-flow table
  uint32_t foreign_idle_seconds = 900;  // an entry neither learned again nor used this long is a miss
};

struct DataplaneConfig {
  std::vector<PortAddresses> ports;
  std::vector<RouteConfig> routes;
  std::vector<ServiceConfig> services;
  DefenseConfig defense;  // flood defences (issue 5); default: nothing on
  ClusterConfig cluster;
  // NAT session logging (pipeline/conn/session_log.h): each worker records its connections'
  // creation and end, with per-connection packets and bytes, for the control thread to export.
  bool session_log = false;
};

}  // namespace pc
