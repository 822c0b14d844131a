// End to end (issue 14 item 9): the daemon runs the lab with health checks whose every probe
// throws inside Node (test/support/throwing-probes.mjs, preloaded through NODE_OPTIONS), and is
// sent one unhandled rejection and one uncaught exception. It must still forward: curl-like
// requests from pc-client through the VIP reach every real server, and it still answers gRPC.
// Needs root and the lab's tools (without them every test fails, naming what is missing). Run
// under `flock /tmp/pc-lab.lock` like every lab test.

import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { suite } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { LOCAL_ADDRESSES, REAL_SERVERS, VIP } from '../../src/lab/topology.js';
import { clientTool, requireLab, sharedGateway } from '../support/e2e-lab.js';
import { REPO_ROOT } from '../api/daemon.js';

interface Reply { ok: boolean; status?: number; body?: string; error?: string }

const PORT = 8091;
const WEB = `http://${VIP}:${PORT}/`;
// fall = rise = 1: a probe failure counted as "down" would quiesce a server at once.
const CHECK = { kind: 'http', path: '/', intervalMs: 300, timeoutMs: 200, rise: 1, fall: 1 };
const PRELOAD = pathToFileURL(join(REPO_ROOT, 'test/support/throwing-probes.mjs')).href;

const e2e = suite('e2e: the daemon survives throwing probes and unhandled errors, and keeps forwarding');
e2e.before(requireLab); // no root or a missing tool: every test fails, naming it

const gateway = sharedGateway((yaml) => yaml.replace(/(- \{ name: inside, )/, '$1exception_path: true, '));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
e2e.after(() => gateway.stop());

e2e('probes throw for 3 s, then a rejection and an exception nobody handles: every server stays up, traffic flows, gRPC answers', async () => {
  // Only the processes started now (lab servers, the daemon) get the preload; it touches nothing but
  // the prober's requests and SIGUSR2.
  const before = process.env.NODE_OPTIONS;
  process.env.NODE_OPTIONS = `${before ?? ''} --import=${PRELOAD}`.trim();
  let started;
  try {
    started = await gateway.start();
  } finally {
    if (before === undefined) delete process.env.NODE_OPTIONS;
    else process.env.NODE_OPTIONS = before;
  }
  const { api, daemon } = started;
  await api.call('VirtualServices', 'CreateVirtualService', {
    service: {
      key: { protocol: 'TCP', vip: VIP, port: PORT }, scheduler: 'rr', localAddresses: [...LOCAL_ADDRESSES], name: 'e2e-survives',
      servers: REAL_SERVERS.map((server) => ({ address: server.addresses[0]!, port: 80, weight: 1 })),
      healthCheck: CHECK,
    },
  });
  await sleep(3_000);
  daemon.child.kill('SIGUSR2');
  await sleep(500);
  assert.is(daemon.child.exitCode, null, `the daemon exited:\n${daemon.output()}`);

  const stats = await api.call('Stats', 'GetStats', {}) as { events: Record<string, string>; services: { key: { port: number }; servers: { health: string }[] }[] };
  assert.is(stats.events.control_unhandled_rejections, '1');
  assert.is(stats.events.control_uncaught_exceptions, '1');
  // 3 s at a 300 ms interval is ~10 rounds of 3 probes; at least one per server per second even
  // when this shared box delays the timers (24 of 30 seen under a full test run).
  assert.ok(Number(stats.events.health_probes_unknown) >= 3 * 3, `health_probes_unknown ${stats.events.health_probes_unknown}`);
  assert.equal(stats.services.find((s) => s.key.port === PORT)!.servers.map((s) => s.health), ['up', 'up', 'up']);

  const { replies } = await clientTool<{ replies: Reply[] }>(['sequential', WEB, 6, 3_000], 30_000);
  const servers = replies.map((reply, index) => {
    assert.ok(reply.ok, `request ${index} through the VIP failed: ${reply.error ?? `status ${reply.status}`}`);
    return (JSON.parse(reply.body ?? '') as { server: string }).server;
  });
  assert.equal(new Set(servers), new Set(['rs1', 'rs2', 'rs3']), 'forwarded to every real server');
});

e2e.run();
