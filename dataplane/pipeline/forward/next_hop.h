// The next hop a forwarding method sends by: the one the connection stage already found
// (for the packet that created the connection), else a route lookup. One place for the
// "known hop, or route, else NO_ROUTE" step every method (fullnat, nat, nat64, dr, tun)
// starts with.
#pragma once
#include <rte_mbuf.h>
#include "pipeline/output/route.h"
#include "pipeline/worker_state.h"

namespace pc {

// *hop = *known_hop, or the route to dst (with needs_on_link, dst must be a neighbour: DR,
// which rewrites only the MAC). False when there is none: m is dropped NO_ROUTE and the
// caller returns.
[[gnu::always_inline]] inline bool method_next_hop(Worker* w, const Snapshot& s, rte_mbuf* m, const NextHop* known_hop,
                                                   const IpAddr& dst, NextHop* hop, bool needs_on_link = false) {
  if (known_hop) {
    *hop = *known_hop;
    return true;
  }
  if (route_to_server(s, dst, needs_on_link, hop)) return true;
  worker_drop(w, m, DropReason::NO_ROUTE);
  return false;
}

}  // namespace pc
