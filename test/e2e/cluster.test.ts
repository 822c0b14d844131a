// End to end, issue 17: a cluster of two gateways behind an edge router. Each gateway daemon
// runs in its own namespace with the `cluster` section (src/lab/cluster-config.ts): its managed
// gobgpd announces the VIP to BIRD on the edge router, whose only routes to the VIP are those
// BGP routes, merged into an ECMP route hashed on layer 4. Real TCP stacks throughout: the
// client, the edge's kernel, the real servers. Proves: both gateways announce and the edge has
// two next hops; new connections spread over both; paced downloads survive a drain of either
// gateway, and the undrain that moves flows back (moved flows are handed to their owner);
// `kill -9` of a gateway loses its next hop within the hold time and the other takes new
// connections; every real server down by its health check withdraws the VIP from both nodes.
// Operated through the CLI as an operator would: `portcullis drain|undrain|cluster status --socket`.
// Needs root, the lab's tools, bird2 and gobgpd; run under `flock /tmp/pc-lab.lock`.

import { readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { suite } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { parsePids, startRealServer } from '../../src/lab/lab.js';
import { patternSha256 } from '../../src/lab/pattern.js';
import {
  CLUSTER_GATEWAYS, CLUSTER_HOLD_TIME, CLUSTER_LAB_STATE_DIR, CLUSTER_REAL_SERVERS, CLUSTER_VIP, EDGE,
} from '../../src/lab/cluster-topology.js';
import { CLUSTER_HEALTH_CHECK } from '../../src/lab/cluster-config.js';
import type { ClusterNodeProcess } from '../../src/lab/cluster-nodes.js';
import {
  birdSessions, clusterClient, edgeNextHops, edgeRouteText, mustPortcullis, nodeEstablished, requireClusterLab, sharedCluster,
  spreadOf, waitFor, type Reply,
} from '../support/cluster-lab.js';

const e2e = suite('e2e: a cluster of two gateways behind a BIRD edge router (BGP, ECMP, drain, failover)');
e2e.before(requireClusterLab);

const cluster = sharedCluster();
e2e.after(() => cluster.stop());

const URL = `http://${CLUSTER_VIP}/`;
const [gw1, gw2] = CLUSTER_GATEWAYS as [typeof CLUSTER_GATEWAYS[0], typeof CLUSTER_GATEWAYS[0]];
const BOTH = [gw1.nodeAddress, gw2.nodeAddress].join();
/** A route change reaches the edge's kernel this long after the announce/withdraw at most (BIRD, gobgpd, our poll). */
const ROUTE_SLACK_MS = 3_000;
/**
 * The hold timer runs from the last keepalive BIRD received (≤ 1 s before the kill), so the route
 * goes ≤ 3 s after the kill; BIRD's timer tick, the kernel update and our `ip route` poll (50 ms,
 * a process spawn each on a loaded 2-CPU box) add up to a few hundred ms: 2.2–2.8 s measured,
 * once just over 3 s.
 */
const HOLD_EXPIRY_SLACK_MS = 500;
const DOWNLOADS = 20;
/** Paced at 100 kB/s, 2.2 MB lasts 22 s: over 20 s, through both drains. */
const DOWNLOAD_RATE = 100_000;
const DOWNLOAD_BYTES = 2_200_000;
const DOWNLOAD_URL = `${URL}bytes/${DOWNLOAD_BYTES}?rate=${DOWNLOAD_RATE}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function node(name: string): ClusterNodeProcess {
  const found = cluster.running().nodes.find((n) => n.gateway.name === name);
  if (!found) throw new Error(`no node ${name}`);
  return found;
}

async function waitForNextHops(expected: string, timeoutMs: number, what: string): Promise<number> {
  const started = Date.now();
  await waitFor(async () => ((await edgeNextHops()).join() === expected ? true : undefined), timeoutMs,
    async () => `${what}: expected next hops [${expected}], the edge has: ${await edgeRouteText()}`, 50);
  return Date.now() - started;
}

async function newConnections(count: number): Promise<Record<string, number>> {
  const { replies } = await clusterClient<{ replies: Reply[] }>(['concurrent', URL, count, 5_000], 15_000);
  return spreadOf(replies);
}

function checkDownloads(label: string, replies: Reply[]): void {
  const expected = patternSha256(DOWNLOAD_BYTES);
  assert.is(replies.length, DOWNLOADS);
  replies.forEach((reply, index) => {
    assert.ok(reply.ok, `${label} download ${index}: ${reply.error ?? `status ${reply.status}`} after ${reply.bytes ?? 0} bytes`);
    assert.is(reply.bytes, DOWNLOAD_BYTES, `${label} download ${index}: size`);
    assert.is(reply.sha256, expected, `${label} download ${index}: sha256`);
    assert.ok(reply.ms >= 20_000, `${label} download ${index} lasted ${reply.ms} ms: expected a paced download of 20 s or more`);
  });
}

e2e('both gateways announce the VIP by their own BGP speaker: BIRD has both sessions Established, the edge two next hops', async () => {
  await cluster.start();
  await waitFor(async () => {
    const sessions = await birdSessions();
    return sessions['gw1'] === 'Established' && sessions['gw2'] === 'Established' ? sessions : undefined;
  }, 20_000, async () => `BIRD sessions ${JSON.stringify(await birdSessions())}`);
  await waitForNextHops(BOTH, 10_000, 'both announce');
  console.log(`  edge: ${(await edgeRouteText()).replace(/\s+/g, ' ')}`);
  for (const name of ['gw1', 'gw2']) {
    const status = await mustPortcullis(['cluster', 'status', '--socket', node(name).paths.socket]);
    assert.match(status, EDGE.nodeAddress, `${name}'s cluster status names its peer`);
    assert.match(status, `${CLUSTER_VIP}/32`, `${name}'s cluster status shows the VIP announced`);
  }
});

e2e('two data planes on one host share no DPDK file: neither daemon holds anything under /var/run/dpdk (no --file-prefix needed)', async () => {
  for (const running of cluster.running().nodes) {
    const pid = running.daemon.pid;
    const fds = await readdir(`/proc/${pid}/fd`);
    const targets = await Promise.all(fds.map((fd) => readlink(`/proc/${pid}/fd/${fd}`).catch(() => '')));
    const maps = await readFile(`/proc/${pid}/maps`, 'utf8');
    const shared = [...targets, ...maps.split('\n')].filter((target) => target.includes('/var/run/dpdk') || target.includes('/run/dpdk'));
    assert.equal(shared, [], `${running.gateway.name} (pid ${pid}) holds DPDK runtime files`);
    assert.ok(targets.some((target) => target.startsWith('socket:')), `${running.gateway.name}'s fds were read (sanity)`);
  }
});

e2e('60 new connections from one client address spread over both gateways', async () => {
  cluster.running();
  const spread = await newConnections(60);
  console.log(`  spread of 60 connections: ${JSON.stringify(spread)}`);
  // Binomial(60, 1/2): fewer than 12 on one side has a probability below 1e-5.
  for (const name of ['gw1', 'gw2']) assert.ok((spread[name] ?? 0) >= 12, `${name} served ${spread[name] ?? 0} of 60`);
});

/** The `name value` counters `portcullis cluster status` prints on its last line. */
function statusCounters(status: string): Record<string, number> {
  const counters: Record<string, number> = {};
  for (const [, name, value] of status.matchAll(/\b([a-z][a-z0-9_]+) (\d+)\b/g)) counters[name!] = Number(value);
  return counters;
}

e2e(`${DOWNLOADS} paced downloads over both gateways survive a drain of gw1, its undrain (flows moved back go to their owner) and a drain of gw2`, async () => {
  cluster.running();
  const first = clusterClient<{ replies: Reply[] }>(['downloads', DOWNLOAD_URL, DOWNLOADS, 60_000], 60_000);
  let second: Promise<{ replies: Reply[] }> | undefined;
  let drainWait: Promise<string> | undefined;
  try {
    await sleep(2_000);
    const held = { gw1: await nodeEstablished(node('gw1')), gw2: await nodeEstablished(node('gw2')) };
    console.log(`  established connections per node with the first ${DOWNLOADS} downloads running: ${JSON.stringify(held)}`);
    assert.is(held.gw1 + held.gw2, DOWNLOADS, `every download is one established connection on one node: ${JSON.stringify(held)}`);
    // Binomial(20, 1/2): fewer than 3 on one side has a probability below 5e-4.
    assert.ok(held.gw1 >= 3 && held.gw2 >= 3, `the downloads spread over both nodes: ${JSON.stringify(held)}`);

    await mustPortcullis(['drain', '--socket', node('gw1').paths.socket]);
    console.log(`  drain gw1: its next hop left the edge after ${await waitForNextHops(gw2.nodeAddress, ROUTE_SLACK_MS, 'gw1 drained')} ms`);
    assert.equal(await newConnections(20), { gw2: 20 }, 'new connections during the drain of gw1 all reach gw2');
    // Long flows owned by gw2: after the undrain the edge moves about half of them to gw1, which must hand them back.
    second = clusterClient<{ replies: Reply[] }>(['downloads', DOWNLOAD_URL, DOWNLOADS, 60_000], 60_000);
    await sleep(2_000);

    await mustPortcullis(['undrain', '--socket', node('gw1').paths.socket]);
    await waitForNextHops(BOTH, ROUTE_SLACK_MS, 'gw1 undrained');
    await sleep(3_000);

    // As an operator would: drain and wait for gw2's own connections (half the second downloads) to finish.
    drainWait = mustPortcullis(['drain', '--wait', '--timeout', '90s', '--socket', node('gw2').paths.socket], 100_000);
    console.log(`  drain gw2: its next hop left the edge after ${await waitForNextHops(gw1.nodeAddress, ROUTE_SLACK_MS, 'gw2 drained')} ms`);
    assert.equal(await newConnections(20), { gw1: 20 }, 'new connections during the drain of gw2 all reach gw1');
    const status = await mustPortcullis(['cluster', 'status', '--socket', node('gw2').paths.socket]);
    console.log(`  gw2 drained, its status:\n${status.trimEnd().split('\n').map((line) => `    ${line}`).join('\n')}`);
    // gw2 handed gw1's flows back while gw1 was drained and took its own back while it is: both ways moved,
    // over a sync that nothing rejected (a frame reaching the kernel twice would show up as replays).
    const counters = statusCounters(status);
    for (const name of ['handoff_sent', 'handoff_received', 'sync_messages_received', 'sync_records_learned']) {
      assert.ok((counters[name] ?? 0) > 0, `gw2's ${name} moved: ${counters[name]}`);
    }
    for (const [name, value] of Object.entries(counters)) {
      if (name.startsWith('sync_rejected_') || name.startsWith('handoff_dropped_')) assert.is(value, 0, `gw2's ${name}`);
    }

    checkDownloads('first', (await first).replies);
    checkDownloads('second', (await second).replies);
    const waited = await drainWait;
    assert.match(waited, /drained, [1-9]\d* connection\(s\) remaining/, `drain --wait saw gw2's connections first:\n${waited}`);
    assert.match(waited, /no connections remain/, `drain --wait returned once gw2 had none left:\n${waited}`);
    console.log(`  drain --wait on gw2: ${waited.trim().split('\n').length} lines, from "${waited.split('\n')[0]}" to "${waited.trim().split('\n').at(-1)}"`);
  } finally {
    await first.catch(() => undefined);
    await second?.catch(() => undefined);
    await mustPortcullis(['undrain', '--socket', node('gw2').paths.socket]).catch(() => undefined);
    await drainWait?.catch(() => undefined);
  }
  await waitForNextHops(BOTH, ROUTE_SLACK_MS, 'gw2 undrained');
});

async function serverPid(namespace: string): Promise<number> {
  const pid = parsePids(await readFile(join(CLUSTER_LAB_STATE_DIR, `${namespace}.pid`), 'utf8'))[0];
  if (pid === undefined) throw new Error(`no pid recorded for the real server in ${namespace}`);
  return pid;
}

e2e('every real server down by its health check: the VIP is withdrawn from both nodes; back up: announced again', async () => {
  cluster.running();
  for (const server of CLUSTER_REAL_SERVERS) process.kill(await serverPid(server.namespace), 'SIGKILL');
  const down = CLUSTER_HEALTH_CHECK.intervalMs * CLUSTER_HEALTH_CHECK.fall;
  try {
    const withdrawn = await waitForNextHops('', down + CLUSTER_HEALTH_CHECK.timeoutMs + ROUTE_SLACK_MS, 'every server down');
    console.log(`  the edge lost its route to the VIP ${withdrawn} ms after the servers stopped`);
  } finally {
    for (const server of CLUSTER_REAL_SERVERS) await startRealServer(server, CLUSTER_LAB_STATE_DIR);
  }
  await waitForNextHops(BOTH, CLUSTER_HEALTH_CHECK.intervalMs * CLUSTER_HEALTH_CHECK.rise + ROUTE_SLACK_MS, 'servers back');
  // Announced again must mean serving again: batches of 10 new connections until one all succeeds.
  const announcedAt = Date.now();
  let failed: string[] = [];
  await waitFor(async () => {
    const { replies } = await clusterClient<{ replies: Reply[] }>(['concurrent', URL, 10, 1_000], 10_000);
    failed = replies.filter((reply) => !reply.ok).map((reply) => reply.error ?? String(reply.status));
    return failed.length === 0 ? true : undefined;
  }, 5_000, () => Promise.resolve(`new connections still fail after the VIP is back: ${failed.join('; ')}`));
  console.log(`  VIP back on both: every new connection succeeds ${Date.now() - announcedAt} ms after the second next hop returned`);
});

const PROBE_TIMEOUT_MS = 1_000;

e2e(`kill -9 of gw2: its next hop leaves the edge within the hold time (${CLUSTER_HOLD_TIME} s), new connections through gw1 succeed within it + 1 s`, async () => {
  const victim = node('gw2');
  // A new connection every 100 ms from before the kill to well after it (1 s timeout each). The
  // client process needs a moment to start (node + tsx in the namespace): the kill waits for it.
  const probing = clusterClient<{ replies: (Reply & { at: number })[] }>(['probe', URL, 12_000, 100, PROBE_TIMEOUT_MS], 25_000);
  let gone = 0;
  let killedAt = 0;
  try {
    await sleep(4_000);
    killedAt = Date.now();
    victim.daemon.child.kill('SIGKILL');
    gone = await waitForNextHops(gw1.nodeAddress, CLUSTER_HOLD_TIME * 1000 + HOLD_EXPIRY_SLACK_MS, 'gw2 killed');
  } finally {
    // Never left to reject unhandled: that would end the run before the `after` hook cleans up.
    await probing.catch(() => undefined);
  }
  const { replies } = await probing;
  // Probes that had their whole second (their timeout) before the kill: one still in flight when
  // gw2 died (started under 1 s before) may have been going through it.
  const before = replies.filter((reply) => reply.at + PROBE_TIMEOUT_MS <= killedAt);
  assert.ok(before.length >= 5, `only ${before.length} probes started and ended before the kill`);
  const failedBefore = before.filter((reply) => !reply.ok).map((reply) => `${reply.at - killedAt} ms: ${reply.error ?? reply.status}`);
  assert.equal(failedBefore, [], 'every connection before the kill succeeded');
  // The failover is over at the first probe from which every later probe succeeded.
  const lastFailure = replies.reduce((last, reply, index) => (reply.ok ? last : index), -1);
  const recovered = replies[lastFailure + 1];
  assert.ok(recovered, 'connections succeed again before the probing ends');
  const served = Math.max(0, recovered.at - killedAt);
  const after = replies.slice(lastFailure + 1).filter((reply) => reply.at >= killedAt);
  assert.equal(spreadOf(after), { gw1: after.length }, 'after the failover every new connection goes through gw1');
  console.log(`  kill -9 gw2: next hop gone after ${gone} ms; every new connection from ${served} ms after the kill on succeeds ` +
    `(${replies.filter((reply) => !reply.ok).length} of ${replies.length} probes failed)`);
  const failures = replies.filter((reply) => !reply.ok).map((reply) => `${reply.at - killedAt} ms: ${reply.error ?? reply.status}`);
  assert.ok(served <= (CLUSTER_HOLD_TIME + 1) * 1000,
    `new connections succeed ${served} ms after the kill, over the hold time + 1 s; failed probes (start relative to the kill): ${failures.join('; ')}`);
});

e2e.run();
