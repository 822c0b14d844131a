// End to end: IPv6 FullNAT with two workers on af_packet. Two is a power of two, so the
// data plane asks each port's PMD for the rte_flow lport rules (core/flow_steering.cpp),
// IPv4 and IPv6; af_packet refuses both, and the start-up line must say so. Replies to the
// IPv6 LIPs then reach the worker owning their lport through the worker rings, and answers
// to one worker's neighbour solicitations teach the other (nd_advertisements_shared). The
// kernel spreads flows over the two queues by its own hash (PACKET_FANOUT_HASH), so about
// half of the replies land on the other worker. Needs root; run under
// `flock /tmp/pc-lab.lock` like every lab test.
import { suite } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { UDP_ECHO_PORT, VIP_V6 } from '../../src/lab/topology.js';
import { downloadChecked, httpUrl, udpEcho } from '../support/e2e-http.js';
import { clientTool, requireLab, sharedGateway, withTimeout } from '../support/e2e-lab.js';

interface Reply { ok: boolean; status?: number; body?: string; error?: string; ms: number }

const WORKERS = 2;
const REQUESTS = 100;
const LARGE_DOWNLOAD_BYTES = 50 * 1024 * 1024;

const e2e = suite('e2e: IPv6 FullNAT with two workers on af_packet fanout');
e2e.before(requireLab); // no root or a missing tool: every test fails, naming it

const gateway = sharedGateway((yaml) => {
  const edited = yaml.replace(/workers: 1, lcores: "0-1"/, `workers: ${WORKERS}, lcores: "0@0,1@0,2@1"`);
  if (edited === yaml) throw new Error('the demo config no longer has `workers: 1, lcores: "0-1"`: update this test');
  return edited;
}, undefined, { ipv6Services: true });
const running = () => gateway.running();
e2e.after(() => gateway.stop());

type Counters = { events: Record<string, bigint>; drops: Record<string, bigint> };

async function counters(): Promise<Counters> {
  const stats = await running().api.call('Stats', 'GetStats', {});
  const big = (record: unknown) => Object.fromEntries(Object.entries(record as Record<string, string>).map(([k, v]) => [k, BigInt(v)]));
  return { events: big(stats.events), drops: big(stats.drops) };
}

/** Counters once every hand-off was taken (they are counted when enqueued and when taken; bounded wait). */
async function settledCounters(): Promise<Counters> {
  let now = await counters();
  const deadline = Date.now() + 2_000;
  while (now.events['redirected_in'] !== now.events['redirected_out'] && Date.now() < deadline) now = await counters();
  return now;
}

const moved = (before: Counters, after: Counters, event: string) => after.events[event]! - before.events[event]!;

e2e('two workers: each port has two fanout queues, and af_packet refused the rte_flow rules for both families', async () => {
  const g = await gateway.start();
  const status = await g.api.call('Stats', 'GetStatus', {});
  assert.is(Number(status.workers), WORKERS);
  for (const port of ['outside', 'inside']) {
    assert.match(g.daemon.output(), new RegExp(`port ${port}: .*driver net_af_packet; ${WORKERS} queues: kernel PACKET_FANOUT_HASH ` +
      'spreads flows; no rte_flow lport steering on this device \\(IPv4 or IPv6\\): replies reaching another worker go through the worker rings'));
  }
});

e2e(`${REQUESTS} sequential HTTP requests to [VIP6]:80 all succeed; replies to the IPv6 LIPs reached their owners through the rings`, async () => {
  const before = await counters();
  const { replies } = await clientTool<{ replies: Reply[] }>(['sequential', httpUrl(VIP_V6), REQUESTS, 5_000], 120_000);
  replies.forEach((reply, index) => assert.ok(reply.ok, `request ${index} failed: ${reply.error ?? `status ${reply.status}`}`));
  const answers = replies.map((reply) => JSON.parse(reply.body ?? '{}') as { server?: string; peer?: string });
  assert.equal([...new Set(answers.map((a) => a.server))].sort(), ['rs1', 'rs2', 'rs3']);
  for (const answer of answers) assert.match(answer.peer ?? '', /^\[2001:db8:19::20[0-3]\]:\d+$/, `the server saw ${answer.peer}`);
  const after = await settledCounters();
  const handedOff = moved(before, after, 'redirected_out');
  console.log(`  IPv6, ${WORKERS} workers: ${moved(before, after, 'conns_created')} connections, ${handedOff} hand-offs ` +
    `(${moved(before, after, 'nd_advertisements_shared')} NA copies), forwarded out ${moved(before, after, 'packets_forwarded_out')}`);
  // Each connection's replies land on the other worker with probability 1/2: none handed over is impossible in practice.
  assert.ok(handedOff > 0n, 'some replies were handed over to their owner');
  assert.is(after.events['redirected_in'], after.events['redirected_out'], 'every hand-off was taken');
  assert.is(after.drops['redirect_ring_full'], 0n);
  assert.is(moved(before, after, 'conns_created'), BigInt(REQUESTS));
});

e2e('UDP echo over IPv6 with two workers: every datagram answered', async () => {
  const echo = await udpEcho(VIP_V6, UDP_ECHO_PORT, 20, 5_000);
  assert.equal(echo.missing, [], `missing echoes: ${echo.missing.join(', ')}`);
  assert.is(echo.echoes.length, 20);
});

e2e('a 50 MB download over IPv6 arrives intact across two workers', async () => {
  const reply = await withTimeout(downloadChecked(VIP_V6, 80, LARGE_DOWNLOAD_BYTES, 90_000), 100_000, 'download');
  assert.ok(reply.intact, `download: ${reply.error ?? reply.status}, ${reply.bytes} bytes, sha256 ${reply.sha256} (want ${reply.expectedSha256})`);
  console.log(`  50 MB over IPv6 in ${reply.ms} ms (${(LARGE_DOWNLOAD_BYTES / 1e6 / (reply.ms / 1000)).toFixed(1)} MB/s) with ${WORKERS} workers`);
});

e2e('the daemon stops cleanly', async () => {
  const ended = await withTimeout(running().daemon.stop(10_000), 15_000, 'daemon stop');
  assert.is(ended, 0);
});

e2e.run();
