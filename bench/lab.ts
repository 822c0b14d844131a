// The lab benchmark of issue 10 (DESIGN.md §8): connections/s, kept-alive requests/s and
// large-download MB/s from pc-client, back to back in one run on one lab, through
//   (a) the data plane as a plain L2 bridge over the same af_packet ports (the I/O
//       ceiling; client and server talk directly, on-link routes added for it),
//   (b) Portcullis FullNAT, busy polling,
//   (c) Portcullis FullNAT, adaptive polling,
//   (d) the kernel's nftables FullNAT in a router namespace holding the same veths.
// Every run is bounded (BENCH_LAB_SECONDS, default 6 s; BENCH_LAB_ROUNDS rounds, default 5).
// The bench takes no lock itself; developers run it under `flock /tmp/pc-lab.lock` on
// shared boxes. Everything it creates (lab, router namespace, daemon, nginx) is removed
// in finally.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { startDaemon, type DaemonProcess } from '../src/lab/daemon-process.js';
import { ipIn } from '../src/lab/run.js';
import {
  CLIENT, GATEWAY_INSIDE_ADDRESS, GATEWAY_INSIDE_DEVICE, GATEWAY_OUTSIDE_ADDRESS, GATEWAY_OUTSIDE_DEVICE,
  INSIDE_PREFIX_LENGTH, INSIDE_SUBNET, LOCAL_ADDRESSES, OUTSIDE_PREFIX_LENGTH, OUTSIDE_SUBNET, REAL_SERVERS, VIP,
} from '../src/lab/topology.js';
import { labDown, labUp } from '../src/lab/lab.js';
import { BENCH_HTTP_PORT, startNginx } from './lab/nginx.js';
import { runDownload, runWrk, waitForPath, type LoadSettings } from './lab/load.js';
import { nftablesDown, nftablesUp } from './lab/nft-fullnat.js';
import { labRows, summarise, type LabFigures, type ScenarioFigures } from './lab/rows.js';
import type { BenchRow } from './rows.js';
import { removeConnRegionFiles } from '../src/config/conn-region.js';

/** A positive integer from the environment, or the default; anything else stops the bench with its name. */
function envCount(name: string, fallback: number, max: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1 || value > max) throw new Error(`${name}: expected an integer 1..${max}, got ${JSON.stringify(text)}`);
  return value;
}

const SETTINGS: LoadSettings = {
  seconds: envCount('BENCH_LAB_SECONDS', 6, 60),
  connections: envCount('BENCH_LAB_CONNECTIONS', 64, 10_000),
  threads: envCount('BENCH_LAB_THREADS', 1, 64),
};
/**
 * Rounds of all four scenarios, interleaved so a slow minute on a shared box hits every
 * gateway alike; each figure is the median over the rounds, min–max beside it (issue 20).
 */
const ROUNDS = envCount('BENCH_LAB_ROUNDS', 5, 20);
const DAEMON_READY_TIMEOUT_MS = 60_000;
/**
 * Every scenario serves from the same single real server (rs1, nginx with a worker per
 * core): the bridge can only put the client on one server's segment, and with the same
 * server processes behind every gateway only the gateway differs. Scheduling cost is
 * the same for one server or three (rr).
 */
const SERVERS = [REAL_SERVERS[0]!];

const GATEWAY_KINDS = ['bridge', 'fullnat-busy', 'fullnat-adaptive'] as const;
type GatewayKind = (typeof GATEWAY_KINDS)[number];

function daemonConfig(kind: GatewayKind, dir: string): string {
  const polling = kind === 'fullnat-adaptive' ? 'adaptive' : 'busy';
  const servers = SERVERS.map((s) => `      - { address: ${s.addresses[0]}, port: ${BENCH_HTTP_PORT}, weight: 1 }`).join('\n');
  const services = kind === 'bridge' ? 'services: []\n' : `services:
  - name: bench
    protocol: tcp
    vip: ${VIP}
    port: ${BENCH_HTTP_PORT}
    scheduler: rr
    local_addresses: [${LOCAL_ADDRESSES.join(', ')}]
    servers:
${servers}
`;
  return `dataplane: { workers: 1, lcores: "0-1", polling: ${polling}, memory_mb: 512, hugepages: auto, conn_capacity: 262144${kind === 'bridge' ? ', bench_mode: bridge' : ''} }
api: { socket: ${JSON.stringify(join(dir, 'portcullis.sock'))} }
metrics: { listen: "" }
state_file: ${JSON.stringify(join(dir, 'state.json'))}
defense: { audit_log: ${JSON.stringify(join(dir, 'audit.log'))} }
ports:
  - { name: outside, device: "${GATEWAY_OUTSIDE_DEVICE}", addresses: [${GATEWAY_OUTSIDE_ADDRESS}/${OUTSIDE_PREFIX_LENGTH}] }
  - { name: inside, device: "${GATEWAY_INSIDE_DEVICE}", addresses: [${GATEWAY_INSIDE_ADDRESS}/${INSIDE_PREFIX_LENGTH}] }
routes: []
${services}`;
}

async function startGateway(kind: GatewayKind, workDir: string): Promise<DaemonProcess> {
  const dir = join(workDir, kind);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const configPath = join(dir, 'portcullis.yaml');
  await writeFile(configPath, daemonConfig(kind, dir));
  return startDaemon({ configPath, socketPath: join(dir, 'portcullis.sock'), stateFilePath: join(dir, 'state.json'), readyTimeoutMs: DAEMON_READY_TIMEOUT_MS });
}

/** The three measurements against one URL base, in a fixed order. */
async function measure(base: string, what: string): Promise<ScenarioFigures> {
  await waitForPath(CLIENT.namespace, `${base}/small`, what);
  console.error(`bench: lab: ${what}: new connections ...`);
  const conns = await runWrk(CLIENT.namespace, `${base}/small`, SETTINGS, true);
  console.error(`bench: lab: ${what}: kept-alive requests ...`);
  const requests = await runWrk(CLIENT.namespace, `${base}/small`, SETTINGS, false);
  console.error(`bench: lab: ${what}: download ...`);
  const download = await runDownload(CLIENT.namespace, `${base}/big`, SETTINGS.seconds);
  const figures = {
    connsPerSecond: conns.requestsPerSecond, requestsPerSecond: requests.requestsPerSecond,
    megabytesPerSecond: download.megabytesPerSecond, errors: conns.errors + requests.errors,
  };
  console.error(`bench: lab: ${what}: ${figures.connsPerSecond.toFixed(0)} conn/s, ${figures.requestsPerSecond.toFixed(0)} req/s, `
    + `${figures.megabytesPerSecond.toFixed(0)} MB/s, ${figures.errors} errors`);
  return figures;
}

/** (a): the client reaches rs1 on-link through the bridged segments; the routes go again after. */
async function bridgeRun(workDir: string): Promise<ScenarioFigures> {
  const server = SERVERS[0]!;
  const daemon = await startGateway('bridge', workDir);
  try {
    await ipIn(CLIENT.namespace, ['route', 'add', INSIDE_SUBNET, 'dev', 'eth0']);
    await ipIn(server.namespace, ['route', 'add', OUTSIDE_SUBNET, 'dev', 'eth0']);
    return await measure(`http://${server.addresses[0]}:${BENCH_HTTP_PORT}`, 'DPDK bridge');
  } finally {
    await daemon.stop();
    await ipIn(CLIENT.namespace, ['route', 'del', INSIDE_SUBNET, 'dev', 'eth0']).catch(() => undefined);
    await ipIn(server.namespace, ['route', 'del', OUTSIDE_SUBNET, 'dev', 'eth0']).catch(() => undefined);
    // Forget the server's MAC learned on-link, so nothing bypasses the gateway later.
    await ipIn(CLIENT.namespace, ['neigh', 'flush', 'dev', 'eth0']).catch(() => undefined);
    await ipIn(server.namespace, ['neigh', 'flush', 'dev', 'eth0']).catch(() => undefined);
  }
}

async function fullnatRun(kind: 'fullnat-busy' | 'fullnat-adaptive', workDir: string): Promise<ScenarioFigures> {
  const daemon = await startGateway(kind, workDir);
  try {
    return await measure(`http://${VIP}:${BENCH_HTTP_PORT}`, `Portcullis ${kind}`);
  } finally {
    await daemon.stop();
  }
}

async function nftablesRun(): Promise<ScenarioFigures> {
  try {
    await nftablesUp(BENCH_HTTP_PORT, SERVERS.map((server) => server.addresses[0]!));
    return await measure(`http://${VIP}:${BENCH_HTTP_PORT}`, 'nftables FullNAT');
  } finally {
    await nftablesDown();
  }
}

export async function runLabBench(): Promise<BenchRow[]> {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) throw new Error('the lab bench needs root (network namespaces)');
  const workDir = await mkdtemp(join(tmpdir(), 'portcullis-labbench-'));
  try {
    await labUp({ quiet: true });
    const nginx = await startNginx(workDir, SERVERS);
    try {
      const rounds: LabFigures[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        rounds.push({
          bridge: await bridgeRun(workDir),
          busy: await fullnatRun('fullnat-busy', workDir),
          adaptive: await fullnatRun('fullnat-adaptive', workDir),
          nftables: await nftablesRun(),
        });
      }
      return labRows(summarise(rounds), SETTINGS);
    } finally {
      await nginx.stop();
    }
  } finally {
    await nftablesDown();
    await labDown();
    for (const kind of GATEWAY_KINDS) await removeConnRegionFiles(join(workDir, kind, 'state.json'));
    await rm(workDir, { recursive: true, force: true });
  }
}

// Standalone: `node dist/bench/lab.js` prints the rows as JSON.
if (process.argv[1] && pathToFileURL(resolve(process.argv[1])).href === import.meta.url) {
  runLabBench().then((rows) => console.log(JSON.stringify(rows, null, 2)), (error: unknown) => {
    console.error(error instanceof Error ? error.message : String(error));
    process.exitCode = 1;
  });
}
