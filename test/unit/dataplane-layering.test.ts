// Dependencies in dataplane/ run one way (DESIGN.md §2, docs/architecture.md): each folder is a
// layer and may include only its own layer and the layers below it. Before this rule the pipeline
// included core/config.h, core/tx_queues.h and core/counters.h while the core drove the pipeline,
// so neither could be read, built or replaced without the other. Inside the pipeline its folders
// stand one above the other the same way (dataplane/pipeline/README.md, "Layout"): a stage that
// reaches up (say parse calling into a forwarding method) fails here with the include that does
// it. A new folder must be placed before it can hold code, and every quoted include must name a
// file that exists.
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

/**
 * Inside pipeline/, bottom first: a folder may include itself and the folders before it. Files
 * directly in pipeline/ (the worker's dispatch, the connection stage) may include any folder;
 * every folder may include the shared top-level headers in PIPELINE_SHARED_TOP.
 */
const PIPELINE_LAYERS: string[][] = [
  ['l2l3'],
  ['sched', 'output', 'defend'],
  ['conn', 'cluster'],  // cluster: the hand-off's tables and rings; conn_create exports, it hashes flow keys as conn does
  ['carriage'],
  ['synproxy'],  // makes connections (conn/) and sends its own segments; never calls a forwarding method
  ['forward'],
];
/** The contract and the state all stages share: the Worker holds each concern's tables by value. */
const PIPELINE_SHARED_TOP = new Set(['pipeline.h', 'worker_state.h', 'snapshot.h', 'trace.h']);

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

/** Level of a pipeline/ folder (bottom = 0); Infinity for a file directly in pipeline/. */
function pipelineLevel(path: string): number | undefined {
  const parts = path.split('/');
  if (parts.length === 2) return Infinity;
  const index = PIPELINE_LAYERS.findIndex((folders) => folders.includes(parts[1]!));
  return index < 0 ? undefined : index;
}

function pipelineViolation(from: string, to: string): string | undefined {
  const fromLevel = pipelineLevel(from);
  if (fromLevel === undefined) return `${from}: its pipeline folder is not in PIPELINE_LAYERS`;
  if (fromLevel === Infinity) return undefined;  // the top drives every stage
  const parts = to.split('/');
  if (parts.length === 2) return PIPELINE_SHARED_TOP.has(parts[1]!) ? undefined : `${from} -> ${to}: a top-level pipeline file other than the shared ones`;
  const toLevel = pipelineLevel(to);
  if (toLevel === undefined) return `${from} -> ${to}: a pipeline folder not in PIPELINE_LAYERS`;
  return toLevel > fromLevel ? `${from} -> ${to}: pipeline/${from.split('/')[1]} is below pipeline/${parts[1]}` : undefined;
}

/** The includes that break the rule, each with why. */
function violations(all: Include[]): string[] {
  const found: string[] = [];
  for (const { from, to } of all) {
    const fromLayer = layerOf(from);
    const toLayer = layerOf(to);
    if (fromLayer === undefined) { found.push(`${from}: its folder is not in LAYERS`); continue; }
    if (toLayer === undefined) { found.push(`${from} -> ${to}: not a dataplane folder in LAYERS`); continue; }
    if (toLayer < fromLayer) { found.push(`${from} -> ${to}: ${LAYERS[fromLayer]} is below ${LAYERS[toLayer]}`); continue; }
    if (LAYERS[fromLayer] === 'pipeline' && LAYERS[toLayer] === 'pipeline') {
      const inner = pipelineViolation(from, to);
      if (inner) found.push(inner);
    }
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
  const inner = readdirSync(join(dataplane, 'pipeline'), { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
  assert.equal(inner.filter((name) => !PIPELINE_LAYERS.flat().includes(name)), [], 'pipeline folders missing from PIPELINE_LAYERS');
  for (const folder of PIPELINE_LAYERS.flat()) {
    assert.ok(existsSync(join(dataplane, 'pipeline', folder)) && sources(dataplane, join('pipeline', folder)).length > 0,
      `dataplane/pipeline/${folder}/ is missing or empty`);
  }
});

test('the check finds an include that climbs, and one into an unplaced folder', () => {
  assert.equal(violations([
    { from: 'pipeline/l2l3/parse.cpp', to: 'core/config.h' },
    { from: 'common/counters.h', to: 'pipeline/pipeline.h' },
    { from: 'core/dataplane.h', to: 'bench/bench.h' },
    { from: 'core/dataplane.h', to: 'tools/x.h' },
    { from: 'tools/x.cpp', to: 'core/dataplane.h' },
    { from: 'pipeline/l2l3/parse.cpp', to: 'pipeline/forward/fullnat.h' },
    { from: 'pipeline/synproxy/synproxy.cpp', to: 'pipeline/forward/fullnat.h' },
    { from: 'pipeline/conn/conn.cpp', to: 'pipeline/conn_stage.h' },
    { from: 'pipeline/newfolder/x.cpp', to: 'pipeline/l2l3/l3.h' },
  ]).length, 9);
  assert.equal(violations([
    { from: 'addon/addon.cpp', to: 'core/dataplane.h' },
    { from: 'pipeline/sched/rr.cpp', to: 'pipeline/snapshot.h' },
    { from: 'core/stats.h', to: 'common/counters.h' },
    { from: 'bench/bench.cpp', to: 'pipeline/worker_state.h' },
    { from: 'pipeline/forward/nat.cpp', to: 'pipeline/forward/fullnat.h' },
    { from: 'pipeline/forward/nat.cpp', to: 'pipeline/output/route.h' },
    { from: 'pipeline/conn_stage.cpp', to: 'pipeline/forward/tun.h' },
  ]), []);
});

test.run();
