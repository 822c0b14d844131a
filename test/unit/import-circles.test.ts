// No import circles in src/ or bench/ (DESIGN.md §2: dependencies run one way). A circle hides
// which module is the foundation: src/model once had types.ts → defense.ts → ops.ts → check.ts →
// types.ts, and the effective SYNPROXY mode was checked in two places because the check could not
// reach the defence vocabulary without closing it. Type-only imports count: they tie the files
// together just the same. Generated code (src/api/generated, from the .proto files) is not ours.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import ts from 'typescript';
import { repoRoot } from '../../src/api/proto.js';

const ROOTS = ['src', 'bench'];
const SKIPPED = ['src/api/generated'];

/**
 * Module names a file imports, read by TypeScript's own scanner (ts.preProcessFile): `import … from`,
 * `import type … from`, `export … from`, a bare `import '…'` and `import('…')` (a lazy load is still
 * a dependency). A scanner, not a pattern: comments and strings that look like imports are skipped,
 * and an import list with a comment or a quote inside it is still read.
 */
function importedNames(text: string): string[] {
  return ts.preProcessFile(text, true, true).importedFiles.map((file) => file.fileName);
}

function typescriptFiles(root: string, dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return SKIPPED.includes(path) ? [] : typescriptFiles(root, path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

/** file → the files of the set it imports (relative names; './x.js' is the source './x.ts'). */
function importGraph(root: string, files: string[]): Map<string, string[]> {
  const known = new Set(files);
  return new Map(files.map((file) => {
    const targets = importedNames(readFileSync(join(root, file), 'utf8'))
      .filter((name) => name.startsWith('.'))
      .map((name) => relative(root, join(root, dirname(file), name.replace(/\.js$/, '.ts'))))
      .filter((target) => known.has(target));
    return [file, [...new Set(targets)]];
  }));
}

/** Strongly connected components with more than one file (or a file importing itself), Tarjan. */
function knots(graph: Map<string, string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (file: string) => {
    index.set(file, index.size);
    low.set(file, index.get(file)!);
    stack.push(file);
    onStack.add(file);
    for (const next of graph.get(file) ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(file, Math.min(low.get(file)!, low.get(next)!));
      } else if (onStack.has(next)) {
        low.set(file, Math.min(low.get(file)!, index.get(next)!));
      }
    }
    if (low.get(file) !== index.get(file)) return;
    const members: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      members.push(member);
    } while (member !== file);
    if (members.length > 1 || graph.get(file)!.includes(file)) found.push(members.sort());
  };
  for (const file of [...graph.keys()].sort()) if (!index.has(file)) visit(file);
  return found;
}

/** Shortest path from `from` to `to` inside `members` (breadth first), both ends included. */
function shortestPath(graph: Map<string, string[]>, members: Set<string>, from: string, to: string): string[] {
  const previous = new Map<string, string>([[from, from]]);
  const queue = [from];
  while (queue.length && !previous.has(to)) {
    const file = queue.shift()!;
    for (const next of graph.get(file) ?? []) {
      if (members.has(next) && !previous.has(next)) { previous.set(next, file); queue.push(next); }
    }
  }
  const path = [to];
  while (path[0] !== from) path.unshift(previous.get(path[0]!)!);
  return path;
}

/**
 * Every circle as a path "a → b → … → a". A knot of files can hold several circles; each import
 * inside it appears in at least one path printed, so the list names every arrow that ties it.
 */
function circles(graph: Map<string, string[]>): string[] {
  const paths: string[] = [];
  for (const knot of knots(graph)) {
    const members = new Set(knot);
    const covered = new Set<string>();
    for (const from of knot) {
      for (const to of graph.get(from)!.filter((t) => members.has(t)).sort()) {
        if (covered.has(`${from} ${to}`)) continue;
        const loop = [from, ...shortestPath(graph, members, to, from)];
        loop.slice(1).forEach((file, i) => covered.add(`${loop[i]} ${file}`));
        paths.push(loop.join(' → '));
      }
    }
  }
  return paths;
}

test('no import circle in src/ or bench/ (type-only imports included)', () => {
  const started = performance.now();
  const root = repoRoot();
  const files = ROOTS.flatMap((dir) => typescriptFiles(root, dir));
  assert.ok(files.length > 80, `found only ${files.length} .ts files under ${ROOTS.join(', ')}`);
  const graph = importGraph(root, files);
  const arrows = [...graph.values()].reduce((sum, targets) => sum + targets.length, 0);
  assert.ok(arrows > 200, `read only ${arrows} relative imports: the import forms are not recognised`);
  const found = circles(graph);
  assert.equal(found, [], `import circles (break each: types at the bottom, each file imports only what stands below it):\n  ${found.join('\n  ')}\n`);
  // Measured at ~300 ms here; the bound only catches a scan gone quadratic, not a busy shared machine.
  assert.ok(performance.now() - started < 5000, `took ${Math.round(performance.now() - started)} ms`);
});

/** src/model's layers, bottom up (docs/architecture.md): a file imports only its own layer or below. */
const MODEL_LAYERS = [
  ['errors', 'ip-address', 'fields', 'types', 'health-check-types', 'passive-health-types', 'mitigation-types', 'desired-state'],
  ['validate', 'scheduling', 'health-check-fields', 'passive-health-fields', 'service-raw', 'defense-fields', 'defense-persist', 'ids', 'synproxy-mode', 'check-quic'],
  ['check', 'check-family', 'check-forwarding', 'ops', 'route-ops', 'config-diff'],
  ['defense', 'health-check', 'apply-state', 'defense-snapshot', 'snapshot'],
  ['index'],
];

test('src/model: each file imports only from its own layer or below, and every file has a layer', () => {
  const root = repoRoot();
  const files = typescriptFiles(root, 'src/model');
  const layerOf = new Map<string, number>(MODEL_LAYERS.flatMap((names, layer) => names.map((name) => [`src/model/${name}.ts`, layer] as const)));
  assert.equal(files.filter((file) => !layerOf.has(file)), [], 'files without a layer: add them to MODEL_LAYERS and docs/architecture.md');
  const upward = [...importGraph(root, files)].flatMap(([file, targets]) => targets
    .filter((target) => layerOf.get(target)! > layerOf.get(file)!)
    .map((target) => `${file} (layer ${layerOf.get(file)}) imports ${target} (layer ${layerOf.get(target)})`));
  assert.equal(upward, []);
});

test('every import form is read, and strings that look like imports are not', () => {
  const text = [
    "import { a } from './a.js';",
    "import type { B } from './b.js';",
    'import {\n  c, // the one that\'s needed\n  type C,\n} from "./c.js";',
    "export * from './d.js';",
    "export { e } from './e.js';",
    "export type { F } from './f.js';",
    "import './g.js';",
    "type H = typeof import('./h.js');",
    "const later = await import('./i.js');",
    "// import { z } from './z.js';",
    "const note = 'this is not an import from ./x.js';",
    'log(`import ${name} from "./y.js"`);',
    "import { readFileSync } from 'node:fs';",
  ].join('\n');
  assert.equal(importedNames(text).sort(), ['./a.js', './b.js', './c.js', './d.js', './e.js', './f.js', './g.js', './h.js', './i.js', 'node:fs']);
});

test('a circle is named as a path, each import of a knot in one of them', () => {
  const graph = new Map([
    ['types.ts', ['defense.ts', 'health.ts']],
    ['defense.ts', ['ops.ts', 'types.ts']],
    ['health.ts', ['ops.ts']],
    ['ops.ts', ['check.ts']],
    ['check.ts', ['types.ts']],
    ['index.ts', ['types.ts', 'ops.ts']],
    ['self.ts', ['self.ts']],
  ]);
  assert.equal(circles(graph), [
    'check.ts → types.ts → defense.ts → ops.ts → check.ts',
    'defense.ts → types.ts → defense.ts',
    'health.ts → ops.ts → check.ts → types.ts → health.ts',
    'self.ts → self.ts',
  ]);
  assert.equal(circles(new Map([['a.ts', ['b.ts']], ['b.ts', []]])), []);
});

test.run();
