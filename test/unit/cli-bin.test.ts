// `npx portcullis …` and `npx pcadm …` work from a checkout (what the README, the docs and the
// demo's banner tell users to type): package.json's bin entries name the built CLIs, which start
// with a node shebang, and npm runs them from the repository root.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { repoRoot } from '../../src/api/proto.js';

const root = repoRoot();
const bins = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { bin: Record<string, string> }).bin;

test('package.json names portcullis and pcadm, built from src/cli with a node shebang', () => {
  assert.equal(Object.keys(bins).sort(), ['pcadm', 'portcullis']);
  for (const [name, path] of Object.entries(bins)) {
    const source = join(root, path.replace(/^dist\//, '').replace(/\.js$/, '.ts'));
    assert.ok(readFileSync(source, 'utf8').startsWith('#!/usr/bin/env node\n'), `${name}: ${source} starts with the shebang`);
  }
});

test('npx portcullis help and npx pcadm -h run from the checkout (after the TypeScript build)', () => {
  for (const [args, expected] of [[['portcullis', 'help'], /portcullis import keepalived FILE/], [['pcadm', '-h'], /ipvsadm-compatible/]] as const) {
    const run = spawnSync('npx', ['--no-install', ...args], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    assert.is(run.status, 0, `npx ${args.join(' ')}: ${run.error?.message ?? ''}${run.stderr}`);
    assert.match(run.stdout, expected, `npx ${args.join(' ')} printed its usage (a stale dist/ needs npm run build:ts)`);
  }
});

test.run();
