// Plain-text tables for API responses (used by `portcullis status` and `portcullis stats`).
import { addressPort } from '../model/ip-address.js';
import type { GetStatsResponse__Output } from './generated/portcullis/v1/GetStatsResponse.js';
import type { GetStatusResponse__Output } from './generated/portcullis/v1/GetStatusResponse.js';

/** Columns before `firstNumeric` are left-aligned text, the rest right-aligned numbers. */
export function table(headers: string[], rows: string[][], firstNumeric = 1): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < firstNumeric ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

export function formatStatus(status: GetStatusResponse__Output): string {
  const lines = [
    `portcullis ${status.version}, up ${status.uptimeSeconds} s`,
    `snapshot ${status.snapshotVersion}, ${status.workers} worker(s), polling ${status.polling}`,
    `${status.services} virtual service(s), configuration generation ${status.generation}; state file ${status.stateFile}`,
    '',
    table(['PORT', 'DEVICE', 'MAC', 'ADDRESSES'], status.ports.map((p) => [p.name, p.device, p.mac, p.addresses.join(',')]), 4),
    '',
    ...formatRegion(status),
  ];
  return lines.join('\n');
}

/** What a restart or hand-over found in the connection region, and the last hand-over's gap. */
function formatRegion(status: GetStatusResponse__Output): string[] {
  const region = status.connRegion;
  if (!region) return ['connection region: off (a restart forgets every connection)'];
  const lines = [`connection region ${region.path}: ${region.outcome}`];
  if (region.outcome === 'adopted') {
    const dropped = Object.entries(region.dropped).filter(([, n]) => n !== '0').map(([reason, n]) => `${n} ${reason}`);
    lines.push(`  ${region.adopted} connection(s) adopted in ${region.adoptUs} us; not adopted: ${dropped.length ? dropped.join(', ') : 'none'}`);
  }
  if (region.rejectedReason) lines.push(`  an incompatible region was set aside: ${region.rejectedReason} (moved to ${region.rejectedPath || '?'})`);
  const takeover = status.lastTakeover;
  if (takeover) lines.push(`last takeover: from pid ${takeover.oldPid} at ${takeover.at}, ${(Number(takeover.gapUs) / 1000).toFixed(1)} ms without forwarding`);
  return lines;
}

/** "up", "down (passive)", "down (active,passive)"; "" when the service has neither a check nor passive health. */
function serverHealthText(server: { health: string; healthReason?: string }): string {
  return server.health === 'down' && server.healthReason ? `down (${server.healthReason})` : server.health;
}

export function formatStats(stats: GetStatsResponse__Output): string {
  const sections: string[] = [];
  sections.push(`snapshot ${stats.snapshotVersion} (workers: ${stats.workerVersions.join(', ') || 'none'}), ${stats.connections} connection(s)`);
  sections.push(table(['PORT', 'LINK', 'RX PKTS', 'TX PKTS', 'RX BYTES', 'TX BYTES', 'RX MISSED', 'RX ERR', 'TX ERR'],
    stats.ports.map((p) => [p.name, `${p.linkUp ? 'up' : 'down'}${Number(p.linkChanges) > 0 ? ` (${p.linkChanges} changes)` : ''}`,
      p.rxPackets, p.txPackets, p.rxBytes, p.txBytes, p.rxMissed, p.rxErrors, p.txErrors])));
  const serviceRows: string[][] = [];
  for (const service of stats.services) {
    const key = service.key;
    const c = service.counters;
    serviceRows.push([`${key?.protocol.toLowerCase() ?? '?'} ${addressPort(key?.vip ?? '?', key?.port ?? '?')}`, c?.conns ?? '0', c?.activeConns ?? '0', c?.inactiveConns ?? '0',
      c?.inPackets ?? '0', c?.outPackets ?? '0', c?.inBytes ?? '0', c?.outBytes ?? '0', '']);
    for (const server of service.servers) {
      const s = server.counters;
      serviceRows.push([`  -> ${addressPort(server.address, server.port)}`, s?.conns ?? '0', s?.activeConns ?? '0', s?.inactiveConns ?? '0',
        s?.inPackets ?? '0', s?.outPackets ?? '0', s?.inBytes ?? '0', s?.outBytes ?? '0', serverHealthText(server)]);
    }
  }
  sections.push(table(['SERVICE', 'CONNS', 'ACTIVE', 'INACTIVE', 'IN PKTS', 'OUT PKTS', 'IN BYTES', 'OUT BYTES', 'HEALTH'], serviceRows));
  const drops = Object.entries(stats.drops).sort(([a], [b]) => a.localeCompare(b));
  const nonZero = drops.filter(([, v]) => v !== '0');
  sections.push(nonZero.length === 0
    ? `drops: none (${drops.length} reasons, all 0)`
    : table(['DROP REASON', 'PACKETS'], nonZero.map(([k, v]) => [k, v])));
  const events = Object.entries(stats.events).sort(([a], [b]) => a.localeCompare(b));
  sections.push(table(['EVENT', 'COUNT'], events.map(([k, v]) => [k, v])));
  return sections.join('\n\n');
}
