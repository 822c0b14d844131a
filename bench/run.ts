// `npm run bench` (node dist/bench/run.js [--only group,...] [--compare file.json]):
// runs the scenario modules in order, prints one table of every row, and writes
// bench/results/latest.json (rows + date + machine) and bench/results/latest.svg.
//
// Each scenario module exports `async function run…Bench(): Promise<BenchRow[]>`.
// A module that is not there yet (other issues add them) is skipped with a note; one
// that fails is noted, the others still run, and the exit code says so.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { machineInfo } from './machine.js';
import { compareRows, describeMachine, formatTable, parseRun, renderSvg, type BenchRun } from './report.js';
import type { BenchRow } from './rows.js';

interface ScenarioModule {
  /** File name without extension, next to this file. */
  module: string;
  exportName: string;
  /** Row groups it reports (--only selects modules by these). */
  groups: string[];
}

/** In the order they run: the cheap in-process ones first, the lab ones after. */
const SCENARIO_MODULES: ScenarioModule[] = [
  { module: 'pipeline', exportName: 'runPipelineBench', groups: ['pipeline', 'memory'] },
  { module: 'memory', exportName: 'runMemoryBench', groups: ['memory'] },
  { module: 'lab', exportName: 'runLabBench', groups: ['lab'] },
  { module: 'flood', exportName: 'runFloodBench', groups: ['flood'] },
  { module: 'synflood', exportName: 'runSynfloodBench', groups: ['synflood'] },
];

const fromSource = import.meta.url.endsWith('.ts');
const REPO_ROOT = fileURLToPath(new URL(fromSource ? '..' : '../..', import.meta.url));
const RESULTS_DIR = join(REPO_ROOT, 'bench', 'results');

function modulePath(name: string): string {
  return fileURLToPath(new URL(`./${name}${fromSource ? '.ts' : '.js'}`, import.meta.url));
}

type BenchFunction = () => Promise<BenchRow[]>;

async function runModule(scenario: ScenarioModule, notes: string[], groupsSoFar: Set<string>): Promise<BenchRow[]> {
  const path = modulePath(scenario.module);
  if (!existsSync(path)) {
    // bench/pipeline.ts reports the memory rows today; a separate memory.ts may come later.
    if (!scenario.groups.every((group) => groupsSoFar.has(group))) {
      notes.push(`${scenario.module}: skipped, bench/${scenario.module}.ts is not in this build`);
    }
    return [];
  }
  const loaded = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  const run = loaded[scenario.exportName];
  if (typeof run !== 'function') {
    notes.push(`${scenario.module}: skipped, bench/${scenario.module}.ts exports no ${scenario.exportName}()`);
    return [];
  }
  const started = Date.now();
  console.error(`bench: ${scenario.module} ...`);
  const rows = await (run as BenchFunction)();
  console.error(`bench: ${scenario.module}: ${rows.length} row(s) in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return rows;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { only: { type: 'string' }, compare: { type: 'string' }, help: { type: 'boolean' } },
  });
  if (values.help) {
    console.log(`usage: node dist/bench/run.js [--only ${[...new Set(SCENARIO_MODULES.flatMap((s) => s.groups))].join(',')}] [--compare results.json]`);
    return;
  }
  const known = new Set(SCENARIO_MODULES.flatMap((s) => s.groups));
  const only = values.only?.split(',').map((g) => g.trim()).filter((g) => g !== '');
  for (const group of only ?? []) {
    if (!known.has(group)) throw new Error(`--only: unknown group ${JSON.stringify(group)} (expected some of: ${[...known].join(', ')})`);
  }
  // Read the comparison first: a typo in the path should not cost a whole run.
  const previous = values.compare ? parseRun(readFileSync(values.compare, 'utf8'), values.compare) : undefined;

  const loadAtStart = loadavg()[0]!;
  const wanted = (group: string): boolean => !only || only.includes(group);
  const notes: string[] = [];
  const rows: BenchRow[] = [];
  let failed = false;
  for (const scenario of SCENARIO_MODULES.filter((s) => s.groups.some(wanted))) {
    try {
      const groupsSoFar = new Set(rows.map((row) => row.group));
      rows.push(...(await runModule(scenario, notes, groupsSoFar)).filter((row) => wanted(row.group)));
    } catch (error) {
      failed = true;
      notes.push(`${scenario.module}: FAILED: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  const machine = { ...(await machineInfo()), loadAverage: { start: loadAtStart, end: loadavg()[0]! } };
  const run: BenchRun = { date: new Date().toISOString(), machine, rows, notes };
  const comparison = previous ? compareRows(rows, previous) : undefined;
  console.log(formatTable(rows, comparison));
  console.log(`\n${run.date.slice(0, 10)}, ${describeMachine(run.machine)}${previous ? `; compared with ${values.compare} (${previous.date.slice(0, 10)})` : ''}`);
  for (const note of notes) console.log(`note: ${note}`);

  mkdirSync(RESULTS_DIR, { recursive: true });
  const jsonPath = join(RESULTS_DIR, 'latest.json');
  const svgPath = join(RESULTS_DIR, 'latest.svg');
  writeFileSync(jsonPath, `${JSON.stringify(run, null, 2)}\n`);
  writeFileSync(svgPath, renderSvg(rows, `Portcullis bench ${run.date.slice(0, 10)}: ${describeMachine(run.machine)}`));
  console.log(`written ${jsonPath} and ${svgPath}`);
  if (failed) process.exitCode = 1;
}

main().catch((error: unknown) => {
  console.error(`bench: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
