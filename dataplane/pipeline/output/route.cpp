#include "pipeline/output/route.h"

#include <atomic>
#include <cstdio>
#include <new>
#include <rte_errno.h>

namespace pc {

namespace {

uint32_t prefix_mask(uint8_t length) { return length == 0 ? 0 : (length >= 32 ? 0xffffffffu : ~(0xffffffffu >> length)); }

// The table's key of an (IPv4) address: host order.
uint32_t lpm_key(const IpAddr& a) { return rte_be_to_cpu_32(ip_v4(a)); }

bool validate_routes(const DataplaneConfig& cfg, const Snapshot& s, std::string* error) {
  if (cfg.routes.size() > kMaxRoutes) {
    *error = "routes: at most " + std::to_string(kMaxRoutes) + " routes, got " + std::to_string(cfg.routes.size());
    return false;
  }
  for (size_t r = 0; r < cfg.routes.size(); r++) {
    const RouteConfig& route = cfg.routes[r];
    std::string where = "routes[" + std::to_string(r) + "]";
    if (!ip_is_zero(route.via) && ip_is_v4(route.via) != ip_is_v4(route.prefix.addr)) {
      *error = where + ".via: " + ip_text(route.via) + " is not of the prefix's address family";
      return false;
    }
    if (route.prefix.length > ip_family_bits(route.prefix.addr)) {
      *error = where + ".prefix: length must be 0.." + std::to_string(ip_family_bits(route.prefix.addr)) + ", got " +
               std::to_string(route.prefix.length);
      return false;
    }
    if (route.port_index >= s.ports.size()) {
      *error = where + ".port: index " + std::to_string(route.port_index) + " is not a started port (" +
               std::to_string(s.ports.size()) + " ports)";
      return false;
    }
    if (!ip_is_zero(route.via)) {
      // An IPv6 link-local next hop (fe80::/10, what routers advertise) is on the link of the
      // route's port by definition: neighbour discovery resolves it there.
      bool on_link = ip_is_v6(route.via) && route.via.bytes[0] == 0xfe && (route.via.bytes[1] & 0xc0) == 0x80;
      for (const auto& prefix : s.ports[route.port_index].addresses) on_link |= ip_prefix_contains(prefix, route.via);
      if (!on_link) {
        *error = where + ".via: " + ip_text(route.via) + " is not inside a connected prefix of port " +
                 s.ports[route.port_index].name;
        return false;
      }
    }
  }
  return true;
}

// A prefix as the table holds it: host bits cleared, written in its family's text.
std::string prefix_text(const IpPrefix& prefix) {
  return ip_text(ip_masked(prefix.addr, ip_prefix_bits(prefix.addr, prefix.length))) + "/" + std::to_string(prefix.length);
}

// Everything the table is made of, in order (connected prefixes first, then static routes).
std::string identity_of(const DataplaneConfig& cfg, const Snapshot& s) {
  std::string id;
  for (size_t p = 0; p < s.ports.size(); p++)
    for (const auto& prefix : s.ports[p].addresses) id += "c" + std::to_string(p) + ":" + prefix_text(prefix) + ";";
  for (const auto& route : cfg.routes)
    id += "s" + std::to_string(route.port_index) + ":" + prefix_text(route.prefix) + ">" + ip_text(route.via) + ";";
  return id;
}

bool add_route(RouteTable* t, const IpPrefix& prefix, NextHop hop, std::string* error, const std::string& where) {
  uint32_t index = static_cast<uint32_t>(t->next_hops.size());
  t->next_hops.push_back(hop);
  int rc;
  if (ip_is_v4(prefix.addr)) {
    rc = rte_lpm_add(t->lpm, lpm_key(prefix.addr) & prefix_mask(prefix.length), prefix.length, index);
  } else {
    IpAddr network = ip_masked(prefix.addr, prefix.length);
    route6_add(&t->ipv6, network, prefix.length, index);
    rc = 0;
  }
  if (rc != 0) {
    *error = where + ": route table insert failed (" + std::to_string(rc) + ")";
    return false;
  }
  return true;
}

void free_table(RouteTable* t) {
  if (t->lpm) rte_lpm_free(t->lpm);
  delete t;
}

}  // namespace

bool route_table_build(const DataplaneConfig& cfg, const Snapshot* previous, Snapshot* s, std::string* error) {
  if (!validate_routes(cfg, *s, error)) return false;
  std::string identity = identity_of(cfg, *s);
  if (previous && previous->routes && previous->routes->identity == identity) {
    s->routes = previous->routes;
    s->routes->refs++;
    return true;
  }

  RouteTable* t = new (std::nothrow) RouteTable();
  if (!t) {
    *error = "routes: out of memory";
    return false;
  }
  t->identity = std::move(identity);
  // rte_lpm names are global in the EAL: every table gets a fresh one.
  static std::atomic<uint32_t> table_counter{0};
  char name[RTE_LPM_NAMESIZE];
  uint32_t table_number = table_counter.fetch_add(1);
  std::snprintf(name, sizeof name, "pc_lpm_%u", table_number);
  uint32_t rules = static_cast<uint32_t>(cfg.routes.size());
  for (const auto& port : s->ports) rules += static_cast<uint32_t>(port.addresses.size());
  rte_lpm_config lpm_config{};
  lpm_config.max_rules = rules + 16;
  lpm_config.number_tbl8s = 256;  // each distinct /24 holding a longer prefix needs one
  t->lpm = rte_lpm_create(name, SOCKET_ID_ANY, &lpm_config);
  if (!t->lpm) {
    *error = std::string("routes: cannot allocate route table (") + rte_strerror(rte_errno) + ")";
    free_table(t);
    return false;
  }

  // Connected routes first: a static route with the same prefix then overrides them.
  for (size_t p = 0; p < s->ports.size(); p++) {
    for (size_t a = 0; a < s->ports[p].addresses.size(); a++) {
      const IpPrefix& prefix = s->ports[p].addresses[a];
      std::string where = "ports[" + std::to_string(p) + "].addresses[" + std::to_string(a) + "]";
      if (!add_route(t, prefix, NextHop{IpAddr{}, static_cast<uint16_t>(p)}, error, where)) {
        free_table(t);
        return false;
      }
    }
  }
  for (size_t r = 0; r < cfg.routes.size(); r++) {
    const RouteConfig& route = cfg.routes[r];
    NextHop hop{route.via, route.port_index};
    if (!add_route(t, route.prefix, hop, error, "routes[" + std::to_string(r) + "]")) {
      free_table(t);
      return false;
    }
  }
  s->routes = t;
  return true;
}

void route_table_release(Snapshot* s) {
  if (s->routes && --s->routes->refs == 0) free_table(s->routes);
  s->routes = nullptr;
}

}  // namespace pc
