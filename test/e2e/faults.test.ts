// End to end faults (issue 8), in the lab through the real af_packet ports:
//  - a real server that resets connections (nft "reject with tcp reset" inside its namespace):
//    its clients see a reset, the gateway counts tcp_resets_from_server, the other servers keep
//    serving, and a health check added afterwards takes it out;
//  - a real server that black-holes (nft drop): its clients time out, the half-open connections
//    expire (conns_expired), the others keep serving;
//  - the gateway's inside veth set down then up: the daemon logs and counts both changes
//    (GetStats link_up / link_changes), counts what it dropped meanwhile, and traffic resumes;
//  - kill -9 of the daemon running the lab: a new one starts on the same config with no manual
//    clean-up (stale socket, its pcx-inside tap, hugepage files) and has every service and
//    mitigation back.
// Needs root and the lab's tools; without them every test fails, naming what is missing. Run under `flock /tmp/pc-lab.lock` like every lab test.

import { execFile } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { suite } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { startDaemon } from '../../src/lab/daemon-process.js';
import { GATEWAY_INSIDE_IFACE, LOCAL_ADDRESSES, REAL_SERVERS, VIP } from '../../src/lab/topology.js';
import { clientTool, requireLab, runInNamespace, sharedGateway } from '../support/e2e-lab.js';

const run = promisify(execFile);

interface Reply { ok: boolean; status?: number; body?: string; error?: string; ms: number }
interface Stats {
  drops: Record<string, string>;
  events: Record<string, string>;
  ports: { name: string; linkUp: boolean; linkChanges: string; txErrors: string }[];
}

const RESET_PORT = 8092;
const HOLE_PORT = 8093;
const CHECK = { kind: 'tcp', intervalMs: 500, timeoutMs: 400, rise: 2, fall: 2 };
const SLACK_MS = 2_500;
const [rs1, rs2, rs3] = REAL_SERVERS;
const FAULT_TABLE = 'pcfault';

const e2e = suite('e2e: faults — resetting and black-holing servers, link flap, kill -9');
e2e.before(requireLab); // no root or a missing tool: every test fails, naming it

const gateway = sharedGateway((yaml) => yaml.replace(/(- \{ name: inside, )/, '$1exception_path: true, '));
const running = () => gateway.running();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function stats(): Promise<Stats> {
  return await running().api.call('Stats', 'GetStats', {}) as Stats;
}
const delta = (after: Record<string, string>, before: Record<string, string>, key: string) => Number(after[key] ?? 0) - Number(before[key] ?? 0);

/** GETs in a row from pc-client: which server answered each, or the error. */
async function requests(port: number, count: number, timeoutMs: number): Promise<{ servers: string[]; errors: string[] }> {
  const { replies } = await clientTool<{ replies: Reply[] }>(['sequential', `http://${VIP}:${port}/`, count, timeoutMs], 20_000 + count * (timeoutMs + 200));
  const servers: string[] = [];
  const errors: string[] = [];
  for (const reply of replies) {
    if (reply.ok) servers.push((JSON.parse(reply.body ?? '') as { server: string }).server);
    else errors.push(reply.error ?? `status ${reply.status}`);
  }
  return { servers, errors };
}

/** An nft table in the server's namespace applying `rule` to TCP port 80 input. */
async function addFault(namespace: string, rule: string): Promise<void> {
  const script = `table inet ${FAULT_TABLE} {\n chain input {\n type filter hook input priority 0;\n tcp dport 80 ${rule}\n }\n}\n`;
  const r = await runInNamespace(namespace, ['sh', '-c', `printf '${script}' | nft -f -`], 10_000);
  assert.is(r.code, 0, `nft in ${namespace}: ${r.stderr}`);
}

async function removeFault(namespace: string): Promise<void> {
  await runInNamespace(namespace, ['nft', 'delete', 'table', 'inet', FAULT_TABLE], 10_000);
}

function createService(port: number, timeouts: Record<string, number> = {}) {
  return running().api.call('VirtualServices', 'CreateVirtualService', {
    service: {
      key: { protocol: 'TCP', vip: VIP, port }, scheduler: 'rr', localAddresses: [...LOCAL_ADDRESSES], name: `e2e-fault-${port}`, timeouts,
      servers: REAL_SERVERS.map((server) => ({ address: server.addresses[0]!, port: 80, weight: 1 })),
    },
  });
}

async function healthOf(port: number): Promise<Record<string, string>> {
  const service = await running().api.call('VirtualServices', 'GetVirtualService', { key: { protocol: 'TCP', vip: VIP, port } }) as
    { servers: { address: string; health: string }[] };
  return Object.fromEntries(service.servers.map((s) => [s.address, s.health]));
}

async function eventually(what: string, check: () => Promise<boolean>, limitMs: number): Promise<void> {
  const end = Date.now() + limitMs;
  while (!(await check())) {
    if (Date.now() > end) assert.unreachable(`${what}: not within ${limitMs} ms\n--- daemon ---\n${running().daemon.output().slice(-4000)}`);
    await sleep(200);
  }
}

e2e.after(async () => {
  for (const server of REAL_SERVERS) await removeFault(server.namespace);
  await run('ip', ['link', 'set', GATEWAY_INSIDE_IFACE, 'up']).catch(() => undefined);
  await gateway.stop();
});

e2e('the lab comes up with the daemon; two services over rs1..rs3', async () => {
  await gateway.start();
  await createService(RESET_PORT);
  await createService(HOLE_PORT, { tcpSynRecv: 2 });
  const { servers, errors } = await requests(RESET_PORT, 3, 3_000);
  assert.equal(errors, []);
  assert.equal(new Set(servers), new Set(['rs1', 'rs2', 'rs3']));
});

e2e('rs2 answers every SYN with a reset: its clients see it, the gateway counts it, rs1/rs3 keep serving; a health check takes rs2 out', async () => {
  await addFault(rs2!.namespace, 'reject with tcp reset');
  try {
    const before = await stats();
    const { servers, errors } = await requests(RESET_PORT, 9, 3_000);
    const after = await stats();
    assert.ok(errors.length >= 1, `nobody was reset: ${servers.join(' ')}`);
    for (const error of errors) assert.match(error, /ECONNRESET|ECONNREFUSED|socket hang up/);
    assert.ok(!servers.includes('rs2'), `rs2 answered: ${servers.join(' ')}`);
    assert.is(servers.length + errors.length, 9);
    assert.ok(servers.length >= 5, `rs1/rs3 stopped serving: ${servers.join(' ')} / ${errors.join('; ')}`);
    assert.ok(delta(after.events, before.events, 'tcp_resets_from_server') >= errors.length,
      `tcp_resets_from_server +${delta(after.events, before.events, 'tcp_resets_from_server')} for ${errors.length} resets`);

    await running().api.call('VirtualServices', 'UpdateVirtualService', {
      service: { key: { protocol: 'TCP', vip: VIP, port: RESET_PORT }, scheduler: 'rr', localAddresses: [...LOCAL_ADDRESSES], healthCheck: CHECK },
    });
    await eventually('rs2 marked down', async () => (await healthOf(RESET_PORT))[rs2!.addresses[0]!] === 'down', CHECK.intervalMs * CHECK.fall + SLACK_MS * 2);
    const checked = await requests(RESET_PORT, 6, 3_000);
    assert.equal(checked.errors, [], 'with rs2 quiesced nobody is reset');
    assert.ok(!checked.servers.includes('rs2'));
  } finally {
    await removeFault(rs2!.namespace);
  }
  await eventually('rs2 back up', async () => (await healthOf(RESET_PORT))[rs2!.addresses[0]!] === 'up', CHECK.intervalMs * CHECK.rise + SLACK_MS * 2);
  assert.ok((await requests(RESET_PORT, 6, 3_000)).servers.includes('rs2'), 'rs2 serves again');
});

e2e('rs3 black-holes: its clients time out, the half-open connections expire and are counted, rs1/rs2 keep serving', async () => {
  await addFault(rs3!.namespace, 'drop');
  try {
    const before = await stats();
    const { servers, errors } = await requests(HOLE_PORT, 6, 1_500);
    assert.ok(errors.length >= 1, `nothing went to rs3: ${servers.join(' ')}`);
    for (const error of errors) assert.match(error, /no complete answer within|idle for/);
    assert.ok(!servers.includes('rs3'));
    assert.ok(servers.length >= 3, `rs1/rs2 stopped serving: ${servers.join(' ')}`);
    // tcp_syn_recv is 2 s for this service: the connections rs3 never answered time out.
    await eventually('the unanswered connections expire', async () =>
      delta((await stats()).events, before.events, 'conns_expired') >= errors.length, 10_000);
  } finally {
    await removeFault(rs3!.namespace);
  }
});

e2e(`${GATEWAY_INSIDE_IFACE} down then up: the daemon logs and counts both changes and the drops; traffic resumes`, async () => {
  const before = await stats();
  const inside = (s: Stats) => s.ports.find((p) => p.name === 'inside')!;
  assert.is(inside(before).linkUp, true);
  const changes = Number(inside(before).linkChanges);
  await run('ip', ['link', 'set', GATEWAY_INSIDE_IFACE, 'down']);
  try {
    await eventually('link down seen', async () => !inside(await stats()).linkUp, 5_000);
    const during = await requests(RESET_PORT, 2, 1_500);
    assert.is(during.servers.length, 0, `answered with the link down: ${during.servers.join(' ')}`);
    const down = await stats();
    // af_packet takes the frames and counts each failed send as a tx error of the port; once its
    // ring is full the rest are refused and dropped as tx_full.
    const txErrors = Number(inside(down).txErrors) - Number(inside(before).txErrors);
    const txFull = delta(down.drops, before.drops, 'tx_full');
    assert.ok(txErrors + txFull > 0, `nothing counted for the packets the dead link lost: tx errors +${txErrors}, tx_full +${txFull}`);
  } finally {
    await run('ip', ['link', 'set', GATEWAY_INSIDE_IFACE, 'up']);
  }
  await eventually('link up seen', async () => inside(await stats()).linkUp, 5_000);
  assert.is(Number(inside(await stats()).linkChanges), changes + 2);
  const output = running().daemon.output();
  assert.match(output, new RegExp(`port inside: link down \\(${GATEWAY_INSIDE_IFACE}\\)`));
  assert.match(output, new RegExp(`port inside: link up \\(${GATEWAY_INSIDE_IFACE}\\)`));
  await eventually('traffic resumes', async () => (await requests(RESET_PORT, 3, 2_000)).servers.length === 3, 15_000);
});

e2e('kill -9 of the daemon on the lab: the next start needs no clean-up and has services and mitigations back', async () => {
  const g = running();
  await g.api.call('Defense', 'Block', { prefix: '203.0.113.0/24', origin: { actor: 'e2e', reason: 'kill -9 test', duration: '1h' } });
  const hugepagesBefore = new Set(await readdir('/dev/hugepages').catch(() => [] as string[]));
  g.daemon.child.kill('SIGKILL');
  assert.is(await g.daemon.exited, 'SIGKILL');

  // What the dead daemon left: the socket file stays; its tap goes with its file descriptors.
  await eventually('pcx-inside gone with the process', async () =>
    (await run('ip', ['-o', 'link', 'show']).then((r) => r.stdout)).split('\n').every((line) => !/\bpcx-inside\b/.test(line)), 5_000);
  const leftover = (await readdir('/dev/hugepages').catch(() => [] as string[])).filter((f) => !hugepagesBefore.has(f));
  assert.equal(leftover, [], 'no hugepage files left by the killed daemon');

  const configPath = join(g.workDir, 'portcullis.yaml');
  g.daemon = await startDaemon({ configPath, socketPath: join(g.workDir, 'portcullis.sock'), stateFilePath: join(g.workDir, 'state.json'), readyTimeoutMs: 40_000 });
  // Only this port's interface counts: api suites running beside the lab have exception interfaces of their own.
  const links = (await run('ip', ['-o', 'link', 'show']).then((r) => r.stdout)).split('\n').filter((line) => /\bpcx-inside\b/.test(line));
  assert.is(links.length, 1, `exactly one exception interface for the port: ${links.join(' | ')}`);

  const services = await g.api.call('VirtualServices', 'ListVirtualServices', {}) as { services: { key: { port: number } }[] };
  const ports = services.services.map((s) => s.key.port);
  assert.ok(ports.includes(RESET_PORT) && ports.includes(HOLE_PORT), `services after restart: ${ports.join(', ')}`);
  const mitigations = await g.api.call('Defense', 'ListMitigations', {}) as { mitigations: { prefix: string; actor: string }[] };
  assert.equal(mitigations.mitigations.map((m) => [m.prefix, m.actor]), [['203.0.113.0/24', 'unix:e2e']]);
  await eventually('traffic through the restarted daemon', async () => (await requests(RESET_PORT, 3, 2_000)).servers.length === 3, 15_000);
  await eventually('health checks run again', async () => Object.values(await healthOf(RESET_PORT)).every((h) => h === 'up'), CHECK.intervalMs * CHECK.rise + SLACK_MS * 2);
});

e2e.run();
