// End to end: real Linux TCP/UDP stacks in the lab's namespaces, through the
// real daemon (`node dist/src/cli/portcullis.js run --config …`, af_packet
// ports on pc-gw-out/pc-gw-in) and its gRPC API. Needs root and the lab's tools; without them every test fails, naming what is missing.
//
// The tests share one lab and one daemon and run in order: the first starts
// them (so a start-up failure is reported as a failure with the daemon's
// output, not swallowed by a hook), the last checks a clean SIGTERM exit,
// and the `after` hook always stops the daemon and removes the lab.

import { suite } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { parseConfig } from '../../src/config/load.js';
import { DEMO_IPV6_SERVICES, DEMO_NAT64_SERVICE, DEMO_PROXY_V6_SERVICE, demoConfigYaml } from '../../src/lab/demo-config.js';
import { patternSha256 } from '../../src/lab/pattern.js';
import { CLIENT, LOCAL_ADDRESSES, PROXY_HTTP_PORT, REAL_SERVERS, VIP } from '../../src/lab/topology.js';
import { clientTool, requireLab, runInNamespace, sharedGateway, withTimeout } from '../support/e2e-lab.js';

interface Reply { ok: boolean; status?: number; body?: string; bytes?: number; sha256?: string; error?: string; ms: number }
interface ServerAnswer { server: string; peer: string; path: string }

const WEB = `http://${VIP}/`;
const NEW_PORT = 8080;
const NEW_WEB = `http://${VIP}:${NEW_PORT}/`;
const LARGE_DOWNLOAD_BYTES = 50 * 1024 * 1024;

const e2e = suite('e2e: FullNAT through the lab');
e2e.before(requireLab); // no root or a missing tool: every test fails, naming it

const shared = sharedGateway();
const running = () => shared.running();

function answers(replies: Reply[]): ServerAnswer[] {
  return replies.map((reply, index) => {
    assert.ok(reply.ok, `request ${index} failed: ${reply.error ?? `status ${reply.status}`}`);
    return JSON.parse(reply.body ?? '') as ServerAnswer;
  });
}

function countByServer(list: ServerAnswer[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const answer of list) counts[answer.server] = (counts[answer.server] ?? 0) + 1;
  return counts;
}

function peerAddress(answer: ServerAnswer): string {
  return answer.peer.slice(0, answer.peer.lastIndexOf(':'));
}

async function noServiceDrops(): Promise<bigint> {
  const stats = await running().api.call('Stats', 'GetStats', {});
  const value = (stats.drops as Record<string, string>)['no_service'];
  assert.ok(value !== undefined, `GetStats has no no_service drop counter: ${JSON.stringify(stats.drops)}`);
  return BigInt(value);
}

e2e.after(() => shared.stop());

e2e('the lab comes up and the daemon prints `portcullis ready`', async () => {
  const gateway = await shared.start();
  assert.match(gateway.daemon.readyLine, /^portcullis ready: grpc unix:/);
  const stats = await gateway.api.call('Stats', 'GetStats', {});
  const keys = (stats.services as { key: { protocol: string; vip: string; port: number } }[]).map((s) => `${s.key.protocol} ${s.key.vip} ${s.key.port}`);
  // web, echo, web-proxy; with DEMO_IPV6_SERVICES also web-v6 and echo-v6 (and one per switch on: PROXY v6, NAT64).
  const expected = parseConfig(demoConfigYaml(), 'demo').services.map((s) => `${s.protocol.toUpperCase()} ${s.vip} ${s.port}`);
  assert.equal(keys.sort(), expected.sort(), 'the daemon runs exactly the demo config\'s services');
  assert.ok(expected.includes(`TCP ${VIP} 80`) && expected.includes(`UDP ${VIP} 7`) && expected.includes(`TCP ${VIP} ${PROXY_HTTP_PORT}`));
  assert.is(expected.length, 3 + (DEMO_IPV6_SERVICES ? 2 : 0) + (DEMO_PROXY_V6_SERVICE ? 1 : 0) + (DEMO_NAT64_SERVICE ? 1 : 0));
});

e2e('30 sequential HTTP requests are spread 10/10/10 and servers see a LIP, never the client', async () => {
  running();
  const result = await clientTool<{ replies: Reply[] }>(['sequential', WEB, 30, 5_000], 60_000);
  const list = answers(result.replies);
  assert.equal(countByServer(list), { rs1: 10, rs2: 10, rs3: 10 });
  for (const answer of list) {
    assert.ok((LOCAL_ADDRESSES as readonly string[]).includes(peerAddress(answer)),
      `${answer.server} saw ${answer.peer}, expected one of the LIPs ${LOCAL_ADDRESSES.join(', ')}`);
    assert.not.ok(CLIENT.addresses.includes(peerAddress(answer)), `${answer.server} saw the client address`);
  }
});

e2e('the demo\'s proxy_v2 service on :81: each server reads the client\'s own address and port', async () => {
  running();
  const seen = new Set<string>();
  for (let i = 0; i < 3; i++) {
    const r = await runInNamespace(CLIENT.namespace, ['curl', '-sS', '--max-time', '5', '-w', ' %{local_port}', `http://${VIP}:${PROXY_HTTP_PORT}/demo`], 10_000);
    assert.is(r.code, 0, `curl ${i}: ${r.stderr}`);
    const split = r.stdout.lastIndexOf(' ');
    const answer = JSON.parse(r.stdout.slice(0, split)) as { server: string; client: string };
    assert.is(answer.client, `${CLIENT.addresses[0]}:${r.stdout.slice(split + 1).trim()}`);
    seen.add(answer.server);
  }
  assert.is(seen.size, 3, `round-robin over the three servers: ${[...seen].join(', ')}`);
});

e2e('200 concurrent connections all succeed', async () => {
  running();
  const result = await clientTool<{ replies: Reply[]; ms: number }>(['concurrent', WEB, 200, 20_000], 40_000);
  const failures = result.replies.filter((reply) => !reply.ok);
  assert.is(failures.length, 0, `${failures.length} of 200 failed, e.g. ${JSON.stringify(failures.slice(0, 3))}`);
  const counts = countByServer(answers(result.replies));
  assert.is(Object.values(counts).reduce((sum, count) => sum + count, 0), 200);
  console.log(`  200 concurrent connections in ${result.ms} ms: ${JSON.stringify(counts)}`);
});

e2e('a 50 MB download arrives intact', async () => {
  running();
  const reply = await clientTool<Reply>(['download', `${WEB}bytes/${LARGE_DOWNLOAD_BYTES}`, 60_000], 70_000);
  assert.ok(reply.ok, `download failed: ${reply.error ?? reply.status} after ${reply.bytes} bytes`);
  assert.is(reply.bytes, LARGE_DOWNLOAD_BYTES);
  assert.is(reply.sha256, patternSha256(LARGE_DOWNLOAD_BYTES), 'sha256 of the received bytes');
  console.log(`  50 MB in ${reply.ms} ms (${(LARGE_DOWNLOAD_BYTES / 1e6 / (reply.ms / 1000)).toFixed(1)} MB/s)`);
});

e2e('UDP echo round-trips through the UDP service', async () => {
  running();
  const result = await clientTool<{ missing: string[]; echoes: { message: string; from: string }[] }>(
    ['udp', VIP, 7, 5, 3_000], 10_000);
  assert.equal(result.missing, [], 'every datagram echoed');
  for (const echo of result.echoes) assert.is(echo.from, `${VIP}:7`, 'echo comes back from the VIP');
});

e2e('a VS and a real server added over gRPC work at once; a flow in progress completes intact', async () => {
  const { api } = running();
  // ~4 s paced download: in flight during every change below.
  const slowBytes = 6_000_000;
  const slowStarted = Date.now();
  const slowDownload = clientTool<Reply>(['download', `${WEB}bytes/${slowBytes}?rate=1500000`, 30_000], 40_000);
  try {
    await new Promise((resolve) => setTimeout(resolve, 500));
    const [rs1, rs2, rs3] = REAL_SERVERS.map((server) => ({ address: server.addresses[0]!, port: 80, weight: 1 }));
    const key = { protocol: 'TCP', vip: VIP, port: NEW_PORT };
    await api.call('VirtualServices', 'CreateVirtualService', {
      service: { key, scheduler: 'rr', localAddresses: [...LOCAL_ADDRESSES], servers: [rs1, rs2], name: 'e2e-8080' },
    });
    const first = answers((await clientTool<{ replies: Reply[] }>(['sequential', NEW_WEB, 2, 3_000], 10_000)).replies);
    assert.equal(first.map((answer) => answer.server).sort(), ['rs1', 'rs2']);

    await api.call('VirtualServices', 'AddRealServer', { service: key, server: rs3 });
    const second = answers((await clientTool<{ replies: Reply[] }>(['sequential', NEW_WEB, 3, 3_000], 10_000)).replies);
    assert.equal(second.map((answer) => answer.server).sort(), ['rs1', 'rs2', 'rs3']);
    const changesDoneAfterMs = Date.now() - slowStarted;

    const slow = await withTimeout(slowDownload, 45_000, 'slow download');
    assert.ok(slow.ok, `the download in progress broke: ${slow.error ?? slow.status} after ${slow.bytes} bytes`);
    assert.is(slow.sha256, patternSha256(slowBytes));
    assert.ok(slow.ms > changesDoneAfterMs - 500, `the download (${slow.ms} ms) was still running during the changes (${changesDoneAfterMs} ms)`);
  } finally {
    await slowDownload.catch(() => undefined);
  }
});

e2e('deleting a VS stops its VIP:port answering and counts no_service drops', async () => {
  const { api } = running();
  const before = await noServiceDrops();
  await api.call('VirtualServices', 'DeleteVirtualService', { key: { protocol: 'TCP', vip: VIP, port: NEW_PORT } });
  const curl = await runInNamespace(CLIENT.namespace, ['curl', '-sS', '--max-time', '2', NEW_WEB], 10_000);
  assert.is.not(curl.code, 0, `curl to the deleted service succeeded: ${curl.stdout}`);
  const after = await noServiceDrops();
  assert.ok(after > before, `no_service went from ${before} to ${after}`);
  // The other service is untouched.
  const still = answers((await clientTool<{ replies: Reply[] }>(['sequential', WEB, 1, 3_000], 10_000)).replies);
  assert.is(still.length, 1);
});

e2e('the daemon exits 0 on SIGTERM', async () => {
  const ended = await running().daemon.stop(10_000);
  assert.is(ended, 0, `daemon ended with ${ended}; output tail:\n${running().daemon.output().slice(-2000)}`);
});

e2e.run();
