// One process of test/api/conn-region-crash.test.ts: the data plane in TEST mode (ring ports,
// injected clock) with its connection tables in a region file, so that the parent can kill -9 it
// and start the next one on the same file. Run as `node --import tsx conn-region-child.ts <json>`
// with ChildOptions; every line it prints is one JSON ChildLine.
//
//   role 'churn': start (adopting what the region holds), report the adoption and the tables'
//     invariants (checkConnTables()), check that every flow the parent knows as established still
//     forwards (same LIP:lport and server; SYNPROXY flows with their sequence offset), then create,
//     close, reset and expire connections in a seeded random loop until killed. Before each
//     operation it prints what it is about to do; after an open, the flow; before a close, which.
//   role 'adopt': the same start, report and check, then stop.
//   role 'hold': start, print 'holding', keep the region until stdin ends, then stop.
// A start that throws prints {"kind":"error"} with the addon's error code (EBUSY: another process
// holds the region) and exits 1.

import { readFileSync } from 'node:fs';
import type { ConnRegionReport, DataplaneAddon, DataplaneConfig } from '../../src/dataplane/types.js';
import {
  IPVS_TIMEOUTS, LIPS, SERVERS, VIP, clientTcp, clientUdp, labConfig, only, seededRandom, serverTcp, withLab, type Lab,
} from './golden.js';
import { CLIENT_ISN, SERVER_ISN, SYNPROXY_IPV4, established, finalAck, u32 } from './synproxy-flows.js';

export interface ChildOptions {
  role: 'churn' | 'adopt' | 'hold';
  region: string;
  workers: number;
  connCapacity: number;
  seed?: number;
  /** First client port to use (the parent passes one past every port an earlier process used). */
  firstCport?: number;
  /** A JSON file with the KnownFlow[] the parent holds as established; each must still forward. */
  knownFlowsFile?: string;
}

/** An established TCP flow: 'plain' FullNAT on PLAIN_PORT, 'synproxy' on port 80. */
export interface KnownFlow {
  kind: 'plain' | 'synproxy';
  cport: number;
  /** The rx queue (worker) the client's packets arrive on. */
  queue: number;
  lip: string;
  lport: number;
  server: string;
  /** SYNPROXY: the gateway's ISN toward the client (the client acks cookie + 1). */
  cookie?: number;
}

export type Op = 'open' | 'synproxy' | 'synproxy-pending' | 'udp' | 'close' | 'reset' | 'advance';

export type ChildLine =
  | { kind: 'adopted'; report: ConnRegionReport | null; violations: string[]; connections: number; flowFailures: string[] }
  | { kind: 'op'; i: number; op: Op; cport: number; live: number; established: number }
  | { kind: 'opened'; flow: KnownFlow }
  | { kind: 'closing'; cport: number }
  | { kind: 'holding' }
  | { kind: 'error'; message: string; code?: string };

/** The plain FullNAT service's port (port 80 is the SYNPROXY one, 7 the UDP one). */
export const PLAIN_PORT = 8080;
const PLAIN_SERVICE_ID = 3;
/**
 * Established connections never time out during a run (the longest timeout the addon takes, 31 days;
 * thousands of clock advances over a dozen processes add up to about a day), so every one must survive a kill.
 */
const LONG_TIMEOUT_S = 31 * 86_400;
/** Above this many established flows the loop closes more than it opens. */
const ESTABLISHED_TARGET = 400;
/** A churning process the parent forgot to kill ends itself. */
const CHURN_LIMIT_MS = 60_000;

/** The config every process of a run applies: the same services by id, so a region stays compatible. */
export function regionTestConfig(): DataplaneConfig {
  return labConfig((config) => {
    const timeouts = { ...IPVS_TIMEOUTS, tcpEstablished: LONG_TIMEOUT_S, udp: 30 };
    config.services[0]!.synproxy = true;
    for (const service of config.services) service.timeouts = { ...timeouts };
    config.services.push({
      id: PLAIN_SERVICE_ID, protocol: 'tcp', vip: VIP, port: PLAIN_PORT, scheduler: 'rr', localAddresses: [...LIPS],
      timeouts: { ...timeouts }, persistenceTimeout: 600,
      servers: SERVERS.map((address, index) => ({ id: 21 + index, address, port: PLAIN_PORT, weight: 1 })),
    });
  });
}

function print(line: ChildLine): void {
  // stdout to a pipe is synchronous on Linux: a line printed before a kill -9 reaches the parent.
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

const REGION_METHODS = ['handOver', 'resume', 'release', 'checkConnTables'] as const;

/** The addon must have the connection region; say so plainly when this build predates it. */
function requireRegionSupport(dp: DataplaneAddon): void {
  const missing = REGION_METHODS.filter((name) => typeof (dp as unknown as Record<string, unknown>)[name] !== 'function');
  if (missing.length > 0) {
    throw new Error(`this data plane build has no ${missing.map((m) => `${m}()`).join(', ')}: it predates the connection region `
      + '(dataplane/core/conn_region.*, issue 18); rebuild the addon once that code is in (npx cmake-js compile --out build)');
  }
  if (dp.stats().connRegion === undefined) {
    throw new Error('stats().connRegion is absent although start() was given connRegion: this build ignores the region option');
  }
}

/** One client segment on a known flow; the frame that leaves inside must be the same connection. */
function stillForwards(lab: Lab, flow: KnownFlow): string | undefined {
  const ack = flow.kind === 'synproxy' ? u32(flow.cookie! + 1) : 50_001;
  const dport = flow.kind === 'synproxy' ? 80 : PLAIN_PORT;
  lab.sendOn('outside', flow.queue, clientTcp(flow.cport, { flags: 'A', seq: flow.kind === 'synproxy' ? CLIENT_ISN + 1 : 1001, ack }, VIP, dport));
  const out = lab.resolveNeighbours();
  const inside = out.inside;
  if (inside.length !== 1) return `${flow.kind} flow from port ${flow.cport}: ${inside.length} frames inside (expected 1), ${out.outside.length} back to the client`;
  const frame = inside[0]!;
  const seen = `${frame.ipv4?.src}:${frame.tcp?.srcPort} -> ${frame.ipv4?.dst}`;
  if (seen !== `${flow.lip}:${flow.lport} -> ${flow.server}`) return `${flow.kind} flow from port ${flow.cport}: left as ${seen}, was ${flow.lip}:${flow.lport} -> ${flow.server}`;
  // SYNPROXY: the client acks the cookie; the server must see its own ISN acked (the offset survived).
  if (flow.kind === 'synproxy' && frame.tcp!.ack !== SERVER_ISN + 1) return `synproxy flow from port ${flow.cport}: ack ${frame.tcp!.ack} inside, expected ${SERVER_ISN + 1}`;
  return undefined;
}

function openPlain(lab: Lab, queue: number, cport: number, serverQueue: number): KnownFlow {
  lab.sendOn('outside', queue, clientTcp(cport, { flags: 'S', seq: 1000, options: [{ kind: 'mss', value: 1460 }] }, VIP, PLAIN_PORT));
  const syn = only(lab.resolveNeighbours().inside, `SYN from port ${cport}`);
  const flow: KnownFlow = { kind: 'plain', cport, queue, lip: syn.ipv4!.src, lport: syn.tcp!.srcPort, server: syn.ipv4!.dst };
  lab.sendOn('inside', serverQueue, serverTcp(flow.server, PLAIN_PORT, flow.lip, flow.lport, { flags: 'SA', seq: 50_000, ack: 1001 }));
  only(lab.resolveNeighbours().outside, `SYN-ACK to port ${cport}`);
  lab.sendOn('outside', queue, clientTcp(cport, { flags: 'A', seq: 1001, ack: 50_001 }, VIP, PLAIN_PORT));
  only(lab.resolveNeighbours().inside, `ACK from port ${cport}`);
  return flow;
}

/** Client FIN, server FIN, client ACK (or one client RST) on an established flow of either kind. */
function closeFlow(lab: Lab, flow: KnownFlow, serverQueue: number, reset: boolean): void {
  const synproxy = flow.kind === 'synproxy';
  const [clientSeq, clientAck] = synproxy ? [CLIENT_ISN + 1, u32(flow.cookie! + 1)] : [1001, 50_001];
  const [serverSeq, serverAck] = synproxy ? [SERVER_ISN + 1, CLIENT_ISN + 2] : [50_001, 1002];
  const dport = synproxy ? 80 : PLAIN_PORT;
  const client = (flags: string, seq: number, ack: number) => clientTcp(flow.cport, { flags, seq, ack }, VIP, dport);
  if (reset) {
    lab.sendOn('outside', flow.queue, client('R', clientSeq, clientAck));
  } else {
    lab.sendOn('outside', flow.queue, client('FA', clientSeq, clientAck));
    lab.sendOn('inside', serverQueue, serverTcp(flow.server, dport, flow.lip, flow.lport, { flags: 'FA', seq: serverSeq, ack: serverAck }));
    lab.sendOn('outside', flow.queue, client('A', clientSeq + 1, u32(clientAck + 1)));
  }
  lab.resolveNeighbours();
}

function churn(lab: Lab, options: ChildOptions, known: KnownFlow[]): never {
  const random = seededRandom(options.seed ?? 1);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const queues = Array.from({ length: options.workers }, (_, index) => index);
  const open = new Map(known.map((f) => [f.cport, f]));
  let cport = options.firstCport ?? 10_000;
  const deadline = Date.now() + CHURN_LIMIT_MS;
  for (let i = 0; ; i++) {
    if (Date.now() > deadline) throw new Error(`still churning after ${CHURN_LIMIT_MS} ms: the parent never killed this process`);
    if (cport > 65_000) cport = 10_000; // only after ~55 000 operations: earlier ports have long expired or closed
    const closing = open.size > ESTABLISHED_TARGET || random() < 0.2;
    const op: Op = closing && open.size > 0 ? (random() < 0.7 ? 'close' : 'reset')
      : pick<Op>(['open', 'open', 'open', 'synproxy', 'synproxy', 'synproxy-pending', 'udp', 'advance', 'advance']);
    const target = op === 'close' || op === 'reset' ? pick([...open.values()]) : undefined;
    const port = target?.cport ?? cport++;
    // What timers sent meanwhile (backend SYN retries, resets of failed SYNPROXY handshakes) is
    // not part of the next operation's answer.
    lab.resolveNeighbours();
    print({ kind: 'op', i, op, cport: port, live: lab.stats().connections, established: open.size });
    switch (op) {
      case 'open': {
        const flow = openPlain(lab, pick(queues), port, pick(queues));
        open.set(port, flow);
        print({ kind: 'opened', flow });
        break;
      }
      case 'synproxy': {
        const { b } = established(SYNPROXY_IPV4, lab, port);
        const flow: KnownFlow = { kind: 'synproxy', cport: port, queue: 0, lip: b.lip, lport: b.lport, server: b.server, cookie: b.cookie };
        open.set(port, flow);
        print({ kind: 'opened', flow });
        break;
      }
      case 'synproxy-pending':
        finalAck(SYNPROXY_IPV4, lab, port); // the server never answers: a backend handshake in progress
        break;
      case 'udp':
        lab.sendOn('outside', pick(queues), clientUdp(port, Buffer.from(`datagram ${i}`)));
        lab.resolveNeighbours();
        break;
      case 'close':
      case 'reset':
        print({ kind: 'closing', cport: port });
        open.delete(port);
        closeFlow(lab, target!, pick(queues), op === 'reset');
        break;
      case 'advance':
        lab.advance(1 + Math.floor(random() * 20));
        break;
    }
  }
}

async function main(options: ChildOptions): Promise<void> {
  const known = options.knownFlowsFile ? JSON.parse(readFileSync(options.knownFlowsFile, 'utf8')) as KnownFlow[] : [];
  await withLab(async (lab) => {
    requireRegionSupport(lab.dp);
    if (options.role === 'hold') {
      print({ kind: 'holding' });
      process.stdin.resume();
      await new Promise((resolve) => process.stdin.once('end', resolve));
      return;
    }
    const violations = lab.dp.checkConnTables();
    const report = lab.dp.stats().connRegion ?? null;
    const connections = lab.stats().connections;
    const flowFailures = known.flatMap((flow) => stillForwards(lab, flow) ?? []);
    print({ kind: 'adopted', report, violations, connections, flowFailures });
    if (options.role === 'churn') churn(lab, options, known);
  }, regionTestConfig(), {
    workers: options.workers, connCapacity: options.connCapacity,
    connRegion: { path: options.region },
  });
}

main(JSON.parse(process.argv[2] ?? '{}') as ChildOptions).then(
  () => process.exit(0),
  (error: unknown) => {
    const err = error as Error & { code?: string };
    print({ kind: 'error', message: err instanceof Error ? err.message : String(error), ...(err?.code ? { code: err.code } : {}) });
    process.exit(1);
  },
);
