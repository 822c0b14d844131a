// The tests and tools run through tsx, which strips types without checking them;
// this keeps them honest against the contracts they exercise (src/dataplane/types.ts,
// the generated gRPC types): a fake or a harness that drifts from the real surface fails here.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { repoRoot } from '../../src/api/proto.js';

const run = promisify(execFile);

test('src, bench, scripts and test type-check under strict settings (tsconfig.test.json)', async () => {
  const root = repoRoot();
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const result = await run(process.execPath, [tsc, '-p', join(root, 'tsconfig.test.json')], { cwd: root })
    .then(() => ({ code: 0, output: '' }))
    .catch((error: { code?: number; stdout?: string; stderr?: string }) => ({ code: error.code ?? 1, output: `${error.stdout ?? ''}${error.stderr ?? ''}` }));
  assert.is(result.code, 0, `tsc reported:\n${result.output}`);
});

test.run();
