// uvu's suite() and test, with hooks that cannot fail silently. Every test file imports
// `suite`/`test` from here, never from 'uvu' (test/unit/test-imports.test.ts checks it).
//
// Why: uvu 0.5.6's runner runs the hooks inside a try whose `finally` ends in `return`, which
// discards any exception: a `before` that throws makes the suite's tests vanish, an `after` or
// `after.each` that throws is never reported, and the exit status stays 0.
//
// Here the hooks run where a failure is a test failure that uvu counts and prints:
// - `before` runs once ahead of the first test; if it throws, every test of the suite fails with
//   "before hook of suite X failed: <error>" (and no test body runs);
// - `before.each` / `after.each` run inside each test, so their failure fails that test
//   (`after.each` still runs when the test or `before.each` failed, as in uvu);
// - `after` runs at the end of the suite's last test (whatever its outcome); if it throws, that
//   test fails with "after hook of suite X failed: <error>". A suite whose tests are all skipped
//   runs no hooks at all (nothing was set up).
// A suite with tests whose run() is never called fails the process at exit, naming the suite.
import { suite as uvuSuite } from 'uvu';
import type { Callback, Test } from 'uvu';

type Context = Record<string, unknown>;
type HookKind = 'before' | 'before.each' | 'after.each' | 'after';

interface Declared<T> { name: string; handler: Callback<T>; only: boolean }

function describe(value: unknown): string {
  return value instanceof Error ? value.message : String(value);
}

/** An Error saying which hook of which suite failed, carrying the original's stack lines. */
function hookFailure(kind: HookKind, suiteName: string, cause: unknown): Error {
  const error = new Error(`${kind} hook of suite ${JSON.stringify(suiteName || '(file)')} failed: ${describe(cause)}`, { cause });
  if (cause instanceof Error && cause.stack) {
    const frames = cause.stack.slice(cause.stack.indexOf('\n') + 1);
    error.stack = `Error: ${error.message}\n${frames}`;
  }
  return error;
}

/** Adds a later failure to the first one's message, so neither is lost. */
function withAlso(first: unknown, later: unknown): unknown {
  if (first instanceof Error) {
    first.message += `\n    and then: ${describe(later)}`;
    return first;
  }
  return new Error(`${describe(first)}\n    and then: ${describe(later)}`);
}

const declaredButNotRun = new Map<object, () => string | undefined>();
process.on('exit', () => {
  for (const check of declaredButNotRun.values()) {
    const problem = check();
    if (problem === undefined) continue;
    process.stdout.write(`\n  ✘ ${problem}\n`);
    process.exitCode = 1;
  }
});

/** Same API as uvu's suite(name, context). */
export function suite<T = Context>(name = '', context?: T): Test<T> {
  const state = (context ?? {}) as T;
  let declared: Declared<T>[] = [];
  let before: Callback<T>[] = [];
  let beforeEach: Callback<T>[] = [];
  let afterEach: Callback<T>[] = [];
  let after: Callback<T>[] = [];
  let skips = 0;

  const handle = {};
  declaredButNotRun.set(handle, () => (declared.length
    ? `suite ${JSON.stringify(name || '(file)')}: ${declared.length} test(s) declared but run() was never called`
    : undefined));

  const test = ((testName: string, handler: Callback<T>) => { declared.push({ name: testName, handler, only: false }); }) as Test<T>;
  test.only = (testName, handler) => { declared.push({ name: testName, handler, only: true }); };
  test.skip = () => { skips++; };
  test.before = Object.assign((hook: Callback<T>) => { before.push(hook); }, { each: (hook: Callback<T>) => { beforeEach.push(hook); } });
  test.after = Object.assign((hook: Callback<T>) => { after.push(hook); }, { each: (hook: Callback<T>) => { afterEach.push(hook); } });

  test.run = () => {
    const tests = declared;
    const hooks = { before, beforeEach, afterEach, after };
    const toRun = tests.some((t) => t.only) ? tests.filter((t) => t.only) : tests;
    const last = toRun[toRun.length - 1];
    const target = uvuSuite<T>(name, state);
    let setUp: 'pending' | 'done' | { failed: unknown } = 'pending';

    async function runBefore(ctx: Parameters<Callback<T>>[0]): Promise<void> {
      if (setUp !== 'pending') return;
      setUp = 'done';
      for (const hook of hooks.before) {
        try { await hook(ctx); } catch (error) { setUp = { failed: error }; return; }
      }
    }

    for (const entry of tests) {
      const wrapped: Callback<T> = async (ctx) => {
        let failure: unknown;
        let failed = false;
        const fail = (error: unknown) => {
          failure = failed ? withAlso(failure, error) : error;
          failed = true;
        };
        await runBefore(ctx);
        if (typeof setUp === 'object') {
          fail(hookFailure('before', name, setUp.failed));
        } else {
          try {
            for (const hook of hooks.beforeEach) {
              try { await hook(ctx); } catch (error) { throw hookFailure('before.each', name, error); }
            }
            await entry.handler(ctx);
          } catch (error) {
            fail(error);
          }
          for (const hook of hooks.afterEach) {
            try { await hook(ctx); } catch (error) { fail(hookFailure('after.each', name, error)); }
          }
        }
        if (entry === last) {
          for (const hook of hooks.after) {
            try { await hook(ctx); } catch (error) { fail(hookFailure('after', name, error)); }
          }
        }
        if (failed) throw failure;
      };
      if (entry.only) target.only(entry.name, wrapped);
      else target(entry.name, wrapped);
    }
    for (let i = 0; i < skips; i++) target.skip();

    declared = [];
    before = [];
    beforeEach = [];
    afterEach = [];
    after = [];
    skips = 0;
    target.run();
  };
  return test;
}

/** Same as uvu's `test`: the unnamed suite of a file. */
export const test = suite();
