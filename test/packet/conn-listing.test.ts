// Connection listing (pcadm -Lnc, ListConnections) bounded on the packet loop (issue 14.3): the cursor
// is a record position (worker in the high 32 bits), a worker reads at most 1024 records per loop
// iteration and a call at most 262144, so a page may come back short (even empty) with a non-zero
// next cursor; 0 and only 0 means done. The scan counters (stats().workerListingScans) are what the
// worker's thread did: deterministic record counts, and TSC cycles printed for the note.
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import type { DataplaneAddon, DataplaneStats } from '../../src/dataplane/types.js';
import { CLIENT, allConnections, clientTcp, labConfig, withLab, type Lab } from '../support/golden.js';

const SLOTS_PER_SCAN = 1024;           // dataplane/core/conn_listing.h kListingSlotsPerScan
const SLOTS_PER_REQUEST = 256 * 1024;  // kListingSlotsPerRequest
const PER_WORKER = 1 << 19;           // 2 workers: 1 M connections, tables full

function scans(stats: DataplaneStats): { scans: number; slots: number; cycles: number; maxSlots: number; maxCycles: number } {
  const all = stats.workerListingScans;
  return {
    scans: all.reduce((n, s) => n + s.scans, 0),
    slots: all.reduce((n, s) => n + s.slots, 0),
    cycles: all.reduce((n, s) => n + s.cycles, 0),
    maxSlots: Math.max(...all.map((s) => s.maxSlots)),
    maxCycles: Math.max(...all.map((s) => s.maxCycles)),
  };
}

/** Fill number of a bench_fill connection (client 10.0.0.1 + (i >> 10), port 1024 + (i & 1023)). */
function fillNumber(client: string, clientPort: number): number {
  const [a, b, c, d] = client.split('.').map(Number) as [number, number, number, number];
  const host = ((a << 24) | (b << 16) | (c << 8) | d) - 0x0a000001;
  return host * 1024 + (clientPort - 1024);
}

test('1 M connections on 2 workers, paged 65536 at a time: each listed once; no loop iteration reads more than 1024 records', async () => {
  await withLab((lab) => {
    const dp = lab.dp;
    assert.is(dp.fillConnections({ count: PER_WORKER, worker: 0 }), PER_WORKER, 'worker 0 filled');
    assert.is(dp.fillConnections({ count: PER_WORKER, worker: 1, first: PER_WORKER }), PER_WORKER, 'worker 1 filled');
    const before = scans(dp.stats());
    const seen = new Uint8Array(2 * PER_WORKER);
    let cursor = 0;
    let pages = 0;
    let worstCallSlots = 0;
    do {
      const callBefore = scans(dp.stats()).slots;
      const page = dp.connections(cursor, 65536);
      worstCallSlots = Math.max(worstCallSlots, scans(dp.stats()).slots - callBefore);
      for (const c of page.connections) seen[fillNumber(c.client, c.clientPort)]!++;
      assert.ok(page.nextCursor === 0 || page.nextCursor > cursor, `cursor moves forward: ${cursor} -> ${page.nextCursor}`);
      cursor = page.nextCursor;
      pages++;
    } while (cursor !== 0 && pages < 1000);
    assert.is(cursor, 0, 'the walk ended');
    const counts = [0, 0, 0];
    for (const n of seen) counts[Math.min(n, 2)]!++;
    assert.equal(counts, [0, 2 * PER_WORKER, 0], '[never, once, more than once]');

    const after = scans(dp.stats());
    assert.is(after.slots - before.slots, 2 * PER_WORKER, 'every record read exactly once over the walk');
    assert.ok(after.maxSlots <= SLOTS_PER_SCAN, `longest scan read ${after.maxSlots} records`);
    assert.ok(worstCallSlots <= SLOTS_PER_REQUEST, `one call read ${worstCallSlots} records`);
    const tscHz = dp.stats().tscHz;
    const us = (cycles: number) => `${(cycles / tscHz * 1e6).toFixed(1)} µs`;
    const n = after.scans - before.scans;
    const mean = (after.cycles - before.cycles) / n;
    console.log(`  1 M connections: ${pages} pages, ${n} scans; a scan reads <= ${after.maxSlots} records: mean ${Math.round(mean)} cycles ` +
      `(${us(mean)}), longest ${after.maxCycles} (${us(after.maxCycles)}, preemption included) at ${(tscHz / 1e9).toFixed(2)} GHz`);
  }, null, { workers: 2, connCapacity: PER_WORKER });
});

test('sparse tables: a walk from 0 is short pages with non-zero cursors, each call reads at most 262144 records', async () => {
  await withLab((lab) => {
    const dp = lab.dp;
    // Three connections per worker (records 0..2: the free stack hands out low records first); the
    // other 2 x 524285 records are empty. The old count cursor re-read them all on every call.
    dp.fillConnections({ count: 3, worker: 0 });
    dp.fillConnections({ count: 3, worker: 1, first: 3 });
    const listed: number[] = [];
    const perCall: number[] = [];
    const cursors: number[] = [];
    let cursor = 0;
    do {
      const before = scans(dp.stats()).slots;
      const page = dp.connections(cursor, 100);
      perCall.push(scans(dp.stats()).slots - before);
      listed.push(...page.connections.map((c) => fillNumber(c.client, c.clientPort)));
      cursor = page.nextCursor;
      cursors.push(cursor);
    } while (cursor !== 0 && cursors.length < 100);
    assert.equal(listed.sort((a, b) => a - b), [0, 1, 2, 3, 4, 5], 'each connection once');
    assert.equal(perCall, [SLOTS_PER_REQUEST, SLOTS_PER_REQUEST, SLOTS_PER_REQUEST, SLOTS_PER_REQUEST], 'records read per call');
    assert.equal(cursors, [SLOTS_PER_REQUEST, 2 ** 32, 2 ** 32 + SLOTS_PER_REQUEST, 0], 'record positions, worker in the high bits');
    // Worker 0's table ends in the second call: the cursor then names worker 1, record 0.
  }, null, { workers: 2, connCapacity: PER_WORKER });
});

function refusesWith(dp: DataplaneAddon, cursor: number, limit: number, pattern: RegExp): void {
  try {
    dp.connections(cursor, limit);
  } catch (error) {
    assert.is((error as { code?: string }).code, 'EINVAL', String(error));
    assert.match((error as Error).message, pattern);
    return;
  }
  assert.unreachable(`connections(${cursor}, ${limit}) was accepted`);
}

test('garbage, huge and stale cursors are refused naming the cursor; the end of a table is a valid cursor', async () => {
  await withLab((lab) => {
    const dp = lab.dp;
    dp.fillConnections({ count: 10, worker: 1 });
    refusesWith(dp, 2 * 2 ** 32, 10, /cursor: expected 0 or a next cursor of this data plane \(worker < 2, record <= 4096\), got 8589934592 \(worker 2, record 0\)/);
    refusesWith(dp, 4097, 10, /cursor: .*got 4097 \(worker 0, record 4097\)/);
    refusesWith(dp, 2 ** 32 + 5000, 10, /cursor: .*\(worker 1, record 5000\)/);
    refusesWith(dp, 2 ** 48, 10, /^cursor: expected an integer 0\.\.281474976710655/);
    refusesWith(dp, -1, 10, /^cursor: /);
    refusesWith(dp, 1.5, 10, /^cursor: /);
    refusesWith(dp, Number.NaN, 10, /^cursor: /);
    refusesWith(dp, 0, 0, /^limit: expected an integer 1\.\.65536/);
    refusesWith(dp, 0, 65537, /^limit: /);
    // Record 4096 of worker 0 = its end: the walk goes on with worker 1.
    const page = dp.connections(4096, 100);
    assert.is(page.connections.length, 10);
    assert.is(page.nextCursor, 0);
    // Any record inside a table is a place to resume from, even one no page ended at.
    assert.is(dp.connections(2 ** 32 + 7, 100).connections.length, 3);
  }, null, { workers: 2 });
});

/** SYNs for cports from..from+count-1, alternating between the two workers' queues. */
function open(lab: Lab, from: number, count: number): void {
  for (let queue = 0; queue < 2; queue++) {
    const frames = [];
    for (let cport = from + queue; cport < from + count; cport += 2) {
      frames.push(clientTcp(cport, { flags: 'S', seq: 1000, options: [{ kind: 'mss', value: 1460 }] }));
    }
    lab.sendOn('outside', queue, ...frames);
  }
  lab.resolveNeighbours();
  lab.recv('inside');
}

test('paging while connections come and go: the ones that live through the walk exactly once, the others at most once', async () => {
  await withLab((lab) => {
    open(lab, 10000, 120);     // A: gone halfway through the walk (SYN_RECV lasts 60 s)
    lab.advance(30);
    open(lab, 20000, 120);     // B: lives through the whole walk
    assert.is(lab.stats().connections, 240);
    const count = new Map<number, number>();
    let cursor = 0;
    let pages = 0;
    do {
      const page = lab.dp.connections(cursor, 7);
      for (const c of page.connections) {
        assert.is(c.client, CLIENT);
        count.set(c.clientPort, (count.get(c.clientPort) ?? 0) + 1);
      }
      cursor = page.nextCursor;
      pages++;
      if (pages === 10) {
        lab.advance(31);       // A expires; its records go back to the free stacks ...
        open(lab, 30000, 120); // ... and C takes them: behind the cursor or ahead of it
        assert.is(lab.stats().connections, 240);
      }
    } while (cursor !== 0 && pages < 1000);
    assert.is(cursor, 0, 'the walk ended');
    const inSet = (from: number) => [...count.keys()].filter((p) => p >= from && p < from + 120);
    assert.is(inSet(20000).length, 120, 'every B connection listed');
    assert.ok([...count.values()].every((n) => n === 1), 'no connection listed twice');
    assert.is(count.size, inSet(10000).length + inSet(20000).length + inSet(30000).length, 'nothing but A, B and C');
    assert.ok(inSet(10000).length < 120 && inSet(30000).length > 0, `A ${inSet(10000).length}, C ${inSet(30000).length}: the churn was seen`);
  }, labConfig(), { workers: 2 });
});

test.run();
