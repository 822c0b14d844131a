// Routing: an rte_lpm (IPv4) and a Route6Table (IPv6, route6.h) over the connected prefixes of the
// port addresses plus the static routes. The table lives in the snapshot; lookups are
// lock-free reads.
#pragma once
#include <cstdint>
#include <string>
#include <rte_lpm.h>
#include "common/config.h"
#include "pipeline/snapshot.h"

namespace pc {

// Validates cfg.routes against the ports already in *s and sets s->routes, sharing
// previous->routes when ports and routes are unchanged. Returns false with *error
// ("routes[0].via: ...") on bad input or allocation failure.
bool route_table_build(const DataplaneConfig& cfg, const Snapshot* previous, Snapshot* s, std::string* error);
// Drops the snapshot's reference; the table goes with the last one.
void route_table_release(Snapshot* s);

// Next hop for dst; false = no route.
inline bool route_lookup(const Snapshot& s, const IpAddr& dst, NextHop* out) {
  uint32_t index;
  int rc = ip_is_v4(dst)       ? rte_lpm_lookup(s.routes->lpm, rte_be_to_cpu_32(ip_v4(dst)), &index)
                               : (route6_lookup(s.routes->ipv6, dst, &index) ? 0 : -1);
  if (rc != 0) return false;
  // Read off the table entry, not back from *out: a copy read back at other widths stalls.
  const NextHop& entry = s.routes->next_hops[index];
  out->gateway = ip_is_zero(entry.gateway) ? dst : entry.gateway;  // on-link: resolve the destination itself
  out->port_index = entry.port_index;
  return true;
}

// Next hop to a real server; with needs_on_link (DR, which rewrites only the MAC) the
// server must be a neighbour, not behind a router.
inline bool route_to_server(const Snapshot& s, const IpAddr& server_addr, bool needs_on_link, NextHop* hop) {
  if (!route_lookup(s, server_addr, hop)) return false;
  return !needs_on_link || hop->gateway == server_addr;
}

}  // namespace pc
