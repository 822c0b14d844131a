// End to end: health checks through the exception path (DESIGN.md §3). The daemon runs
// the demo configuration with exception_path on the inside port, so its prober reaches
// the real servers from the root namespace through kernel interface pcx-inside. One real
// server's process is stopped: it is quiesced within fall × interval and gets no new
// connection while a download from another server goes on; started again, it is restored.
// Needs root and the lab's tools; without them every test fails, naming what is missing. Run under `flock /tmp/pc-lab.lock` like every lab test.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { suite } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { startRealServer } from '../../src/lab/lab.js';
import { patternSha256 } from '../../src/lab/pattern.js';
import { LAB_STATE_DIR, LOCAL_ADDRESSES, REAL_SERVERS, VIP } from '../../src/lab/topology.js';
import { clientTool, requireLab, sharedGateway, withTimeout } from '../support/e2e-lab.js';

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

async function answeringServers(count: number): Promise<string[]> {
  const { replies } = await clientTool<{ replies: Reply[] }>(['sequential', WEB, count, 3_000], 20_000 + count * 200);
  return replies.map((reply, index) => {
    assert.ok(reply.ok, `request ${index} failed: ${reply.error ?? `status ${reply.status}`}`);
    return (JSON.parse(reply.body ?? '') as { server: string }).server;
  });
}

/** Health per server address, read from GetVirtualService and checked against GetStats. */
async function healthOf(): Promise<Record<string, string>> {
  const service = await running().api.call('VirtualServices', 'GetVirtualService', { key: { protocol: 'TCP', vip: VIP, port: PORT } }) as
    { servers: { address: string; health: string }[] };
  const fromService = Object.fromEntries(service.servers.map((s) => [s.address, s.health]));
  const stats = await running().api.call('Stats', 'GetStats', {}) as
    { services: { key: { port: number }; servers: { address: string; health: string }[] }[] };
  const row = stats.services.find((s) => s.key.port === PORT);
  assert.ok(row, `GetStats has no row for port ${PORT}`);
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
    await sleep(CHECK.intervalMs * CHECK.fall + SLACK_MS);
    assert.is((await healthOf())[rs1!.addresses[0]!], 'down');
    const servers = await answeringServers(REQUESTS);
    assert.ok(!servers.includes('rs1'), `rs1 got new connections: ${servers.join(' ')}`);

    const reply = await withTimeout(slow, 45_000, 'slow download');
    assert.ok(reply.ok, `the download broke: ${reply.error ?? reply.status} after ${reply.bytes} bytes`);
    assert.is(reply.sha256, patternSha256(SLOW_BYTES));
  } finally {
    await slow.catch(() => undefined);
  }

  await startRealServer(rs1!);
  await sleep(CHECK.intervalMs * CHECK.rise + SLACK_MS);
  assert.is((await healthOf())[rs1!.addresses[0]!], 'up');
  assert.ok((await answeringServers(6)).includes('rs1'), 'rs1 receives traffic again');
});

e2e.run();
