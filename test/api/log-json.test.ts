// log.format: json on the REAL daemon: every line it writes to stderr — start-up, the data plane's
// notices, an audited ApplyState with its fields, shutdown — is one JSON object with level, time
// (ISO 8601) and message. stdout keeps its one "portcullis ready" line for the programs that wait on it.
import * as assert from 'uvu/assert';
import { setLogLevel } from '../../src/log.js';
import { test } from '../support/suite.js';
import { runCli, startDaemon, testConfig, WEB_SEED, withDaemonOutput } from './daemon.js';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '../../src/cli/client.js';

setLogLevel('error');

const ISO_8601 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

test('every daemon log line is a JSON object with level, time, message and fields', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pc-logjson-'));
  const config = join(dir, 'config.yaml');
  await writeFile(config, `log: { format: json }\n${testConfig(dir, WEB_SEED)}`);
  const daemon = await startDaemon(['--config', config]);
  const client = connect(join(dir, 'api.sock'));
  try {
    await client.api.applyState({ services: [{
      key: { protocol: 'TCP', vip: '198.18.0.12', port: 80 }, scheduler: 'rr', localAddresses: ['198.19.0.200'],
      servers: [{ address: '198.19.0.1', port: 80, weight: 1 }],
    }] });
  } catch (error) {
    throw withDaemonOutput(error, daemon);
  } finally {
    client.close();
    await daemon.stop();
  }
  try {
    const lines = daemon.output().split('\n').filter((line) => line !== '' && !line.startsWith('portcullis ready:'));
    assert.ok(lines.length >= 8, `${lines.length} lines`);
    const entries = lines.map((line) => {
      try {
        return JSON.parse(line) as Record<string, unknown>;
      } catch {
        throw new Error(`not a JSON line: ${line}`);
      }
    });
    for (const entry of entries) {
      assert.ok(['debug', 'info', 'warn', 'error'].includes(entry.level as string), JSON.stringify(entry));
      assert.match(entry.time as string, ISO_8601);
      assert.type(entry.message, 'string');
    }
    assert.ok(entries.some((e) => /^serving gRPC on unix:/.test(e.message as string)), 'the start-up lines are JSON too');
    const applied = entries.find((e) => e.event === 'config_apply');
    assert.ok(applied, 'the apply line');
    assert.equal({ caller: applied!.caller, outcome: applied!.outcome, generation: applied!.generation, created: applied!.created },
      { caller: 'unix socket', outcome: 'applied', generation: 2, created: 1 });
    console.log(`  ${entries.length} daemon log lines, each a JSON object`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('log.format: a bad value stops the start naming the field (exit 2)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pc-logjson-'));
  try {
    const config = join(dir, 'config.yaml');
    await writeFile(config, `log: { format: syslog }\n${testConfig(dir)}`);
    const result = await runCli(['run', '--config', config, '--check']);
    assert.is(result.code, 2);
    assert.match(result.stderr, /log\.format: expected one of text, json, got "syslog"/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test.run();
