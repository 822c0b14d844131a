// Every drop reason and every event has a golden-packet test that makes it move.
//
// The names come from their single source, the X-macro lists in dataplane/common/drop_reasons.h.
// "A test makes it move" means: a call expectDrops(delta, { name: n, … }) or
// expectEvents(delta, { name: n, … }) in test/packet with the name written literally (or a table
// row's `expectDrops: { name: n }` that the test passes to expectDrops). Those
// helpers (test/support/golden.ts) refuse a count that is not > 0 and fail unless the counter
// moved by exactly that much, so a listed name is one the test saw move — a mere mention in a
// comment, a string or another assertion does not count (comments are stripped before the scan).
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { repoRoot } from '../../src/api/proto.js';

type Kind = 'drops' | 'events';
const HELPER: Record<Kind, string> = { drops: 'expectDrops', events: 'expectEvents' };

/** The wire names of one X-macro list (PC_DROP_REASONS or PC_EVENTS) in drop_reasons.h. */
export function declaredNames(header: string, list: 'PC_DROP_REASONS' | 'PC_EVENTS'): string[] {
  const start = header.indexOf(`#define ${list}(X)`);
  if (start < 0) throw new Error(`drop_reasons.h: no #define ${list}(X)`);
  const end = header.indexOf('#define', start + 1);
  const body = header.slice(start, end < 0 ? undefined : end).replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/[^\n]*/g, '');
  return [...body.matchAll(/X\(\s*[A-Z0-9_]+\s*,\s*"([a-z0-9_]+)"\s*\)/g)].map((m) => m[1]!);
}

/** Source without comments (strings are left alone; the helpers' arguments are what matters). */
export function stripComments(source: string): string {
  return source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`\\])\/\/[^\n]*/g, '$1');
}

/** Index just past the bracket that closes the one at `open` (strings and templates skipped). */
function closing(code: string, open: number): number {
  let depth = 0;
  for (let i = open; i < code.length; i++) {
    const ch = code[i]!;
    if (ch === '"' || ch === "'" || ch === '`') {
      for (i++; i < code.length && code[i] !== ch; i++) if (code[i] === '\\') i++;
    } else if ('([{'.includes(ch)) {
      depth++;
    } else if (')]}'.includes(ch) && --depth === 0) {
      return i + 1;
    }
  }
  return code.length;
}

/** The top-level comma-separated parts of an argument list (without its parentheses). */
function topLevelArguments(args: string): string[] {
  const parts: string[] = [];
  let start = 0;
  for (let i = 0; i < args.length; i++) {
    const ch = args[i]!;
    if ('([{"\'`'.includes(ch)) i = closing(args, i) - 1;
    else if (ch === ',') { parts.push(args.slice(start, i)); start = i + 1; }
  }
  parts.push(args.slice(start));
  return parts;
}

/** The literal keys of an object literal's text (`{ a: 1, 'b': n }`); computed keys are not literal. */
function literalKeys(objectText: string): string[] {
  const text = objectText.trim();
  if (!text.startsWith('{')) return [];
  return topLevelArguments(text.slice(1, closing(text, 0) - 1))
    .map((entry) => /^\s*['"]?([a-z][a-z0-9_]*)['"]?\s*:/.exec(entry)?.[1])
    .filter((key): key is string => key !== undefined);
}

/**
 * The counter names a file's tests assert moving with `helper`: the literal keys of the object
 * passed as the second argument of `helper(delta, { … })`, and of a table row's `helper: { … }`
 * (the row is then passed to the helper: `helper(delta, row.helper)`).
 */
export function namesMoved(source: string, helper: string): string[] {
  const code = stripComments(source);
  const names: string[] = [];
  for (const m of code.matchAll(new RegExp(`\\b${helper}\\s*([(:])`, 'g'))) {
    const after = m.index! + m[0].length;
    if (m[1] === '(') {
      const args = code.slice(after, closing(code, after - 1) - 1);
      names.push(...literalKeys(topLevelArguments(args)[1] ?? ''));
    } else {
      names.push(...literalKeys(code.slice(after)));
    }
  }
  return names;
}

function packetTestFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return packetTestFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

test('the scanner reads literal names from helper calls only', () => {
  const source = `
    // expectDrops(d, { commented_out: 1 });
    /* expectEvents(d, { block_comment: 1 }) */
    assert.is(d.drops.mentioned_only, 1);
    expectDrops(lab.counterDelta(() => { run(1, { x: 2 }); }), { no_service: 1, 'quoted_name': n }, 'why, {not: 1}');
    expectEvents(d, {
      conns_created: 2,
      toa_added: count(3, { nested: 1 }),
    });
    expectDrops(d, {});
    expectDrops(d, { [c.reason]: 1 });
    const rows = [{ name: 'runt', expectDrops: { malformed_l2: 1 } }, { name: 'ttl', expectDrops: { ttl_exceeded: 2 } }];
    for (const row of rows) expectDrops(d, row.expectDrops);`;
  assert.equal(namesMoved(source, 'expectDrops'), ['no_service', 'quoted_name', 'malformed_l2', 'ttl_exceeded']);
  assert.equal(namesMoved(source, 'expectEvents'), ['conns_created', 'toa_added']);
  assert.equal(declaredNames('#define PC_DROP_REASONS(X) \\\n  X(A_B, "a_b") /* c */ \\\n  X(C, "c")\n// X(NAME, "wire") — events\n#define PC_EVENTS(X) X(D, "d")', 'PC_DROP_REASONS'), ['a_b', 'c']);
});

test('every drop reason and every event in drop_reasons.h has a golden test that makes it move', () => {
  const root = repoRoot();
  const header = readFileSync(join(root, 'dataplane', 'common', 'drop_reasons.h'), 'utf8');
  const declared: Record<Kind, string[]> = { drops: declaredNames(header, 'PC_DROP_REASONS'), events: declaredNames(header, 'PC_EVENTS') };
  assert.ok(declared.drops.length > 30 && declared.events.length > 30, `parsed ${declared.drops.length} reasons, ${declared.events.length} events`);

  const moved: Record<Kind, Set<string>> = { drops: new Set(), events: new Set() };
  for (const file of packetTestFiles(join(root, 'test', 'packet'))) {
    const source = readFileSync(file, 'utf8');
    for (const kind of ['drops', 'events'] as const) for (const name of namesMoved(source, HELPER[kind])) moved[kind].add(name);
  }
  const problems: string[] = [];
  for (const kind of ['drops', 'events'] as const) {
    const untested = declared[kind].filter((name) => !moved[kind].has(name));
    if (untested.length) problems.push(`${kind} no golden test makes move (${HELPER[kind]}(delta, { name: n }) in test/packet): ${untested.join(', ')}`);
    const unknown = [...moved[kind]].filter((name) => !declared[kind].includes(name));
    if (unknown.length) problems.push(`${HELPER[kind]} names what drop_reasons.h does not declare: ${unknown.join(', ')}`);
  }
  assert.ok(problems.length === 0, problems.join('\n'));
});

test.run();
