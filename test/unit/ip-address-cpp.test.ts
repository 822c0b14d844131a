// dataplane/common/ip_address.h is the one address type of the data plane (16 bytes, IPv4 held
// as ::ffff:a.b.c.d). Its helpers decide table order, prefix matches, the schedulers' hash input
// and what the addon accepts, so they are checked directly: test/fixtures/cpp/ip_address_check.cpp
// is built with g++ against the header (no DPDK needed) and run.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { repoRoot } from '../../src/api/proto.js';

const run = promisify(execFile);

test('ip_address.h: parse, text, order, fold and prefix helpers hold their contract', async () => {
  const root = repoRoot();
  const dir = mkdtempSync(join(tmpdir(), 'pc-ip-address-'));
  try {
    const binary = join(dir, 'ip_address_check');
    await run('g++', ['-std=c++17', '-Wall', '-Werror', `-I${join(root, 'dataplane')}`, '-o', binary,
      join(root, 'test', 'fixtures', 'cpp', 'ip_address_check.cpp')], { cwd: root });
    const result = await run(binary).then(({ stdout }) => ({ code: 0, stdout }))
      .catch((error: { code?: number; stdout?: string }) => ({ code: error.code ?? 1, stdout: error.stdout ?? '' }));
    assert.is(result.code, 0, result.stdout);
    assert.match(result.stdout, /^ok \d+\n$/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
