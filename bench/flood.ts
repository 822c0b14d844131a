// Issue 5's flood figures for `npm run bench` (bench/run.ts imports runFloodBench) and on
// their own (`node dist/bench/flood.js`, root: it builds the lab). One lab, one daemon with
// the demo config; in each scenario no-flood and flood windows alternate (ROUNDS pairs) and
// medians are compared, so the box's other load drifting over seconds cancels out:
//   - UDP flood (one unpaced sender: the highest rate this box gives the attacker), defences
//     off, then the per-source UDP limit on: legit UDP success %, TCP goodput (unpaced and
//     paced), flood pps offered and what the gateway dropped;
//   - fragment flood (3000-byte datagrams, 3 fragments each), defences on: the same figures.
// Everything runs in the lab's namespaces; the lab is torn down in finally.
import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { loadPortcullisProto } from '../src/api/proto.js';
import { connect, rpc } from '../src/cli/client.js';
import { removeConnRegionFiles } from '../src/config/conn-region.js';
import { startDaemon } from '../src/lab/daemon-process.js';
import { demoConfigYaml } from '../src/lab/demo-config.js';
import { compareUnderFlood, type Comparison } from '../src/lab/flood-trial.js';
import { labDown, labUp } from '../src/lab/lab.js';
import { UDP_ECHO_PORT, VIP } from '../src/lab/topology.js';
import type { BenchRow } from './rows.js';

const ROUNDS = Number(process.env.BENCH_FLOOD_ROUNDS ?? 3);
const WINDOW_SECONDS = 2;
const UDP_REQUESTS = 300;
const UDP_PPS = 200;
/** The paced download the e2e test asserts on (test/e2e/flood-goodput.test.ts). */
const PACED_RATE = 10_000_000;
const PER_SOURCE = { pps: 1000, burst: 1000 };
const FRAGMENT_SIZE = 3000;
const GOAL_SOURCE = 'issue 5';

const RESULT_PATH = join(fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? '.' : '../../bench', import.meta.url)), 'results/flood-latest.json');

type Counters = Record<string, number>;

interface Scenario {
  name: string;
  defended: boolean;
  fragments: boolean;
  paced: boolean;
  comparison: Comparison;
  /** Counter deltas over the scenario: drops, events and the outside port's rx. */
  delta: Counters;
}

function row(id: string, label: string, figure: number, unit: string, extra: Partial<BenchRow> = {}): BenchRow {
  return { group: 'flood', id: `flood.${id}`, label, figure: Math.round(figure * 100) / 100, unit, ...extra };
}

function withBaseline(figure: number, baselineLabel: string, baseline: number): Pick<BenchRow, 'baseline' | 'ratio'> {
  return { baseline: { label: baselineLabel, figure: Math.round(baseline * 100) / 100 }, ratio: baseline > 0 ? Math.round((figure / baseline) * 1000) / 1000 : 0 };
}

function rowsOf(s: Scenario): BenchRow[] {
  const c = s.comparison;
  const tag = `${s.fragments ? 'frag' : 'udp'}-${s.defended ? 'on' : 'off'}${s.paced ? '-paced' : ''}`;
  const what = `${s.fragments ? 'fragment flood' : 'UDP flood'}, defences ${s.defended ? 'on' : 'off'}`;
  // Fragments: af_packet hands the data plane each datagram reassembled (most likely the PMD's
  // PACKET_FANOUT_FLAG_DEFRAG), one frame over the 2 KiB af_packet frame, which arrives
  // truncated (malformed_l3); both reasons count as the flood dropped.
  const dropped = s.fragments ? (s.delta['drop:frag_dropped'] ?? 0) + (s.delta['drop:malformed_l3'] ?? 0)
    : (s.delta['drop:udp_source_rate_limited'] ?? 0);
  const rows: BenchRow[] = [
    row(`${tag}.tcp-goodput`, `${what}: TCP download${s.paced ? ` paced ${PACED_RATE / 1e6} MB/s` : ''}`, c.floodedMBps, 'MB/s', {
      ...withBaseline(c.floodedMBps, 'no flood (same run, interleaved)', c.baselineMBps),
      ...(s.defended ? { goal: { kind: 'at-least', on: 'ratio', value: 0.9, source: `${GOAL_SOURCE}: goodput >= 90% of no-flood` } } : {}),
      note: s.paced ? 'paced: not CPU-bound, shows what the gateway does to it'
        : 'unpaced: CPU-bound on a 2-CPU box, the flood sender takes CPU from the client and servers',
    }),
  ];
  if (s.paced) return rows;  // the other figures are the unpaced scenario's
  rows.push(row(`${tag}.udp-success`, `${what}: legit UDP request/response success`, c.udpSuccessPercent, '%', {
    ...withBaseline(c.udpSuccessPercent, 'no flood', c.baselineUdpSuccessPercent),
    ...(s.defended ? { goal: { kind: 'at-least', on: 'figure', value: 99, source: `${GOAL_SOURCE}: legit UDP success >= 99%` } } : {}),
  }));
  rows.push(row(`${tag}.flood-offered`, `${what}: flood offered (one unpaced sender${s.fragments ? `, ${FRAGMENT_SIZE} B datagrams` : ''})`,
    c.floodPps * (c.floodSent ? c.floodFrames / c.floodSent : 1), s.fragments ? 'frag/s' : 'pps', {
      note: `${c.floodSent} datagrams sent in ${ROUNDS} windows; median of the windows' rates`,
    }));
  const packetsSent = c.floodFrames;
  rows.push(row(`${tag}.flood-dropped`, `${what}: flood dropped by the gateway (${s.fragments ? 'frag_dropped + malformed_l3' : 'udp_source_rate_limited'})`,
    packetsSent ? (dropped / packetsSent) * 100 : 0, '%', {
      note: `${dropped} drops for ${packetsSent} flood frames sent; outside rx ${s.delta['rx:outside'] ?? 0}`
        + (s.fragments ? '; af_packet delivers each datagram reassembled (one truncated frame: malformed_l3)' : ''),
    }));
  return rows;
}

export async function runFloodBench(): Promise<BenchRow[]> {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) throw new Error('the flood benchmark needs root (network namespaces)');
  const workDir = await mkdtemp(join(tmpdir(), 'portcullis-floodbench-'));
  const socketPath = join(workDir, 'portcullis.sock');
  const stateFilePath = join(workDir, 'state.json');
  const configPath = join(workDir, 'portcullis.yaml');
  let daemon: Awaited<ReturnType<typeof startDaemon>> | undefined;
  let clients: ReturnType<typeof connect> | undefined;
  const { grpcObject } = loadPortcullisProto();
  let defense: grpc.Client | undefined;
  const scenarios: Scenario[] = [];
  try {
    await labUp({ quiet: true });
    await writeFile(configPath, demoConfigYaml({ socket: socketPath, stateFile: stateFilePath }));
    daemon = await startDaemon({ configPath, socketPath, stateFilePath, readyTimeoutMs: 40_000 });
    clients = connect(socketPath);
    defense = new grpcObject.portcullis.v1.Defense(`unix:${socketPath}`, grpc.credentials.createInsecure());
    const counters = async (): Promise<Counters> => {
      const stats = await clients!.api.getStats({});
      const out: Counters = {};
      for (const [k, v] of Object.entries(stats.drops ?? {})) out[`drop:${k}`] = Number(v);
      for (const [k, v] of Object.entries(stats.events ?? {})) out[k] = Number(v);
      for (const p of stats.ports ?? []) out[`rx:${p.name}`] = Number(p.rxPackets);
      return out;
    };
    const scenario = async (name: string, defended: boolean, fragments: boolean, paced: boolean) => {
      const before = await counters();
      const comparison = await compareUnderFlood({
        rounds: ROUNDS, downloadSeconds: WINDOW_SECONDS, downloadRate: paced ? PACED_RATE : 0, udpRequests: UDP_REQUESTS, udpPps: UDP_PPS,
        flood: { pps: 0, senders: 1, size: fragments ? FRAGMENT_SIZE : 64 },
      });
      const after = await counters();
      const delta: Counters = {};
      for (const [k, v] of Object.entries(after)) delta[k] = v - (before[k] ?? 0);
      scenarios.push({ name, defended, fragments, paced, comparison, delta });
      console.error(`flood bench: ${name}: goodput ${comparison.floodedMBps.toFixed(1)} vs ${comparison.baselineMBps.toFixed(1)} MB/s, udp ${comparison.udpSuccessPercent.toFixed(1)}%, flood ${comparison.floodPps} pps`);
    };
    // A short warm-up window: ARP learned, the servers' JIT warm.
    await compareUnderFlood({ rounds: 1, downloadSeconds: 1, udpRequests: 20, udpPps: 100, flood: { pps: 1000, senders: 1, size: 64 } });
    await scenario('UDP flood, defences off', false, false, false);
    await rpc(defense, 'setServiceDefense')({
      service: { protocol: 'UDP', vip: VIP, port: UDP_ECHO_PORT }, udpPerSource: PER_SOURCE, origin: { actor: 'bench', reason: 'flood bench' },
    });
    await scenario('UDP flood, per-source limit on', true, false, false);
    await scenario('UDP flood, per-source limit on, paced download', true, false, true);
    await scenario('fragment flood, defences on', true, true, false);
  } finally {
    defense?.close();
    clients?.close();
    await daemon?.stop(10_000);
    await labDown();
    // The daemon leaves its connection region for a next one to adopt; nobody will: free the hugepages.
    await removeConnRegionFiles(stateFilePath);
    await rm(workDir, { recursive: true, force: true });
  }
  const rows = scenarios.flatMap(rowsOf);
  mkdirSync(dirname(RESULT_PATH), { recursive: true });
  writeFileSync(RESULT_PATH, `${JSON.stringify({
    date: new Date().toISOString(), rounds: ROUNDS, windowSeconds: WINDOW_SECONDS, perSource: PER_SOURCE,
    scenarios: scenarios.map((s) => ({ name: s.name, comparison: s.comparison, delta: s.delta })), rows,
  }, null, 2)}\n`);
  return rows;
}

function printRows(rows: BenchRow[]): void {
  for (const r of rows) {
    const base = r.baseline ? `  (${r.baseline.label}: ${r.baseline.figure} ${r.unit}, ratio ${r.ratio})` : '';
    console.log(`${r.label.padEnd(90)} ${String(r.figure).padStart(10)} ${r.unit}${base}`);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  runFloodBench().then((rows) => {
    printRows(rows);
    console.log(`written ${RESULT_PATH}`);
  }, (error: unknown) => {
    console.error(error instanceof Error ? error.message : String(error));
    process.exitCode = 1;
  });
}
