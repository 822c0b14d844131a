// Atomic apply (Controller) and the gRPC layer, in process, against an in-memory
// fake of the addon. Only here: the api tests run the real daemon.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { repoRoot } from '../../src/api/proto.js';
import { startApiServer, type ApiServer } from '../../src/api/server.js';
import { ALL_DROP_REASONS } from '../../src/api/stats.js';
import { connect } from '../../src/cli/client.js';
import { Controller } from '../../src/daemon/controller.js';
import type { DataplaneConfig, DataplaneStats, PortInfo } from '../../src/dataplane/types.js';
import { setLogLevel } from '../../src/log.js';
import { StatsHub } from '../../src/metrics/stats-hub.js';
import { createService, DEFAULT_TIMEOUTS, ModelError, readServiceSpec, type DesiredState } from '../../src/model/index.js';
import { parseState } from '../../src/state/file.js';

setLogLevel('error');
const REPO_ROOT = repoRoot();

class FakeDataplane {
  applied: DataplaneConfig[] = [];
  failNext: { code: string; message: string } | undefined;
  version = 0;
  apply(config: DataplaneConfig) {
    if (this.failNext) {
      const { code, message } = this.failNext;
      this.failNext = undefined;
      throw Object.assign(new Error(message), { code });
    }
    this.applied.push(structuredClone(config));
    return { version: ++this.version };
  }
  stats(): DataplaneStats {
    return {
      snapshotVersion: this.version, workerVersions: [this.version], workerBusyCycles: [0], workerIdleCycles: [0], tscHz: 1e9, connections: 0, mbufsInUse: 0, defense: [],
      drops: { no_service: 7 } as DataplaneStats['drops'], events: {} as DataplaneStats['events'],
      ports: [{ name: 'outside', rxPackets: 1, txPackets: 2, rxBytes: 3, txBytes: 4, rxMissed: 0, rxErrors: 0, txErrors: 0 }],
      services: [{ id: 1, conns: 5, inPackets: 0, outPackets: 0, inBytes: 0, outBytes: 0, activeConns: 1, inactiveConns: 0 }],
      servers: [{ id: 2, conns: 3, inPackets: 0, outPackets: 0, inBytes: 0, outBytes: 0, activeConns: 1, inactiveConns: 0 }],
    };
  }
  connections() {
    return [];
  }
  ports(): PortInfo[] {
    return [{ name: 'outside', portId: 0, mac: '02:00:00:00:00:01', driver: 'net_ring', queues: 1, rss: false, flowSteering: false }];
  }
}

function base(): DesiredState {
  return {
    ports: [
      { name: 'outside', device: 'ring', addresses: ['198.18.0.254/24'] },
      { name: 'inside', device: 'ring', addresses: ['198.19.0.254/24'] },
    ],
    routes: [], defaultTimeouts: { ...DEFAULT_TIMEOUTS }, services: [], nextServiceId: 1, nextServerId: 1,
  };
}

const webSpec = readServiceSpec({ protocol: 'tcp', vip: '198.18.0.10', port: 80, servers: [{ address: '198.19.0.1', port: 80 }] }, 'service');

let dir = '';
test.before.each(async () => { dir = await mkdtemp(join(tmpdir(), 'pc-ctl-')); });
test.after.each(async () => { await rm(dir, { recursive: true, force: true }); });

test('controller: apply then persist; a rejected apply changes nothing', async () => {
  const fake = new FakeDataplane();
  const file = join(dir, 'state.json');
  const controller = new Controller(fake, file, base());
  assert.is(await controller.applyInitial(), 1);
  await controller.mutate((s) => createService(s, webSpec));
  assert.is(controller.snapshotVersion, 2);
  assert.is(parseState(await readFile(file, 'utf8')).services.length, 1);

  fake.failNext = { code: 'CONFIG_REJECTED', message: 'services[1]: too many' };
  const before = controller.state;
  const fileBefore = await readFile(file, 'utf8');
  try {
    await controller.mutate((s) => createService(s, { ...webSpec, port: 81 }));
    assert.unreachable('apply failure ignored');
  } catch (error) {
    assert.instance(error, ModelError);
    assert.is((error as ModelError).code, 'INVALID_ARGUMENT');
  }
  assert.is(controller.state, before);
  assert.is(controller.snapshotVersion, 2);
  assert.is(await readFile(file, 'utf8'), fileBefore);

  fake.failNext = { code: 'ESTATE', message: 'not started' };
  await controller.mutate((s) => createService(s, { ...webSpec, port: 82 })).then(
    () => assert.unreachable('apply failure ignored'),
    (error: ModelError) => assert.is(error.code, 'FAILED_PRECONDITION'));
});

test('controller: a failed state write rolls the data plane back', async () => {
  const fake = new FakeDataplane();
  let failWrite = false;
  const controller = new Controller(fake, join(dir, 's.json'), base(), async () => {
    if (failWrite) throw new Error('disk full');
  });
  await controller.applyInitial();
  failWrite = true;
  await controller.mutate((s) => createService(s, webSpec)).then(
    () => assert.unreachable('write failure ignored'),
    (error: ModelError) => { assert.is(error.code, 'INTERNAL'); assert.match(error.message, /disk full; change rolled back/); });
  assert.is(controller.state.services.length, 0);
  assert.is(fake.applied.at(-1)!.services.length, 0, 'old config re-applied');
});

test('controller: mutations run one at a time in order', async () => {
  const fake = new FakeDataplane();
  const controller = new Controller(fake, join(dir, 's.json'), base());
  await controller.applyInitial();
  await Promise.all([80, 81, 82, 83].map((port) => controller.mutate((s) => createService(s, { ...webSpec, port }))));
  assert.equal(controller.state.services.map((s) => [s.port, s.id]), [[80, 1], [81, 2], [82, 3], [83, 4]]);
  assert.equal(fake.applied.map((c) => c.services.length), [0, 1, 2, 3, 4]);
});

async function withServer(body: (api: ReturnType<typeof connect>['api'], fake: FakeDataplane, socket: string) => Promise<void>) {
  const fake = new FakeDataplane();
  const socket = join(dir, 'api.sock');
  const controller = new Controller(fake, join(dir, 'state.json'), base());
  await controller.applyInitial();
  let server: ApiServer | undefined;
  let client: ReturnType<typeof connect> | undefined;
  try {
    server = await startApiServer({ socket, controller, stats: new StatsHub(fake), info: { version: 't', startedAt: Date.now(), workers: 1, polling: 'adaptive' } });
    client = connect(socket);
    await body(client.api, fake, socket);
  } finally {
    client?.close();
    await server?.close();
  }
}

const key = { protocol: 'TCP' as const, vip: '198.18.0.10', port: 80 };

async function rejects(promise: Promise<unknown>, code: grpc.status, pattern: RegExp) {
  try {
    await promise;
    assert.unreachable('call succeeded');
  } catch (error) {
    const e = error as grpc.ServiceError;
    assert.is(e.code, code, `${e.code}: ${e.details}`);
    assert.match(e.details, pattern);
  }
}

test('gRPC over the fake: CRUD, error codes, stats', async () => {
  await withServer(async (api, fake) => {
    const created = await api.createVirtualService({ service: { key, localAddresses: ['198.19.0.200'], servers: [{ address: '198.19.0.1', port: 80, weight: 1 }] } });
    assert.is(created.scheduler, 'rr');
    assert.equal(created.key, key);
    await rejects(api.createVirtualService({ service: { key } }), grpc.status.ALREADY_EXISTS, /already exists/);
    await rejects(api.createVirtualService({ service: { key: { ...key, vip: '1.2.3' } } }), grpc.status.INVALID_ARGUMENT, /^service\.key\.vip: expected a dotted-quad IPv4 address, got "1\.2\.3"/);
    await rejects(api.createVirtualService({ service: { key: { ...key, protocol: 'PROTOCOL_UNSPECIFIED' } } }), grpc.status.INVALID_ARGUMENT, /^service\.key\.protocol: /);
    await rejects(api.createVirtualService({ service: { key: { ...key, port: 81 }, servers: [{ address: '198.19.0.1', port: 80, weight: 70000 }] } }),
      grpc.status.INVALID_ARGUMENT, /^service\.servers\[0\]\.weight: expected integer 0\.\.65535, got 70000/);
    await rejects(api.getVirtualService({ key: { ...key, port: 81 } }), grpc.status.NOT_FOUND, /does not exist/);

    const updated = await api.updateVirtualService({ service: { key, scheduler: 'wrr', timeouts: { tcpEstablished: 60 } } });
    assert.is(updated.scheduler, 'wrr');
    assert.is(updated.servers.length, 1, 'servers kept without replace_servers');
    assert.is(updated.timeouts?.tcpEstablished, 60);
    assert.is(updated.timeouts?.udp, 0, '0 = inherit');
    assert.is(fake.applied.at(-1)!.services[0]!.timeouts.tcpEstablished, 60);
    assert.is(fake.applied.at(-1)!.services[0]!.timeouts.udp, 300);

    const added = await api.addRealServer({ service: key, server: { address: '198.19.0.2', port: 80, weight: 2 } });
    assert.is(added.servers.length, 2);
    await rejects(api.addRealServer({ service: key, server: { address: '198.19.0.2', port: 80, weight: 2 } }), grpc.status.ALREADY_EXISTS, /already exists/);
    await api.updateRealServer({ service: key, server: { address: '198.19.0.2', port: 80, weight: 0 } });
    await rejects(api.updateRealServer({ service: key, server: { address: '198.19.0.9', port: 80, weight: 0 } }), grpc.status.NOT_FOUND, /^server: /);

    fake.failNext = { code: 'CONFIG_REJECTED', message: 'nope' };
    await rejects(api.addRealServer({ service: key, server: { address: '198.19.0.3', port: 80, weight: 1 } }), grpc.status.INVALID_ARGUMENT, /rejected/);
    assert.is((await api.getVirtualService({ key })).servers.length, 2, 'rejected change left state untouched');

    const stats = await api.getStats({});
    assert.is(stats.drops.no_service, '7', 'uint64 as string');
    assert.is(stats.drops.redirect_ring_full, '0', 'every drop reason, zeros included');
    assert.equal(Object.keys(stats.drops).sort(), [...ALL_DROP_REASONS].sort(), 'exactly the declared reasons');
    assert.is(stats.services[0]!.counters!.conns, '5');
    assert.equal(stats.services[0]!.servers.map((s) => [s.address, s.counters!.conns]), [['198.19.0.1', '0'], ['198.19.0.2', '3']]);

    const status = await api.getStatus({});
    assert.is(status.services, 1);
    assert.is(status.ports[0]!.mac, '02:00:00:00:00:01');

    const removed = await api.removeRealServer({ service: key, address: '198.19.0.1', port: 80 });
    assert.equal(removed.servers.map((s) => s.address), ['198.19.0.2']);
    await api.deleteVirtualService({ key });
    await rejects(api.deleteVirtualService({ key }), grpc.status.NOT_FOUND, /does not exist/);
    assert.equal((await api.listVirtualServices({})).services, []);
  });
});

test('health check reports SERVING', async () => {
  await withServer(async (_api, _fake, socket) => {
    const definition = protoLoader.loadSync(healthProtoPath, { enums: String, keepCase: true });
    const health = grpc.loadPackageDefinition(definition) as unknown as {
      grpc: { health: { v1: { Health: new (t: string, c: grpc.ChannelCredentials) => grpc.Client & { check: Function } } } };
    };
    const client = new health.grpc.health.v1.Health(`unix:${socket}`, grpc.credentials.createInsecure());
    try {
      for (const service of ['', 'portcullis.v1.VirtualServices']) {
        const reply = await new Promise<{ status: string }>((resolve, reject) =>
          client.check({ service }, (e: Error | null, r: { status: string }) => (e ? reject(e) : resolve(r))));
        assert.is(reply.status, 'SERVING');
      }
    } finally {
      client.close();
    }
  });
});

test('a TCP listener without TLS and tokens is refused (never plaintext; TLS is tested in test/api/tls-auth)', async () => {
  const fake = new FakeDataplane();
  const controller = new Controller(fake, join(dir, 'state.json'), base());
  await controller.applyInitial();
  try {
    const server = await startApiServer({ socket: join(dir, 'api.sock'), listen: '127.0.0.1:0', controller, stats: new StatsHub(fake),
      info: { version: 't', startedAt: Date.now(), workers: 1, polling: 'busy' } });
    await server.close();
    assert.unreachable('plaintext TCP listener started');
  } catch (error) {
    assert.match((error as Error).message, /^api\.listen: TCP needs api\.tls and api\.tokens/);
  }
});

test('server reflection lists the services (grpcurl works)', async () => {
  await withServer(async (_api, _fake, socket) => {
    const reflectionProto = join(REPO_ROOT, 'node_modules/@grpc/reflection/build/proto/grpc/reflection/v1/reflection.proto');
    const loaded = grpc.loadPackageDefinition(protoLoader.loadSync(reflectionProto, { keepCase: true })) as unknown as {
      grpc: { reflection: { v1: { ServerReflection: new (t: string, c: grpc.ChannelCredentials) => grpc.Client & {
        ServerReflectionInfo(): grpc.ClientDuplexStream<object, { list_services_response?: { service: { name: string }[] } }>;
      } } } };
    };
    const client = new loaded.grpc.reflection.v1.ServerReflection(`unix:${socket}`, grpc.credentials.createInsecure());
    try {
      const names = await new Promise<string[]>((resolve, reject) => {
        const stream = client.ServerReflectionInfo();
        stream.on('data', (reply) => { resolve(reply.list_services_response?.service.map((s: { name: string }) => s.name) ?? []); stream.end(); });
        stream.on('error', reject);
        stream.write({ list_services: '' });
      });
      assert.ok(names.includes('portcullis.v1.VirtualServices'), names.join(','));
      assert.ok(names.includes('portcullis.v1.Stats'), names.join(','));
    } finally {
      client.close();
    }
  });
});

test.run();
