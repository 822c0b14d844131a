// Health checks: the config validator, rise/fall counting, the socket prober
// against real TCP/HTTP servers on 127.0.0.1, and the checker quiescing and
// restoring a server through the real Controller and model (the data plane is
// a recording fake: the checker and the model are what is under test).
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { Controller } from '../../src/daemon/controller.js';
import type { DataplaneConfig } from '../../src/dataplane/types.js';
import { HealthChecker } from '../../src/health/checker.js';
import { socketProber } from '../../src/health/probe.js';
import { initialRecord, nextRecord } from '../../src/health/verdict.js';
import { setLogLevel } from '../../src/log.js';
import {
  createService, DEFAULT_TIMEOUTS, ModelError, readHealthCheck, readServiceSpec, setServerHealth, type DesiredState, type HealthCheck,
} from '../../src/model/index.js';
import { parseState, serializeState } from '../../src/state/file.js';

setLogLevel('error');

const HTTP_CHECK: HealthCheck = readHealthCheck({ kind: 'http', path: '/health', interval_ms: 1000, timeout_ms: 300, rise: 2, fall: 3 }, 'hc');
const TCP_CHECK: HealthCheck = { ...HTTP_CHECK, kind: 'tcp' };

function listening<T extends TcpServer | HttpServer>(server: T): Promise<{ server: T; port: number }> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as AddressInfo).port })));
}

function closed(server: TcpServer | HttpServer): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

function emptyState(): DesiredState {
  return {
    ports: [
      { name: 'outside', device: 'ring', addresses: ['198.18.0.254/24'] },
      { name: 'inside', device: 'ring', addresses: ['198.19.0.254/24'] },
    ],
    routes: [{ prefix: '0.0.0.0/0', port: 'inside' }], defaultTimeouts: { ...DEFAULT_TIMEOUTS }, services: [], nextServiceId: 1, nextServerId: 1,
  };
}

/** A port nothing listens on: bound, read, released. */
async function freePort(): Promise<number> {
  const { server, port } = await listening(createTcpServer());
  await closed(server);
  return port;
}

test('readHealthCheck: defaults, snake_case fields, clear errors', () => {
  assert.equal(readHealthCheck({ kind: 'tcp' }, 'hc'),
    { kind: 'tcp', path: '/', expectStatus: 200, intervalMs: 2000, timeoutMs: 1000, rise: 2, fall: 3 });
  assert.is(HTTP_CHECK.path, '/health');
  const error = (raw: unknown) => {
    try { readHealthCheck(raw, 'services[0].health_check'); } catch (e) { return (e as ModelError).message; }
    return 'accepted';
  };
  assert.match(error({ kind: 'icmp' }), /services\[0\]\.health_check\.kind/);
  assert.match(error({ kind: 'http', path: 'health' }), /must start with "\/"/);
  assert.match(error({ kind: 'tcp', interval_ms: 500, timeout_ms: 500 }), /timeout_ms.*below interval_ms/);
  assert.match(error({ kind: 'tcp', rise: 0 }), /rise/);
  assert.match(error({ kind: 'tcp', colour: 'red' }), /unknown key/);
});

test('rise/fall: fall failures in a row take a server down, rise successes bring it back, a mixed run moves nothing', () => {
  const limits = { rise: 2, fall: 3 };
  let record = initialRecord();
  const states: string[] = [];
  for (const ok of [false, false, true, false, false, false, true, false, true, true, true]) {
    record = nextRecord(record, ok, ok ? 'ok' : 'bad', limits, 1);
    states.push(record.state);
  }
  assert.equal(states, ['up', 'up', 'up', 'up', 'up', 'down', 'down', 'down', 'down', 'up', 'up']);
});

test('tcp prober: a listening port is healthy, a closed one is not', async () => {
  const { server, port } = await listening(createTcpServer((socket) => socket.destroy()));
  try {
    assert.equal(await socketProber({ address: '127.0.0.1', port }, TCP_CHECK), { ok: true, detail: 'connected' });
  } finally {
    await closed(server);
  }
  const refused = await socketProber({ address: '127.0.0.1', port: await freePort() }, TCP_CHECK);
  assert.equal(refused, { ok: false, detail: 'connect ECONNREFUSED' });
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
    assert.equal(await socketProber(target, HTTP_CHECK), { ok: true, detail: 'status 200' });
    status = 503;
    assert.equal(await socketProber(target, HTTP_CHECK), { ok: false, detail: 'status 503, expected 200' });
    assert.equal(await socketProber(target, { ...HTTP_CHECK, expectStatus: 503 }), { ok: true, detail: 'status 503' });
    assert.equal(await socketProber(target, { ...HTTP_CHECK, path: '/silent' }), { ok: false, detail: 'no answer within 300 ms' });
    assert.equal(paths, ['/health', '/health', '/health', '/silent']);
  } finally {
    server.closeAllConnections();
    await closed(server);
  }
  assert.equal(await socketProber({ address: '127.0.0.1', port: await freePort() }, HTTP_CHECK), { ok: false, detail: 'http ECONNREFUSED' });
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
    const base = emptyState();
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
  const base = emptyState();
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
