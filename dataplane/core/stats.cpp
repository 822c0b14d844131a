#include "core/stats.h"

#include <cstring>
#include <rte_cycles.h>

namespace pc {

namespace {

void add(TrafficCounters* to, const TrafficCounters& from) {
  to->conns += from.conns;
  to->in_packets += from.in_packets;
  to->out_packets += from.out_packets;
  to->in_bytes += from.in_bytes;
  to->out_bytes += from.out_bytes;
  to->active_conns += from.active_conns;
  to->inactive_conns += from.inactive_conns;
}

void sum_objects(const std::vector<uint32_t>& ids, uint32_t max_id, const std::vector<WorkerContext*>& workers,
                 bool servers, std::vector<TrafficReport>* out) {
  for (uint32_t id : ids) {
    if (id == 0 || id > max_id) continue;  // the pipeline guarantees the bounds; stay safe anyway
    TrafficReport r;
    r.id = id;
    for (auto* w : workers) {
      add(&r.sum, servers ? w->counters->servers[id] : w->counters->services[id]);
      if (!servers) continue;
      r.persist_templates += w->counters->persist_templates[id];
      r.refusals.icmp_unreachable += w->counters->refusals[id].icmp_unreachable;
      r.refusals.resets += w->counters->refusals[id].resets;
    }
    out->push_back(r);
  }
}

// A worker that has not adopted the snapshot yet may still hold another pair's counts
// under the id: only counters of the pair's generation add up.
void sum_local_addresses(const Snapshot* snapshot, const std::vector<WorkerContext*>& workers,
                         std::vector<LocalAddressReport>* out) {
  std::vector<LocalAddressIdentity> pairs;
  snapshot_local_addresses(snapshot, &pairs);
  for (const auto& pair : pairs) {
    LocalAddressReport r;
    r.service_id = pair.service_id;
    r.addr = pair.addr;
    if (pair.id > 0 && pair.id <= kMaxLocalAddressId) {
      for (auto* w : workers) {
        const LocalAddressCounters& c = w->counters->local_addresses[pair.id];
        if (c.generation != pair.generation) continue;
        r.conns += c.conns;
        r.conflicts += c.conflicts;
      }
    }
    out->push_back(r);
  }
}

}  // namespace

void stats_collect(const std::vector<WorkerContext*>& workers, const std::vector<Port>& ports,
                   const Snapshot* snapshot, StatsReport* out) {
  out->snapshot_version = snapshot_version(snapshot);
  out->tsc_hz = rte_get_tsc_hz();
  for (auto* w : workers) {
    WorkerReport wr;
    uint64_t v = w->version.load(std::memory_order_relaxed);
    wr.version = v == UINT64_MAX ? 0 : v;
    wr.idle_sleeps = w->sleeps.load(std::memory_order_relaxed);
    wr.sleep_overshoot_us = w->sleep_overshoot_us.load(std::memory_order_relaxed);
    wr.busy_cycles = w->busy_cycles.load(std::memory_order_relaxed);
    wr.idle_cycles = w->idle_cycles.load(std::memory_order_relaxed);
    const ListingScanStats& scans = w->listing.scans;
    wr.listing_scans = scans.scans.load(std::memory_order_relaxed);
    wr.listing_slots = scans.slots.load(std::memory_order_relaxed);
    wr.listing_max_slots = scans.max_slots.load(std::memory_order_relaxed);
    wr.listing_cycles = scans.cycles.load(std::memory_order_relaxed);
    wr.listing_max_cycles = scans.max_cycles.load(std::memory_order_relaxed);
    out->workers.push_back(wr);
    out->connections += worker_connection_count(w->worker);
    for (unsigned i = 0; i < kDropReasonCount; i++) out->drops[i] += w->counters->drops[i];
    for (unsigned i = 0; i < kEventCount; i++) out->events[i] += w->counters->events[i];
  }
  for (const auto& p : ports) {
    PortReport pr;
    pr.name = p.name;
    memset(&pr.counters, 0, sizeof(pr.counters));
    rte_eth_stats_get(p.port_id, &pr.counters);
    rte_eth_link link;
    memset(&link, 0, sizeof(link));
    pr.link_up = rte_eth_link_get_nowait(p.port_id, &link) == 0 && link.link_status == RTE_ETH_LINK_UP;
    out->ports.push_back(pr);
  }
  std::vector<uint32_t> service_ids, server_ids;
  snapshot_object_ids(snapshot, &service_ids, &server_ids);
  sum_objects(service_ids, kMaxServiceId, workers, false, &out->services);
  sum_objects(server_ids, kMaxServerId, workers, true, &out->servers);
  sum_local_addresses(snapshot, workers, &out->local_addresses);
  defense_stats_collect(workers, service_ids, &out->defense);
}

}  // namespace pc
