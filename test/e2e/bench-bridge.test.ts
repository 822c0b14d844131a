// The benchmark-only bridge (dataplane.bench_mode: bridge, bench/lab.ts's I/O ceiling)
// through the real daemon and the lab: frames cross between the two af_packet ports
// unchanged, so a client with an on-link route reaches a server directly and the
// server sees the client's own address; nothing is NATed and no connection is made.
import { suite } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { ipIn } from '../../src/lab/run.js';
import { CLIENT, INSIDE_SUBNET, OUTSIDE_SUBNET, REAL_SERVERS, VIP } from '../../src/lab/topology.js';
import { requireLab, runInNamespace, sharedGateway } from '../support/e2e-lab.js';

const e2e = suite('e2e: bench_mode bridge');
e2e.before(requireLab); // no root or a missing tool: every test fails, naming it

const gateway = sharedGateway((yaml) => {
  const edited = yaml.replace(/conn_capacity: (\d+) \}/, 'conn_capacity: $1, bench_mode: bridge }');
  if (edited === yaml) throw new Error('demo config: no dataplane line to add bench_mode to');
  return edited;
});
const server = REAL_SERVERS[0]!;

async function curl(url: string): Promise<{ code: number | string; body: string }> {
  const result = await runInNamespace(CLIENT.namespace, ['curl', '-sS', '--max-time', '2', url], 10_000);
  return { code: result.code, body: result.stdout };
}

async function counters(): Promise<{ events: Record<string, string>; drops: Record<string, string> }> {
  const stats = await gateway.running().api.call('Stats', 'GetStats', {});
  return { events: stats.events as Record<string, string>, drops: stats.drops as Record<string, string> };
}

e2e('a client reaches a server on-link through the bridge and the server sees the client itself', async () => {
  await gateway.start();
  await ipIn(CLIENT.namespace, ['route', 'add', INSIDE_SUBNET, 'dev', 'eth0']);
  await ipIn(server.namespace, ['route', 'add', OUTSIDE_SUBNET, 'dev', 'eth0']);
  const before = await counters();
  const reply = await curl(`http://${server.addresses[0]}/`);
  assert.is(reply.code, 0, `curl failed: ${reply.body}`);
  const answer = JSON.parse(reply.body) as { server: string; peer: string };
  assert.is(answer.server, server.serverName);
  assert.match(answer.peer, new RegExp(`^${CLIENT.addresses[0]!.replace(/\./g, '\\.')}:\\d+$`));
  const after = await counters();
  assert.ok(BigInt(after.events.tx_packets ?? '0') > BigInt(before.events.tx_packets ?? '0'), 'frames were sent on');
  assert.is(after.events.conns_created ?? '0', '0', 'no connection is made in bridge mode');
});

e2e('nothing is translated: the VIP does not answer', async () => {
  gateway.running();
  const reply = await curl(`http://${VIP}/`);
  assert.is.not(reply.code, 0, `the VIP answered in bridge mode: ${reply.body}`);
});

e2e.after(async () => {
  await gateway.stop();
});

e2e.run();
