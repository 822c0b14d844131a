// `npm run bench:synflood`: issue 4's flood comparison. The same bounded spoofed-source
// SYN flood (test/support/syn-flood.py: sources 198.18.0.100-199 only, 10 s, capped
// packet count) while a legitimate client makes 200 sequential HTTP requests, run twice
// back to back:
//   (a) Portcullis: the lab + the real daemon, a synproxy service created over gRPC;
//   (b) the kernel's nftables synproxy on a router namespace of an equivalent topology
//       (client + attacker on one segment, the router, one HTTP server behind it).
// The kernel side routes rather than NATs, so its legit target is the server's own
// address; what is compared is the SYN-flood defence, not the load balancing.
// Everything runs inside namespaces we create; every namespace is removed in finally.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect } from '../src/cli/client.js';
import type { CreateVirtualServiceRequest } from '../src/api/generated/portcullis/v1/CreateVirtualServiceRequest.js';
import { removeConnRegionFiles } from '../src/config/conn-region.js';
import { startDaemon } from '../src/lab/daemon-process.js';
import { demoConfigYaml } from '../src/lab/demo-config.js';
import { ATTACKER, CLIENT, LOCAL_ADDRESSES, REAL_SERVERS, VIP, labDown, labUp } from '../src/lab/lab.js';
import { nodeScriptArgv } from '../src/lab/node-script.js';
import { ipIn, mustRun, mustRunIn, runTool } from '../src/lab/run.js';
import type { BenchRow } from './rows.js';

const FLOOD_SECONDS = 10;
const FLOOD_MAX_PACKETS = 3_000_000;
const LEGIT_REQUESTS = 200;
const REQUEST_TIMEOUT_SECONDS = 5;
const SYNPROXY_PORT = 8081;

const runningFromSource = import.meta.url.endsWith('.ts');
/** Repository root: bench/ from source, dist/bench/ when built. */
const REPO_ROOT = fileURLToPath(new URL(runningFromSource ? '..' : '../..', import.meta.url));
const FLOOD_SCRIPT = join(REPO_ROOT, 'test/support/syn-flood.py');
const RESULT_PATH = join(REPO_ROOT, 'bench/results/synflood-latest.json');

interface FloodReport { sent: number; syns: number; acks: number; seconds: number; pps: number }

interface Row {
  scenario: string;
  floodPps: number;
  floodPackets: number;
  legitOk: number;
  legitTotal: number;
  successPercent: number;
  /** Connection entries created during the run (Portcullis conns_created / synproxy cookie_valid). */
  connsCreated: number;
  /** Entries left at the end of the run (conntrack only). */
  conntrackEntries?: number;
  cookiesRejected: number;
  synAcksSent: number;
}

function inNamespace(namespace: string, argv: string[], timeoutMs: number): ReturnType<typeof runTool> {
  return runTool('ip', ['netns', 'exec', namespace, ...argv], timeoutMs);
}

/** The flood and the sequential requests at once; the requests start once the flood is under way. */
async function floodWhileRequesting(attacker: string, client: string, target: string, port: number): Promise<{ flood: FloodReport; ok: number }> {
  const flood = inNamespace(attacker, ['python3', FLOOD_SCRIPT, target, String(port), String(FLOOD_SECONDS), String(FLOOD_MAX_PACKETS)],
    (FLOOD_SECONDS + 20) * 1000);
  await sleep(500);
  let ok = 0;
  for (let i = 0; i < LEGIT_REQUESTS; i++) {
    const r = await inNamespace(client, ['curl', '-sS', '-o', '/dev/null', '-w', '%{http_code}', '--max-time',
      String(REQUEST_TIMEOUT_SECONDS), `http://${target}:${port}/`], (REQUEST_TIMEOUT_SECONDS + 5) * 1000);
    if (r.ok && r.stdout.trim() === '200') ok++;
  }
  const floodResult = await flood;
  const report = JSON.parse(floodResult.stdout.trim().split('\n').pop() || '{}') as FloodReport;
  if (!(report.sent > 0)) throw new Error(`the flood sent nothing: ${floodResult.stdout} ${floodResult.stderr}`);
  return { flood: report, ok };
}

function row(scenario: string, flood: FloodReport, ok: number, counts: Pick<Row, 'connsCreated' | 'conntrackEntries' | 'cookiesRejected' | 'synAcksSent'>): Row {
  return {
    scenario, floodPps: flood.pps, floodPackets: flood.sent, legitOk: ok, legitTotal: LEGIT_REQUESTS,
    successPercent: Math.round((ok / LEGIT_REQUESTS) * 1000) / 10, ...counts,
  };
}

// ------------------------------------------------------------ (a) Portcullis

async function portcullisRun(): Promise<Row> {
  const workDir = await mkdtemp(join(tmpdir(), 'portcullis-synflood-'));
  const socketPath = join(workDir, 'portcullis.sock');
  const stateFilePath = join(workDir, 'state.json');
  const configPath = join(workDir, 'portcullis.yaml');
  let daemon: Awaited<ReturnType<typeof startDaemon>> | undefined;
  let clients: ReturnType<typeof connect> | undefined;
  try {
    await labUp({ quiet: true });
    await writeFile(configPath, demoConfigYaml({ socket: socketPath, stateFile: stateFilePath }));
    daemon = await startDaemon({ configPath, socketPath, stateFilePath, readyTimeoutMs: 40_000 });
    clients = connect(socketPath);
    const request = {
      service: {
        key: { protocol: 'TCP', vip: VIP, port: SYNPROXY_PORT }, scheduler: 'rr', synproxy: 'on', name: 'bench-synproxy',
        localAddresses: [...LOCAL_ADDRESSES], servers: REAL_SERVERS.map((s) => ({ address: s.addresses[0]!, port: 80, weight: 1 })),
      },
    } as CreateVirtualServiceRequest;
    await clients.api.createVirtualService(request);
    const counters = async (): Promise<Record<string, number>> => {
      const stats = await clients!.api.getStats({});
      const out: Record<string, number> = {};
      for (const [k, v] of Object.entries(stats.events ?? {})) out[k] = Number(v);
      for (const [k, v] of Object.entries(stats.drops ?? {})) out[`drop:${k}`] = Number(v);
      return out;
    };
    const before = await counters();
    const { flood, ok } = await floodWhileRequesting(ATTACKER.namespace, CLIENT.namespace, VIP, SYNPROXY_PORT);
    const after = await counters();
    const delta = (k: string): number => (after[k] ?? 0) - (before[k] ?? 0);
    return row('portcullis synproxy', flood, ok, {
      connsCreated: delta('conns_created'), cookiesRejected: delta('drop:bad_cookie'), synAcksSent: delta('synproxy_syn_answered'),
    });
  } finally {
    clients?.close();
    await daemon?.stop(10_000);
    await labDown();
    // The daemon leaves its connection region for a next one to adopt; nobody will: free the hugepages.
    await removeConnRegionFiles(stateFilePath);
    await rm(workDir, { recursive: true, force: true });
  }
}

// ------------------------------------------------------------ (b) nftables synproxy

const NFT = {
  bridge: 'pc-nft-br', client: 'pc-nft-client', attacker: 'pc-nft-attacker', router: 'pc-nft-router', server: 'pc-nft-server',
} as const;
const NFT_NAMESPACES = Object.values(NFT);
const NFT_SERVER_ADDRESS = '198.19.0.1';
const NFT_HTTP_PORT = 80;

const NFT_RULESET = `table ip portcullis_bench {
  chain raw_prerouting {
    type filter hook prerouting priority raw; policy accept;
    tcp dport ${NFT_HTTP_PORT} tcp flags & (fin|syn|rst|ack) == syn notrack
  }
  chain filter_forward {
    type filter hook forward priority filter; policy accept;
    tcp dport ${NFT_HTTP_PORT} ct state invalid,untracked synproxy mss 1460 wscale 7 timestamp sack-perm
    ct state invalid drop
  }
}
`;

async function nftDown(): Promise<void> {
  const listed = (await runTool('ip', ['netns', 'list'])).stdout.split('\n').map((line) => line.split(' ')[0]);
  for (const namespace of NFT_NAMESPACES.filter((n) => listed.includes(n))) {
    const pids = (await runTool('ip', ['netns', 'pids', namespace])).stdout.split(/\s+/).map(Number).filter((p) => p > 1);
    for (const pid of pids) { try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ } }
    await runTool('ip', ['netns', 'del', namespace]);
  }
}

/** A host on the outside bridge: eth0 with its address, default route via the router. */
async function outsideHost(namespace: string, port: string, address: string): Promise<void> {
  await ipIn(NFT.bridge, ['link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', namespace]);
  await ipIn(NFT.bridge, ['link', 'set', port, 'master', 'br0', 'up']);
  await ipIn(namespace, ['link', 'set', 'lo', 'up']);
  await ipIn(namespace, ['address', 'add', `${address}/24`, 'dev', 'eth0']);
  await ipIn(namespace, ['link', 'set', 'eth0', 'up']);
  await ipIn(namespace, ['route', 'add', 'default', 'via', '198.18.0.254']);
}

async function nftUp(): Promise<void> {
  for (const namespace of NFT_NAMESPACES) await mustRun('ip', ['netns', 'add', namespace]);
  await ipIn(NFT.bridge, ['link', 'set', 'lo', 'up']);
  await ipIn(NFT.bridge, ['link', 'add', 'br0', 'type', 'bridge', 'stp_state', '0']);
  await ipIn(NFT.bridge, ['link', 'set', 'br0', 'up']);
  await outsideHost(NFT.client, 'client', CLIENT.addresses[0]!);
  await outsideHost(NFT.attacker, 'attacker', ATTACKER.addresses[0]!);
  // Router: out0 on the bridge, in0 straight to the server.
  await ipIn(NFT.bridge, ['link', 'add', 'router', 'type', 'veth', 'peer', 'name', 'out0', 'netns', NFT.router]);
  await ipIn(NFT.bridge, ['link', 'set', 'router', 'master', 'br0', 'up']);
  await ipIn(NFT.router, ['link', 'add', 'in0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', NFT.server]);
  await ipIn(NFT.router, ['link', 'set', 'lo', 'up']);
  await ipIn(NFT.router, ['address', 'add', '198.18.0.254/24', 'dev', 'out0']);
  await ipIn(NFT.router, ['address', 'add', '198.19.0.254/24', 'dev', 'in0']);
  await ipIn(NFT.router, ['link', 'set', 'out0', 'up']);
  await ipIn(NFT.router, ['link', 'set', 'in0', 'up']);
  await ipIn(NFT.server, ['link', 'set', 'lo', 'up']);
  await ipIn(NFT.server, ['address', 'add', `${NFT_SERVER_ADDRESS}/24`, 'dev', 'eth0']);
  await ipIn(NFT.server, ['link', 'set', 'eth0', 'up']);
  await ipIn(NFT.server, ['route', 'add', 'default', 'via', '198.19.0.254']);
  await mustRunIn(NFT.router, 'sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1', 'net.ipv4.tcp_syncookies=1']);
  const rulesetPath = join(tmpdir(), `pc-nft-ruleset-${process.pid}.nft`);
  await writeFile(rulesetPath, NFT_RULESET);
  try {
    await mustRunIn(NFT.router, 'nft', ['-f', rulesetPath]);
  } finally {
    await rm(rulesetPath, { force: true });
  }
  // The conntrack sysctls exist once the ruleset pulled conntrack into this namespace.
  await mustRunIn(NFT.router, 'sysctl', ['-q', '-w', 'net.netfilter.nf_conntrack_tcp_loose=0']);
}

/** The lab's own real server (src/lab/servers.ts), started the way labUp starts it. */
async function startNftServer(): Promise<ChildProcess> {
  const serversUrl = new URL(`../src/lab/servers${runningFromSource ? '.ts' : '.js'}`, import.meta.url).href;
  const [node, ...args] = nodeScriptArgv(serversUrl, 'servers');
  const child = spawn('ip', ['netns', 'exec', NFT.server, node!, ...args, '--name', 'nft-rs'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
  child.stderr!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
  const deadline = Date.now() + 15_000;
  while (!output.includes('lab-server nft-rs ready')) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`nft bench: server not ready: ${output}`);
    await sleep(50);
  }
  return child;
}

/** Sums the named columns of a /proc/net/stat table (header line, then one hex line per CPU). */
async function procStat(file: string): Promise<Record<string, number>> {
  const text = (await inNamespace(NFT.router, ['cat', `/proc/net/stat/${file}`], 5_000)).stdout;
  const [header, ...lines] = text.trim().split('\n');
  const names = (header ?? '').trim().split(/\s+/);
  const sums: Record<string, number> = {};
  for (const line of lines) {
    line.trim().split(/\s+/).forEach((value, i) => { sums[names[i]!] = (sums[names[i]!] ?? 0) + parseInt(value, 16); });
  }
  return sums;
}

async function nftRun(): Promise<Row> {
  let server: ChildProcess | undefined;
  await nftDown();
  try {
    await nftUp();
    server = await startNftServer();
    const spBefore = await procStat('synproxy');
    const { flood, ok } = await floodWhileRequesting(NFT.attacker, NFT.client, NFT_SERVER_ADDRESS, NFT_HTTP_PORT);
    const spAfter = await procStat('synproxy');
    const count = (await inNamespace(NFT.router, ['cat', '/proc/sys/net/netfilter/nf_conntrack_count'], 5_000)).stdout.trim();
    return row('nftables synproxy', flood, ok, {
      // conntrack's own insert counter is no longer kept by current kernels; synproxy creates
      // an entry for each valid cookie, which is what Portcullis's conns_created counts.
      connsCreated: (spAfter.cookie_valid ?? 0) - (spBefore.cookie_valid ?? 0),
      conntrackEntries: Number(count),
      cookiesRejected: (spAfter.cookie_invalid ?? 0) - (spBefore.cookie_invalid ?? 0),
      synAcksSent: (spAfter.syn_received ?? 0) - (spBefore.syn_received ?? 0),
    });
  } finally {
    server?.kill('SIGKILL');
    await nftDown();
  }
}

// ------------------------------------------------------------ report

function printTable(rows: Row[]): void {
  const header = ['scenario', 'flood pps offered', 'flood packets', 'legit ok', 'success %', 'conns created', 'conntrack entries', 'cookies rejected', 'SYN-ACKs / SYNs seen'];
  const cells = rows.map((r) => [r.scenario, String(r.floodPps), String(r.floodPackets), `${r.legitOk}/${r.legitTotal}`, r.successPercent.toFixed(1),
    String(r.connsCreated), r.conntrackEntries === undefined ? '-' : String(r.conntrackEntries), String(r.cookiesRejected), String(r.synAcksSent)]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]): string => `| ${c.map((v, i) => v.padEnd(widths[i]!)).join(' | ')} |`;
  console.log(line(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const c of cells) console.log(line(c));
}

async function measure(): Promise<Row[]> {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) throw new Error('bench:synflood needs root (network namespaces)');
  if (!existsSync(FLOOD_SCRIPT)) throw new Error(`missing ${FLOOD_SCRIPT}`);
  return [await portcullisRun(), await nftRun()];
}

/** The two runs as BenchRows for `npm run bench` (bench/run.ts): Portcullis against nftables. */
export function synfloodRows(rows: Row[]): BenchRow[] {
  const [portcullis, nft] = rows;
  if (!portcullis || !nft) return [];
  const pair = (id: string, label: string, unit: string, of: (r: Row) => number, note: string): BenchRow => ({
    group: 'synflood', id: `synflood.${id}`, label, figure: of(portcullis), unit,
    baseline: { label: 'nftables synproxy', figure: of(nft) }, ratio: of(nft) > 0 ? of(portcullis) / of(nft) : Number.NaN, note,
  });
  return [
    pair('legit-success', 'SYNPROXY under flood, legit requests ok', '%', (r) => r.successPercent,
      `${portcullis.legitOk}/${portcullis.legitTotal} vs ${nft.legitOk}/${nft.legitTotal} sequential curls during ${FLOOD_SECONDS} s of flood`),
    pair('flood-pps', 'SYNPROXY under flood, flood offered', 'pps', (r) => r.floodPps,
      'one Python raw-socket sender: the sender is the limit, ±20 % between runs'),
    pair('synacks', 'SYNPROXY under flood, cookie SYN-ACKs sent', 'pkts', (r) => r.synAcksSent,
      `cookies rejected ${portcullis.cookiesRejected} vs ${nft.cookiesRejected}; conns created ${portcullis.connsCreated} vs ${nft.connsCreated}`),
  ];
}

/** Used by bench/run.ts; also writes bench/results/synflood-latest.json like the standalone run. */
export async function runSynfloodBench(): Promise<BenchRow[]> {
  const rows = await measure();
  writeResult(rows);
  return synfloodRows(rows);
}

function writeResult(rows: Row[]): void {
  mkdirSync(dirname(RESULT_PATH), { recursive: true });
  writeFileSync(RESULT_PATH, `${JSON.stringify({
    date: new Date().toISOString(), floodSeconds: FLOOD_SECONDS, floodMaxPackets: FLOOD_MAX_PACKETS, legitRequests: LEGIT_REQUESTS,
    nftRuleset: NFT_RULESET, rows,
  }, null, 2)}\n`);
}

async function main(): Promise<void> {
  const rows = await measure();
  printTable(rows);
  writeResult(rows);
  console.log(`written ${RESULT_PATH}`);
}

// Standalone (`npm run bench:synflood`); bench/run.ts imports runSynfloodBench instead.
if (process.argv[1] && pathToFileURL(resolve(process.argv[1])).href === import.meta.url) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : String(error));
    process.exitCode = 1;
  });
}
