// dataplane.conn_region end to end with the REAL daemon on ring ports: the configured file is the
// one the data plane maps, a restart (SIGTERM or kill -9) with the same config adopts it, and
// `off` runs without one. Connections surviving with real TCP stacks: test/e2e/restart.test.ts.
import { access, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { connect } from '../../src/cli/client.js';
import { runCli, startDaemon, testConfig, WEB_SEED, withDaemon, withDaemonOutput, type Daemon } from './daemon.js';

let dir = '';
test.before.each(async () => { dir = await mkdtemp(join(tmpdir(), 'pc-region-')); });
test.after.each(async () => { await rm(dir, { recursive: true, force: true }); });

async function regionStatus(daemon: Daemon) {
  const client = connect(join(dir, 'api.sock'));
  try {
    return (await client.api.getStatus({})).connRegion;
  } catch (error) {
    throw withDaemonOutput(error, daemon);
  } finally {
    client.close();
  }
}

test('a restart with the same config adopts the region: created, then adopted after SIGTERM, and again after kill -9', async () => {
  const config = join(dir, 'config.yaml');
  await writeFile(config, testConfig(dir, WEB_SEED));
  const region = join(dir, 'conns.region');

  const first = await startDaemon(['--config', config]);
  try {
    const report = await regionStatus(first);
    assert.ok(report, `GetStatus has no conn_region: the data plane reports no stats().connRegion (a build without dataplane/core/conn_region.*?):\n${first.output()}`);
    assert.is(report.path, region);
    assert.is(report.outcome, 'created');
    await access(region);
  } finally {
    assert.is(await first.stop(), 0);
  }

  const second = await startDaemon(['--config', config]);
  try {
    const report = await regionStatus(second);
    assert.is(report?.outcome, 'adopted', `after SIGTERM:\n${second.output()}`);
    assert.is(report?.rejectedReason, '');
    second.child.kill('SIGKILL');
    await second.exited;
  } finally {
    await second.stop();
  }

  const third = await startDaemon(['--config', config]);
  try {
    const report = await regionStatus(third);
    assert.is(report?.outcome, 'adopted', `after kill -9 (the region's lock died with the process):\n${third.output()}`);
    const text = await runCli(['status', '--socket', join(dir, 'api.sock')]);
    assert.match(text.stdout, new RegExp(`^connection region ${region.replace(/[.]/g, '\\.')}: adopted$`, 'm'));
  } finally {
    await third.stop();
  }
});

test('conn_region: off → no region file, status says off', async () => {
  const config = testConfig(dir, WEB_SEED).replace(/conn_region: [^ ]+ /, 'conn_region: off ');
  assert.match(config, /conn_region: off /);
  await withDaemon({ dir, config }, async ({ api, cli, daemon }) => {
    assert.is((await api.getStatus({})).connRegion, null);
    assert.match((await cli(['status'])).stdout, /^connection region: off \(a restart forgets every connection\)$/m);
    assert.match(daemon.output(), /connection region: off \(dataplane\.conn_region\)/);
    await access(join(dir, 'conns.region')).then(() => assert.unreachable('a region file was made'), () => undefined);
  });
});

test.run();
