// Self-test of the runner (scripts/run-uvu.sh, which scripts/test.sh ends in, with the hook-safe
// suites of test/support/suite.ts): over the fixture suites in test/fixtures/runner it must print
// the right `N passed, N failed, N skipped` line and exit non-zero whenever anything failed —
// a failing test, a throwing hook, a suite never run, a file that does not load.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { repoRoot } from '../../src/api/proto.js';

interface RunResult { code: number; output: string; closing: string }

function runFixtures(pattern: string): Promise<RunResult> {
  const root = repoRoot();
  return new Promise((resolve) => {
    execFile('bash', [join(root, 'scripts', 'run-uvu.sh'), 'test/fixtures/runner', pattern],
      { cwd: root, timeout: 60_000, env: { ...process.env, PORTCULLIS_TEST_TIMEOUT: '50' } },
      (error, stdout, stderr) => {
        const output = `${stdout}${stderr}`;
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
        const closing = stdout.trim().split('\n').pop() ?? '';
        resolve({ code, output, closing });
      });
  });
}

test('pass, skip, fail, throwing before / after / before.each / after.each: counted, named, exit 1', async () => {
  const run = await runFixtures('^[a-f]-.*\\.fixture\\.ts$');
  // pass 1; skip 1 + 1 skipped; fail 1; before-throws 2 failed; after-throws 1 + 1 failed; each-hooks 1 + 2 failed.
  assert.is(run.closing, '4 passed, 6 failed, 1 skipped', run.output);
  assert.is(run.code, 1, 'exit status');
  for (const message of [
    'before hook of suite "before throws" failed: boom in before',
    'after hook of suite "after throws" failed: boom in after',
    'before.each hook of suite "each hooks throw" failed: boom in before.each',
    'after.each hook of suite "each hooks throw" failed: boom in after.each',
  ]) assert.ok(run.output.includes(message), `"${message}" in:\n${run.output}`);
  assert.not.ok(run.output.includes('the body ran after a failed'), 'no test body runs after its set-up failed');
});

test('only passes and skips: the skip is named, nothing failed, exit 0', async () => {
  const run = await runFixtures('^[ab]-.*\\.fixture\\.ts$');
  assert.is(run.closing, '2 passed, 0 failed, 1 skipped', run.output);
  assert.is(run.code, 0, run.output);
});

test('a suite whose run() is never called fails the run, naming the suite', async () => {
  const run = await runFixtures('^g-.*\\.fixture\\.ts$');
  assert.is(run.closing, '0 passed, 1 failed, 0 skipped', run.output);
  assert.is(run.code, 1, 'exit status');
  assert.ok(run.output.includes('suite "forgotten": 1 test(s) declared but run() was never called'), run.output);
});

test('a test file that throws while loading fails the run', async () => {
  const run = await runFixtures('^h-.*\\.fixture\\.ts$');
  assert.is(run.closing, '0 passed, 1 failed, 0 skipped', run.output);
  assert.is(run.code, 1, 'exit status');
  assert.ok(run.output.includes('boom while loading'), run.output);
});

test('a pattern that matches no test file fails the run', async () => {
  const run = await runFixtures('^no-such-file$');
  assert.is(run.closing, '0 passed, 1 failed, 0 skipped', run.output);
  assert.is(run.code, 1, 'exit status');
});

test.run();
