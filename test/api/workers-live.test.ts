// Several workers in LIVE mode: three worker lcores sharing one CPU (--lcores 0@0,1@1,2@1,3@1,
// adaptive polling) on ring ports. test/support/live-workers.ts runs in its own process (live
// mode gives EAL up at stop) and sends each server SYN-ACK to a worker that does NOT own the
// connection; every one must leave translated on the client side, handed over through the
// worker rings. Then the real daemon with the same worker layout answers over gRPC.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { suite } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { REPO_ROOT, WEB_SEED, testConfig, withDaemon } from './daemon.js';

const live = suite('several live workers on ring ports');

interface ChildResult {
  error?: string;
  client: string;
  flows: { synQueue: number; lport: number; replyQueue: number; to: Record<string, unknown> }[];
  events: Record<string, number>;
  drops: Record<string, number>;
  connections: number;
  listed: number;
  pages: number;
  listing: { scans: number; slots: number; cycles: number; maxSlots: number; maxCycles: number }[];
  listingMs: number;
  tscHz: number;
  workerVersions: number[];
  ports: { name: string; queues: number; rss: boolean; flowSteering: boolean; flowSteering6: boolean }[];
}

function runChild(timeoutMs: number): Promise<{ result?: ChildResult; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'test/support/live-workers.ts')],
      { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => { output += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { output += d.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', () => {
      clearTimeout(timer);
      const line = output.trim().split('\n').filter((l) => l.startsWith('{')).pop();
      try {
        resolve({ result: line ? (JSON.parse(line) as ChildResult) : undefined, output });
      } catch {
        resolve({ output });
      }
    });
  });
}

live('replies injected on a non-owner worker\'s queue leave translated; rings, counters and listing agree', async () => {
  const { result, output } = await runChild(120_000);
  assert.ok(result && !result.error, `child failed:\n${result?.error ?? output.slice(-4000)}`);
  const r = result!;
  assert.is(r.flows.length, 30);
  for (const f of r.flows) {
    assert.is(f.lport % 3, f.synQueue, `lport ${f.lport} from worker ${f.synQueue}'s residue class`);
    assert.ok(f.replyQueue !== f.lport % 3, 'the reply went to a non-owner');
    assert.equal(f.to, { dst: r.client, src: '198.18.0.10', sport: 80, dport: 52000 + r.flows.indexOf(f), flags: 'SA', ipOk: true, tcpOk: true },
      `SYN-ACK of flow ${r.flows.indexOf(f)} to the client`);
  }
  assert.ok(r.events['redirected_out']! >= 30, `redirected_out ${r.events['redirected_out']}`);
  assert.is(r.events['redirected_in'], r.events['redirected_out'], 'every hand-off taken by its owner');
  assert.is(r.events['conns_created'], 30);
  assert.is(r.events['packets_forwarded_out'], 30);
  assert.is(r.connections, 30, 'connections listed from every worker');
  assert.is(r.listed, 30, 'paged 7 at a time across the workers: each connection exactly once');
  assert.ok(r.pages >= 5, `${r.pages} pages`);
  for (const [worker, scan] of r.listing.entries()) {
    assert.ok(scan.scans >= 64, `worker ${worker} ran ${scan.scans} listing scans on its own thread`);
    assert.ok(scan.maxSlots <= 1024, `worker ${worker} read ${scan.maxSlots} records in one loop iteration`);
  }
  // Three workers share one CPU here, so scan times include the others' time slices: a figure, not a bound.
  const us = (cycles: number) => (cycles / r.tscHz * 1e6).toFixed(1);
  console.log(`  live listing: ${r.pages} pages over 3 x 65536 records in ${r.listingMs.toFixed(1)} ms; per scan mean ` +
    `${r.listing.map((s) => us(s.cycles / s.scans)).join('/')} µs (workers sharing one CPU)`);
  const dropped = Object.entries(r.drops).filter(([, n]) => n > 0);
  assert.equal(dropped, [], 'nothing dropped');
  assert.is(r.workerVersions.length, 3);
  assert.ok(r.workerVersions.every((v) => v === r.workerVersions[0] && v > 0), `every worker adopted the snapshot: ${r.workerVersions}`);
  assert.equal(r.ports.map((p) => [p.name, p.queues, p.flowSteering, p.flowSteering6]), [['outside', 3, false, false], ['inside', 3, false, false]]);
});

live('the daemon with dataplane.workers 3 on one shared CPU: status, stats and listing over gRPC', async () => {
  const config = (dir: string) => testConfig(dir, WEB_SEED).replace('workers: 1, lcores: "0-1"', 'workers: 3, lcores: "0@0,1@1,2@1,3@1"');
  await withDaemon({ config }, async ({ api, daemon }) => {
    const status = await api.getStatus({});
    assert.is(Number(status.workers), 3);
    const stats = await api.getStats({});
    assert.is(stats.workers.length, 3, 'a load entry per worker');
    assert.ok('redirected_out' in stats.events, 'the hand-off counters are reported');
    const conns = await api.listConnections({ limit: 100 });
    assert.equal(conns.connections, [], 'every worker answered the listing');
    assert.match(daemon.output(), /port inside: .*3 queues: ring queues/);
  });
});

live.run();
