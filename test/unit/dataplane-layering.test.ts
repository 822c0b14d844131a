// Dependencies in dataplane/ run one way (DESIGN.md §2, docs/architecture.md): each folder is a
// layer and may include only its own layer and the layers below it. Before this rule the pipeline
// included core/config.h, core/tx_queues.h and core/counters.h while the core drove the pipeline,
// so neither could be read, built or replaced without the other. A new folder must be placed in
// LAYERS before it can hold code, and every quoted include must name a file that exists.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { repoRoot } from '../../src/api/proto.js';

/**
 * Top first. fuzz is a standalone tool over the core and pipeline; addon is the N-API binding;
 * bench is the benchmark harness built into the addon; core is the runtime (EAL, ports, loop,
 * RCU); pipeline is the packet semantics the core drives through pipeline/pipeline.h; common is
 * the vocabulary both share (config structs, counters, drop reasons, the tx buffer).
 */
const LAYERS = ['fuzz', 'addon', 'bench', 'core', 'pipeline', 'common'];

const SOURCE = /\.(?:h|hpp|cpp|cc)$/;
const QUOTED_INCLUDE = /^\s*#\s*include\s*"([^"]+)"/gm;

interface Include { from: string; to: string }

function sources(root: string, dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(root, path);
    return SOURCE.test(entry.name) ? [path] : [];
  });
}

/** Every quoted include of every source file, as paths relative to dataplane/. */
function includes(dataplane: string): Include[] {
  return sources(dataplane, '.').flatMap((file) => {
    const text = readFileSync(join(dataplane, file), 'utf8');
    return [...text.matchAll(QUOTED_INCLUDE)].map((match) => ({ from: relative('.', file), to: match[1]! }));
  });
}

/** 0 = top. Undefined when the folder is not placed. */
function layerOf(path: string): number | undefined {
  const index = LAYERS.indexOf(path.split('/')[0]!);
  return index < 0 ? undefined : index;
}

/** The includes that break the rule, each with why. */
function violations(all: Include[]): string[] {
  const found: string[] = [];
  for (const { from, to } of all) {
    const fromLayer = layerOf(from);
    const toLayer = layerOf(to);
    if (fromLayer === undefined) { found.push(`${from}: its folder is not in LAYERS`); continue; }
    if (toLayer === undefined) { found.push(`${from} -> ${to}: not a dataplane folder in LAYERS`); continue; }
    if (toLayer < fromLayer) found.push(`${from} -> ${to}: ${LAYERS[fromLayer]} is below ${LAYERS[toLayer]}`);
  }
  return found;
}

test('no include in dataplane/ runs from a lower layer to a higher one, and every include names a file', () => {
  const dataplane = join(repoRoot(), 'dataplane');
  const all = includes(dataplane);
  assert.ok(all.length > 300, `read only ${all.length} includes`);
  const missing = all.filter(({ to }) => !existsSync(join(dataplane, to))).map(({ from, to }) => `${from} -> ${to}`);
  assert.equal(missing, [], 'includes naming no file under dataplane/');
  assert.equal(violations(all), [], 'includes against the layering (move the shared part down instead)');
});

test('every folder of dataplane/ is placed in a layer', () => {
  const dataplane = join(repoRoot(), 'dataplane');
  const folders = readdirSync(dataplane, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
  assert.equal(folders.filter((name) => !LAYERS.includes(name)), [], 'folders missing from LAYERS');
});

test('the check finds an include that climbs, and one into an unplaced folder', () => {
  assert.equal(violations([
    { from: 'pipeline/parse.cpp', to: 'core/config.h' },
    { from: 'common/counters.h', to: 'pipeline/pipeline.h' },
    { from: 'core/dataplane.h', to: 'bench/bench.h' },
    { from: 'core/dataplane.h', to: 'tools/x.h' },
    { from: 'tools/x.cpp', to: 'core/dataplane.h' },
  ]).length, 5);
  assert.equal(violations([
    { from: 'addon/addon.cpp', to: 'core/dataplane.h' },
    { from: 'pipeline/sched/rr.cpp', to: 'pipeline/snapshot.h' },
    { from: 'core/stats.h', to: 'common/counters.h' },
    { from: 'bench/bench.cpp', to: 'pipeline/worker_state.h' },
  ]), []);
});

test.run();
