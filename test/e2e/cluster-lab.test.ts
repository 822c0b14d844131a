// End to end: the cluster lab itself (src/lab/cluster-lab.ts), independent of the daemon's BGP
// speaker. Both gateway daemons run in their namespaces WITHOUT the `cluster` section; the lab
// runs a gobgpd in each gateway namespace announcing the VIP, its BGP session to BIRD on the
// edge router going through the daemon's exception path (pcx-outside). Proves: BIRD's sessions
// come up, the edge's kernel route to the VIP has both gateways as next hops (BIRD's merge
// paths), the edge's layer-4 hash spreads the connections of one client over both gateways,
// and a speaker killed with -9 loses its next hop within the hold time.
// test/e2e/cluster.test.ts is the same lab with the daemons' own BGP (issue 17).
// Needs root, the lab's tools, bird2 and gobgpd; run under `flock /tmp/pc-lab.lock`.

import { readdir, readFile, readlink } from 'node:fs/promises';
import { suite } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { CLUSTER_GATEWAYS, CLUSTER_HOLD_TIME, CLUSTER_VIP } from '../../src/lab/cluster-topology.js';
import {
  birdSessions, clusterClient, edgeNextHops, edgeRouteText, requireClusterLab, sharedCluster, spreadOf, waitFor, type Reply,
} from '../support/cluster-lab.js';

const e2e = suite('e2e: the cluster lab (BIRD edge router, ECMP, two gateways; the lab\'s own gobgpd)');
e2e.before(requireClusterLab);

const cluster = sharedCluster({ labSpeaker: true });
e2e.after(() => cluster.stop());

const URL = `http://${CLUSTER_VIP}/`;
const CONNECTIONS = 60;
const [gw1, gw2] = CLUSTER_GATEWAYS as [typeof CLUSTER_GATEWAYS[0], typeof CLUSTER_GATEWAYS[0]];
const BOTH = [gw1.nodeAddress, gw2.nodeAddress];

e2e('both gateways announce: BIRD\'s sessions are Established and the edge\'s route to the VIP has two next hops', async () => {
  await cluster.start();
  await waitFor(async () => {
    const sessions = await birdSessions();
    return sessions['gw1'] === 'Established' && sessions['gw2'] === 'Established' ? sessions : undefined;
  }, 15_000, async () => `BIRD sessions ${JSON.stringify(await birdSessions())}`);
  await waitFor(async () => ((await edgeNextHops()).join() === BOTH.join() ? true : undefined), 5_000,
    async () => `two next hops for ${CLUSTER_VIP}, got: ${await edgeRouteText()}`);
  console.log(`  edge: ${await edgeRouteText()}`);
});

e2e('two data planes on one host share no DPDK file: neither daemon holds anything under /var/run/dpdk (no --file-prefix needed)', async () => {
  const { nodes } = cluster.running();
  for (const node of nodes) {
    const fds = await readdir(`/proc/${node.daemon.pid}/fd`);
    const targets = await Promise.all(fds.map((fd) => readlink(`/proc/${node.daemon.pid}/fd/${fd}`).catch(() => '')));
    const maps = await readFile(`/proc/${node.daemon.pid}/maps`, 'utf8');
    const shared = [...targets, ...maps.split('\n')].filter((target) => target.includes('/var/run/dpdk') || target.includes('/run/dpdk'));
    assert.equal(shared, [], `${node.gateway.name} (pid ${node.daemon.pid}) holds DPDK runtime files`);
    assert.ok(targets.some((target) => target.startsWith('socket:')), `${node.gateway.name}'s fds were read (sanity)`);
  }
});

e2e(`${CONNECTIONS} new connections from one client address spread over both gateways (layer-4 hash)`, async () => {
  cluster.running();
  const { replies } = await clusterClient<{ replies: Reply[] }>(['concurrent', URL, CONNECTIONS, 10_000], 20_000);
  const spread = spreadOf(replies);
  console.log(`  spread of ${CONNECTIONS} connections: ${JSON.stringify(spread)}`);
  // Binomial(60, 1/2): fewer than 12 on one side has a probability below 1e-5.
  for (const gateway of [gw1, gw2]) assert.ok((spread[gateway.name] ?? 0) >= 12, `${gateway.name} served ${spread[gateway.name] ?? 0} of ${CONNECTIONS}`);
});

e2e(`kill -9 of gw2's speaker: its next hop leaves the edge within the hold time (${CLUSTER_HOLD_TIME} s); new connections all go through gw1`, async () => {
  const { speakers } = cluster.running();
  const killedAt = Date.now();
  speakers.get('gw2')!.kill();
  await waitFor(async () => ((await edgeNextHops()).join() === gw1.nodeAddress ? true : undefined), CLUSTER_HOLD_TIME * 1000,
    async () => `only ${gw1.nodeAddress} left, got: ${await edgeRouteText()}`, 50);
  const gone = Date.now() - killedAt;
  console.log(`  gw2's next hop gone ${gone} ms after kill -9 of its gobgpd`);
  const { replies } = await clusterClient<{ replies: Reply[] }>(['concurrent', URL, 20, 10_000], 20_000);
  assert.equal(spreadOf(replies), { gw1: 20 });
});

e2e(`a frozen speaker (SIGSTOP gw1's gobgpd: no FIN, no keepalives) loses its route when BIRD's hold timer (${CLUSTER_HOLD_TIME} s) expires`, async () => {
  const { speakers } = cluster.running();
  const speaker = speakers.get('gw1')!;
  const stoppedAt = Date.now();
  speaker.child.kill('SIGSTOP');
  try {
    await waitFor(async () => ((await edgeNextHops()).length === 0 ? true : undefined), CLUSTER_HOLD_TIME * 1000 + 1_000,
      async () => `no route left, got: ${await edgeRouteText()}`, 50);
  } finally {
    speaker.child.kill('SIGCONT');
  }
  const gone = Date.now() - stoppedAt;
  console.log(`  gw1's route gone ${gone} ms after its gobgpd froze (hold time ${CLUSTER_HOLD_TIME} s); BIRD says: ${(await birdSessions())['gw1']}`);
  // Not before the hold time minus a keepalive interval: it was the timer, not a closed session.
  assert.ok(gone >= (CLUSTER_HOLD_TIME - 1) * 1000, `gone after ${gone} ms: sooner than a hold-time expiry`);
});

e2e.run();
