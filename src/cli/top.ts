// `portcullis top`: a live terminal view over the WatchStats stream (services and real
// servers with IPVS-style rates, worker load, ports, non-zero drops). Plain ANSI
// (clear + home) so it works over ssh and in any terminal; q or Ctrl-C quits.
import { addressPort } from '../model/ip-address.js';
import type * as grpc from '@grpc/grpc-js';
import { table } from '../api/format.js';
import type { GetStatsResponse__Output } from '../api/generated/portcullis/v1/GetStatsResponse.js';
import type { PortcullisClients } from './client.js';
import { describeCallError } from './endpoint.js';

const CLEAR_HOME = '\x1b[H\x1b[2J';

export interface TopOptions {
  intervalMs: number;
  /** Stop after this many frames (0 = until q / Ctrl-C / the stream ends). */
  frames: number;
  write(text: string): void;
}

/** One screen of text for a stats message (pure). */
export function formatTopFrame(stats: GetStatsResponse__Output, target: string, now: Date): string {
  const lines: string[] = [];
  lines.push(`portcullis top  ${target}  ${now.toISOString().replace('T', ' ').slice(0, 19)}  snapshot ${stats.snapshotVersion}  connections ${stats.connections}  (q quits)`);
  lines.push('');
  lines.push(table(['WORKER', 'SNAPSHOT', 'BUSY %'], stats.workers.map((w) => [String(w.worker), String(w.snapshotVersion), (w.busyRatio * 100).toFixed(1)])));
  lines.push('');
  const rows: string[][] = [];
  for (const service of stats.services) {
    const k = service.key;
    const c = service.counters;
    const r = service.rates;
    rows.push([`${k?.protocol ?? '?'} ${addressPort(k?.vip ?? '?', k?.port ?? '?')}`, c?.conns ?? '0', c?.activeConns ?? '0', c?.inactiveConns ?? '0',
      r?.cps ?? '0', r?.inPps ?? '0', r?.outPps ?? '0', r?.inBps ?? '0', r?.outBps ?? '0']);
    for (const server of service.servers) {
      const sc = server.counters;
      const sr = server.rates;
      rows.push([`  -> ${addressPort(server.address, server.port)}`, sc?.conns ?? '0', sc?.activeConns ?? '0', sc?.inactiveConns ?? '0',
        sr?.cps ?? '0', sr?.inPps ?? '0', sr?.outPps ?? '0', sr?.inBps ?? '0', sr?.outBps ?? '0']);
    }
  }
  lines.push(rows.length === 0 ? 'no virtual services' : table(['SERVICE', 'CONNS', 'ACTIVE', 'INACT', 'CPS', 'INPPS', 'OUTPPS', 'INBPS', 'OUTBPS'], rows));
  lines.push('');
  lines.push(table(['PORT', 'RX PKTS', 'TX PKTS', 'RX MISSED', 'RX ERR', 'TX ERR'],
    stats.ports.map((p) => [p.name, p.rxPackets, p.txPackets, p.rxMissed, p.rxErrors, p.txErrors])));
  lines.push('');
  const drops = Object.entries(stats.drops).filter(([, v]) => v !== '0').sort(([a], [b]) => a.localeCompare(b));
  lines.push(drops.length === 0 ? 'drops: none' : table(['DROP REASON', 'PACKETS'], drops));
  return `${lines.join('\n')}\n`;
}

/** Runs until q / Ctrl-C, the frame limit, or the stream ends; returns the exit code. */
export function runTop(clients: PortcullisClients, options: TopOptions): Promise<number> {
  return new Promise((resolve) => {
    const call: grpc.ClientReadableStream<GetStatsResponse__Output> = clients.stats.watchStats({ intervalMs: options.intervalMs });
    let frames = 0;
    let finished = false;
    const stdin = process.stdin;
    const finish = (code: number, message?: string) => {
      if (finished) return;
      finished = true;
      if (stdin.isTTY) { stdin.setRawMode(false); stdin.pause(); }
      stdin.off('data', onKey);
      call.cancel();
      if (message) process.stderr.write(`${message}\n`);
      resolve(code);
    };
    const onKey = (key: Buffer) => {
      const text = key.toString();
      if (text === 'q' || text === 'Q' || text === '\x03') finish(0);
    };
    if (stdin.isTTY) {
      stdin.setRawMode(true);
      stdin.resume();
      stdin.on('data', onKey);
    }
    call.on('data', (stats: GetStatsResponse__Output) => {
      options.write(CLEAR_HOME + formatTopFrame(stats, clients.target, new Date()));
      frames++;
      if (options.frames > 0 && frames >= options.frames) finish(0);
    });
    call.on('error', (error: grpc.ServiceError) => {
      if (error.code === 1 /* CANCELLED */) return finish(0);
      finish(1, `portcullis top: ${describeCallError(error, clients.target)}`);
    });
    call.on('end', () => finish(0));
  });
}
