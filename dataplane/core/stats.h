// stats(): sums every worker's counters (read while they run: a value may be
// one burst stale, never torn) plus ethdev counters, for ids in the live snapshot.
#pragma once
#include <cstdint>
#include <string>
#include <vector>
#include <rte_ethdev.h>
#include "common/counters.h"
#include "common/ip_address.h"
#include "core/defense_stats.h"
#include "core/ports.h"
#include "core/worker_loop.h"

namespace pc {

struct TrafficReport {
  uint32_t id = 0;
  TrafficCounters sum;
  uint64_t persist_templates = 0;  // servers only: live persistence templates pointing at it (PersistConn)
  ServerRefusals refusals;         // servers only: what it refused (passive health)
};

// One LIP of one service, summed over the workers that count for its current pair.
struct LocalAddressReport {
  uint32_t service_id = 0;
  IpAddr addr{};
  int64_t conns = 0;
  uint64_t conflicts = 0;
};

struct PortReport {
  std::string name;
  rte_eth_stats counters;
  // rte_eth_link_get_nowait, read on the stats caller's thread (never a worker). Kernel-backed
  // PMDs (af_packet) report "up" from start to stop; the control plane adds the interface's state.
  bool link_up = false;
};

struct WorkerReport {
  uint64_t version = 0;
  uint64_t idle_sleeps = 0;
  uint64_t sleep_overshoot_us = 0;
  uint64_t busy_cycles = 0;  // live mode only; see WorkerContext
  uint64_t idle_cycles = 0;
  // Connection listing's cost on this worker (core/conn_listing.h ListingScanStats).
  uint64_t listing_scans = 0;
  uint64_t listing_slots = 0;
  uint64_t listing_max_slots = 0;
  uint64_t listing_cycles = 0;
  uint64_t listing_max_cycles = 0;
};

struct StatsReport {
  uint64_t snapshot_version = 0;
  uint64_t tsc_hz = 0;
  std::vector<WorkerReport> workers;
  uint64_t connections = 0;
  uint64_t mbufs_in_use = 0;  // packet pool: allocated mbufs (leak checks in tests)
  uint64_t drops[kDropReasonCount] = {};
  uint64_t events[kEventCount] = {};
  std::vector<PortReport> ports;
  std::vector<TrafficReport> services;
  std::vector<TrafficReport> servers;
  std::vector<LocalAddressReport> local_addresses;  // every service's LIPs, config order
  std::vector<DefenseReport> defense;  // flood defences per service (id 0 = no service)
};

void stats_collect(const std::vector<WorkerContext*>& workers, const std::vector<Port>& ports,
                   const Snapshot* snapshot, StatsReport* out);

}  // namespace pc
