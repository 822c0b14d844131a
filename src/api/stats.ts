// portcullis.v1.Stats: addon stats() → proto, with service/server ids translated
// back to the keys operators know (via the model). uint64 fields go out as numbers
// and reach clients as decimal strings (loader option longs: String).
import type { Controller } from '../daemon/controller.js';
import type { ConnRegionReport, DataplaneEvent, DefenseDropReason, DefenseStats, DropReason, TrafficStats } from '../dataplane/types.js';
import type { TakeoverRecord } from '../daemon/takeover.js';
import type { ConnRegion } from './generated/portcullis/v1/ConnRegion.js';
import type { Rates } from '../metrics/estimator.js';
import type { StatsHub, StatsSource } from '../metrics/stats-hub.js';
import { displayIp, effectiveSynproxy, type Service } from '../model/index.js';
import { keyToProto } from './convert.js';
import { serverHealth, serverHealthReason } from './health-convert.js';
import type { GetStatsResponse } from './generated/portcullis/v1/GetStatsResponse.js';
import type { GetStatusResponse } from './generated/portcullis/v1/GetStatusResponse.js';
import type { StatsHandlers } from './generated/portcullis/v1/Stats.js';
import type { TrafficCounters } from './generated/portcullis/v1/TrafficCounters.js';
import type { TrafficRates } from './generated/portcullis/v1/TrafficRates.js';
import { connectionsPage, watchStats, zeroStats } from './stats-streams.js';
import { unary } from './status.js';

// Record<DropReason, true> makes the compiler fail when types.ts gains a reason
// that is missing here, so GetStats always reports every reason, zeros included.
const DROP_REASONS: Record<DropReason, true> = {
  malformed_l2: true, rx_segmented: true, malformed_l3: true, malformed_l4: true, malformed_arp: true,
  unsupported_l3: true, unsupported_l4: true, not_for_us: true, arp_not_for_us: true,
  frag_dropped: true, ttl_exceeded: true, icmp_unsupported: true, no_service: true, no_conn: true,
  no_real_server: true, no_local_address: true, lport_exhausted: true, conn_table_full: true,
  no_route: true, neigh_unresolved: true, neigh_queue_full: true, tx_full: true,
  mbuf_alloc_failed: true, redirect_ring_full: true,
  bad_cookie: true, synproxy_hold_full: true, synproxy_handshake_pending: true, synproxy_server_failed: true,
  frag_overlap: true, frag_oversize: true, frag_timeout: true, frag_table_full: true, frag_too_many: true,
  frag_rate_limited: true, frag_out_failed: true, frag_header_chain_incomplete: true,
  tunnel_frag_needed: true, egress_mtu_exceeded: true,
  client_address_bad_checksum: true,
  ipv6_malformed: true, ipv6_ext_header_malformed: true, ipv6_option_unrecognized: true, ipv6_routing_header: true,
  ipv6_unsupported_next_header: true, ipv6_bad_address: true,
  icmp6_bad_checksum: true, nd_invalid: true, nd_not_for_us: true, nat64_icmp_untranslatable: true,
  handoff_over_mtu: true, handoff_foreign_source: true, handoff_bad_encapsulation: true,
  acl_denied: true, udp_source_rate_limited: true, udp_service_rate_limited: true, conn_rate_limited: true, conn_limit_reached: true,
};
const EVENTS: Record<DataplaneEvent, true> = {
  rx_packets: true, tx_packets: true, arp_requests_answered: true, arp_requests_sent: true,
  arp_replies_learned: true, icmp_echo_answered: true, conns_created: true, conns_expired: true,
  packets_forwarded_in: true, packets_forwarded_out: true, neigh_queued: true, snapshots_adopted: true,
  toa_added: true, toa_no_room: true, toa_over_mtu: true, toa_mss_lowered: true, toa_client_option_removed: true,
  proxy_segment_trimmed: true,
  uoa_added: true, uoa_no_room: true, uoa_over_mtu: true, uoa_client_option_removed: true,
  proxy_dgram_added: true, proxy_dgram_skipped: true,
  icmp_errors_to_client: true, icmp_errors_to_server: true,
  synproxy_syn_answered: true, synproxy_cookies_accepted: true, synproxy_server_syns: true, synproxy_server_handshakes: true, synproxy_client_resets: true,
  persist_templates_created: true, persist_template_hits: true, persist_table_full: true,
  exception_punted: true,
  frag_reassembled: true, frag_refragmented: true, frag_joined: true, frag_out_pieces: true,
  synproxy_auto_engaged: true, synproxy_auto_disengaged: true,
  tcp_resets_from_server: true, tcp_resets_from_client: true,
  icmp_frag_needed_sent: true, icmp6_packet_too_big_sent: true, mss_clamped: true,
  redirected_out: true, redirected_in: true, arp_replies_shared: true, nd_advertisements_shared: true,
  nd_solicitations_answered: true, nd_solicitations_sent: true, nd_advertisements_learned: true,
  nd_router_messages_ignored: true, nd_dad_probes_ignored: true, icmp6_echo_answered: true, nat64_mss_lowered: true,
  ownership_exported: true, ownership_export_overflow: true, foreign_flows_learned: true, foreign_flows_evicted: true,
  handoff_sent: true, handoff_received: true, takeover_discarded: true,
  quic_routed_by_id: true, quic_id_unknown: true, quic_malformed: true,
  session_events_queued: true, session_events_lost: true,
  client_flows_handed_over: true, reassembled_handed_over: true,
  capture_copies: true, capture_lost: true,
};
const DEFENSE_DROP_REASONS: Record<DefenseDropReason, true> = {
  acl_denied: true, udp_source_rate_limited: true, udp_service_rate_limited: true, conn_rate_limited: true, conn_limit_reached: true,
  frag_dropped: true, frag_rate_limited: true,
};
export const ALL_DROP_REASONS = Object.keys(DROP_REASONS) as DropReason[];
export const ALL_DEFENSE_DROP_REASONS = Object.keys(DEFENSE_DROP_REASONS) as DefenseDropReason[];
export const ALL_EVENTS = Object.keys(EVENTS) as DataplaneEvent[];

export type { StatsSource };

export interface DaemonInfo {
  version: string;
  startedAt: number;
  workers: number;
  polling: string;
  /** The hand-over this daemon started with (portcullis run --takeover); absent = a plain start. */
  lastTakeover?: TakeoverRecord;
}

/** The region report as GetStatus carries it; dropped keeps every reason, zeros included. */
export function connRegionToProto(report: ConnRegionReport): ConnRegion {
  const dropped = report.dropped;
  return {
    path: report.path,
    outcome: report.outcome,
    adopted: report.adopted,
    dropped: {
      uncommitted: dropped.uncommitted, stale: dropped.stale, duplicate: dropped.duplicate,
      synproxy_pending: dropped.synproxyPending, invalid: dropped.invalid,
    },
    adoptUs: report.adoptUs,
    rejectedReason: report.rejectedReason,
    rejectedPath: report.rejectedPath,
  };
}

function counters(traffic: TrafficStats | undefined): TrafficCounters {
  return {
    conns: traffic?.conns ?? 0,
    inPackets: traffic?.inPackets ?? 0,
    outPackets: traffic?.outPackets ?? 0,
    inBytes: traffic?.inBytes ?? 0,
    outBytes: traffic?.outBytes ?? 0,
    activeConns: traffic?.activeConns ?? 0,
    inactiveConns: traffic?.inactiveConns ?? 0,
  };
}

function rates(r: Rates): TrafficRates {
  return { cps: r.cps, inPps: r.inPps, outPps: r.outPps, inBps: r.inBps, outBps: r.outBps };
}

function fillAll<K extends string>(names: K[], values: Partial<Record<K, number>> | undefined): Record<string, number> {
  const result: Record<string, number> = {};
  for (const name of names) result[name] = values?.[name] ?? 0;
  // Keep anything newer the addon reports too, rather than hiding it.
  for (const [name, value] of Object.entries(values ?? {})) if (!(name in result)) result[name] = Number(value);
  return result;
}

/** Global (id 0, key unset) first, then every service, zeros included. */
function defenseStats(controller: Controller, reported: DefenseStats[]): GetStatsResponse['defense'] {
  const byId = new Map(reported.map((d) => [d.id, d]));
  const row = (id: number) => ({ passed: byId.get(id)?.passed ?? 0, dropped: fillAll(ALL_DEFENSE_DROP_REASONS, byId.get(id)?.dropped) });
  const now = Date.now();
  // SYNPROXY answers SYNs now: always in mode on, in mode auto while any worker has it engaged.
  const synproxyActive = (service: Service) => {
    const { mode } = effectiveSynproxy(controller.state, service, now);
    return mode === 'on' || (mode === 'auto' && (byId.get(service.id)?.synproxyEngagedWorkers ?? 0) > 0);
  };
  return [row(0), ...controller.state.services.map((service) => ({ key: keyToProto(service), ...row(service.id), synproxyActive: synproxyActive(service) }))];
}

export function buildStatsResponse(controller: Controller, hub: StatsHub): GetStatsResponse {
  const stats = hub.stats();
  const serviceTraffic = new Map(stats.services.map((s) => [s.id, s]));
  const serverTraffic = new Map(stats.servers.map((s) => [s.id, s]));
  const localAddresses = (service: Service) => {
    // The data plane may spell an IPv6 LIP its own way: join on the canonical text the model holds.
    const reported = new Map(stats.localAddresses.filter((l) => l.serviceId === service.id).map((l) => [displayIp(l.address), l]));
    return service.localAddresses.map((address) => ({
      address,
      connections: reported.get(address)?.connections ?? 0,
      conflicts: reported.get(address)?.conflicts ?? 0,
    }));
  };
  return {
    snapshotVersion: stats.snapshotVersion,
    workerVersions: stats.workerVersions,
    connections: stats.connections,
    drops: fillAll(ALL_DROP_REASONS, stats.drops),
    events: fillAll(ALL_EVENTS, stats.events),
    ports: stats.ports.map((p) => ({ ...p })),
    services: controller.state.services.map((service) => ({
      key: keyToProto(service),
      counters: counters(serviceTraffic.get(service.id)),
      rates: rates(hub.serviceRates(service.id)),
      servers: service.servers.map((server) => ({
        address: server.address,
        port: server.port,
        counters: counters(serverTraffic.get(server.id)),
        rates: rates(hub.serverRates(server.id)),
        health: serverHealth(service, server),
        persistentConnections: serverTraffic.get(server.id)?.persistentConns ?? 0,
        healthReason: serverHealthReason(server),
        icmpUnreachable: serverTraffic.get(server.id)?.icmpUnreachable ?? 0,
        resets: serverTraffic.get(server.id)?.resets ?? 0,
      })),
      localAddresses: localAddresses(service),
    })),
    defense: defenseStats(controller, stats.defense ?? []),
    workers: hub.workerLoad(stats).map((load, worker) => ({
      worker,
      snapshotVersion: stats.workerVersions[worker] ?? 0,
      busyCycles: load.busyCycles,
      idleCycles: load.idleCycles,
      busyRatio: load.busyRatio,
      listingScans: stats.workerListingScans[worker]?.scans ?? 0,
      listingMaxRecords: stats.workerListingScans[worker]?.maxSlots ?? 0,
      listingMaxCycles: stats.workerListingScans[worker]?.maxCycles ?? 0,
    })),
  };
}

export function buildStatusResponse(controller: Controller, source: StatsSource, info: DaemonInfo): GetStatusResponse {
  const running = new Map(source.ports().map((p) => [p.name, p]));
  const region = source.stats().connRegion;
  const takeover = info.lastTakeover;
  return {
    version: info.version,
    uptimeSeconds: Math.floor((Date.now() - info.startedAt) / 1000),
    snapshotVersion: controller.snapshotVersion,
    generation: controller.generation,
    workers: info.workers,
    polling: info.polling,
    ports: controller.state.ports.map((port) => ({
      name: port.name,
      device: port.device,
      mac: running.get(port.name)?.mac ?? port.mac ?? '',
      addresses: [...port.addresses],
    })),
    services: controller.state.services.length,
    stateFile: controller.stateFile,
    defaultTimeouts: { ...controller.state.defaultTimeouts },
    ...(region ? { connRegion: connRegionToProto(region) } : {}),
    ...(takeover ? { lastTakeover: { gapUs: takeover.gapUs, oldPid: takeover.oldPid, at: new Date(takeover.at).toISOString() } } : {}),
  };
}

export function statsHandlers(controller: Controller, hub: StatsHub, info: DaemonInfo): StatsHandlers {
  return {
    GetStats: unary(() => buildStatsResponse(controller, hub)),
    GetStatus: unary(() => buildStatusResponse(controller, hub.source, info)),
    WatchStats: watchStats(() => buildStatsResponse(controller, hub), hub.watch),
    ListConnections: unary((request) => connectionsPage(hub.source, request)),
    ZeroStats: unary((request) => zeroStats(controller, hub, request)),
  };
}
