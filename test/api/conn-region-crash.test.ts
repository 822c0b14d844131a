// The connection region under kill -9 (issue 18): the data plane in TEST mode, one child process
// at a time (test/support/conn-region-child.ts) on one region file in a temp dir. Each child adopts
// what the one before left, proves the adopted tables consistent (checkConnTables() = []) and that
// every flow the parent saw established still forwards as the same connection (SYNPROXY ones with
// their sequence offset), then creates, closes, resets and expires connections over two workers
// until the parent kills it -9 at a random moment. Only the record being written at that instant
// may be lost. Also: a region made for another capacity or worker count is set aside with the
// reason (never reused), and a second process cannot take a region another one holds (EBUSY).

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import * as assert from 'uvu/assert';
import { suite } from '../support/suite.js';
import { seededRandom } from '../support/golden.js';
import type { ChildLine, ChildOptions, KnownFlow } from '../support/conn-region-child.js';
import { REPO_ROOT } from './daemon.js';

const region = suite('connection region: kill -9 at random points, incompatible regions, EBUSY');

const KILLS = 8;  // each kill costs a child start (~1.5 s); 8 random points already cover every phase of the churn
const WORKERS = 2;
const CAPACITY = 4096;
/** A child is ready (EAL up, region mapped, adoption done) well within this. */
const CHILD_START_MS = 20_000;
/** The kill comes this long after the child's first operation: 20..400 ms, thousands of operations. */
const KILL_AFTER_MS = [20, 400] as const;

/** One child process; lines() is everything it printed so far. */
class Child {
  readonly lines: ChildLine[] = [];
  readonly exited: Promise<number | string>;
  private output = '';
  private readonly child: ChildProcess;
  private waiter: (() => void) | undefined;

  constructor(readonly name: string, options: ChildOptions) {
    this.child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'test/support/conn-region-child.ts'), JSON.stringify(options)],
      { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stderr!.on('data', (chunk: Buffer) => { this.output = (this.output + chunk.toString()).slice(-4_000); });
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      try {
        this.lines.push(JSON.parse(line) as ChildLine);
      } catch {
        this.output = (this.output + `${line}\n`).slice(-4_000);
      }
      this.waiter?.();
    });
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => { resolve(code ?? signal ?? 'unknown'); this.waiter?.(); }));
  }

  /** The first line of `kind`; rejects with the child's own error (or output) if it ends or errs first. */
  async next<K extends ChildLine['kind']>(kind: K, timeoutMs = CHILD_START_MS): Promise<Extract<ChildLine, { kind: K }>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.lines.find((line) => line.kind === kind || line.kind === 'error');
      if (found?.kind === 'error' && kind !== 'error') throw new Error(`${this.name}: ${found.message}${found.code ? ` (${found.code})` : ''}`);
      if (found) return found as Extract<ChildLine, { kind: K }>;
      if (this.child.exitCode !== null || this.child.signalCode !== null) {
        throw new Error(`${this.name} exited (${this.child.exitCode ?? this.child.signalCode}) before "${kind}":\n${this.output}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.name}: no "${kind}" within ${timeoutMs} ms:\n${this.output}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 1_000));
        this.waiter = () => { clearTimeout(timer); resolve(); };
      });
    }
  }

  kill(): Promise<number | string> {
    this.child.kill('SIGKILL');
    return this.exited;
  }

  /** Ends stdin (a 'hold' child then stops cleanly) and waits for the exit. */
  endInput(): Promise<number | string> {
    this.child.stdin!.end();
    return this.exited;
  }
}

let dir = '';
const children: Child[] = [];
region.before.each(async () => { dir = await mkdtemp(join(tmpdir(), 'pc-region-')); });
region.after.each(async () => {
  await Promise.all(children.splice(0).map((child) => child.kill()));
  await rm(dir, { recursive: true, force: true });
});

function start(name: string, options: Omit<ChildOptions, 'region'> & { region?: string }): Child {
  const child = new Child(name, { region: join(dir, 'conns.region'), ...options });
  children.push(child);
  return child;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

region(`kill -9 at ${KILLS} random points under load: every adoption is consistent, every established flow still forwards`, async () => {
  const seed = Number(process.env['PORTCULLIS_CRASH_SEED'] ?? Date.now() % 1_000_000_000);
  const random = seededRandom(seed);
  const known = new Map<number, KnownFlow>();
  const knownFlowsFile = join(dir, 'known-flows.json');
  let firstCport = 10_000;
  let bounds: { min: number; max: number } | undefined;
  const rounds: string[] = [];
  const started = Date.now();
  for (let round = 0; round <= KILLS; round++) {
    await writeFile(knownFlowsFile, JSON.stringify([...known.values()]));
    const role = round === KILLS ? 'adopt' : 'churn';
    const child = start(`child ${round} (${role}, seed ${seed})`, { role, workers: WORKERS, connCapacity: CAPACITY, seed: seed + round, firstCport, knownFlowsFile });
    const adopted = await child.next('adopted');
    const report = adopted.report!;
    const where = `round ${round} (PORTCULLIS_CRASH_SEED=${seed} repeats the operations, not the kill timing)`;
    assert.ok(adopted.report, `${where}: no connRegion report`);
    assert.equal(adopted.violations, [], `${where}: the adopted tables are inconsistent`);
    assert.equal(adopted.flowFailures, [], `${where}: established flows that no longer forward as before`);
    if (bounds === undefined) {
      assert.is(report.outcome, 'created', `${where}: a new region`);
    } else {
      assert.is(report.outcome, 'adopted', `${where}: ${report.rejectedReason}`);
      assert.is(report.rejectedReason, '');
      // Every flow seen established was adopted; at most one more record than the process had
      // (the one being written when it died) — and that one may be missing (uncommitted).
      assert.ok(report.adopted >= bounds.min && report.adopted <= bounds.max,
        `${where}: ${report.adopted} adopted, expected ${bounds.min}..${bounds.max}; report ${JSON.stringify(report)}`);
      assert.ok(report.dropped.uncommitted <= WORKERS, `${where}: ${report.dropped.uncommitted} uncommitted records, at most one per worker`);
      assert.equal([report.dropped.stale, report.dropped.duplicate, report.dropped.invalid], [0, 0, 0], `${where}: stale, duplicate, invalid`);
    }
    rounds.push(`${report.outcome} ${report.adopted} in ${report.adoptUs} µs (dropped ${JSON.stringify(report.dropped)})`);
    if (role === 'adopt') break;

    await child.next('op');
    await sleep(KILL_AFTER_MS[0] + random() * (KILL_AFTER_MS[1] - KILL_AFTER_MS[0]));
    assert.is(await child.kill(), 'SIGKILL', `${where}: the child ended by itself: ${JSON.stringify(child.lines.at(-1))}`);
    const errored = child.lines.find((line) => line.kind === 'error');
    assert.is(errored, undefined, `${where}: the child failed while churning`);
    let last: Extract<ChildLine, { kind: 'op' }> | undefined;
    for (const line of child.lines) {
      if (line.kind === 'opened') known.set(line.flow.cport, line.flow);
      else if (line.kind === 'closing') known.delete(line.cport);
      else if (line.kind === 'op') {
        last = line;
        firstCport = Math.max(firstCport, line.cport + 1);
      }
    }
    assert.ok(last, `${where}: no operation before the kill`);
    // The operation in flight may have added one connection (an open) or none.
    bounds = { min: known.size, max: last!.live + 1 };
    rounds[rounds.length - 1] += `; killed after ${last!.i + 1} operations with ${known.size} established, ${last!.live} in the tables`;
  }
  console.log(`  ${KILLS} kills in ${Date.now() - started} ms (seed ${seed}):\n    ${rounds.join('\n    ')}`);
});

for (const [what, first, second] of [
  ['connCapacity', { workers: 1, connCapacity: CAPACITY }, { workers: 1, connCapacity: 2 * CAPACITY }],
  ['worker count', { workers: 1, connCapacity: CAPACITY }, { workers: 2, connCapacity: CAPACITY }],
] as const) {
  region(`a region made with another ${what} is set aside with the reason; the start goes on with empty tables`, async () => {
    const maker = start('maker', { role: 'churn', ...first, seed: 7 });
    await maker.next('adopted');
    await maker.next('op');
    await sleep(100);
    await maker.kill();
    const next = start('next', { role: 'adopt', ...second });
    const { report, violations, connections } = await next.next('adopted');
    assert.ok(report, 'a connRegion report');
    assert.is(report!.outcome, 'created', `outcome; rejected: ${report!.rejectedReason}`);
    assert.ok(report!.rejectedReason.length > 0, 'the reason is given');
    assert.match(report!.rejectedPath, /\.rejected-\d+$/);
    assert.ok(report!.rejectedPath.startsWith(join(dir, 'conns.region')), `set aside beside the region: ${report!.rejectedPath}`);
    assert.ok(existsSync(report!.rejectedPath), 'the rejected region is kept on disk, not reused');
    assert.ok(existsSync(join(dir, 'conns.region')), 'a new region in its place');
    assert.is(report!.adopted, 0);
    assert.is(connections, 0, 'empty tables');
    assert.equal(violations, []);
    console.log(`  another ${what}: "${report!.rejectedReason}"`);
  });
}

region('a second process cannot take a region another one holds (EBUSY); it can once the holder stops or is killed', async () => {
  const holder = start('holder', { role: 'hold', workers: 1, connCapacity: CAPACITY });
  await holder.next('holding');
  const second = start('second', { role: 'adopt', workers: 1, connCapacity: CAPACITY });
  const refused = await second.next('error');
  assert.is(refused.code, 'EBUSY', `refused with: ${refused.message}`);
  assert.ok(refused.message.includes(join(dir, 'conns.region')), `the message names the region: ${refused.message}`);
  assert.is(await second.exited, 1);

  assert.is(await holder.endInput(), 0, 'the holder stops cleanly');
  const after = await start('after a clean stop', { role: 'adopt', workers: 1, connCapacity: CAPACITY }).next('adopted');
  assert.is(after.report?.rejectedReason, '', 'the region of a clean stop is taken over, not set aside');

  const killed = start('killed holder', { role: 'hold', workers: 1, connCapacity: CAPACITY });
  await killed.next('holding');
  await killed.kill();
  const afterKill = await start('after a kill', { role: 'adopt', workers: 1, connCapacity: CAPACITY }).next('adopted');
  assert.is(afterKill.report?.rejectedReason, '', 'the lock died with the killed process: nothing to clean up');
});

region.run();
