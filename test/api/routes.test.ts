// portcullis.v1.Routes against the REAL daemon (ring ports): add/list/delete, every refusal with
// its field, persistence across a restart (state file wins over the config's routes), the
// read-only role refused, the CLI; and, in process over a TEST-mode data plane (the live
// daemon's ring ports cannot be fed from outside), proof that a route added over gRPC is what
// the data plane forwards by. The round trip, the CLI and the refusals (last: it fills the table
// to its limit) share one daemon, each starting from no route (deleted through the API).
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as assert from 'uvu/assert';
import { startApiServer, type ApiServer } from '../../src/api/server.js';
import { connect } from '../../src/cli/client.js';
import { resolveEndpoint } from '../../src/cli/endpoint.js';
import { Controller } from '../../src/daemon/controller.js';
import { setLogLevel } from '../../src/log.js';
import { StatsHub } from '../../src/metrics/stats-hub.js';
import { LIMITS } from '../../src/model/index.js';
import { expectGrpcError } from '../support/expected-errors.js';
import { clientTcp, expectDrops, only, VIP, withLab } from '../support/golden.js';
import { hostMac } from '../support/packet.js';
import { ringPortsState } from '../support/desired-state.js';
import { test } from '../support/suite.js';
import { sharedDaemon, testConfig, withDaemon, withDaemonOutput, type DaemonSession, type SharedDaemon } from './daemon.js';
import { makeLab, startSecured } from './secured.js';

setLogLevel('error');

const ROUTER = '198.19.0.9';
const v4 = { prefix: '10.99.0.0/16', via: ROUTER, port: 'inside' };

let dir = '';
test.before.each(async () => { dir = await mkdtemp(join(tmpdir(), 'pc-routes-')); });
test.after.each(async () => { await rm(dir, { recursive: true, force: true }); });

let sharedDir = '';
let shared: SharedDaemon | undefined;
test.before(async () => {
  sharedDir = await mkdtemp(join(tmpdir(), 'pc-routes-shared-'));
  shared = sharedDaemon({ dir: sharedDir, config: routesConfig([], sharedDir) });
  await shared.start();
});
test.after(async () => {
  await shared?.stop();
  await rm(sharedDir, { recursive: true, force: true });
});

/** Runs body on the shared daemon as on a fresh one started with no routes: whatever an earlier test left is deleted first. */
function onSharedDaemon(body: (session: DaemonSession) => Promise<void>): Promise<void> {
  return shared!.use(async (session) => {
    for (const route of (await session.api.listRoutes({})).routes) await session.api.deleteRoute({ prefix: route.prefix });
    assert.equal((await session.api.listRoutes({})).routes, [], 'the shared daemon starts each test without routes');
    await body(session);
  });
}

/** The api tests' config (outside also 2001:db8:18::254/64) with `routes:` YAML lines added. */
function routesConfig(routes: string[], folder = dir): string {
  const block = routes.length ? `routes:\n${routes.map((r) => `  - ${r}\n`).join('')}` : '';
  const dualStack = testConfig(folder).replace('[198.18.0.254/24]', '[198.18.0.254/24, "2001:db8:18::254/64"]');
  return dualStack.replace(/^services:/m, `${block}services:`);
}

test('AddRoute/ListRoutes/DeleteRoute round trip, IPv4 and IPv6, canonical text echoed', async () => {
  await onSharedDaemon(async ({ api }) => {
    assert.equal((await api.listRoutes({})).routes, []);
    assert.equal(await api.addRoute({ route: v4 }), v4);
    const added6 = await api.addRoute({ route: { prefix: '2001:DB8:20:0::/48', via: '2001:DB8:18:0::9', port: 'outside' } });
    assert.equal(added6, { prefix: '2001:db8:20::/48', via: '2001:db8:18::9', port: 'outside' });
    const onLink = await api.addRoute({ route: { prefix: '10.98.0.0/24', via: '', port: 'inside' } });
    assert.equal(onLink, { prefix: '10.98.0.0/24', via: '', port: 'inside' });
    // A link-local next hop, as IPv6 routers advertise themselves, is on the named port's link.
    const viaLinkLocal = await api.addRoute({ route: { prefix: '::/0', via: 'FE80::1', port: 'outside' } });
    assert.equal(viaLinkLocal, { prefix: '::/0', via: 'fe80::1', port: 'outside' });
    assert.equal((await api.listRoutes({})).routes.map((r) => r.prefix), ['10.99.0.0/16', '2001:db8:20::/48', '10.98.0.0/24', '::/0']);
    await api.deleteRoute({ prefix: '2001:db8:20:0:0::/48' });
    await api.deleteRoute({ prefix: '10.98.0.0/24' });
    await api.deleteRoute({ prefix: '::/0' });
    assert.equal((await api.listRoutes({})).routes, [v4]);
  });
});

test('routes changed over the API survive a restart; the state file wins over the config\'s routes', async () => {
  const config = routesConfig([`{ prefix: 10.97.0.0/16, via: ${ROUTER}, port: inside }`]);
  await withDaemon({ dir, config }, async ({ api }) => {
    assert.equal((await api.listRoutes({})).routes, [{ prefix: '10.97.0.0/16', via: ROUTER, port: 'inside' }], 'seeded from the config');
    await api.addRoute({ route: v4 });
    await api.deleteRoute({ prefix: '10.97.0.0/16' });
  });
  const persisted = JSON.parse(await readFile(join(dir, 'state.json'), 'utf8')) as { routes: unknown };
  assert.equal(persisted.routes, [v4]);
  await withDaemon({ dir, config }, async ({ api, daemon }) => {
    assert.equal((await api.listRoutes({})).routes, [v4], 'the API\'s routes, not the config\'s');
    assert.match(daemon.output(), /1 route\(s\) \(authoritative; config routes ignored\)/);
  });
});

test('a read-only caller may list routes but not add or delete them', async () => {
  const lab = await makeLab('pc-routes-ro-');
  const { daemon, port } = await startSecured(lab);
  const viewer = connect(resolveEndpoint({ server: `127.0.0.1:${port}`, 'tls-ca': lab.ca.cert, 'token-file': lab.viewerTokenFile }, {}));
  const operator = connect(resolveEndpoint({ server: `127.0.0.1:${port}`, 'tls-ca': lab.ca.cert, 'token-file': lab.opsTokenFile }, {}));
  try {
    assert.equal((await viewer.api.listRoutes({})).routes, []);
    await expectGrpcError(viewer.api.addRoute({ route: v4 }), grpc.status.PERMISSION_DENIED, /grafana \(read-only\) may not call \/portcullis\.v1\.Routes\/AddRoute/);
    await operator.api.addRoute({ route: v4 });
    await expectGrpcError(viewer.api.deleteRoute({ prefix: v4.prefix }), grpc.status.PERMISSION_DENIED, /may not call \/portcullis\.v1\.Routes\/DeleteRoute/);
    assert.equal((await viewer.api.listRoutes({})).routes, [v4]);
    assert.match(daemon.output(), /route added by ops: 10\.99\.0\.0\/16 via 198\.19\.0\.9 port inside/);
  } catch (error) {
    throw withDaemonOutput(error, daemon);
  } finally {
    viewer.close();
    operator.close();
    await daemon.stop();
    await rm(lab.dir, { recursive: true, force: true });
  }
});

test('portcullis route list|add|delete', async () => {
  await onSharedDaemon(async ({ cli }) => {
    const added = await cli(['route', 'add', '10.99.0.0/16', '--via', ROUTER, '--port', 'inside']);
    assert.is(added.code, 0, added.stderr);
    const listed = await cli(['route', 'list']);
    assert.is(listed.code, 0, listed.stderr);
    assert.is(listed.stdout, 'PREFIX        VIA         PORT\n10.99.0.0/16  198.19.0.9  inside\n');
    const duplicate = await cli(['route', 'add', '10.99.0.0/16', '--port', 'inside']);
    assert.is(duplicate.code, 2);
    assert.match(duplicate.stderr, /route\.prefix: a route to 10\.99\.0\.0\/16 already exists/);
    const typo = await cli(['route', 'add', '10.99.0.1/16', '--port', 'inside']);
    assert.is(typo.code, 2);
    assert.match(typo.stderr, /route\.prefix: expected a prefix with host bits zero/);
    const deleted = await cli(['route', 'delete', '10.99.0.0/16']);
    assert.is(deleted.code, 0, deleted.stderr);
    assert.is((await cli(['route', 'list'])).stdout, 'no routes\n');
    const missing = await cli(['route', 'delete', '10.99.0.0/16']);
    assert.is(missing.code, 2);
    assert.match(missing.stderr, /prefix: no route to 10\.99\.0\.0\/16/);
  });
});

test('every refusal names its field; a refused call changes nothing; the table\'s limit', async () => {
  await onSharedDaemon(async ({ api }) => {
    const add = (route: object) => api.addRoute({ route });
    await add(v4);
    await expectGrpcError(add({ prefix: '10.1.0.1/16', port: 'inside' }), grpc.status.INVALID_ARGUMENT, /^route\.prefix: expected a prefix with host bits zero \(10\.1\.0\.0\/16\)/);
    await expectGrpcError(add({ prefix: 'nonsense', port: 'inside' }), grpc.status.INVALID_ARGUMENT, /^route\.prefix: /);
    await expectGrpcError(add({ prefix: '10.1.0.0/16', via: '2001:db8::1', port: 'inside' }), grpc.status.INVALID_ARGUMENT, /^route\.via: expected an IPv4 next hop/);
    await expectGrpcError(add({ prefix: '2001:db8:1::/48', via: '198.19.0.1', port: 'inside' }), grpc.status.INVALID_ARGUMENT, /^route\.via: expected an IPv6 next hop/);
    await expectGrpcError(add({ prefix: '10.1.0.0/16', via: '198.19.0.1', port: 'dmz' }), grpc.status.INVALID_ARGUMENT, /^route\.port: expected one of the configured ports \(outside, inside\), got "dmz"/);
    await expectGrpcError(add({ prefix: '10.1.0.0/16', via: '198.19.0.1', port: '' }), grpc.status.INVALID_ARGUMENT, /^route\.port: /);
    await expectGrpcError(add({ prefix: '10.1.0.0/16', via: '198.18.0.9', port: 'inside' }), grpc.status.INVALID_ARGUMENT,
      /^route\.via: expected a next hop inside a connected prefix of port inside \(198\.19\.0\.254\/24\), got 198\.18\.0\.9/);
    await expectGrpcError(api.addRoute({}), grpc.status.INVALID_ARGUMENT, /^route\.prefix: /);
    await expectGrpcError(add({ prefix: '10.99.0.0/16', via: '198.19.0.8', port: 'inside' }), grpc.status.ALREADY_EXISTS, /^route\.prefix: a route to 10\.99\.0\.0\/16 already exists/);
    await expectGrpcError(api.deleteRoute({ prefix: '10.98.0.0/16' }), grpc.status.NOT_FOUND, /^prefix: no route to 10\.98\.0\.0\/16/);
    await expectGrpcError(api.deleteRoute({ prefix: '10.98.0.1/16' }), grpc.status.INVALID_ARGUMENT, /^prefix: expected a prefix with host bits zero/);
    assert.equal((await api.listRoutes({})).routes, [v4], 'nothing changed');
    // The limit: fill up to it, then one more is refused.
    for (let i = 1; i < LIMITS.maxRoutes; i++) await add({ prefix: `10.${100 + (i >> 8)}.${i & 255}.0/24`, port: 'inside' });
    assert.is((await api.listRoutes({})).routes.length, LIMITS.maxRoutes);
    await expectGrpcError(add({ prefix: '10.200.0.0/24', port: 'inside' }), grpc.status.RESOURCE_EXHAUSTED, /^route: at most 1024 routes/);
  });
});

test('a route added over gRPC is what the data plane forwards by: no_route before, the router\'s MAC after, no_route again once deleted', async () => {
  const socket = join(dir, 'api.sock');
  const remoteServer = '10.99.0.5';
  let server: ApiServer | undefined;
  try {
    await withLab(async (lab) => {
      const controller = new Controller(lab.dp, join(dir, 'state.json'), ringPortsState());
      await controller.applyInitial();
      server = await startApiServer({ socket, controller, stats: new StatsHub(lab.dp), info: { version: 'test', startedAt: Date.now(), workers: 1, polling: 'busy' },
        forwarding: () => ({ started: true, ports: [], rollbackFailure: undefined }) });
      const client = connect(socket);
      try {
        await client.api.createVirtualService({ service: {
          key: { protocol: 'TCP', vip: VIP, port: 80 }, localAddresses: ['198.19.0.200'],
          servers: [{ address: remoteServer, port: 80, weight: 1 }],
        } });
        lab.dp.step();
        const before = lab.counterDelta(() => {
          const out = lab.forward('outside', clientTcp(47000, { flags: 'S', seq: 9 }));
          assert.is(out.inside.length + out.outside.length, 0, 'no route yet: nothing leaves');
        });
        expectDrops(before, { no_route: 1 });

        await client.api.addRoute({ route: v4 });
        lab.dp.step();
        const syn = only(lab.forward('outside', clientTcp(47001, { flags: 'S', seq: 9 })).inside, 'SYN via the route added at run time');
        assert.is(syn.ipv4!.dst, remoteServer);
        assert.is(syn.eth.dst, hostMac(ROUTER), 'sent to the next hop\'s MAC');

        await client.api.deleteRoute({ prefix: v4.prefix });
        lab.dp.step();
        const after = lab.counterDelta(() => {
          const out = lab.forward('outside', clientTcp(47002, { flags: 'S', seq: 9 }));
          assert.is(out.inside.length + out.outside.length, 0, 'route deleted: nothing leaves');
        });
        expectDrops(after, { no_route: 1 });
      } finally {
        client.close();
      }
    });
  } finally {
    await server?.close();
  }
});

test.run();
