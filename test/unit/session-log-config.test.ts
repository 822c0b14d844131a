// The `session_log` section (src/config/session-log.ts): defaults, and each mistake refused
// with its field path; the JSON lines sink (src/session-log/json-lines.ts) on a real file:
// log rotation by rename and by SIGHUP-style reopen, and the bound that drops and counts.
import { test } from '../support/suite.js';
import { configProblems } from '../support/config-problems.js';
import * as assert from 'uvu/assert';
import { mkdtemp, readFile, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/load.js';
import { controlEvents } from '../../src/metrics/control-events.js';
import { JsonLinesWriter } from '../../src/session-log/json-lines.js';

const PORTS = `ports:
  - name: outside
    device: ring
    addresses: [198.18.0.254/24]
`;

test('absent = off; a collector and a file get the documented defaults', () => {
  assert.is(parseConfig(PORTS, 't.yaml').sessionLog, undefined);
  const config = parseConfig(`${PORTS}session_log:
  ipfix: [{ collector: "127.0.0.1:4739" }, { collector: "[2001:db8::1]:4739", protocol: udp, mtu: 9000 }]
  json_file: /var/log/portcullis/sessions.jsonl
`, 't.yaml');
  assert.equal(config.sessionLog, {
    ipfix: [{ host: '127.0.0.1', port: 4739, protocol: 'udp', mtu: 1500 }, { host: '2001:db8::1', port: 4739, protocol: 'udp', mtu: 9000 }],
    jsonFile: '/var/log/portcullis/sessions.jsonl',
    templateRefreshS: 60, observationDomain: 1, drainIntervalMs: 200, jsonQueueLines: 65536,
  });
});

test('every mistake names its field', () => {
  const cases: [string, RegExp][] = [
    ['session_log: {}', /^session_log: .*ipfix .*json_file/],
    ['session_log: { json_file: relative.jsonl }', /^session_log\.json_file: expected an absolute path/],
    ['session_log: { ipfix: [{ collector: "collector.example:4739" }] }', /^session_log\.ipfix\[0\]\.collector: expected .*IP literal/],
    ['session_log: { ipfix: [{ collector: "127.0.0.1" }] }', /^session_log\.ipfix\[0\]\.collector:/],
    ['session_log: { ipfix: [{ collector: "127.0.0.1:0" }] }', /^session_log\.ipfix\[0\]\.collector:/],
    ['session_log: { ipfix: [{ collector: "2001:db8::1:4739" }] }', /^session_log\.ipfix\[0\]\.collector:/],
    ['session_log: { ipfix: [{ collector: "127.0.0.1:4739", protocol: sctp }] }', /^session_log\.ipfix\[0\]\.protocol: .*udp/],
    ['session_log: { ipfix: [{ collector: "127.0.0.1:4739", mtu: 200 }] }', /^session_log\.ipfix\[0\]\.mtu: /],
    ['session_log: { ipfix: [{ port: 4739 }] }', /^session_log\.ipfix\[0\]\.port: unknown key/],
    ['session_log: { ipfix: [{ mtu: 1500 }] }', /^session_log\.ipfix\[0\]\.collector: required/],
    ['session_log: { json_file: /x, template_refresh_s: 0 }', /^session_log\.template_refresh_s: /],
    ['session_log: { json_file: /x, observation_domain: -1 }', /^session_log\.observation_domain: /],
    ['session_log: { json_file: /x, drain_interval_ms: 5000 }', /^session_log\.drain_interval_ms: /],
    ['session_log: { json_file: /x, json_queue_lines: 1 }', /^session_log\.json_queue_lines: /],
    ['session_log: { json_file: /x, colector: 1 }', /^session_log\.colector: /],
  ];
  for (const [yaml, expected] of cases) {
    const found = configProblems(`${PORTS}${yaml}\n`);
    assert.ok(found.some((p) => expected.test(p)), `${yaml}: ${JSON.stringify(found)} should match ${expected}`);
  }
});

test('JSON lines: appended in order; a rotated (renamed) file is followed by a new one at the path; reopen() too', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pc-sessions-'));
  try {
    const path = join(dir, 'sessions.jsonl');
    const writer = new JsonLinesWriter(path, 1000);
    writer.push(['{"n":1}', '{"n":2}']);
    await writer.flush();
    await rename(path, `${path}.1`);  // logrotate's default: move, then the writer must notice
    writer.push(['{"n":3}']);
    await writer.flush();
    assert.is(await readFile(`${path}.1`, 'utf8'), '{"n":1}\n{"n":2}\n');
    assert.is(await readFile(path, 'utf8'), '{"n":3}\n');
    // copytruncate-less rotation with a signal: the old name is moved and the daemon told (SIGHUP).
    await rename(path, `${path}.2`);
    writer.reopen();
    writer.push(['{"n":4}']);
    await writer.close();
    assert.is(await readFile(path, 'utf8'), '{"n":4}\n');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('JSON lines: beyond the bound lines are dropped and counted; a failing write drops and counts its lines', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pc-sessions-'));
  try {
    const before = controlEvents();
    const writer = new JsonLinesWriter(join(dir, 'bounded.jsonl'), 16);
    writer.push(Array.from({ length: 20 }, (_, i) => `{"n":${i}}`));
    await writer.close();
    const lines = (await readFile(join(dir, 'bounded.jsonl'), 'utf8')).trim().split('\n');
    assert.is(lines.length, 16);
    const mid = controlEvents();
    assert.is(mid.session_log_json_lines_dropped - before.session_log_json_lines_dropped, 4);
    assert.is(mid.session_log_json_lines_written - before.session_log_json_lines_written, 16);
    const broken = new JsonLinesWriter(join(dir, 'no-such-dir', 'x.jsonl'), 16);
    broken.push(['{"n":1}', '{"n":2}']);
    await broken.close();
    const after = controlEvents();
    assert.is(after.session_log_json_write_errors - mid.session_log_json_write_errors, 1);
    assert.is(after.session_log_json_lines_dropped - mid.session_log_json_lines_dropped, 2);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test.run();
