// `npm run bench` reporting with made-up rows: the table, --compare, the SVG chart,
// reading saved runs and wrk output, and the lab bench's rows and goals.
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { compareRows, describeMachine, formatNumber, formatTable, goalScore, parseRun, renderSvg, type BenchRun } from '../../bench/report.js';
import { judge, type BenchRow } from '../../bench/rows.js';
import { parseWrk } from '../../bench/lab/load.js';
import { labRows, spread, summarise } from '../../bench/lab/rows.js';

const cycles: BenchRow = {
  group: 'pipeline', id: 'pipeline.fullnat-tcp', label: 'established FullNAT, TCP', figure: 292.3, unit: 'cycles/pkt',
  baseline: { label: 'raw I/O', figure: 84.8 }, ratio: 292.3 / 84.8,
  goal: { kind: 'at-most', on: 'figure', value: 150, source: 'issue 10' }, note: 'best of 3 | 20 M packets',
};
const conns: BenchRow = {
  group: 'lab', id: 'lab.fullnat-busy-conns', label: 'FullNAT busy, new connections', figure: 16500, unit: 'conn/s',
  baseline: { label: 'bridge', figure: 17000 }, ratio: 16500 / 17000,
  goal: { kind: 'at-least', on: 'ratio', value: 0.9, source: 'issue 10' },
};
const plain: BenchRow = { group: 'memory', id: 'memory.1m', label: 'bytes per connection, 1 M', figure: 190, unit: 'B/conn' };

function run(rows: BenchRow[]): BenchRun {
  return {
    date: '2026-11-24T10:00:00.000Z', rows, notes: [],
    machine: { cpuModel: 'AMD EPYC', cores: 2, kernel: '6.1.0', tscHz: 2.45e9, dpdkVersion: '22.11.11', node: '20.19.0' },
  };
}

test('numbers keep three significant digits and group thousands', () => {
  assert.is(formatNumber(17234.6), '17,235');
  assert.is(formatNumber(292.31), '292');
  assert.is(formatNumber(84.84), '84.8');
  assert.is(formatNumber(1.234), '1.23');
  assert.is(formatNumber(0.01234), '0.0123');
  assert.is(formatNumber(0), '0');
});

test('the table has one aligned line per row with figure, baseline, ratio, goal and verdict', () => {
  const lines = formatTable([cycles, conns, plain]).split('\n');
  assert.is(lines.length, 5);
  assert.ok(lines.every((line) => line.length === lines[0]!.length), `unaligned:\n${lines.join('\n')}`);
  assert.match(lines[0]!, /^\| group +\| scenario +\| +figure \| baseline +\| +ratio \| goal +\| result \| note +\|$/);
  assert.match(lines[1]!, /^\|-+\|-+\|-+:\|/);
  assert.match(lines[2]!, /\| +292 cycles\/pkt \| 84\.8 cycles\/pkt \(raw I\/O\) \| +3\.45× \| ≤ 150 cycles\/pkt \| miss +\| best of 3 \\\| 20 M packets \|$/);
  assert.match(lines[3]!, /\| +16,500 conn\/s \| 17,000 conn\/s \(bridge\) +\| +0\.97× \| ≥ 0\.9× +\| pass +\|/);
  assert.match(lines[4]!, /\| memory +\| bytes per connection, 1 M +\| +190 B\/conn \| - +\| +- \| - +\| - +\|/);
});

test('--compare adds the previous figure and the change for rows the saved run has', () => {
  const previous = run([{ ...cycles, figure: 320 }, { ...conns, figure: 0 }]);
  const comparison = compareRows([cycles, conns, plain], previous);
  assert.equal(comparison.get(cycles.id), { previous: 320, changePercent: ((292.3 - 320) / 320) * 100 });
  assert.equal(comparison.get(conns.id), { previous: 0 });
  assert.is(comparison.get(plain.id), undefined);
  const lines = formatTable([cycles, conns, plain], comparison).split('\n');
  assert.match(lines[0]!, /\| +figure \| previous \| +change \| baseline/);
  assert.match(lines[2]!, /\| +292 cycles\/pkt \| +320 \| +-8\.7 % \|/);
  assert.match(lines[3]!, /\| +16,500 conn\/s \| +0 \| +- \|/);
  assert.match(lines[4]!, /\| +190 B\/conn \| +- \| +- \|/);
});

test('a saved run is read back, and a broken one is refused naming the file', () => {
  const saved = run([cycles, plain]);
  assert.equal(parseRun(JSON.stringify(saved), 'a.json'), saved);
  assert.throws(() => parseRun('{', 'a.json'), /^a\.json: not JSON/);
  assert.throws(() => parseRun('{"rows": 3}', 'b.json'), /^b\.json: expected a bench run/);
  assert.throws(() => parseRun('{"rows": [{"id": "x"}]}', 'c.json'), /^c\.json: rows\[0\]: expected/);
});

test('the machine line names CPU, kernel, TSC, DPDK, Node and the load the run saw', () => {
  const machine = run([]).machine;
  assert.is(describeMachine(machine), '2-core AMD EPYC, Linux 6.1.0, TSC 2.45 GHz, DPDK 22.11.11, Node 20.19.0');
  assert.is(describeMachine({ ...machine, tscHz: 0, loadAverage: { start: 1.25, end: 3 } }),
    '2-core AMD EPYC, Linux 6.1.0, DPDK 22.11.11, Node 20.19.0, load average 1.3 → 3.0');
});

test('goal score is above 1 exactly when the row passes, for both kinds of goal', () => {
  assert.ok(Math.abs(goalScore(cycles)! - 150 / 292.3) < 1e-12);
  assert.is(judge(cycles), 'miss');
  assert.ok(Math.abs(goalScore(conns)! - 16500 / 17000 / 0.9) < 1e-12);
  assert.is(judge(conns), 'pass');
  assert.is(goalScore(plain), undefined);
  assert.is(goalScore({ ...conns, ratio: Number.NaN }), undefined);
});

test('the SVG has a bar per row with a goal, coloured by verdict, text escaped', () => {
  const svg = renderSvg([cycles, conns, plain, { ...conns, id: 'x', label: 'a <b> & "c"' }], 'bench <today>');
  assert.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'));
  assert.ok(svg.trimEnd().endsWith('</svg>'));
  assert.is((svg.match(/<rect x=/g) ?? []).length, 3);
  assert.is((svg.match(/fill="#c8433a"/g) ?? []).length, 1);
  assert.is((svg.match(/fill="#3a9d4a"/g) ?? []).length, 2);
  assert.ok(svg.includes('lab: a &lt;b&gt; &amp; &quot;c&quot;'));
  assert.ok(svg.includes('bench &lt;today&gt;'));
  assert.not.ok(svg.includes('memory: bytes per connection'));
});

test('wrk output: rate, count and every kind of error', () => {
  const out = `Running 8s test @ http://198.19.0.1:8080/small
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     3.71ms    1.02ms  20.01ms   80.00%
    Req/Sec    17.20k     1.10k   19.00k    70.00%
  137600 requests in 8.00s, 21.13MB read
  Socket errors: connect 0, read 3, write 0, timeout 2
  Non-2xx or 3xx responses: 4
Requests/sec:  17199.50
Transfer/sec:      2.64MB
`;
  assert.equal(parseWrk(out), { requestsPerSecond: 17199.5, requests: 137600, errors: 9 });
  assert.throws(() => parseWrk('unable to connect to 198.19.0.1:8080 Connection refused'), /cannot read wrk's output/);
});

test('lab rows: FullNAT against the bridge (0.9) and nftables (1.2) on medians, adaptive against busy', () => {
  const figures = (c: number, r: number, m: number, errors = 0) => ({ connsPerSecond: c, requestsPerSecond: r, megabytesPerSecond: m, errors });
  const round = { bridge: figures(17000, 40000, 900), busy: figures(16000, 35000, 850, 1), adaptive: figures(15000, 30000, 800), nftables: figures(14000, 38000, 2000) };
  // One lucky round each for busy: the median ignores it (best-of would have passed rps).
  const lucky = { ...round, busy: figures(30000, 60000, 2000, 1) };
  const rows = labRows(summarise([round, lucky, round]), { seconds: 8, connections: 64, threads: 1 });
  const byId = new Map(rows.map((row) => [row.id, row]));
  assert.is(new Set(rows.map((row) => row.id)).size, rows.length);
  assert.ok(rows.every((row) => row.group === 'lab'));
  assert.is(judge(byId.get('lab.fullnat-busy-conns')!), 'pass');
  assert.is(judge(byId.get('lab.fullnat-busy-rps')!), 'miss');
  assert.is(byId.get('lab.fullnat-busy-rps')!.figure, 35000);
  assert.match(byId.get('lab.fullnat-busy-rps')!.note!, /median of 3, min–max 35000–60000; 3 wrk errors/);
  assert.is(byId.get('lab.fullnat-vs-nftables-conns')!.ratio, 16000 / 14000);
  assert.is(judge(byId.get('lab.fullnat-vs-nftables-conns')!), 'miss');
  assert.equal(byId.get('lab.fullnat-adaptive-conns')!.baseline, { label: 'busy', figure: 16000 });
  assert.is(byId.get('lab.fullnat-adaptive-conns')!.goal, undefined);
  assert.is(byId.get('lab.bridge-mbps')!.figure, 900);
  assert.match(byId.get('lab.bridge-conns')!.note!, /median of 3/);
});

test('lab rounds: the median of each scenario and measure with min–max, errors summed', () => {
  assert.equal(spread([5, 1, 9, 3, 7]), { median: 5, min: 1, max: 9 });
  assert.equal(spread([4, 2]), { median: 4, min: 2, max: 4 });
  const figures = (c: number, r: number, m: number, errors = 0) => ({ connsPerSecond: c, requestsPerSecond: r, megabytesPerSecond: m, errors });
  const one = { bridge: figures(10, 20, 30, 1), busy: figures(5, 6, 7), adaptive: figures(1, 1, 1), nftables: figures(2, 2, 2) };
  const two = { bridge: figures(11, 19, 31, 2), busy: figures(4, 7, 6), adaptive: figures(1, 1, 1), nftables: figures(3, 1, 2) };
  const three = { bridge: figures(12, 18, 29), busy: figures(9, 8, 5), adaptive: figures(1, 1, 1), nftables: figures(1, 3, 2) };
  const s = summarise([one, two, three]);
  assert.equal(s.bridge.connsPerSecond, { median: 11, min: 10, max: 12 });
  assert.equal(s.bridge.requestsPerSecond, { median: 19, min: 18, max: 20 });
  assert.is(s.bridge.errors, 3);
  assert.equal(s.busy.connsPerSecond, { median: 5, min: 4, max: 9 });
  assert.is(s.rounds, 3);
  assert.throws(() => summarise([]), /no rounds/);
});

test.run();
