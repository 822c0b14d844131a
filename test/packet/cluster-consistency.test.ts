// Issue 17: gateways of a cluster share no state, yet with sh or mh every node must send a
// client to the same real server, so persistence holds when the routers move a flow to another
// node. Each "node" here is its own node process with its own data plane (test/support/
// scheduler-picks.ts), given the same config; the second one also has a different history
// (other connections first) and sees the clients in the opposite order. rr is the control: it
// depends on history and order, so the comparison can tell nodes apart.
import { execFile } from 'node:child_process';
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { nodeScriptArgv } from '../../src/lab/node-script.js';
import { SERVERS, SERVERS6 } from '../support/golden.js';

type Picks = Record<string, string>;

function node(scheduler: string, order: 'forward' | 'reverse', warmup: number): Promise<Picks> {
  const argv = [...nodeScriptArgv(new URL('../support/scheduler-picks.ts', import.meta.url).href, 'scheduler-picks'), scheduler, order, String(warmup)];
  return new Promise((resolve, reject) => {
    execFile(argv[0]!, argv.slice(1), { timeout: 120_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) return reject(new Error(`node (${scheduler} ${order} ${warmup}) failed: ${String(error)} ${String(stderr).slice(-1500)}`));
      const line = String(stdout).trim().split('\n').pop() ?? '';
      resolve(JSON.parse(line) as Picks);
    });
  });
}

function differences(a: Picks, b: Picks): string[] {
  return Object.keys(a).filter((client) => a[client] !== b[client]);
}

for (const scheduler of ['sh', 'mh']) {
  test(`${scheduler}: two nodes with the same config send each of 300 clients (IPv4 and IPv6) to the same server`, async () => {
    const [first, second] = [await node(scheduler, 'forward', 0), await node(scheduler, 'reverse', 37)];
    assert.is(Object.keys(first).length, 300);
    assert.equal(Object.keys(second).sort(), Object.keys(first).sort());
    const moved = differences(first, second);
    assert.equal(moved.slice(0, 5), [], `${moved.length} of 300 clients went to another server on the second node`);
    // Not trivially equal: every server of both families gets clients (weights 1, 2, 1).
    const used = new Set(Object.values(first));
    for (const server of [...SERVERS, ...SERVERS6]) assert.ok(used.has(server), `${server} got no client: ${[...used].join(', ')}`);
  });
}

test('rr (the control): a node with another history and order sends clients elsewhere, so the comparison can fail', async () => {
  const [first, second] = [await node('rr', 'forward', 0), await node('rr', 'reverse', 37)];
  const moved = differences(first, second);
  assert.ok(moved.length > 100, `only ${moved.length} of 300 clients moved under rr`);
});

test.run();
