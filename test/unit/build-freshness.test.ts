// The api suites start `portcullis` from dist/ only while dist/ is the source's build: a source
// file changed after the last build must send them back to the source, never to stale code.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as assert from 'uvu/assert';
import { BUILT_CLI, currentBuiltCli, newerThanBuild } from '../../src/lab/build-freshness.js';
import { nodeScriptArgv } from '../../src/lab/node-script.js';
import { test } from '../support/suite.js';

function fakeCheckout(): string {
  const root = mkdtempSync(join(tmpdir(), 'pc-built-cli-'));
  for (const file of ['src/lab/servers.ts', 'dist/src/lab/servers.js', 'package.json', 'tsconfig.json', 'src/cli/portcullis.ts', 'src/api/generated/x.ts', 'proto/p.proto', BUILT_CLI, 'dist/.build-stamp']) {
    mkdirSync(join(root, file, '..'), { recursive: true });
    writeFileSync(join(root, file), file.endsWith('.json') ? '{}' : '');
  }
  const built = new Date(Date.now() + 60_000);  // the stamp is the newest file
  utimesSync(join(root, 'dist/.build-stamp'), built, built);
  return root;
}

test('dist/ current: the built CLI; a source or proto file changed after the build: none, naming the file', () => {
  const root = fakeCheckout();
  try {
    assert.is(newerThanBuild(root), undefined);
    const later = new Date(Date.now() + 120_000);
    utimesSync(join(root, 'src/api/generated/x.ts'), later, later);
    assert.is(newerThanBuild(root), join(root, 'src/api/generated/x.ts'));
    utimesSync(join(root, 'src/api/generated/x.ts'), new Date(), new Date());
    utimesSync(join(root, 'proto/p.proto'), later, later);
    assert.is(newerThanBuild(root), join(root, 'proto/p.proto'));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('currentBuiltCli: the built path when current; undefined without a stamp, when stale, or with PORTCULLIS_TEST_FROM_SOURCE=1', () => {
  const roots = [fakeCheckout(), fakeCheckout(), fakeCheckout(), fakeCheckout()];
  const [current, unstamped, stale, forced] = roots as [string, string, string, string];
  try {
    rmSync(join(unstamped, 'dist/.build-stamp'));
    const later = new Date(Date.now() + 120_000);
    utimesSync(join(stale, 'src/cli/portcullis.ts'), later, later);
    assert.is(currentBuiltCli(current), join(current, BUILT_CLI));
    assert.is(currentBuiltCli(unstamped), undefined);
    assert.is(currentBuiltCli(stale), undefined);
    process.env.PORTCULLIS_TEST_FROM_SOURCE = '1';
    assert.is(currentBuiltCli(forced), undefined);
  } finally {
    delete process.env.PORTCULLIS_TEST_FROM_SOURCE;
    for (const root of roots) rmSync(root, { recursive: true, force: true });
  }
});

test('nodeScriptArgv from source: the built module while dist/ is current, the source through tsx once a source file is newer', () => {
  const roots = [fakeCheckout(), fakeCheckout()];
  const [current, stale] = roots as [string, string];
  try {
    const later = new Date(Date.now() + 120_000);
    utimesSync(join(stale, 'src/lab/servers.ts'), later, later);
    mkdirSync(join(stale, 'node_modules'));
    symlinkSync(resolve('node_modules/tsx'), join(stale, 'node_modules/tsx'));  // what the source path resolves
    const caller = (root: string): string => pathToFileURL(join(root, 'src/lab/lab.ts')).href;
    assert.equal(nodeScriptArgv(caller(current), 'servers'), [process.execPath, join(current, 'dist/src/lab/servers.js')]);
    const fromSource = nodeScriptArgv(caller(stale), 'servers');
    assert.is(fromSource[1], '--import');
    assert.is(fromSource.at(-1), join(stale, 'src/lab/servers.ts'));
  } finally {
    for (const root of roots) rmSync(root, { recursive: true, force: true });
  }
});

test.run();
