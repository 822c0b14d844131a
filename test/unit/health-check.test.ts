// Health checks: the config validator, rise/fall counting, the socket prober
// against real TCP/HTTP servers on 127.0.0.1, and the checker quiescing and
// restoring a server through the real Controller and model (the data plane is
// a recording fake: the checker and the model are what is under test).
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ringPortsStateRouted } from '../support/desired-state.js';
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { Controller } from '../../src/daemon/controller.js';
import type { DataplaneConfig } from '../../src/dataplane/types.js';
import { HealthChecker } from '../../src/health/checker.js';
import { failure, socketProber, type Prober, type ProbeResult } from '../../src/health/probe.js';
import { initialRecord, nextRecord } from '../../src/health/verdict.js';
import { setLogLevel } from '../../src/log.js';
import { controlEvents } from '../../src/metrics/control-events.js';
import {
  createService, ModelError, readHealthCheck, readServiceSpec, setServerHealth, type HealthCheck,
} from '../../src/model/index.js';
import { parseState, serializeState } from '../../src/state/file.js';
import { REPO_ROOT, runProcess } from '../api/daemon.js';

setLogLevel('error');

/** Runs argv to completion (killed after timeoutMs). */

const HTTP_CHECK: HealthCheck = readHealthCheck({ kind: 'http', path: '/health', interval_ms: 1000, timeout_ms: 300, rise: 2, fall: 3 }, 'hc');
const TCP_CHECK: HealthCheck = { ...HTTP_CHECK, kind: 'tcp' };

function listening<T extends TcpServer | HttpServer>(server: T): Promise<{ server: T; port: number }> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as AddressInfo).port })));
}

function closed(server: TcpServer | HttpServer): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}


/** A port nothing listens on: bound, read, released. */
async function freePort(): Promise<number> {
  const { server, port } = await listening(createTcpServer());
  await closed(server);
  return port;
}

const checkError = (raw: unknown) => {
  try { readHealthCheck(raw, 'services[0].health_check'); } catch (e) { return (e as ModelError).message; }
  return 'accepted';
};

test('readHealthCheck: defaults, snake_case fields, clear errors', () => {
  assert.equal(readHealthCheck({ kind: 'tcp' }, 'hc'),
    { kind: 'tcp', path: '/', expectStatus: 200, intervalMs: 2000, timeoutMs: 1000, rise: 2, fall: 3 });
  assert.is(HTTP_CHECK.path, '/health');
  assert.match(checkError({ kind: 'ping' }), /services\[0\]\.health_check\.kind/);
  assert.match(checkError({ kind: 'http', path: 'health' }), /must start with "\/"/);
  assert.match(checkError({ kind: 'tcp', interval_ms: 500, timeout_ms: 500 }), /timeout_ms.*below interval_ms/);
  assert.match(checkError({ kind: 'tcp', rise: 0 }), /rise/);
  assert.match(checkError({ kind: 'tcp', colour: 'red' }), /unknown key/);
});

test('health check path: origin form only (what http.request can send as typed), the field named', () => {
  for (const good of ['/', '/healthz', '/a/b.c-d_e~f', '/status?full=1&x=a/b', '/%20spaced%2Fout', "/!$&'()*+,;=:@", '/?', '//double']) {
    assert.is(readHealthCheck({ kind: 'http', path: good }, 'hc').path, good, good);
  }
  const bad: [string, RegExp][] = [
    ['/health check', /^services\[0\]\.health_check\.path: character " " at offset 7 is not allowed in a URL path: percent-encode it \(a space is %20\)/],
    ['/a\tb', /character "\\t" at offset 2/],
    ['/a\r\nHost: evil', /character "\\r" at offset 2/],
    ['/a\u0000', /character "\\u0000"/],
    ['/a#frag', /character "#"/],
    ['/caf\u00e9', /character "\u00e9"/],
    ['/a"b', /character "\\""/],
    ['/a<b>', /character "<"/],
    ['/a\\b', /character "\\\\"/],
    ['/{x}', /character "\{"/],
    ['/[x]', /character "\["/],
    ['/a%2', /"%" at offset 2 must start a %XX escape/],
    ['/a%zz', /"%" at offset 2 must start a %XX escape/],
    ['health', /must start with "\/"/],
    ['', /expected a non-empty string of at most 1024 characters/],
    [`/${'a'.repeat(1024)}`, /expected a non-empty string of at most 1024 characters/],
  ];
  for (const [path, pattern] of bad) {
    const message = checkError({ kind: 'http', path });
    assert.match(message, /^services\[0\]\.health_check\.path: /, JSON.stringify(path));
    assert.match(message, pattern, JSON.stringify(path));
  }
  assert.match(checkError({ kind: 'tcp', path: '/a b' }), /health_check\.path: character " "/, 'a tcp check carries the field too: refused alike');
  assert.match(checkError({ kind: 'http', path: 17 }), /health_check\.path: expected a non-empty string/);
});

test('rise/fall: fall failures in a row take a server down, rise successes bring it back, a mixed run moves nothing', () => {
  const limits = { rise: 2, fall: 3 };
  let record = initialRecord();
  const states: string[] = [];
  for (const ok of [false, false, true, false, false, false, true, false, true, true, true]) {
    record = nextRecord(record, ok ? 'pass' : 'fail', ok ? 'ok' : 'bad', limits, 1);
    states.push(record.state);
  }
  assert.equal(states, ['up', 'up', 'up', 'up', 'up', 'down', 'down', 'down', 'down', 'up', 'up']);
});

test('rise/fall: an unknown probe counts toward neither and keeps the streak (fail, unknown ×5, fail, fail = down at the third fail)', () => {
  const limits = { rise: 2, fall: 3 };
  let record = initialRecord();
  const run = (outcomes: ('pass' | 'fail' | 'unknown')[]) => outcomes.map((outcome) => {
    record = nextRecord(record, outcome, outcome, limits, 1);
    return `${record.state}/${record.streak}`;
  });
  assert.equal(run(['fail', 'unknown', 'unknown', 'unknown', 'unknown', 'unknown', 'fail', 'fail']),
    ['up/1', 'up/1', 'up/1', 'up/1', 'up/1', 'up/1', 'up/2', 'down/0']);
  assert.is(record.lastDetail, 'fail', 'an unknown probe does not become the detail of the verdict');
  assert.equal(run(['pass', 'unknown', 'unknown', 'unknown', 'pass']), ['down/1', 'down/1', 'down/1', 'down/1', 'up/0']);
  assert.equal(run(Array(50).fill('unknown')), Array(50).fill('up/0'), 'unknown forever moves nothing');
});

test('probe errors: the server\'s answers (and silence) fail, trouble on our side is unknown', () => {
  for (const code of ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'EHOSTDOWN', 'EPIPE', 'HPE_INVALID_CONSTANT', 'HPE_HEADER_OVERFLOW']) {
    assert.equal(failure('connect', Object.assign(new Error(code), { code })), { outcome: 'fail', detail: `connect ${code}` }, code);
  }
  for (const code of ['EMFILE', 'ENFILE', 'ENOBUFS', 'ENOMEM', 'EADDRNOTAVAIL', 'EADDRINUSE', 'EAGAIN', 'EPERM', 'EACCES', 'ENETUNREACH', 'ERR_UNESCAPED_CHARACTERS', 'ERR_INVALID_ARG_TYPE']) {
    assert.equal(failure('http', Object.assign(new Error(code), { code })), { outcome: 'unknown', detail: `http ${code}` }, code);
  }
  assert.equal(failure('http', new TypeError('x is not a function')), { outcome: 'unknown', detail: 'http x is not a function' });
  assert.equal(failure('http', 'a string'), { outcome: 'unknown', detail: 'http a string' });
});

test('a real local failure: with no descriptor left (EMFILE under ulimit -n) probes are unknown, verdicts and streaks stay, real answers count again after', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-emfile-'));
  try {
    for (const kind of ['tcp', 'http']) {
      // TSX_DISABLE_CACHE: tsx's loader thread would otherwise walk its cache directory (holding a
      // descriptor it closes whenever it is done) after a module missed the cache: see the child.
      const child = await runProcess(['sh', '-c', 'ulimit -n 256 && exec "$0" "$@"', process.execPath, '--import', 'tsx',
        join(REPO_ROOT, 'test/support/probe-fd-exhaustion.ts'), dir, kind], 60_000, { TSX_DISABLE_CACHE: '1' });
      const line = child.stdout.trim().split('\n').pop() ?? '';
      let report: Record<string, Record<string, unknown>> & { fillError?: string; error?: string; topUps?: number[] };
      try {
        report = JSON.parse(line) as typeof report;
      } catch {
        throw new Error(`child (${kind}) gave no report, exit ${child.code}: ${child.stdout} ${child.stderr}`);
      }
      assert.is(report.error, undefined, String(report.error));
      assert.is(report.fillError, 'EMFILE', 'the descriptor table was really full');
      const what = kind === 'tcp' ? 'connect' : 'http';
      assert.equal([report.down!.steady, report.down!.flaky, report.down!.weights], ['up', 'down', [5, 0]], `${kind}: a refusing server goes down`);
      assert.equal([report.before!.flaky, report.before!.flakyStreak], ['down', 1], `${kind}: one pass toward rise`);
      assert.equal(report.exhausted!.answers, Array(6).fill(`unknown ${what} EMFILE`),
        `${kind}: every probe with no descriptor is unknown (descriptors freed while the table was full, taken back before rounds 1-3 and after: ${JSON.stringify(report.topUps)})`);
      assert.equal([report.exhausted!.steady, report.exhausted!.flaky, report.exhausted!.flakyStreak, report.exhausted!.weights, report.exhausted!.applies],
        ['up', 'down', 1, [5, 0], 2], `${kind}: 3 rounds of EMFILE (> fall, > rise) moved no verdict, no streak, no weight`);
      assert.is(Number(report.exhausted!.unknown) - Number(report.before!.unknown), 6, `${kind}: counted as health_probes_unknown`);
      assert.equal([report.after!.steady, report.after!.flaky, report.after!.weights], ['up', 'up', [5, 5]],
        `${kind}: descriptors back, ONE pass completes the rise the EMFILE rounds interrupted`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('checker: a probe that throws, rejects, never settles or answers nonsense is unknown; the round goes on, nothing escapes', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-health-'));
  const applied: DataplaneConfig[] = [];
  const dataplane = { apply: (config: DataplaneConfig) => { applied.push(structuredClone(config)); return { version: applied.length }; } };
  const rejections: unknown[] = [];
  const onRejection = (reason: unknown) => rejections.push(reason);
  process.on('unhandledRejection', onRejection);
  try {
    const spec = readServiceSpec({
      name: 'web', protocol: 'tcp', vip: '198.18.0.10', port: 80, local_addresses: ['198.19.0.200'],
      health_check: { kind: 'http', path: '/health', interval_ms: 200, timeout_ms: 50, rise: 1, fall: 1 },
      servers: [1, 2, 3, 4, 5].map((n) => ({ address: `198.19.0.${n}`, port: 80, weight: n })),
    }, 'service');
    const controller = new Controller(dataplane, join(dir, 'state.json'), createService(ringPortsStateRouted(), spec).state);
    await controller.applyInitial();
    let behaviour: 'misbehave' | 'fail' = 'misbehave';
    const prober: Prober = (target) => {
      if (behaviour === 'fail') return Promise.resolve({ outcome: 'fail', detail: 'status 500' });
      switch (target.address) {
        case '198.19.0.1': throw Object.assign(new TypeError('Request path contains unescaped characters'), { code: 'ERR_UNESCAPED_CHARACTERS' });
        case '198.19.0.2': return Promise.reject(new Error('rejected'));
        case '198.19.0.3': return new Promise<ProbeResult>(() => undefined);
        case '198.19.0.4': return Promise.resolve(undefined as unknown as ProbeResult);
        default: return Promise.resolve({ outcome: 'pass', detail: 'status 200' });
      }
    };
    const checker = new HealthChecker({
      prober, state: () => controller.state,
      apply: async ({ service, serverId, state }) => { await controller.mutate((s) => setServerHealth(s, service, serverId, state === 'down')); },
    });
    const before = controlEvents().health_probes_unknown;
    const started = Date.now();
    await checker.probeService(controller.state.services[0]!.id);
    assert.ok(Date.now() - started < 50 + 1_000 + 500, 'a probe that never settles is cut at timeout + grace');
    assert.is(controlEvents().health_probes_unknown - before, 4, 'four misbehaving probes, four unknown');
    assert.equal(applied.at(-1)!.services[0]!.servers.map((s) => s.weight), [1, 2, 3, 4, 5], 'fall = 1, yet no server went down');
    assert.equal(controller.state.services[0]!.servers.map((s) => checker.healthOf(s.id)!.state), ['up', 'up', 'up', 'up', 'up']);

    // The same checker still works: real failures take servers down at the next round.
    behaviour = 'fail';
    await checker.probeService(controller.state.services[0]!.id);
    assert.equal(applied.at(-1)!.services[0]!.servers.map((s) => s.weight), [0, 0, 0, 0, 0]);

    // And through its own timers (start()), misbehaving probes produce no unhandled rejection.
    behaviour = 'misbehave';
    checker.start();
    await new Promise((resolve) => setTimeout(resolve, 700));
    checker.stop();
    assert.equal(rejections, [], 'nothing escaped the timers');
  } finally {
    process.off('unhandledRejection', onRejection);
    await rm(dir, { recursive: true, force: true });
  }
});

test('tcp prober: a listening port is healthy, a closed one is not', async () => {
  const { server, port } = await listening(createTcpServer((socket) => socket.destroy()));
  try {
    assert.equal(await socketProber({ address: '127.0.0.1', port }, TCP_CHECK), { outcome: 'pass', detail: 'connected' });
  } finally {
    await closed(server);
  }
  const refused = await socketProber({ address: '127.0.0.1', port: await freePort() }, TCP_CHECK);
  assert.equal(refused, { outcome: 'fail', detail: 'connect ECONNREFUSED' });
});

test('http prober: expected status on the path passes; another status, silence or a refusal fail', async () => {
  let status = 200;
  const paths: string[] = [];
  const { server, port } = await listening(createHttpServer((request, response) => {
    paths.push(request.url ?? '');
    if (request.url === '/silent') return; // never answers: the probe's timeout must end it
    response.writeHead(status).end('x');
  }));
  try {
    const target = { address: '127.0.0.1', port };
    assert.equal(await socketProber(target, HTTP_CHECK), { outcome: 'pass', detail: 'status 200' });
    status = 503;
    assert.equal(await socketProber(target, HTTP_CHECK), { outcome: 'fail', detail: 'status 503, expected 200' });
    assert.equal(await socketProber(target, { ...HTTP_CHECK, expectStatus: 503 }), { outcome: 'pass', detail: 'status 503' });
    assert.equal(await socketProber(target, { ...HTTP_CHECK, path: '/silent' }), { outcome: 'fail', detail: 'no answer within 300 ms' });
    // A path the validator would refuse (one written by an older version, say): http.request
    // throws synchronously; the probe answers unknown instead of rejecting.
    assert.equal(await socketProber(target, { ...HTTP_CHECK, path: '/a b' }), { outcome: 'unknown', detail: 'http ERR_UNESCAPED_CHARACTERS' });
    assert.equal(paths, ['/health', '/health', '/health', '/silent']);
  } finally {
    server.closeAllConnections();
    await closed(server);
  }
  assert.equal(await socketProber({ address: '127.0.0.1', port: await freePort() }, HTTP_CHECK), { outcome: 'fail', detail: 'http ECONNREFUSED' });
});

test('probers against hostile servers (garbage, resets, header overflow, silence): each answers with a result, nothing is thrown or left unhandled', async () => {
  const escaped: unknown[] = [];
  const onEscape = (error: unknown) => escaped.push(error);
  process.on('uncaughtException', onEscape);
  process.on('unhandledRejection', onEscape);
  const behaviours: [string, (socket: import('node:net').Socket) => void, string, string][] = [
    ['garbage', (s) => s.end('NOT HTTP AT ALL\r\n\r\n'), 'fail http HPE_INVALID_CONSTANT', 'pass connected'],
    ['reset mid-body', (s) => { s.write('HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\nabc'); setTimeout(() => s.resetAndDestroy(), 20); }, 'pass status 200', 'pass connected'],
    ['close without answer', (s) => s.end(), 'fail http ECONNRESET', 'pass connected'],
    ['header overflow', (s) => { s.write('HTTP/1.1 200 OK\r\n'); for (let i = 0; i < 2000; i++) s.write(`X-${i}: ${'a'.repeat(100)}\r\n`); }, 'fail http HPE_HEADER_OVERFLOW', 'pass connected'],
    ['silent, then reset', (s) => setTimeout(() => s.resetAndDestroy(), 400), 'fail no answer within 300 ms', 'pass connected'],
  ];
  try {
    for (const [name, behave, http, tcp] of behaviours) {
      const sockets = new Set<import('node:net').Socket>();
      const { server, port } = await listening(createTcpServer((socket) => { sockets.add(socket); socket.on('error', () => undefined); behave(socket); }));
      try {
        const target = { address: '127.0.0.1', port };
        const asText = (r: ProbeResult) => `${r.outcome} ${r.detail}`;
        assert.is(asText(await socketProber(target, HTTP_CHECK)), http, `${name} (http)`);
        assert.is(asText(await socketProber(target, TCP_CHECK)), tcp, `${name} (tcp)`);
        await new Promise((resolve) => setTimeout(resolve, 500));  // let late resets and closes arrive
      } finally {
        for (const socket of sockets) socket.destroy();
        await closed(server);
      }
    }
    assert.equal(escaped, [], 'nothing escaped a probe');
  } finally {
    process.off('uncaughtException', onEscape);
    process.off('unhandledRejection', onEscape);
  }
});

test('checker: a failing server goes to weight 0 in the data plane after `fall` rounds and back after `rise`; the configured weight stays', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-health-'));
  let healthy = true;
  const { server: web, port } = await listening(createHttpServer((_request, response) => response.writeHead(healthy ? 200 : 500).end()));
  const unreachablePort = await freePort();
  const applied: DataplaneConfig[] = [];
  let version = 0;
  const dataplane = { apply: (config: DataplaneConfig) => { applied.push(structuredClone(config)); return { version: ++version }; } };
  try {
    const base = ringPortsStateRouted();
    const spec = readServiceSpec({
      name: 'web', protocol: 'tcp', vip: '198.18.0.10', port: 80, local_addresses: ['198.19.0.200'],
      health_check: { kind: 'http', path: '/health', interval_ms: 1000, timeout_ms: 300, rise: 2, fall: 2 },
      servers: [{ address: '127.0.0.1', port, weight: 7 }, { address: '127.0.0.1', port: unreachablePort, weight: 3 }],
    }, 'service');
    const controller = new Controller(dataplane, join(dir, 'state.json'), createService(base, spec).state);
    await controller.applyInitial();
    const checker = new HealthChecker({
      prober: socketProber,
      state: () => controller.state,
      apply: async ({ service, serverId, state }) => {
        await controller.mutate((current) => setServerHealth(current, service, serverId, state === 'down'));
      },
    });
    const [up, dead] = controller.state.services[0]!.servers;
    const weights = () => applied.at(-1)!.services[0]!.servers.map((s) => s.weight);
    const round = () => checker.probeService(controller.state.services[0]!.id);

    await round();
    assert.equal(weights(), [7, 3], 'one failed round is below fall');
    assert.is(checker.healthOf(dead!.id)!.state, 'up');
    await round();
    assert.equal(weights(), [7, 0], 'the unreachable server is quiesced after fall = 2 rounds');
    assert.is(checker.healthOf(dead!.id)!.state, 'down');
    assert.is(checker.healthOf(dead!.id)!.lastDetail, 'http ECONNREFUSED');
    assert.is(controller.state.services[0]!.servers[1]!.weight, 3, 'the configured weight is kept');

    healthy = false;
    await round();
    await round();
    assert.equal(weights(), [0, 0], 'a 500 answer takes the web server down too');
    assert.is(checker.healthOf(up!.id)!.lastDetail, 'status 500, expected 200');
    const appliesWhileDown = applied.length;
    await round();
    assert.is(applied.length, appliesWhileDown, 'no change is applied while nothing changes');

    healthy = true;
    await round();
    assert.equal(weights(), [0, 0], 'one passed round is below rise');
    await round();
    assert.equal(weights(), [7, 0], 'restored with its configured weight after rise = 2 rounds');
    assert.is(checker.healthOf(up!.id)!.state, 'up');

    // The check survives the state file; the verdict does not (a restart probes afresh).
    const reread = parseState(serializeState(controller.state));
    assert.equal(reread.services[0]!.healthCheck, controller.state.services[0]!.healthCheck);
    assert.is(reread.services[0]!.servers[1]!.healthDown, undefined);
  } finally {
    web.closeAllConnections();
    await closed(web);
    await rm(dir, { recursive: true, force: true });
  }
});

test('setServerHealth: a server that left the service is NOT_FOUND, not a crash', () => {
  const base = ringPortsStateRouted();
  const spec = readServiceSpec({ name: 'x', protocol: 'tcp', vip: '198.18.0.10', port: 80, local_addresses: ['198.19.0.200'], servers: [] }, 's');
  const state = createService(base, spec).state;
  try {
    setServerHealth(state, spec, 999, true);
    assert.unreachable('accepted an unknown server');
  } catch (error) {
    assert.instance(error, ModelError);
    assert.match((error as ModelError).message, /no longer/);
  }
});

test.run();
