// snapshot_build/free/version/object_ids and the snapshot's lookup helpers.
#include "pipeline/snapshot.h"

#include <algorithm>
#include <cstring>
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

bool build_ports(const DataplaneConfig& cfg, Snapshot* s, std::string* error) {
  if (cfg.ports.size() > kMaxPorts) {
    *error = "ports: at most " + std::to_string(kMaxPorts) + " ports, got " + std::to_string(cfg.ports.size());
    return false;
  }
  for (size_t p = 0; p < cfg.ports.size(); p++) {
    SnapshotPort port;
    port.name = cfg.ports[p].name;
    for (size_t a = 0; a < cfg.ports[p].addresses.size(); a++) {
      const Ipv4Prefix& prefix = cfg.ports[p].addresses[a];
      if (prefix.length > 32) {
        *error = field("ports", p, "addresses") + "[" + std::to_string(a) + "]: prefix length must be 0..32";
        return false;
      }
      port.addresses.push_back(prefix);
    }
    for (size_t a = 0; a < cfg.ports[p].addresses6.size(); a++) {
      const IpPrefix& prefix = cfg.ports[p].addresses6[a];
      const std::string where = field("ports", p, "addresses") + " (IPv6 " + std::to_string(a) + ")";
      if (prefix.length > 128) {
        *error = where + ": prefix length must be 0..128";
        return false;
      }
      // Mapped, multicast, unspecified and loopback addresses are never a port's (parse drops them).
      if (ip_is_v4(prefix.addr) || prefix.addr.bytes[0] == 0xff || ip_is_zero(prefix.addr) ||
          ip_masked(prefix.addr, 127) == IpAddr{} ) {
        *error = where + ": not a unicast IPv6 address";
        return false;
      }
      port.addresses6.push_back(prefix);
      s->owned6.push_back(prefix.addr);
    }
    s->ports.push_back(std::move(port));
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
    ServiceEntry svc;
    svc.id = c.id;
    svc.protocol = c.protocol;
    svc.vip = rte_cpu_to_be_32(c.vip);
    svc.vport = rte_cpu_to_be_16(c.vport);
    svc.scheduler = c.scheduler;
    svc.timeouts = c.timeouts;
    svc.client_address = c.client_address;
    svc.synproxy = c.synproxy;
    svc.synproxy_rst_on_bad_cookie = c.synproxy_rst_on_bad_cookie;
    svc.synproxy_auto = !c.synproxy && c.synproxy_auto;
    svc.synproxy_auto_syn_rate = c.synproxy_auto_syn_rate;
    svc.synproxy_auto_hold_ms = c.synproxy_auto_hold_ms;
    svc.sched_flags = c.sched_flags;
    svc.persistence_timeout = c.persistence_timeout;
    svc.persistence_netmask = rte_cpu_to_be_32(c.persistence_netmask);
    for (size_t k = 0; k < c.local_addresses.size(); k++) {
      uint32_t lip = rte_cpu_to_be_32(c.local_addresses[k]);
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
      std::string where = field("services", i, "servers") + "[" + std::to_string(k) + "].id";
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
      server.addr = rte_cpu_to_be_32(rc.addr);
      server.port = rte_cpu_to_be_16(rc.port);
      server.weight = rc.weight;
      server.last_weight = rc.weight;
      server.upper_threshold = rc.upper_threshold;
      server.lower_threshold = rc.lower_threshold;
      server.forward = rc.forward;
      if (rc.forward == ForwardMethod::NAT) s->has_nat_servers = true;
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
      fingerprint.add((static_cast<uint64_t>(rc.addr) << 16) | rc.port);
      fingerprint.add(rc.weight);
      svc.servers.push_back(server);
    }
    svc.server_set_fingerprint = fingerprint.value;
    if (svc.scheduler == SchedulerKind::MH && !maglev_build(&svc)) {
      *error = field("services", i, "servers") + ": too many servers for a Maglev table";
      return false;
    }
    svc.generation = s->version;
    auto old = old_services.find(c.id);
    if (old != old_services.end() && old->second->protocol == svc.protocol && old->second->vip == svc.vip &&
        old->second->vport == svc.vport)
      svc.generation = old->second->generation;
    s->service_index.push_back(ServiceKey{service_key(c.protocol, c.vip, c.vport), static_cast<uint32_t>(i)});
    s->services.push_back(std::move(svc));
  }
  std::sort(s->service_index.begin(), s->service_index.end(),
            [](const ServiceKey& a, const ServiceKey& b) { return a.key < b.key; });
  for (size_t i = 1; i < s->service_index.size(); i++) {
    if (s->service_index[i].key == s->service_index[i - 1].key) {
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
  std::unordered_map<uint32_t, uint8_t> kinds;
  for (const auto& port : s->ports)
    for (const auto& prefix : port.addresses) kinds[prefix.addr] |= kOwnedPortAddress;
  for (const auto& svc : s->services) {
    kinds[rte_be_to_cpu_32(svc.vip)] |= kOwnedVip;
    for (uint32_t lip : svc.local_addresses) kinds[rte_be_to_cpu_32(lip)] |= kOwnedLip;
  }
  for (const auto& [addr, k] : kinds) s->owned.push_back(OwnedAddress{addr, k});
  std::sort(s->owned.begin(), s->owned.end(),
            [](const OwnedAddress& a, const OwnedAddress& b) { return a.addr_host < b.addr_host; });
  // "Owned on a port" = inside one of its connected prefixes: VIPs answer outside, LIPs inside.
  for (auto& port : s->ports) {
    for (const auto& owned : s->owned) {
      for (const auto& prefix : port.addresses) {
        if (prefix_contains(prefix, owned.addr_host)) {
          port.arp_owned_host.push_back(owned.addr_host);
          break;
        }
      }
    }
  }
  // IPv6: port addresses only until VIPs and LIPs take IPv6 (FullNAT v6).
  std::sort(s->owned6.begin(), s->owned6.end());
  s->owned6.erase(std::unique(s->owned6.begin(), s->owned6.end()), s->owned6.end());
  for (auto& port : s->ports) {
    for (const IpAddr& owned : s->owned6) {
      for (const auto& prefix : port.addresses6) {
        if (ip_prefix_contains(prefix, owned)) {
          port.nd_owned6.push_back(owned);
          break;
        }
      }
    }
  }
}

}  // namespace

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
      out->push_back(LocalAddressIdentity{svc.id, rte_be_to_cpu_32(svc.local_addresses[k]),
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

const ServiceEntry* snapshot_find_service(const Snapshot& s, uint8_t protocol, uint32_t vip, uint16_t vport) {
  uint64_t key = service_key(protocol, rte_be_to_cpu_32(vip), rte_be_to_cpu_16(vport));
  auto it = std::lower_bound(s.service_index.begin(), s.service_index.end(), key,
                             [](const ServiceKey& entry, uint64_t k) { return entry.key < k; });
  if (it == s.service_index.end() || it->key != key) return nullptr;
  return &s.services[it->index];
}

uint8_t snapshot_owned_kinds(const Snapshot& s, uint32_t addr) {
  uint32_t host = rte_be_to_cpu_32(addr);
  auto it = std::lower_bound(s.owned.begin(), s.owned.end(), host,
                             [](const OwnedAddress& entry, uint32_t a) { return entry.addr_host < a; });
  return (it != s.owned.end() && it->addr_host == host) ? it->kinds : 0;
}

bool snapshot_arp_owned(const Snapshot& s, uint16_t port_index, uint32_t addr) {
  if (port_index >= s.ports.size()) return false;
  const auto& list = s.ports[port_index].arp_owned_host;
  return std::binary_search(list.begin(), list.end(), rte_be_to_cpu_32(addr));
}

bool snapshot_on_link_source(const Snapshot& s, uint16_t port_index, uint32_t addr, uint32_t* source) {
  if (port_index >= s.ports.size()) return false;
  uint32_t host = rte_be_to_cpu_32(addr);
  // Longest prefix wins when a port has nested prefixes.
  int best_length = -1;
  for (const auto& prefix : s.ports[port_index].addresses) {
    if (prefix_contains(prefix, host) && prefix.length > best_length) {
      best_length = prefix.length;
      *source = rte_cpu_to_be_32(prefix.addr);
    }
  }
  return best_length >= 0;
}

bool snapshot_owns_v6(const Snapshot& s, const IpAddr& addr) {
  return std::binary_search(s.owned6.begin(), s.owned6.end(), addr);
}

bool snapshot_nd_owned(const Snapshot& s, uint16_t port_index, const IpAddr& addr) {
  if (port_index >= s.ports.size()) return false;
  const auto& list = s.ports[port_index].nd_owned6;
  return std::binary_search(list.begin(), list.end(), addr);
}

bool snapshot_nd_solicited_group(const Snapshot& s, uint16_t port_index, const IpAddr& group) {
  static const uint8_t kSolicitedPrefix[13] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff};
  if (port_index >= s.ports.size() || std::memcmp(group.bytes, kSolicitedPrefix, 13) != 0) return false;
  for (const IpAddr& owned : s.ports[port_index].nd_owned6)
    if (std::memcmp(owned.bytes + 13, group.bytes + 13, 3) == 0) return true;
  return false;
}

bool snapshot_on_link_source_v6(const Snapshot& s, uint16_t port_index, const IpAddr& addr, IpAddr* source) {
  if (port_index >= s.ports.size()) return false;
  int best_length = -1;
  for (const auto& prefix : s.ports[port_index].addresses6) {
    if (ip_prefix_contains(prefix, addr) && prefix.length > best_length) {
      best_length = prefix.length;
      *source = prefix.addr;
    }
  }
  return best_length >= 0;
}

}  // namespace pc
