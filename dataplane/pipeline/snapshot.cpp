// snapshot_build/free/version/object_ids and the snapshot's lookup helpers.
#include "pipeline/snapshot.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <new>
#include <unordered_map>
#include "pipeline/pipeline.h"
#include "pipeline/output/route.h"
#include "pipeline/sched/mh_table.h"

namespace pc {

namespace {

struct Fnv1a {
  uint64_t value = 1469598103934665603ull;
  void add(uint64_t x) {
    for (int i = 0; i < 8; i++) {
      value ^= (x >> (i * 8)) & 0xff;
      value *= 1099511628211ull;
    }
  }
};

std::string field(const char* list, size_t index, const char* name) {
  return std::string(list) + "[" + std::to_string(index) + "]" + (name[0] ? "." : "") + name;
}

// A prefix of the address's own family, from an address the snapshot accepts.
bool accept_prefix(const IpPrefix& prefix, const std::string& where, std::string* error) {
  if (!snapshot_accepts_address(prefix.addr, where, error)) return false;
  if (prefix.length > ip_family_bits(prefix.addr)) {
    *error = where + ": prefix length must be 0.." + std::to_string(ip_family_bits(prefix.addr));
    return false;
  }
  return true;
}

// A port's own address: IPv6 is answered for (neighbour discovery, ICMPv6 echo) even
// before the stages forward it, so only addresses a port can never hold are refused.
bool accept_port_prefix(const IpPrefix& prefix, const std::string& where, std::string* error) {
  if (ip_is_v4(prefix.addr)) return accept_prefix(prefix, where, error);
  if (prefix.length > 128) {
    *error = where + ": prefix length must be 0..128";
    return false;
  }
  static const IpAddr kLoopback = {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}};
  if (prefix.addr.bytes[0] == 0xff || ip_is_zero(prefix.addr) || prefix.addr == kLoopback) {
    *error = where + ": not a unicast IPv6 address";
    return false;
  }
  return true;
}

bool build_ports(const DataplaneConfig& cfg, Snapshot* s, std::string* error) {
  if (cfg.ports.size() > kMaxPorts) {
    *error = "ports: at most " + std::to_string(kMaxPorts) + " ports, got " + std::to_string(cfg.ports.size());
    return false;
  }
  for (size_t p = 0; p < cfg.ports.size(); p++) {
    SnapshotPort port;
    port.name = cfg.ports[p].name;
    for (size_t a = 0; a < cfg.ports[p].addresses.size(); a++) {
      const IpPrefix& prefix = cfg.ports[p].addresses[a];
      if (!accept_port_prefix(prefix, field("ports", p, "addresses") + "[" + std::to_string(a) + "]", error)) return false;
      port.addresses.push_back(prefix);
    }
    s->ports.push_back(std::move(port));
  }
  return true;
}

// Address families within one service (the data plane's copy of src/model/check-family.ts,
// same messages, so a config that reaches the addon without the model is refused alike): the
// VIP, LIPs and servers share one family, except NAT64 as DPVS does it, an IPv6 VIP whose
// servers are IPv4 reached through IPv4 LIPs, every server FullNAT (the one method that
// rewrites both addresses, so the only one that can translate; forward/nat64.h). The inside
// family is the first server's, else the first LIP's; every other one must match it.
const char* forward_method_name(ForwardMethod method) {
  switch (method) {
    case ForwardMethod::NAT: return "nat";
    case ForwardMethod::DR: return "dr";
    case ForwardMethod::TUN: return "tun";
    default: return "fullnat";
  }
}

bool service_families_ok(const ServiceConfig& c, size_t i, std::string* error) {
  struct Member {
    IpAddr addr;
    std::string path, text;
  };
  std::vector<Member> members;
  std::string servers = field("services", i, "servers"), lips = field("services", i, "local_addresses");
  for (size_t k = 0; k < c.servers.size(); k++)
    members.push_back({c.servers[k].addr, servers + "[" + std::to_string(k) + "].address", "server " + ip_text(c.servers[k].addr)});
  for (size_t k = 0; k < c.local_addresses.size(); k++)
    members.push_back({c.local_addresses[k], lips + "[" + std::to_string(k) + "]", "local address " + ip_text(c.local_addresses[k])});
  if (members.empty()) return true;
  auto family = [](const IpAddr& a) { return ip_is_v4(a) ? std::string("IPv4") : std::string("IPv6"); };
  const Member& first = members[0];
  if (ip_is_v4(c.vip) && !ip_is_v4(first.addr)) {
    *error = first.path + ": " + first.text + " is IPv6 but the VIP " + ip_text(c.vip) +
             " is IPv4; a service's VIP, local addresses and servers share one family "
             "(NAT64 takes an IPv6 VIP with IPv4 servers, not the reverse)";
    return false;
  }
  const bool nat64 = !ip_is_v4(c.vip) && ip_is_v4(first.addr);
  for (size_t k = 1; k < members.size(); k++) {
    const Member& m = members[k];
    if (ip_is_v4(m.addr) == ip_is_v4(first.addr)) continue;
    *error = m.path + ": " + m.text + " is " + family(m.addr) + " but " + first.text + " is " + family(first.addr) + "; " +
             (nat64 ? "a NAT64 service (IPv6 VIP, IPv4 servers) reaches its IPv4 servers through IPv4 local addresses only"
                    : "a service's VIP, local addresses and servers share one family (the VIP " + ip_text(c.vip) + " is " +
                          family(c.vip) + ")");
    return false;
  }
  if (!nat64) return true;
  for (size_t k = 0; k < c.servers.size(); k++) {
    const RealServerConfig& rc = c.servers[k];
    if (rc.forward == ForwardMethod::FULLNAT) continue;
    *error = servers + "[" + std::to_string(k) + "].forward: " + forward_method_name(rc.forward) +
             " cannot be used with NAT64 (IPv6 VIP " + ip_text(c.vip) + ", IPv4 server " + ip_text(rc.addr) +
             "): only fullnat translates between families";
    return false;
  }
  return true;
}

// A QUIC service's id -> server table (conn/quic_route.h). Two servers of one service with
// the same id would make its connection ids ambiguous: refused (the model refuses it first).
bool quic_ids_build(ServiceEntry* svc, size_t i, std::string* error) {
  if (!svc->quic) return true;
  for (size_t k = 0; k < svc->servers.size(); k++) {
    if (svc->servers[k].quic_id != 0) svc->quic_ids.push_back(QuicServerId{svc->servers[k].quic_id, static_cast<uint16_t>(k)});
  }
  std::stable_sort(svc->quic_ids.begin(), svc->quic_ids.end(),  // stable: a duplicate names the later server
            [](const QuicServerId& a, const QuicServerId& b) { return a.quic_id < b.quic_id; });
  for (size_t k = 1; k < svc->quic_ids.size(); k++) {
    if (svc->quic_ids[k].quic_id == svc->quic_ids[k - 1].quic_id) {
      *error = field("services", i, "servers") + "[" + std::to_string(svc->quic_ids[k].index) + "].quic_id: duplicate id " +
               std::to_string(svc->quic_ids[k].quic_id) + " in this service";
      return false;
    }
  }
  return true;
}

bool build_services(const DataplaneConfig& cfg, const Snapshot* previous, Snapshot* s, std::string* error) {
  std::unordered_map<uint32_t, const ServiceEntry*> old_services;
  std::unordered_map<uint32_t, std::pair<uint32_t, const ServerEntry*>> old_servers;  // id -> (service id, entry)
  if (previous) {
    for (const auto& svc : previous->services) {
      old_services[svc.id] = &svc;
      for (const auto& server : svc.servers) old_servers[server.id] = {svc.id, &server};
    }
  }
  std::unordered_map<uint32_t, bool> service_ids, server_ids;
  for (size_t i = 0; i < cfg.services.size(); i++) {
    const ServiceConfig& c = cfg.services[i];
    if (c.id < 1 || c.id > kMaxServiceId) {
      *error = field("services", i, "id") + ": must be 1.." + std::to_string(kMaxServiceId) + ", got " + std::to_string(c.id);
      return false;
    }
    if (service_ids.count(c.id)) {
      *error = field("services", i, "id") + ": duplicate id " + std::to_string(c.id);
      return false;
    }
    service_ids[c.id] = true;
    if (c.protocol != IPPROTO_TCP && c.protocol != IPPROTO_UDP) {
      *error = field("services", i, "protocol") + ": must be 6 (tcp) or 17 (udp), got " + std::to_string(c.protocol);
      return false;
    }
    if (static_cast<uint8_t>(c.scheduler) >= kSchedulerKindCount) {
      *error = field("services", i, "scheduler") + ": unknown scheduler";
      return false;
    }
    if (c.one_packet && c.protocol != IPPROTO_UDP) {
      *error = field("services", i, "one_packet") + ": UDP services only (a TCP connection is a stream of segments)";
      return false;
    }
    if (c.one_packet && c.persistence_timeout) {
      *error = field("services", i, "one_packet") + ": not with persistence_timeout (each datagram is scheduled on its own)";
      return false;
    }
    ServiceEntry svc;
    svc.id = c.id;
    svc.protocol = c.protocol;
    svc.vip = c.vip;
    svc.vport = rte_cpu_to_be_16(c.vport);
    svc.scheduler = c.scheduler;
    svc.timeouts = c.timeouts;
    svc.client_address = c.client_address;
    svc.uoa_datagrams = c.uoa_datagrams;
    svc.synproxy = c.synproxy;
    svc.synproxy_rst_on_bad_cookie = c.synproxy_rst_on_bad_cookie;
    svc.synproxy_auto = !c.synproxy && c.synproxy_auto;
    svc.synproxy_auto_syn_rate = c.synproxy_auto_syn_rate;
    svc.synproxy_auto_hold_ms = c.synproxy_auto_hold_ms;
    if (c.quic && c.protocol != IPPROTO_UDP) {
      *error = field("services", i, "quic") + ": QUIC routing is for UDP services only";
      return false;
    }
    svc.quic = c.quic;
    svc.sched_flags = c.sched_flags;
    svc.persistence_timeout = c.persistence_timeout;
    svc.one_packet = c.one_packet;
    svc.persistence_netmask = c.persistence_netmask;
    if (c.persistence_prefix_v6 > 128) {
      *error = field("services", i, "persistence_prefix_v6") + ": must be 0..128";
      return false;
    }
    svc.persistence_prefix_v6 = c.persistence_prefix_v6;
    if (!service_families_ok(c, i, error)) return false;
    for (size_t k = 0; k < c.local_addresses.size(); k++) {
      const IpAddr& lip = c.local_addresses[k];
      // One pool, one set of counters per (service, LIP): a repeated address would count twice.
      if (std::find(svc.local_addresses.begin(), svc.local_addresses.end(), lip) != svc.local_addresses.end()) {
        *error = field("services", i, "local_addresses") + "[" + std::to_string(k) + "]: duplicate address";
        return false;
      }
      svc.local_addresses.push_back(lip);
    }
    Fnv1a fingerprint;
    fingerprint.add(static_cast<uint64_t>(c.scheduler));
    fingerprint.add(c.sched_flags);
    for (size_t k = 0; k < c.servers.size(); k++) {
      const RealServerConfig& rc = c.servers[k];
      std::string server_field = field("services", i, "servers") + "[" + std::to_string(k) + "]";
      std::string where = server_field + ".id";
      if (rc.id < 1 || rc.id > kMaxServerId) {
        *error = where + ": must be 1.." + std::to_string(kMaxServerId) + ", got " + std::to_string(rc.id);
        return false;
      }
      if (server_ids.count(rc.id)) {
        *error = where + ": duplicate server id " + std::to_string(rc.id) + " (ids are unique across services)";
        return false;
      }
      server_ids[rc.id] = true;
      ServerEntry server;
      server.id = rc.id;
      server.addr = rc.addr;
      server.port = rte_cpu_to_be_16(rc.port);
      server.weight = rc.weight;
      server.last_weight = rc.weight;
      server.upper_threshold = rc.upper_threshold;
      server.lower_threshold = rc.lower_threshold;
      server.forward = rc.forward;
      server.quic_id = rc.quic_id;
      if (rc.forward == ForwardMethod::NAT) s->has_nat_servers = svc.has_nat_servers = true;
      // The model refuses these (src/model/check.ts); a DR/TUN connection has no local side to
      // send a backend SYN or a PROXY header's shifted sequence numbers from.
      bool one_way = rc.forward == ForwardMethod::DR || rc.forward == ForwardMethod::TUN;
      if (one_way && (c.synproxy || c.client_address == ClientAddress::PROXY_V1 || c.client_address == ClientAddress::PROXY_V2)) {
        *error = field("services", i, "servers") + "[" + std::to_string(k) + "].forward: dr/tun cannot be used with synproxy or a PROXY header";
        return false;
      }
      server.generation = s->version;
      auto old = old_servers.find(rc.id);
      if (old != old_servers.end() && old->second.first == c.id && old->second.second->addr == server.addr &&
          old->second.second->port == server.port) {
        server.generation = old->second.second->generation;
        if (rc.weight == 0) server.last_weight = old->second.second->last_weight;  // quiesced: keeps its weight's place
      }
      fingerprint.add(rc.id);
      uint64_t addr_high, addr_low;
      std::memcpy(&addr_high, rc.addr.bytes, 8);
      std::memcpy(&addr_low, rc.addr.bytes + 8, 8);
      fingerprint.add(addr_high);
      fingerprint.add(addr_low);
      fingerprint.add(rc.port);
      fingerprint.add(rc.weight);
      svc.servers.push_back(server);
    }
    svc.server_set_fingerprint = fingerprint.value;
    if (svc.has_nat_servers && svc.persistence_timeout) {  // conn/client_owner.h: one mask for every NAT reply
      s->nat_steer.netmask_v4 &= svc.persistence_netmask;
      s->nat_steer.prefix_v6 = std::min(s->nat_steer.prefix_v6, svc.persistence_prefix_v6);
      s->nat_steer.with_port = false;
    }
    if (!quic_ids_build(&svc, i, error)) return false;
    if (svc.scheduler == SchedulerKind::MH && !maglev_build(&svc)) {
      *error = field("services", i, "servers") + ": too many servers for a Maglev table";
      return false;
    }
    svc.generation = s->version;
    auto old = old_services.find(c.id);
    if (old != old_services.end() && old->second->protocol == svc.protocol && old->second->vip == svc.vip &&
        old->second->vport == svc.vport)
      svc.generation = old->second->generation;
    s->service_index.push_back(
        ServiceKey{ip_number(svc.vip), service_protocol_port(svc.protocol, svc.vport), static_cast<uint32_t>(i)});
    s->services.push_back(std::move(svc));
  }
  std::sort(s->service_index.begin(), s->service_index.end(), service_key_less);
  for (size_t i = 1; i < s->service_index.size(); i++) {
    if (service_key_same(s->service_index[i], s->service_index[i - 1])) {
      *error = field("services", s->service_index[i].index, "") + ": same protocol, address and port as services[" +
               std::to_string(s->service_index[i - 1].index) + "]";
      return false;
    }
  }
  return true;
}

// Numbers every (service, LIP) pair for its counters (LocalAddressEntry): a pair that was
// in `previous` under the same service generation keeps its id and generation; every
// other pair gets the lowest id no kept pair holds, and generation == this version.
bool assign_local_address_ids(const Snapshot* previous, Snapshot* s, std::string* error) {
  std::unordered_map<uint32_t, const ServiceEntry*> old_services;
  if (previous)
    for (const auto& svc : previous->services) old_services[svc.id] = &svc;
  std::vector<bool> taken(kMaxLocalAddressId + 1, false);
  taken[0] = true;
  size_t total = 0;
  for (size_t i = 0; i < s->services.size(); i++) {
    ServiceEntry& svc = s->services[i];
    total += svc.local_addresses.size();
    if (total > kMaxLocalAddressId) {
      *error = field("services", i, "local_addresses") + ": more than " + std::to_string(kMaxLocalAddressId) +
               " local addresses over all services";
      return false;
    }
    svc.local_address_ids.assign(svc.local_addresses.size(), LocalAddressEntry{});
    auto old = old_services.find(svc.id);
    if (old == old_services.end() || old->second->generation != svc.generation) continue;
    const ServiceEntry& before = *old->second;
    for (size_t k = 0; k < svc.local_addresses.size(); k++) {
      for (size_t j = 0; j < before.local_addresses.size(); j++) {
        if (before.local_addresses[j] != svc.local_addresses[k]) continue;
        svc.local_address_ids[k] = before.local_address_ids[j];
        taken[svc.local_address_ids[k].id] = true;
        break;
      }
    }
  }
  uint32_t next = 1;
  for (auto& svc : s->services) {
    for (auto& entry : svc.local_address_ids) {
      if (entry.id) continue;
      while (taken[next]) next++;  // total <= kMaxLocalAddressId: a free id exists
      entry.id = next;
      entry.generation = s->version;
      taken[next] = true;
    }
  }
  return true;
}

void build_owned(Snapshot* s) {
  std::map<IpAddr, uint8_t> kinds;  // ordered: s->owned comes out sorted
  for (const auto& port : s->ports)
    for (const auto& prefix : port.addresses) kinds[prefix.addr] |= kOwnedPortAddress;
  for (const auto& svc : s->services) {
    kinds[svc.vip] |= kOwnedVip;
    for (const IpAddr& lip : svc.local_addresses) kinds[lip] |= kOwnedLip;
  }
  for (const auto& [addr, k] : kinds) s->owned.push_back(OwnedAddress{ip_number(addr), addr, k});
  // "Owned on a port" = inside one of its connected prefixes: VIPs answer outside, LIPs inside.
  for (auto& port : s->ports) {
    for (const auto& owned : s->owned) {
      for (const auto& prefix : port.addresses) {
        if (ip_prefix_contains(prefix, owned.addr)) {
          port.arp_owned.push_back(owned.addr);
          break;
        }
      }
    }
  }
}

}  // namespace

// The cluster's node addresses must be IPv4 (the hand-off's outer header), distinct, and
// this node's own one a port address it owns (the encapsulated packets are sent to it).
static bool build_cluster(const ClusterConfig& cfg, Snapshot* s, std::string* error) {
  s->cluster = cfg;
  if (!cfg.enabled) return true;
  if (cfg.nodes.empty() || cfg.nodes.size() > kMaxClusterNodes) {
    *error = "cluster.nodes: 1.." + std::to_string(kMaxClusterNodes) + " nodes expected";
    return false;
  }
  if (cfg.self >= cfg.nodes.size()) {
    *error = "cluster.self: an index into cluster.nodes expected";
    return false;
  }
  if (cfg.foreign_flows == 0) {
    *error = "cluster.foreignFlows: at least 1 expected";
    return false;
  }
  for (size_t i = 0; i < cfg.nodes.size(); i++) {
    std::string field = "cluster.nodes[" + std::to_string(i) + "]";
    if (!ip_is_v4(cfg.nodes[i])) {
      *error = field + ": an IPv4 address expected (hand-offs are IPv4-encapsulated)";
      return false;
    }
    for (size_t k = 0; k < i; k++)
      if (cfg.nodes[k] == cfg.nodes[i]) {
        *error = field + ": the same address as cluster.nodes[" + std::to_string(k) + "]";
        return false;
      }
  }
  if (!(snapshot_owned_kinds(*s, cfg.nodes[cfg.self]) & kOwnedPortAddress)) {
    *error = "cluster.nodes[" + std::to_string(cfg.self) + "]: this node's address must be one of its port addresses";
    return false;
  }
  return true;
}

Snapshot* snapshot_build(const DataplaneConfig& cfg, uint64_t version, const Snapshot* previous, std::string* error) {
  Snapshot* s = new (std::nothrow) Snapshot();
  if (!s) {
    *error = "snapshot: out of memory";
    return nullptr;
  }
  s->version = version;
  if (!build_ports(cfg, s, error) || !build_services(cfg, previous, s, error) ||
      !assign_local_address_ids(previous, s, error)) {
    snapshot_free(s);
    return nullptr;
  }
  build_owned(s);
  s->session_log = cfg.session_log;
  if (!build_cluster(cfg.cluster, s, error)) {
    snapshot_free(s);
    return nullptr;
  }
  std::vector<uint32_t> service_ids;
  for (const auto& svc : s->services) service_ids.push_back(svc.id);
  if (!defense_build(cfg.defense, service_ids, &s->defense, error) ||
      !frag_policy_build(cfg, &s->defense.fragments, error) || !route_table_build(cfg, previous, s, error)) {
    snapshot_free(s);
    return nullptr;
  }
  return s;
}

void snapshot_free(Snapshot* snapshot) {
  if (!snapshot) return;
  route_table_release(snapshot);
  delete snapshot;
}

uint64_t snapshot_version(const Snapshot* snapshot) { return snapshot ? snapshot->version : 0; }

void snapshot_object_ids(const Snapshot* snapshot, std::vector<uint32_t>* service_ids, std::vector<uint32_t>* server_ids) {
  if (!snapshot) return;  // appends, as the contract in pipeline.h says
  for (const auto& svc : snapshot->services) {
    if (service_ids) service_ids->push_back(svc.id);
    if (server_ids)
      for (const auto& server : svc.servers) server_ids->push_back(server.id);
  }
}

void snapshot_local_addresses(const Snapshot* snapshot, std::vector<LocalAddressIdentity>* out) {
  if (!snapshot) return;
  for (const auto& svc : snapshot->services)
    for (size_t k = 0; k < svc.local_addresses.size(); k++)
      out->push_back(LocalAddressIdentity{svc.id, svc.local_addresses[k],
                                          svc.local_address_ids[k].id, svc.local_address_ids[k].generation});
}

bool snapshot_object_generation(const Snapshot* snapshot, bool server, uint32_t id, uint64_t* generation) {
  if (!snapshot) return false;
  for (const auto& svc : snapshot->services) {
    if (!server && svc.id == id) {
      *generation = svc.generation;
      return true;
    }
    if (server)
      for (const auto& entry : svc.servers)
        if (entry.id == id) {
          *generation = entry.generation;
          return true;
        }
  }
  return false;
}

bool snapshot_accepts_address(const IpAddr& addr, const std::string& field, std::string* error) {
  if (ip_is_v4(addr)) return true;
  *error = field + ": IPv6 is not forwarded by the data plane yet";
  return false;
}

const ServiceEntry* snapshot_find_service(const Snapshot& s, uint8_t protocol, const IpAddr& vip, uint16_t vport) {
  const IpNumber number = ip_number(vip);
  const uint32_t protocol_port = service_protocol_port(protocol, vport);
  auto it = std::lower_bound(s.service_index.begin(), s.service_index.end(), 0, [&](const ServiceKey& entry, int) {
    return entry.vip != number ? entry.vip < number : entry.protocol_port < protocol_port;
  });
  if (it == s.service_index.end() || it->vip != number || it->protocol_port != protocol_port) return nullptr;
  return &s.services[it->index];
}

uint8_t snapshot_owned_kinds(const Snapshot& s, const IpAddr& addr) {
  const IpNumber number = ip_number(addr);
  auto it = std::lower_bound(s.owned.begin(), s.owned.end(), number,
                             [](const OwnedAddress& entry, IpNumber n) { return entry.number < n; });
  return (it != s.owned.end() && it->number == number) ? it->kinds : 0;
}

bool snapshot_arp_owned(const Snapshot& s, uint16_t port_index, const IpAddr& addr) {
  if (port_index >= s.ports.size()) return false;
  const auto& list = s.ports[port_index].arp_owned;
  return std::binary_search(list.begin(), list.end(), addr);
}

bool snapshot_on_link_source(const Snapshot& s, uint16_t port_index, const IpAddr& addr, IpAddr* source) {
  if (port_index >= s.ports.size()) return false;
  // Longest prefix wins when a port has nested prefixes.
  int best_length = -1;
  for (const auto& prefix : s.ports[port_index].addresses) {
    if (ip_prefix_contains(prefix, addr) && prefix.length > best_length) {
      best_length = prefix.length;
      *source = prefix.addr;
    }
  }
  return best_length >= 0;
}

bool snapshot_nd_solicited_group(const Snapshot& s, uint16_t port_index, const IpAddr& group) {
  static const uint8_t kSolicitedPrefix[13] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff};
  if (port_index >= s.ports.size() || std::memcmp(group.bytes, kSolicitedPrefix, 13) != 0) return false;
  for (const IpAddr& owned : s.ports[port_index].arp_owned)
    if (ip_is_v6(owned) && std::memcmp(owned.bytes + 13, group.bytes + 13, 3) == 0) return true;
  return false;
}

bool snapshot_port_address(const Snapshot& s, uint16_t port_index, bool ipv6, IpAddr* addr) {
  if (port_index >= s.ports.size()) return false;
  for (const auto& prefix : s.ports[port_index].addresses) {
    if (ip_is_v6(prefix.addr) == ipv6) {
      *addr = prefix.addr;
      return true;
    }
  }
  return false;
}

}  // namespace pc
