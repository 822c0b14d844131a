// End to end: health checks through the exception path (DESIGN.md §3). The daemon runs
// the demo configuration with exception_path on the inside port, so its prober reaches
// the real servers from the root namespace through kernel interface pcx-inside. One real
// server's process is stopped: it is quiesced within fall × interval and gets no new
// connection while a download from another server goes on; started again, it is restored.
// The same over IPv6: pcx-inside holds the port's IPv6 address too, and an IPv6 service's
// HTTP checks reach the servers' IPv6 addresses (neighbour discovery through the data plane).
// ICMP comes back the same way: an icmp check keeps every server up (echo replies reach the
// kernel's ping), and a udp check of a closed port fails on the port-unreachable at once. A dns
// check (the lab servers answer DNS on UDP 53) takes a stopped server out and brings it back.
// Needs root and the lab's tools; without them every test fails, naming what is missing. Run under `flock /tmp/pc-lab.lock` like every lab test.

import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { suite } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { startRealServer } from '../../src/lab/lab.js';
import { patternSha256 } from '../../src/lab/pattern.js';
import {
  DNS_PORT, GATEWAY_INSIDE_ADDRESS_V6, LAB_STATE_DIR, LOCAL_ADDRESSES, LOCAL_ADDRESSES_V6, REAL_SERVERS, VIP, VIP_V6,
} from '../../src/lab/topology.js';
import { clientTool, requireLab, sharedGateway, withTimeout } from '../support/e2e-lab.js';
import { eventually } from '../support/eventually.js';

interface Reply { ok: boolean; status?: number; body?: string; bytes?: number; sha256?: string; error?: string; ms: number }

const PORT = 8090;
const WEB = `http://${VIP}:${PORT}/`;
const CHECK = { kind: 'http', intervalMs: 500, timeoutMs: 400, rise: 2, fall: 2 };
const SLACK_MS = 2_500;  // probe timeout, the apply and its adoption by the workers
const REQUESTS = 30;
const SLOW_BYTES = 6_000_000;  // paced at 1 MB/s: in flight during the whole outage

const e2e = suite('e2e: health checks through the exception path');
e2e.before(requireLab); // no root or a missing tool: every test fails, naming it

const gateway = sharedGateway((yaml) => yaml.replace(/(- \{ name: inside, )/, '$1exception_path: true, '));
const running = () => gateway.running();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const [rs1] = REAL_SERVERS;

async function answeringServers(count: number, web = WEB): Promise<string[]> {
  const { replies } = await clientTool<{ replies: Reply[] }>(['sequential', web, count, 3_000], 20_000 + count * 200);
  return replies.map((reply, index) => {
    assert.ok(reply.ok, `request ${index} failed: ${reply.error ?? `status ${reply.status}`}`);
    return (JSON.parse(reply.body ?? '') as { server: string }).server;
  });
}

/** Health per server address, read from GetVirtualService and checked against GetStats. */
async function healthOf(vip = VIP): Promise<Record<string, string>> {
  const service = await running().api.call('VirtualServices', 'GetVirtualService', { key: { protocol: 'TCP', vip, port: PORT } }) as
    { servers: { address: string; health: string }[] };
  const fromService = Object.fromEntries(service.servers.map((s) => [s.address, s.health]));
  const stats = await running().api.call('Stats', 'GetStats', {}) as
    { services: { key: { vip: string; port: number }; servers: { address: string; health: string }[] }[] };
  const row = stats.services.find((s) => s.key.port === PORT && s.key.vip === vip);
  assert.ok(row, `GetStats has no row for ${vip} port ${PORT}`);
  assert.equal(Object.fromEntries(row.servers.map((s) => [s.address, s.health])), fromService, 'GetStats shows the same health');
  return fromService;
}

e2e.after(() => gateway.stop());

e2e('the lab comes up; the daemon has pcx-inside; a service with an HTTP check sees every server up', async () => {
  const { api } = await gateway.start();
  await api.call('VirtualServices', 'CreateVirtualService', {
    service: {
      key: { protocol: 'TCP', vip: VIP, port: PORT }, scheduler: 'rr', localAddresses: [...LOCAL_ADDRESSES], name: 'e2e-health',
      servers: REAL_SERVERS.map((server) => ({ address: server.addresses[0]!, port: 80, weight: 1 })),
      healthCheck: CHECK,
    },
  });
  // Servers start up (src/health/verdict.ts): only time shows the checks pass, so this one waits
  // out the whole bound; a change of verdict below is polled for within the same bound.
  await sleep(CHECK.intervalMs * CHECK.rise + SLACK_MS);
  assert.equal(Object.values(await healthOf()), ['up', 'up', 'up']);
  assert.equal(new Set(await answeringServers(3)), new Set(['rs1', 'rs2', 'rs3']));
});

e2e(`rs1 stopped -> quiesced within fall × interval: ${REQUESTS} requests avoid it, a download from rs2 goes on; restarted -> traffic again`, async () => {
  // rr: once rs1 answered, the next connection (the download) goes to rs2.
  for (let i = 0; i < 3 && (await answeringServers(1))[0] !== 'rs1'; i++);
  const slow = clientTool<Reply>(['download', `${WEB}bytes/${SLOW_BYTES}?rate=1000000`, 30_000], 40_000);
  try {
    await sleep(300);
    const pid = Number((await readFile(join(LAB_STATE_DIR, `${rs1!.namespace}.pid`), 'utf8')).trim());
    process.kill(pid, 'SIGKILL');
    await eventually('rs1 marked down', async () => (await healthOf())[rs1!.addresses[0]!] === 'down', CHECK.intervalMs * CHECK.fall + SLACK_MS);
    const servers = await answeringServers(REQUESTS);
    assert.ok(!servers.includes('rs1'), `rs1 got new connections: ${servers.join(' ')}`);

    const reply = await withTimeout(slow, 45_000, 'slow download');
    assert.ok(reply.ok, `the download broke: ${reply.error ?? reply.status} after ${reply.bytes} bytes`);
    assert.is(reply.sha256, patternSha256(SLOW_BYTES));
  } finally {
    await slow.catch(() => undefined);
  }

  await startRealServer(rs1!);
  await eventually('rs1 marked up again', async () => (await healthOf())[rs1!.addresses[0]!] === 'up', CHECK.intervalMs * CHECK.rise + SLACK_MS);
  assert.ok((await answeringServers(6)).includes('rs1'), 'rs1 receives traffic again');
});

e2e('IPv6: pcx-inside has the port\'s IPv6 address; an IPv6 service\'s HTTP checks reach every server through it', async () => {
  const { stdout } = await promisify(execFile)('ip', ['-6', '-o', 'addr', 'show', 'dev', 'pcx-inside']);
  assert.match(stdout, new RegExp(`inet6 ${GATEWAY_INSIDE_ADDRESS_V6}/64 `), `pcx-inside: ${stdout}`);
  assert.not.match(stdout, /fe80:/, `no link-local address the data plane would not answer for: ${stdout}`);
  const before = await running().api.call('Stats', 'GetStats', {}) as { events: Record<string, string> };
  await running().api.call('VirtualServices', 'CreateVirtualService', {
    service: {
      key: { protocol: 'TCP', vip: VIP_V6, port: PORT }, scheduler: 'rr', localAddresses: [...LOCAL_ADDRESSES_V6], name: 'e2e-health-v6',
      servers: REAL_SERVERS.map((server) => ({ address: server.addresses6[0]!, port: 80, weight: 1 })),
      healthCheck: CHECK,
    },
  });
  await sleep(CHECK.intervalMs * CHECK.rise + SLACK_MS);
  assert.equal(Object.values(await healthOf(VIP_V6)), ['up', 'up', 'up'], 'every IPv6 server up by its check');
  assert.equal(new Set(await answeringServers(3, `http://[${VIP_V6}]:${PORT}/`)), new Set(['rs1', 'rs2', 'rs3']));
  const after = await running().api.call('Stats', 'GetStats', {}) as { events: Record<string, string> };
  const punted = BigInt(after.events['exception_punted']!) - BigInt(before.events['exception_punted']!);
  console.log(`  IPv6 checks: ${punted} frames punted to pcx-inside (check replies and neighbour advertisements)`);
  assert.ok(punted > 0n, 'the IPv6 check replies went to the kernel through the exception path');
});

/** Health per server address of a UDP service (GetVirtualService). */
async function udpHealthOf(port: number): Promise<Record<string, string>> {
  const service = await running().api.call('VirtualServices', 'GetVirtualService', { key: { protocol: 'UDP', vip: VIP, port } }) as
    { servers: { address: string; health: string }[] };
  return Object.fromEntries(service.servers.map((s) => [s.address, s.health]));
}

const eventCount = async (name: string): Promise<bigint> =>
  BigInt((await running().api.call('Stats', 'GetStats', {}) as { events: Record<string, string> }).events[name] ?? '0');

e2e('ICMP to the port address reaches the kernel: an icmp check keeps every server up, a udp check of a closed port fails on the refusal', async () => {
  const punted = await eventCount('exception_punted');
  // Servers start up; without the echo replies every ping would fail and fall 2 would take them down.
  await running().api.call('VirtualServices', 'CreateVirtualService', {
    service: {
      key: { protocol: 'UDP', vip: VIP, port: 8097 }, scheduler: 'rr', localAddresses: [...LOCAL_ADDRESSES], name: 'e2e-health-icmp',
      servers: REAL_SERVERS.map((server) => ({ address: server.addresses[0]!, port: 7, weight: 1 })),
      // ping is a process per probe: a timeout that a loaded 2-core box meets when spawning it
      healthCheck: { kind: 'icmp', intervalMs: 1_000, timeoutMs: 900, rise: 2, fall: 2 },
    },
  });
  await sleep(1_000 * 3 + SLACK_MS);
  const healthLines = () => running().daemon.output().split('\n').filter((line) => line.includes('health:')).slice(-6).join('\n');
  assert.equal(Object.values(await udpHealthOf(8097)), ['up', 'up', 'up'], `every server answers ping through pcx-inside; ${healthLines()}`);
  assert.ok(await eventCount('exception_punted') > punted, 'the echo replies were punted');

  // Port 9 is closed on the lab servers: the kernel answers port-unreachable. A long timeout
  // tells the refusal (at once, ECONNREFUSED) from silence (the whole timeout_ms).
  const check = { kind: 'udp', payload: 'ping', intervalMs: 4_500, timeoutMs: 4_000, rise: 1, fall: 1 };
  await running().api.call('VirtualServices', 'CreateVirtualService', {
    service: {
      key: { protocol: 'UDP', vip: VIP, port: 8099 }, scheduler: 'rr', localAddresses: [...LOCAL_ADDRESSES], name: 'e2e-health-refused',
      servers: [{ address: rs1!.addresses[0]!, port: 9, weight: 1 }], healthCheck: check,
    },
  });
  await eventually('the closed port\'s server goes down', async () => (await udpHealthOf(8099))[rs1!.addresses[0]!] === 'down',
    check.intervalMs + check.timeoutMs + SLACK_MS, 200);
  const downLine = running().daemon.output().split('\n').find((line) => line.includes(`${rs1!.addresses[0]!}:9 is down`));
  assert.ok(downLine, `no transition line for ${rs1!.addresses[0]!}:9 in the daemon output`);
  assert.match(downLine, /ECONNREFUSED/, 'the probe failed on the port-unreachable, not on silence');
});

e2e('a UDP service with a dns check: rs1 stopped -> down by the check; restarted -> up again', async () => {
  const port = 8053;
  const check = { kind: 'dns', queryName: 'health.lab', queryType: 'A', intervalMs: 500, timeoutMs: 400, rise: 2, fall: 2 };
  await running().api.call('VirtualServices', 'CreateVirtualService', {
    service: {
      key: { protocol: 'UDP', vip: VIP, port }, scheduler: 'rr', localAddresses: [...LOCAL_ADDRESSES], name: 'e2e-health-dns',
      servers: REAL_SERVERS.map((server) => ({ address: server.addresses[0]!, port: DNS_PORT, weight: 1 })), healthCheck: check,
    },
  });
  // Servers start up: only waiting shows that the checks pass (fall 2 would take a silent one down).
  await sleep(check.intervalMs * 3 + SLACK_MS);
  assert.equal(Object.values(await udpHealthOf(port)), ['up', 'up', 'up'], 'every lab server answers the DNS query NOERROR');

  const pid = Number((await readFile(join(LAB_STATE_DIR, `${rs1!.namespace}.pid`), 'utf8')).trim());
  process.kill(pid, 'SIGKILL');
  await eventually('rs1 down by its dns check', async () => (await udpHealthOf(port))[rs1!.addresses[0]!] === 'down',
    check.intervalMs * check.fall + SLACK_MS, 100);
  await startRealServer(rs1!);
  await eventually('rs1 up again by its dns check', async () => (await udpHealthOf(port))[rs1!.addresses[0]!] === 'up',
    check.intervalMs * check.rise + SLACK_MS, 100);
});

e2e.run();
