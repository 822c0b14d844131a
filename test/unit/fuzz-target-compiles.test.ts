// The libFuzzer target (dataplane/fuzz, `npm run fuzz`) is built by clang outside the addon's
// build, so an API change in the data plane can leave it broken without any other test noticing
// (it happened once: inject() gained a queue). A syntax-only g++ pass against the current
// headers catches that in about two seconds, without clang or libFuzzer.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { repoRoot } from '../../src/api/proto.js';

const run = promisify(execFile);

test('dataplane/fuzz/pipeline_fuzz.cpp compiles against the current data-plane headers', async () => {
  const root = repoRoot();
  const { stdout: dpdkFlags } = await run('pkg-config', ['--cflags', 'libdpdk']);
  const args = ['-std=c++17', '-fsyntax-only', ...dpdkFlags.trim().split(/\s+/).filter(Boolean),
    `-I${join(root, 'dataplane')}`, join(root, 'dataplane', 'fuzz', 'pipeline_fuzz.cpp')];
  const result = await run('g++', args, { cwd: root, maxBuffer: 16 << 20 })
    .then(() => ({ code: 0, output: '' }))
    .catch((error: { code?: number; stderr?: string }) => ({ code: error.code ?? 1, output: error.stderr ?? '' }));
  assert.is(result.code, 0, `g++ -fsyntax-only reported:\n${result.output.slice(0, 4000)}`);
});

test.run();
