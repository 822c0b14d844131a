// End to end over IPv6: the demo's IPv6 FullNAT services ([2001:db8:18::10]:80/tcp and :7/udp,
// IPv6 LIPs ::200-::203, IPv6 servers) through the real daemon on the lab's af_packet ports,
// with the Linux TCP/UDP stacks of the lab's namespaces at both ends. The same checks as the
// IPv4 suite (fullnat.test.ts), plus what only IPv6 has to get right: the servers see an IPv6
// LIP, the hop limit goes down by one through the gateway and the pseudo-header checksums of
// the rewritten segments are right on the wire (seen by captures on both segments).
// Needs root and the lab's tools; run under `flock /tmp/pc-lab.lock` like every lab test.

import { suite } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { CLIENT, LOCAL_ADDRESSES_V6, REAL_SERVERS, UDP_ECHO_PORT, VIP, VIP_V6 } from '../../src/lab/topology.js';
import { describePacket, startDecodedCapture, type CapturedPacket } from '../support/e2e-capture.js';
import { curlIn, downloadChecked, httpUrl, peerAddress, udpEcho, type ServerAnswer } from '../support/e2e-http.js';
import { clientTool, requireLab, sharedGateway } from '../support/e2e-lab.js';

interface Reply { ok: boolean; status?: number; body?: string; error?: string }

const WEB_V6 = httpUrl(VIP_V6);
const LARGE_DOWNLOAD_BYTES = 50 * 1024 * 1024;
const RS1 = REAL_SERVERS[0]!;
const LIPS_V6: readonly string[] = LOCAL_ADDRESSES_V6;

const e2e = suite('e2e: IPv6 FullNAT through the lab');
e2e.before(requireLab); // no root or a missing tool: every test fails, naming it

// The IPv6 services asked for explicitly: this suite tests them whatever the demo's switch says.
const shared = sharedGateway(undefined, undefined, { ipv6Services: true });
const running = () => shared.running();
e2e.after(() => shared.stop());

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

e2e('the lab comes up and the daemon runs the IPv6 services beside the IPv4 ones', async () => {
  const gateway = await shared.start();
  assert.match(gateway.daemon.readyLine, /^portcullis ready: grpc unix:/);
  const listed = await gateway.api.call('VirtualServices', 'ListVirtualServices', {});
  const keys = (listed.services as { key: { protocol: string; vip: string; port: number } }[]).map((s) => `${s.key.protocol} ${s.key.vip} ${s.key.port}`);
  for (const key of [`TCP ${VIP_V6} 80`, `UDP ${VIP_V6} ${UDP_ECHO_PORT}`, `TCP ${VIP} 80`]) {
    assert.ok(keys.includes(key), `no service ${key}: ${keys.join(', ')}`);
  }
});

e2e('30 sequential requests to [VIP]:80 are spread 10/10/10 and every server sees an IPv6 LIP, never the client', async () => {
  running();
  const result = await clientTool<{ replies: Reply[] }>(['sequential', WEB_V6, 30, 5_000], 60_000);
  const list = answers(result.replies);
  assert.equal(countByServer(list), { rs1: 10, rs2: 10, rs3: 10 });
  for (const answer of list) {
    assert.match(answer.peer, /^\[2001:db8:19::20[0-3]\]:\d+$/, `${answer.server} saw ${answer.peer}`);
    assert.ok(LIPS_V6.includes(peerAddress(answer)), `${answer.server} saw ${answer.peer}, expected one of the LIPs ${LIPS_V6.join(', ')}`);
    assert.not.ok(CLIENT.addresses6.includes(peerAddress(answer)), `${answer.server} saw the client address`);
  }
});

e2e('200 concurrent IPv6 connections are all answered', async () => {
  running();
  const result = await clientTool<{ replies: Reply[]; ms: number }>(['concurrent', WEB_V6, 200, 20_000], 40_000);
  const failures = result.replies.filter((reply) => !reply.ok);
  assert.is(failures.length, 0, `${failures.length} of 200 failed, e.g. ${JSON.stringify(failures.slice(0, 3))}`);
  const counts = countByServer(answers(result.replies));
  assert.is(Object.values(counts).reduce((sum, count) => sum + count, 0), 200);
  assert.is(Object.keys(counts).length, 3, `all three servers answered: ${JSON.stringify(counts)}`);
  console.log(`  200 concurrent IPv6 connections in ${result.ms} ms: ${JSON.stringify(counts)}`);
});

e2e('a 50 MB download over IPv6 arrives intact (sha256)', async () => {
  running();
  const download = await downloadChecked(VIP_V6, 80, LARGE_DOWNLOAD_BYTES, 60_000);
  assert.ok(download.ok, `download failed: ${download.error ?? download.status} after ${download.bytes} bytes`);
  assert.is(download.bytes, LARGE_DOWNLOAD_BYTES);
  assert.is(download.sha256, download.expectedSha256, 'sha256 of the received bytes');
  console.log(`  50 MB over IPv6 in ${download.ms} ms (${(LARGE_DOWNLOAD_BYTES / 1e6 / (download.ms / 1000)).toFixed(1)} MB/s)`);
});

e2e('UDP echo round-trips over IPv6, answered from [VIP]:7', async () => {
  running();
  const echo = await udpEcho(VIP_V6, UDP_ECHO_PORT, 6, 3_000);
  assert.equal(echo.missing, [], 'every datagram echoed');
  for (const reply of echo.echoes) assert.is(reply.from, `[${VIP_V6}]:${UDP_ECHO_PORT}`, 'the echo comes back from the VIP');
});

e2e('on the wire: hop limit one less on each side of the gateway, TCP and UDP checksums right after the rewrite', async () => {
  running();
  const rs1 = RS1.addresses6[0]!;
  const client = CLIENT.addresses6[0]!;
  const [outside, inside] = await Promise.all([
    startDecodedCapture(CLIENT.namespace, 'eth0', { maxSeconds: 20, maxFrames: 400 }),
    startDecodedCapture(RS1.namespace, 'eth0', { maxSeconds: 20, maxFrames: 400 }),
  ]);
  let seenOutside: CapturedPacket[] = [];
  let seenInside: CapturedPacket[] = [];
  try {
    // Three connections of each protocol under rr: one of each lands on rs1 (a UDP connection is
    // one client socket, so three sockets, one datagram each).
    for (let i = 0; i < 3; i++) {
      const curl = await curlIn(CLIENT.namespace, httpUrl(VIP_V6, 80, `/hop-${i}`));
      assert.is(curl.code, 0, `curl ${i}: ${curl.stderr}`);
      const echo = await udpEcho(VIP_V6, UDP_ECHO_PORT, 1, 3_000);
      assert.equal(echo.missing, [], `datagram ${i} echoed`);
    }
  } finally {
    [seenOutside, seenInside] = await Promise.all([outside.stop(), inside.stop()]);
  }
  const listing = (packets: CapturedPacket[]) => packets.slice(0, 30).map(describePacket).join('\n  ');
  const v6 = (packets: CapturedPacket[]) => packets.filter((p) => p.family === 6 && (p.tcp || p.udp));

  // Client side: what the client sent to the VIP, and what came back from it.
  const sent = v6(seenOutside).filter((p) => p.outgoing && p.src === client && p.dst === VIP_V6);
  const returned = v6(seenOutside).filter((p) => !p.outgoing && p.src === VIP_V6 && p.dst === client);
  // Server side: from an IPv6 LIP to rs1, and rs1's replies to that LIP.
  const arrived = v6(seenInside).filter((p) => !p.outgoing && LIPS_V6.includes(p.src) && p.dst === rs1);
  const answered = v6(seenInside).filter((p) => p.outgoing && p.src === rs1 && LIPS_V6.includes(p.dst));
  for (const [what, packets, seen] of [['client → VIP', sent, seenOutside], ['VIP → client', returned, seenOutside],
    ['LIP → rs1', arrived, seenInside], ['rs1 → LIP', answered, seenInside]] as const) {
    assert.ok(packets.some((p) => p.tcp) && packets.some((p) => p.udp), `${what}: TCP and UDP packets expected:\n  ${listing(seen)}`);
  }
  assert.not.ok(v6(seenInside).some((p) => CLIENT.addresses6.includes(p.src) || CLIENT.addresses6.includes(p.dst)),
    `the client's address reached the inside segment:\n  ${listing(seenInside)}`);

  // Each host sends with its own hop limit; the gateway is one hop, so the far side sees one less.
  const hopLimits = (packets: CapturedPacket[]) => [...new Set(packets.map((p) => p.hopLimit))];
  const [clientHops, serverHops] = [hopLimits(sent), hopLimits(answered)];
  assert.is(clientHops.length, 1, `the client sends with one hop limit: ${clientHops.join(', ')}`);
  assert.is(serverHops.length, 1, `rs1 sends with one hop limit: ${serverHops.join(', ')}`);
  assert.equal(hopLimits(arrived), [clientHops[0]! - 1], `rs1 receives the client's hop limit minus one:\n  ${listing(seenInside)}`);
  assert.equal(hopLimits(returned), [serverHops[0]! - 1], `the client receives rs1's hop limit minus one:\n  ${listing(seenOutside)}`);

  // What the gateway wrote: its checksums over the new pseudo-header (LIP/server, VIP/client).
  for (const p of [...arrived, ...returned]) {
    const checksumOk = p.tcp ? p.tcp.checksumOk : p.udp!.checksumOk;
    assert.is(checksumOk, true, `bad checksum after the rewrite: ${describePacket(p)}`);
  }
  const ports = arrived.filter((p) => p.tcp).map((p) => p.tcp!.dstPort);
  assert.ok(ports.every((port) => port === 80), `TCP to rs1's port 80: ${ports.join(', ')}`);
});

e2e('the IPv4 services still answer beside the IPv6 ones', async () => {
  running();
  const curl = await curlIn(CLIENT.namespace, httpUrl(VIP));
  assert.is(curl.code, 0, `curl over IPv4: ${curl.stderr}`);
  assert.match(curl.answer?.peer ?? '', /^198\.19\.0\.20[0-3]:\d+$/);
});

e2e('the daemon exits 0 on SIGTERM', async () => {
  const ended = await running().daemon.stop(10_000);
  assert.is(ended, 0, `daemon ended with ${ended}; output tail:\n${running().daemon.output().slice(-2000)}`);
});

e2e.run();
