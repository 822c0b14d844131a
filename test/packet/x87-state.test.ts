// The data plane must leave the FPU as it found it: it runs inside node, whose V8 does x87
// math in C++ (long double). GCC emitted MMX instructions (which alias the x87 stack) without
// emms for IPv6 checksum updates, and node aborted with std::bad_alloc at a later garbage
// collection; CMakeLists.txt builds with -mno-mmx. Checked two ways: the built addon holds no
// MMX register at all, and a node process that forwarded IPv6 FullNAT traffic survives a
// collection-heavy workload afterwards (test/support/x87-probe.ts, as a child process so an
// abort is reported as this test's failure).
import { execFile } from 'node:child_process';
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { nodeScriptArgv } from '../../src/lab/node-script.js';
import { requireTool } from '../support/e2e-lab.js';

const ADDON = process.env['PORTCULLIS_ADDON_PATH'] ?? new URL('../../build/Release/portcullis_dataplane.node', import.meta.url).pathname;

function run(argv: string[], timeoutMs: number): Promise<{ code: number | string; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(argv[0]!, argv.slice(1), { timeout: timeoutMs, maxBuffer: 256 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : (typeof error.code === 'number' ? error.code : (error.signal ?? 'error'));
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

test('the built addon uses no MMX register (%mm0-%mm7)', async () => {
  const objdump = requireTool('objdump', 'binutils');
  const listing = await run([objdump, '-d', '--no-show-raw-insn', ADDON], 120_000);
  assert.is(listing.code, 0, `objdump ${ADDON}: ${listing.stderr.slice(0, 500)}`);
  const mmx = listing.stdout.split('\n').filter((line) => /%mm[0-7]\b/.test(line));
  assert.equal(mmx.slice(0, 10), [], `${mmx.length} instructions use MMX registers`);
});

test('node lives through heavy garbage collection after the data plane forwarded IPv6 FullNAT traffic', async () => {
  const probe = await run(nodeScriptArgv(new URL('../support/x87-probe.ts', import.meta.url).href, 'x87-probe'), 120_000);
  assert.is(probe.code, 0, `the probe ended with ${probe.code}: ${probe.stderr.slice(-1500)}`);
  assert.match(probe.stdout, /x87 probe: ok/);
});

test.run();
