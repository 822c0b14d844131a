// dataplane/pipeline is grouped by concern into folders that stand one above the other
// (dataplane/pipeline/README.md, "Layout"): a folder may include the folders below it and
// the shared top-level headers, never a folder above it. Reading every #include of the tree
// keeps it that way: a stage that reaches up (say parse calling into a forwarding method)
// fails here with the file and the line that does it.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { repoRoot } from '../../src/api/proto.js';

/** Bottom first. A folder may include itself and any folder listed before it. */
const LAYERS: string[][] = [
  ['l2l3'],
  ['sched', 'output', 'defend'],
  ['conn'],
  ['carriage'],
  ['synproxy'],  // makes connections (conn/) and sends its own segments; never calls a forwarding method
  ['forward'],
];
/** Top-level headers every folder may include: the contract and the state all stages share. */
const SHARED_TOP = new Set(['pipeline.h', 'worker_state.h', 'snapshot.h', 'trace.h']);

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return /\.(h|cpp)$/.test(name) ? [path] : [];
  });
}

const pipeline = join(repoRoot(), 'dataplane', 'pipeline');
const level = new Map<string, number>(LAYERS.flatMap((folders, i) => folders.map((f): [string, number] => [f, i])));

test('every layer folder exists and holds sources', () => {
  for (const folder of level.keys()) {
    let count = 0;
    try {
      count = sources(join(pipeline, folder)).length;
    } catch {
      count = 0;
    }
    assert.ok(count > 0, `dataplane/pipeline/${folder}/ is missing or empty`);
  }
});

test('no pipeline folder includes a folder above it', () => {
  const violations: string[] = [];
  for (const file of sources(pipeline)) {
    const from = relative(pipeline, file).split('/');
    if (from.length < 2) continue;  // top level: may include anything
    const fromLevel = level.get(from[0]!);
    assert.ok(fromLevel !== undefined, `dataplane/pipeline/${from[0]}/ is in no layer of this test: add it to LAYERS`);
    readFileSync(file, 'utf8').split('\n').forEach((line, i) => {
      const include = /^\s*#\s*include\s+"pipeline\/([^"]+)"/.exec(line)?.[1];
      if (!include) return;
      const to = include.split('/');
      const ok = to.length === 1 ? SHARED_TOP.has(to[0]!) : (level.get(to[0]!) ?? Infinity) <= fromLevel!;
      if (!ok) violations.push(`${relative(repoRoot(), file)}:${i + 1}: ${line.trim()}`);
    });
  }
  assert.equal(violations, [], `includes that run back up:\n${violations.join('\n')}`);
});

test.run();
