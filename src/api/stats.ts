// portcullis.v1.Stats: addon stats() → proto, with service/server ids translated
// back to the keys operators know (via the model). uint64 fields go out as numbers
// and reach clients as decimal strings (loader option longs: String).
import type { Controller } from '../daemon/controller.js';
import type { DataplaneAddon, DataplaneEvent, DropReason, TrafficStats } from '../dataplane/types.js';
import { keyToProto } from './convert.js';
import type { GetStatsResponse } from './generated/portcullis/v1/GetStatsResponse.js';
import type { GetStatusResponse } from './generated/portcullis/v1/GetStatusResponse.js';
import type { StatsHandlers } from './generated/portcullis/v1/Stats.js';
import type { TrafficCounters } from './generated/portcullis/v1/TrafficCounters.js';
import { unary } from './status.js';

// Record<DropReason, true> makes the compiler fail when types.ts gains a reason
// that is missing here, so GetStats always reports every reason, zeros included.
const DROP_REASONS: Record<DropReason, true> = {
  malformed_l2: true, malformed_l3: true, malformed_l4: true, malformed_arp: true,
  unsupported_l3: true, unsupported_l4: true, not_for_us: true, arp_not_for_us: true,
  frag_dropped: true, ttl_exceeded: true, icmp_unsupported: true, no_service: true, no_conn: true,
  no_real_server: true, no_local_address: true, lport_exhausted: true, conn_table_full: true,
  no_route: true, neigh_unresolved: true, neigh_queue_full: true, tx_full: true,
  mbuf_alloc_failed: true, redirect_ring_full: true,
};
const EVENTS: Record<DataplaneEvent, true> = {
  rx_packets: true, tx_packets: true, arp_requests_answered: true, arp_requests_sent: true,
  arp_replies_learned: true, icmp_echo_answered: true, conns_created: true, conns_expired: true,
  packets_forwarded_in: true, packets_forwarded_out: true, neigh_queued: true, snapshots_adopted: true,
};
export const ALL_DROP_REASONS = Object.keys(DROP_REASONS) as DropReason[];
export const ALL_EVENTS = Object.keys(EVENTS) as DataplaneEvent[];

export type StatsSource = Pick<DataplaneAddon, 'stats' | 'ports'>;

export interface DaemonInfo {
  version: string;
  startedAt: number;
  workers: number;
  polling: string;
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

function fillAll<K extends string>(names: K[], values: Partial<Record<K, number>> | undefined): Record<string, number> {
  const result: Record<string, number> = {};
  for (const name of names) result[name] = values?.[name] ?? 0;
  // Keep anything newer the addon reports too, rather than hiding it.
  for (const [name, value] of Object.entries(values ?? {})) if (!(name in result)) result[name] = Number(value);
  return result;
}

export function buildStatsResponse(controller: Controller, source: StatsSource): GetStatsResponse {
  const stats = source.stats();
  const serviceTraffic = new Map(stats.services.map((s) => [s.id, s]));
  const serverTraffic = new Map(stats.servers.map((s) => [s.id, s]));
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
      servers: service.servers.map((server) => ({
        address: server.address,
        port: server.port,
        counters: counters(serverTraffic.get(server.id)),
      })),
    })),
  };
}

export function buildStatusResponse(controller: Controller, source: StatsSource, info: DaemonInfo): GetStatusResponse {
  const running = new Map(source.ports().map((p) => [p.name, p]));
  return {
    version: info.version,
    uptimeSeconds: Math.floor((Date.now() - info.startedAt) / 1000),
    snapshotVersion: controller.snapshotVersion,
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
  };
}

export function statsHandlers(controller: Controller, source: StatsSource, info: DaemonInfo): StatsHandlers {
  return {
    GetStats: unary(() => buildStatsResponse(controller, source)),
    GetStatus: unary(() => buildStatusResponse(controller, source, info)),
  };
}
