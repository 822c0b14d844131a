#include "addon/js_results.h"

#include <algorithm>

#include "common/ip_address.h"
#include "pipeline/conn/tcp_state.h"

namespace pc_addon {

namespace {

Napi::Number num(Napi::Env env, uint64_t v) { return Napi::Number::New(env, static_cast<double>(v)); }
Napi::Number snum(Napi::Env env, int64_t v) { return Napi::Number::New(env, static_cast<double>(v)); }

// Dotted quad for IPv4 (held mapped), RFC 5952 text for IPv6.
Napi::String ip_string(Napi::Env env, const pc::IpAddr& addr) { return Napi::String::New(env, pc::ip_text(addr)); }

Napi::Array traffic_to_js(Napi::Env env, const std::vector<pc::TrafficReport>& list, bool servers) {
  Napi::Array out = Napi::Array::New(env, list.size());
  for (uint32_t i = 0; i < list.size(); i++) {
    const auto& t = list[i];
    Napi::Object o = Napi::Object::New(env);
    o.Set("id", num(env, t.id));
    o.Set("conns", num(env, t.sum.conns));
    o.Set("inPackets", num(env, t.sum.in_packets));
    o.Set("outPackets", num(env, t.sum.out_packets));
    o.Set("inBytes", num(env, t.sum.in_bytes));
    o.Set("outBytes", num(env, t.sum.out_bytes));
    o.Set("activeConns", snum(env, t.sum.active_conns));
    o.Set("inactiveConns", snum(env, t.sum.inactive_conns));
    if (servers) {
      o.Set("persistentConns", num(env, t.persist_templates));
      o.Set("icmpUnreachable", num(env, t.refusals.icmp_unreachable));
      o.Set("resets", num(env, t.refusals.resets));
    }
    out.Set(i, o);
  }
  return out;
}

Napi::Array local_addresses_to_js(Napi::Env env, const std::vector<pc::LocalAddressReport>& list) {
  Napi::Array out = Napi::Array::New(env, list.size());
  for (uint32_t i = 0; i < list.size(); i++) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("serviceId", num(env, list[i].service_id));
    o.Set("address", ip_string(env, list[i].addr));
    o.Set("connections", snum(env, list[i].conns));
    o.Set("conflicts", num(env, list[i].conflicts));
    out.Set(i, o);
  }
  return out;
}

Napi::Array defense_to_js(Napi::Env env, const std::vector<pc::DefenseReport>& list) {
  Napi::Array out = Napi::Array::New(env, list.size());
  for (uint32_t i = 0; i < list.size(); i++) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("id", num(env, list[i].id));
    o.Set("passed", num(env, list[i].sum.passed));
    Napi::Object dropped = Napi::Object::New(env);
    for (unsigned k = 0; k < pc::kDefenseDropCount; k++)
      dropped.Set(pc::kDropReasonNames[static_cast<unsigned>(pc::kDefenseDropReasons[k])], num(env, list[i].sum.dropped[k]));
    o.Set("dropped", dropped);
    o.Set("synproxyEngagedWorkers", num(env, list[i].sum.synproxy_engaged));
    out.Set(i, o);
  }
  return out;
}

}  // namespace

Napi::Array ports_to_js(Napi::Env env, const std::vector<pc::PortInfo>& ports) {
  Napi::Array out = Napi::Array::New(env, ports.size());
  for (uint32_t i = 0; i < ports.size(); i++) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", ports[i].name);
    o.Set("portId", num(env, ports[i].port_id));
    o.Set("mac", ports[i].mac);
    o.Set("driver", ports[i].driver);
    o.Set("queues", num(env, ports[i].queues));
    o.Set("rss", Napi::Boolean::New(env, ports[i].rss));
    o.Set("flowSteering", Napi::Boolean::New(env, ports[i].flow_steering));
    o.Set("flowSteering6", Napi::Boolean::New(env, ports[i].flow_steering6));
    out.Set(i, o);
  }
  return out;
}

Napi::Object stats_to_js(Napi::Env env, const pc::StatsReport& r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("snapshotVersion", num(env, r.snapshot_version));
  Napi::Array versions = Napi::Array::New(env, r.workers.size());
  // Not in types.ts (extra, for tuning adaptive polling): idle sleeps per worker and
  // the mean wake-up lateness in microseconds.
  Napi::Array sleeps = Napi::Array::New(env, r.workers.size());
  Napi::Array lateness = Napi::Array::New(env, r.workers.size());
  for (uint32_t i = 0; i < r.workers.size(); i++) {
    versions.Set(i, num(env, r.workers[i].version));
    sleeps.Set(i, num(env, r.workers[i].idle_sleeps));
    double mean = r.workers[i].idle_sleeps
                      ? static_cast<double>(r.workers[i].sleep_overshoot_us) / r.workers[i].idle_sleeps
                      : 0.0;
    lateness.Set(i, Napi::Number::New(env, mean));
  }
  Napi::Array busy = Napi::Array::New(env, r.workers.size());
  Napi::Array idle = Napi::Array::New(env, r.workers.size());
  for (uint32_t i = 0; i < r.workers.size(); i++) {
    busy.Set(i, num(env, r.workers[i].busy_cycles));
    idle.Set(i, num(env, r.workers[i].idle_cycles));
  }
  Napi::Array listing = Napi::Array::New(env, r.workers.size());
  for (uint32_t i = 0; i < r.workers.size(); i++) {
    Napi::Object scan = Napi::Object::New(env);
    scan.Set("scans", num(env, r.workers[i].listing_scans));
    scan.Set("slots", num(env, r.workers[i].listing_slots));
    scan.Set("maxSlots", num(env, r.workers[i].listing_max_slots));
    scan.Set("cycles", num(env, r.workers[i].listing_cycles));
    scan.Set("maxCycles", num(env, r.workers[i].listing_max_cycles));
    listing.Set(i, scan);
  }
  o.Set("workerListingScans", listing);
  o.Set("workerBusyCycles", busy);
  o.Set("workerIdleCycles", idle);
  o.Set("tscHz", num(env, r.tsc_hz));
  o.Set("workerVersions", versions);
  o.Set("workerIdleSleeps", sleeps);
  o.Set("workerWakeLatenessUs", lateness);
  o.Set("connections", num(env, r.connections));
  o.Set("mbufsInUse", num(env, r.mbufs_in_use));
  Napi::Object drops = Napi::Object::New(env);
  for (unsigned i = 0; i < pc::kDropReasonCount; i++) drops.Set(pc::kDropReasonNames[i], num(env, r.drops[i]));
  o.Set("drops", drops);
  Napi::Object events = Napi::Object::New(env);
  for (unsigned i = 0; i < pc::kEventCount; i++) events.Set(pc::kEventNames[i], num(env, r.events[i]));
  o.Set("events", events);
  Napi::Array ports = Napi::Array::New(env, r.ports.size());
  for (uint32_t i = 0; i < r.ports.size(); i++) {
    const auto& p = r.ports[i];
    Napi::Object po = Napi::Object::New(env);
    po.Set("name", p.name);
    po.Set("rxPackets", num(env, p.counters.ipackets));
    po.Set("txPackets", num(env, p.counters.opackets));
    po.Set("rxBytes", num(env, p.counters.ibytes));
    po.Set("txBytes", num(env, p.counters.obytes));
    po.Set("rxMissed", num(env, p.counters.imissed));
    po.Set("rxErrors", num(env, p.counters.ierrors));
    po.Set("txErrors", num(env, p.counters.oerrors));
    po.Set("linkUp", Napi::Boolean::New(env, p.link_up));
    ports.Set(i, po);
  }
  o.Set("ports", ports);
  o.Set("services", traffic_to_js(env, r.services, false));
  o.Set("servers", traffic_to_js(env, r.servers, true));
  o.Set("localAddresses", local_addresses_to_js(env, r.local_addresses));
  o.Set("defense", defense_to_js(env, r.defense));
  return o;
}

Napi::Array connections_to_js(Napi::Env env, const std::vector<pc::ConnectionInfo>& conns) {
  Napi::Array out = Napi::Array::New(env, conns.size());
  for (uint32_t i = 0; i < conns.size(); i++) {
    const auto& c = conns[i];
    Napi::Object o = Napi::Object::New(env);
    o.Set("protocol", c.protocol == 17 ? "udp" : "tcp");
    o.Set("client", ip_string(env, c.client_addr));
    o.Set("clientPort", num(env, c.client_port));
    o.Set("virtual", ip_string(env, c.virtual_addr));
    o.Set("virtualPort", num(env, c.virtual_port));
    o.Set("local", ip_string(env, c.local_addr));
    o.Set("localPort", num(env, c.local_port));
    o.Set("server", ip_string(env, c.server_addr));
    o.Set("serverPort", num(env, c.server_port));
    o.Set("serviceId", num(env, c.service_id));
    o.Set("serverId", num(env, c.server_id));
    o.Set("state", c.state ? c.state : "");
    o.Set("expiresInMs", num(env, c.expires_in_ms));
    out.Set(i, o);
  }
  return out;
}

Napi::Object bench_to_js(Napi::Env env, pc::BenchScenario scenario, const pc::BenchResult& r) {
  Napi::Object o = Napi::Object::New(env);
  static const char* const kNames[] = {"io", "fullnat", "synproxy", "newconn", "drop", "cold", "connections"};  // BenchScenario order
  o.Set("scenario", kNames[static_cast<unsigned>(scenario)]);
  o.Set("packets", num(env, r.packets));
  o.Set("cycles", num(env, r.cycles));
  o.Set("harnessCycles", num(env, r.harness_cycles));
  o.Set("chunkMedian", Napi::Number::New(env, r.chunk_median));
  o.Set("chunkP10", Napi::Number::New(env, r.chunk_p10));
  o.Set("chunkP90", Napi::Number::New(env, r.chunk_p90));
  o.Set("chunks", num(env, r.chunks));
  o.Set("wallNs", num(env, r.wall_ns));
  o.Set("packetsOut", num(env, r.packets_out));
  o.Set("outputChecked", num(env, r.output_checked));
  o.Set("outputErrors", num(env, r.output_errors));
  o.Set("firstError", Napi::String::New(env, r.first_error));
  o.Set("connections", num(env, r.connections));
  o.Set("connsExpired", num(env, r.conns_expired));
  o.Set("tscHz", num(env, r.tsc_hz));
  o.Set("dropped", num(env, r.dropped));
  o.Set("connsCreated", num(env, r.conns_created));
  o.Set("mbufsLeaked", snum(env, r.mbufs_leaked));  // extra (not in types.ts): should be 0
  return o;
}

Napi::Object bench_memory_to_js(Napi::Env env, const pc::BenchMemoryResult& r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("connections", num(env, r.connections));
  o.Set("dpdkBytes", num(env, r.dpdk_bytes));
  o.Set("libcBytes", num(env, r.libc_bytes));
  return o;
}

}  // namespace pc_addon

namespace pc_addon {

Napi::Object trace_to_js(Napi::Env env, const std::vector<pc::TraceRecord>& records, uint64_t lost,
                         const std::vector<std::string>& port_names) {
  Napi::Array list = Napi::Array::New(env, records.size());
  for (uint32_t i = 0; i < records.size(); i++) {
    const pc::TraceRecord& t = records[i];
    const bool dropped = t.verdict == static_cast<uint8_t>(pc::TraceVerdict::DROPPED);
    Napi::Object o = Napi::Object::New(env);
    o.Set("timeUs", num(env, t.time_us));
    o.Set("worker", num(env, t.worker));
    o.Set("port", t.port < port_names.size() ? port_names[t.port] : std::to_string(t.port));
    o.Set("protocol", t.protocol == 17 ? "udp" : "tcp");
    o.Set("inSource", ip_string(env, t.in_src));
    o.Set("inSourcePort", num(env, t.in_sport));
    o.Set("inDestination", ip_string(env, t.in_dst));
    o.Set("inDestinationPort", num(env, t.in_dport));
    o.Set("outSource", ip_string(env, t.out_src));
    o.Set("outSourcePort", num(env, t.out_sport));
    o.Set("outDestination", ip_string(env, t.out_dst));
    o.Set("outDestinationPort", num(env, t.out_dport));
    o.Set("serviceId", num(env, t.service_id));
    o.Set("serverId", num(env, t.server_id));
    const bool handed = t.verdict == static_cast<uint8_t>(pc::TraceVerdict::HANDED_OVER);
    o.Set("verdict", dropped ? "dropped" : handed ? "handed_over" : "forwarded");
    o.Set("dropReason", dropped && t.drop_reason < pc::kDropReasonCount ? pc::kDropReasonNames[t.drop_reason] : "");
    o.Set("state", t.server_id ? pc::conn_state_name(t.conn_state) : "");
    list.Set(i, o);
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("records", list);
  out.Set("lost", num(env, lost));
  return out;
}

Napi::Object capture_to_js(Napi::Env env, const std::vector<pc::CaptureSlot>& slots, uint64_t lost,
                           uint64_t clock_offset_us, const std::vector<std::string>& port_names) {
  // Each worker's copies are in order already; the order across workers comes from an index
  // sort, so no 2 KiB slot is moved.
  std::vector<uint32_t> order(slots.size());
  for (uint32_t i = 0; i < order.size(); i++) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&slots](uint32_t a, uint32_t b) { return slots[a].time_us < slots[b].time_us; });
  Napi::Array list = Napi::Array::New(env, slots.size());
  for (uint32_t i = 0; i < order.size(); i++) {
    const pc::CaptureSlot& c = slots[order[i]];
    Napi::Object o = Napi::Object::New(env);
    o.Set("timeUs", num(env, c.time_us));
    o.Set("worker", num(env, c.worker));
    o.Set("port", c.port < port_names.size() ? port_names[c.port] : std::to_string(c.port));
    o.Set("direction", c.direction == static_cast<uint8_t>(pc::CaptureDirection::OUT) ? "out" : "in");
    o.Set("wireLength", num(env, c.wire_len));
    o.Set("data", Napi::Buffer<uint8_t>::Copy(env, c.data, c.length));
    list.Set(i, o);
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("packets", list);
  out.Set("lost", num(env, lost));
  out.Set("clockOffsetUs", num(env, clock_offset_us));
  return out;
}

Napi::Object region_report_to_js(Napi::Env env, const pc::RegionReport& r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("path", r.path);
  o.Set("outcome", r.outcome);
  o.Set("rejectedReason", r.rejected_reason);
  o.Set("rejectedPath", r.rejected_path);
  o.Set("adopted", num(env, r.totals.adopted));
  Napi::Object dropped = Napi::Object::New(env);
  dropped.Set("uncommitted", num(env, r.totals.uncommitted));
  dropped.Set("stale", num(env, r.totals.stale));
  dropped.Set("duplicate", num(env, r.totals.duplicate));
  dropped.Set("synproxyPending", num(env, r.totals.synproxy_pending));
  dropped.Set("invalid", num(env, r.totals.invalid));
  o.Set("dropped", dropped);
  o.Set("adoptUs", num(env, r.adopt_us));
  return o;
}

}  // namespace pc_addon
