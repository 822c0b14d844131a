// Atomic apply (Controller) and the gRPC layer, in process, against an in-memory
// fake of the addon. Only here: the api tests run the real daemon.
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
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
import { createService, ModelError, readServiceSpec } from '../../src/model/index.js';
import { controlEvents } from '../../src/metrics/control-events.js';
import { NODE_STATE_FS, parseState, STATE_WRITE_STEPS, writeStateFile, type StateFileHandle, type StateFs, type StateWriteStep } from '../../src/state/file.js';
import { expectGrpcError } from '../support/expected-errors.js';
import { ringPortsState } from '../support/desired-state.js';

setLogLevel('error');
const REPO_ROOT = repoRoot();

class FakeDataplane {
  applied: DataplaneConfig[] = [];
  failNext: { code: string; message: string } | undefined;
  /** Refuse the apply call with this number (1-based over the fake's life), e.g. a rollback. */
  failOnCall: number | undefined;
  calls = 0;
  version = 0;
  apply(config: DataplaneConfig) {
    this.calls++;
    if (this.failOnCall !== undefined && this.calls >= this.failOnCall) {
      this.failOnCall = undefined;
      throw Object.assign(new Error('rollback refused'), { code: 'ENOMEM' });
    }
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
      snapshotVersion: this.version, workerVersions: [this.version], workerBusyCycles: [0], workerIdleCycles: [0], workerListingScans: [], tscHz: 1e9, connections: 0, mbufsInUse: 0, defense: [],
      drops: { no_service: 7 } as DataplaneStats['drops'], events: {} as DataplaneStats['events'],
      ports: [{ name: 'outside', rxPackets: 1, txPackets: 2, rxBytes: 3, txBytes: 4, rxMissed: 0, rxErrors: 0, txErrors: 0 }],
      services: [{ id: 1, conns: 5, inPackets: 0, outPackets: 0, inBytes: 0, outBytes: 0, activeConns: 1, inactiveConns: 0 }],
      servers: [{ id: 2, conns: 3, inPackets: 0, outPackets: 0, inBytes: 0, outBytes: 0, activeConns: 1, inactiveConns: 0, persistentConns: 0, icmpUnreachable: 0, resets: 0 }],
      localAddresses: [],
    };
  }
  connections() {
    return { connections: [], nextCursor: 0 };
  }
  ports(): PortInfo[] {
    return [{ name: 'outside', portId: 0, mac: '02:00:00:00:00:01', driver: 'net_ring', queues: 1, rss: false, flowSteering: false, flowSteering6: false }];
  }
}


function exec(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => execFile(command, args, (error, _stdout, stderr) => (error ? reject(new Error(`${command} ${args.join(' ')}: ${stderr || error.message}`)) : resolve())));
}

const webSpec = readServiceSpec({ protocol: 'tcp', vip: '198.18.0.10', port: 80, servers: [{ address: '198.19.0.1', port: 80 }] }, 'service');

let dir = '';
test.before.each(async () => { dir = await mkdtemp(join(tmpdir(), 'pc-ctl-')); });
test.after.each(async () => { await rm(dir, { recursive: true, force: true }); });

test('controller: apply then persist; a rejected apply changes nothing', async () => {
  const fake = new FakeDataplane();
  const file = join(dir, 'state.json');
  const controller = new Controller(fake, file, ringPortsState());
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
  const controller = new Controller(fake, join(dir, 's.json'), ringPortsState(), async () => {
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
  const controller = new Controller(fake, join(dir, 's.json'), ringPortsState());
  await controller.applyInitial();
  await Promise.all([80, 81, 82, 83].map((port) => controller.mutate((s) => createService(s, { ...webSpec, port }))));
  assert.equal(controller.state.services.map((s) => [s.port, s.id]), [[80, 1], [81, 2], [82, 3], [83, 4]]);
  assert.equal(fake.applied.map((c) => c.services.length), [0, 1, 2, 3, 4]);
});

// ---- Failure injection: every step of a state write, and a rollback that fails. The Controller
// and writeStateFile are the real ones on a real directory; one fs call at a time fails.

/** node:fs/promises with the call at `step` failing `times` times (ENOSPC unless given). */
function failingFs(step: () => StateWriteStep | undefined, error: () => Error = () => Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' })): StateFs {
  const fail = (name: StateWriteStep) => { if (step() === name) throw error(); };
  const wrap = (handle: StateFileHandle, kind: 'temp' | 'dir'): StateFileHandle => ({
    writeFile: async (data, encoding) => { fail('write-temp'); return handle.writeFile(data, encoding); },
    sync: async () => { fail(kind === 'temp' ? 'fsync-temp' : 'fsync-dir'); return handle.sync(); },
    close: async () => { await handle.close(); fail(kind === 'temp' ? 'close-temp' : 'close-dir'); },
  });
  return {
    mkdir: async (path, options) => { fail('mkdir'); return NODE_STATE_FS.mkdir(path, options); },
    open: async (path, flags, mode) => {
      fail(flags === 'r' ? 'open-dir' : 'open-temp');
      return wrap(await NODE_STATE_FS.open(path, flags, mode), flags === 'r' ? 'dir' : 'temp');
    },
    rename: async (from, to) => { fail('rename'); return NODE_STATE_FS.rename(from, to); },
    rm: (path, options) => NODE_STATE_FS.rm(path, options),
  };
}

/** The three places state lives, as service ports: memory, the file on disk, the data plane's last snapshot. */
async function places(controller: Controller, fake: FakeDataplane) {
  return {
    memory: controller.state.services.map((s) => s.port),
    file: parseState(await readFile(controller.stateFile, 'utf8')).services.map((s) => s.port),
    dataplane: fake.applied.at(-1)!.services.map((s) => s.port),
  };
}

async function assertAgree(controller: Controller, fake: FakeDataplane, ports: number[], what: string) {
  assert.equal(await places(controller, fake), { memory: ports, file: ports, dataplane: ports }, what);
  assert.is(controller.rollbackFailure, undefined, `${what}: no rollback failure`);
}

test('controller: a state write failing at each step before the rename is rolled back; after it, the change stands; file, memory and data plane agree every time', async () => {
  let failAt: StateWriteStep | undefined;
  const fake = new FakeDataplane();
  const file = join(dir, 'state', 'state.json');
  const controller = new Controller(fake, file, ringPortsState(), (f, text) => writeStateFile(f, text, failingFs(() => failAt)));
  await controller.applyInitial();
  let port = 80;
  let expected: number[] = [];
  for (const step of STATE_WRITE_STEPS) {
    failAt = step;
    const synced = controlEvents().state_dir_sync_failures;
    const outcome = await controller.mutate((s) => createService(s, { ...webSpec, port })).then(() => 'ok', (error: ModelError) => error);
    if (STATE_WRITE_STEPS.indexOf(step) <= STATE_WRITE_STEPS.indexOf('rename')) {
      assert.instance(outcome, ModelError, `${step}: refused`);
      assert.is((outcome as ModelError).code, 'INTERNAL');
      assert.match((outcome as ModelError).message, new RegExp(`^cannot write state file .*: ${step}: ENOSPC: no space left on device; change rolled back$`), step);
    } else {
      assert.is(outcome, 'ok', `${step}: after the rename the change is committed`);
      assert.is(controlEvents().state_dir_sync_failures - synced, 1, `${step}: counted`);
      expected = [...expected, port];
    }
    await assertAgree(controller, fake, expected, `after a failure at ${step}`);
    assert.equal((await readdir(join(dir, 'state'))).filter((name) => name !== 'state.json'), [], `${step}: no temp file left`);
    port++;
  }
  failAt = undefined;
  await controller.mutate((s) => createService(s, { ...webSpec, port }));
  await assertAgree(controller, fake, [...expected, port], 'a healthy write after all that');
});

test('controller: a real read-only directory (EROFS/EACCES) refuses the change and changes nothing', async () => {
  const fake = new FakeDataplane();
  const stateDir = join(dir, 'ro');
  const file = join(stateDir, 'state.json');
  const controller = new Controller(fake, file, ringPortsState());
  await controller.applyInitial();
  // chmod does not stop root: a read-only bind mount does, for everyone.
  const readOnly = process.getuid?.() === 0;
  if (readOnly) await exec('mount', ['--bind', '-o', 'ro', stateDir, stateDir]).catch(async () => {
    await exec('mount', ['--bind', stateDir, stateDir]);
    await exec('mount', ['-o', 'remount,bind,ro', stateDir]);
  });
  else await chmod(stateDir, 0o555);
  try {
    await controller.mutate((s) => createService(s, webSpec)).then(
      () => assert.unreachable('written to a read-only directory'),
      (error: ModelError) => {
        assert.is(error.code, 'INTERNAL');
        assert.match(error.message, /^cannot write state file .*: open-temp: (EROFS|EACCES).*; change rolled back$/);
      });
    await assertAgree(controller, fake, [], 'read-only directory');
  } finally {
    if (readOnly) await exec('umount', [stateDir]);
    else await chmod(stateDir, 0o755);
  }
});

test('controller: a rollback that fails sets rollbackFailure (data plane ≠ file); a failed change keeps it; the retry or the next good apply clears it', async () => {
  let failWrite = false;
  const fake = new FakeDataplane();
  const file = join(dir, 'state.json');
  const controller = new Controller(fake, file, ringPortsState(), async (f, text) => {
    if (failWrite) throw new Error('EIO: i/o error');
    await writeStateFile(f, text);
  });
  await controller.applyInitial();
  await controller.mutate((s) => createService(s, webSpec));
  assert.is(controller.rollbackFailure, undefined);

  // The write fails, then so does the rollback: the data plane keeps running the new state.
  failWrite = true;
  fake.failOnCall = fake.calls + 2;  // the 2nd apply from here: the rollback
  await controller.mutate((s) => createService(s, { ...webSpec, port: 81 })).then(
    () => assert.unreachable('write failure ignored'),
    (error: ModelError) => {
      assert.is(error.code, 'INTERNAL');
      assert.match(error.message, /^cannot write state file .*: EIO: i\/o error; the rollback failed too \(.*rollback refused\)/);
    });
  assert.equal(await places(controller, fake), { memory: [80], file: [80], dataplane: [80, 81] }, 'memory = file; the data plane runs the change');
  assert.match(controller.rollbackFailure ?? '', /cannot write state file .*EIO.*rolling the data plane back failed too/);

  // A change the data plane refuses changes nothing, so the disagreement (and the flag) stay.
  failWrite = false;
  fake.failNext = { code: 'CONFIG_REJECTED', message: 'no' };
  await controller.mutate((s) => createService(s, { ...webSpec, port: 82 })).then(() => assert.unreachable('accepted'), () => undefined);
  assert.ok(controller.rollbackFailure, 'still set after a refused change');

  // The retry fails while the data plane still refuses, then heals.
  fake.failNext = { code: 'ENOMEM', message: 'still no' };
  assert.is(await controller.retryRollback(), false);
  assert.ok(controller.rollbackFailure);
  assert.is(await controller.retryRollback(), true);
  await assertAgree(controller, fake, [80], 'after the retry');

  // Again, and this time a later successful change is the repair (it applies the whole state).
  failWrite = true;
  fake.failOnCall = fake.calls + 2;
  await controller.mutate((s) => createService(s, { ...webSpec, port: 83 })).catch(() => undefined);
  assert.ok(controller.rollbackFailure);
  failWrite = false;
  await controller.mutate((s) => createService(s, { ...webSpec, port: 84 }));
  await assertAgree(controller, fake, [80, 84], 'after a later good change');

  // And a failed write whose rollback works also leaves them agreeing (and the flag clear).
  failWrite = true;
  fake.failOnCall = fake.calls + 2;
  await controller.mutate((s) => createService(s, { ...webSpec, port: 85 })).catch(() => undefined);
  assert.ok(controller.rollbackFailure);
  await controller.mutate((s) => createService(s, { ...webSpec, port: 86 })).catch(() => undefined);
  await assertAgree(controller, fake, [80, 84], 'a failed write whose rollback succeeded');
});

test('controller: beforeApply runs after validation and before the data plane; its failure changes nothing', async () => {
  const fake = new FakeDataplane();
  const controller = new Controller(fake, join(dir, 'state.json'), ringPortsState());
  await controller.applyInitial();
  const seen: string[] = [];
  await controller.mutate((s) => createService(s, { ...webSpec, port: 1 }), { beforeApply: async () => { throw new Error('not called'); } })
    .then(() => assert.unreachable('invalid port accepted'), (error: ModelError) => assert.is(error.code, 'INVALID_ARGUMENT'))
    .catch(() => undefined);
  await controller.mutate((s) => createService(s, webSpec), {
    beforeApply: async (service) => { seen.push(`before ${service.port}, data plane has ${fake.applied.at(-1)!.services.length}`); throw new Error('audit full'); },
  }).then(() => assert.unreachable('went ahead'), (error: Error) => assert.is(error.message, 'audit full'));
  await assertAgree(controller, fake, [], 'a refused beforeApply');
  await controller.mutate((s) => createService(s, webSpec), { beforeApply: async (service) => { seen.push(`before ${service.port}, data plane has ${fake.applied.at(-1)!.services.length}`); } });
  assert.equal(seen, ['before 80, data plane has 0', 'before 80, data plane has 0']);
  await assertAgree(controller, fake, [80], 'then accepted');
});

/** Health inputs of a fake data plane without ports: forwarding once the first snapshot is applied. */
const forwardingOf = (controller: Controller) => () => ({ started: controller.snapshotVersion > 0, ports: [], rollbackFailure: controller.rollbackFailure });

async function withServer(body: (api: ReturnType<typeof connect>['api'], fake: FakeDataplane, socket: string) => Promise<void>) {
  const fake = new FakeDataplane();
  const socket = join(dir, 'api.sock');
  const controller = new Controller(fake, join(dir, 'state.json'), ringPortsState());
  await controller.applyInitial();
  let server: ApiServer | undefined;
  let client: ReturnType<typeof connect> | undefined;
  try {
    server = await startApiServer({ socket, controller, stats: new StatsHub(fake), info: { version: 't', startedAt: Date.now(), workers: 1, polling: 'adaptive' }, forwarding: forwardingOf(controller) });
    client = connect(socket);
    await body(client.api, fake, socket);
  } finally {
    client?.close();
    await server?.close();
  }
}

const key = { protocol: 'TCP' as const, vip: '198.18.0.10', port: 80 };


test('gRPC over the fake: CRUD, error codes, stats', async () => {
  await withServer(async (api, fake) => {
    const created = await api.createVirtualService({ service: { key, localAddresses: ['198.19.0.200'], servers: [{ address: '198.19.0.1', port: 80, weight: 1 }] } });
    assert.is(created.scheduler, 'rr');
    assert.equal(created.key, key);
    await expectGrpcError(api.createVirtualService({ service: { key } }), grpc.status.ALREADY_EXISTS, /already exists/);
    await expectGrpcError(api.createVirtualService({ service: { key: { ...key, vip: '1.2.3' } } }), grpc.status.INVALID_ARGUMENT, /^service\.key\.vip: expected an IPv4 address \(dotted quad\) or an IPv6 address, got "1\.2\.3"/);
    await expectGrpcError(api.createVirtualService({ service: { key: { ...key, protocol: 'PROTOCOL_UNSPECIFIED' } } }), grpc.status.INVALID_ARGUMENT, /^service\.key\.protocol: /);
    await expectGrpcError(api.createVirtualService({ service: { key: { ...key, port: 81 }, servers: [{ address: '198.19.0.1', port: 80, weight: 70000 }] } }),
      grpc.status.INVALID_ARGUMENT, /^service\.servers\[0\]\.weight: expected integer 0\.\.65535, got 70000/);
    await expectGrpcError(api.getVirtualService({ key: { ...key, port: 81 } }), grpc.status.NOT_FOUND, /does not exist/);

    const updated = await api.updateVirtualService({ service: { key, scheduler: 'wrr', timeouts: { tcpEstablished: 60 } } });
    assert.is(updated.scheduler, 'wrr');
    assert.is(updated.servers.length, 1, 'servers kept without replace_servers');
    assert.is(updated.timeouts?.tcpEstablished, 60);
    assert.is(updated.timeouts?.udp, 0, '0 = inherit');
    assert.is(fake.applied.at(-1)!.services[0]!.timeouts.tcpEstablished, 60);
    assert.is(fake.applied.at(-1)!.services[0]!.timeouts.udp, 300);

    const added = await api.addRealServer({ service: key, server: { address: '198.19.0.2', port: 80, weight: 2 } });
    assert.is(added.servers.length, 2);
    await expectGrpcError(api.addRealServer({ service: key, server: { address: '198.19.0.2', port: 80, weight: 2 } }), grpc.status.ALREADY_EXISTS, /already exists/);
    await api.updateRealServer({ service: key, server: { address: '198.19.0.2', port: 80, weight: 0 } });
    await expectGrpcError(api.updateRealServer({ service: key, server: { address: '198.19.0.9', port: 80, weight: 0 } }), grpc.status.NOT_FOUND, /^server: /);

    fake.failNext = { code: 'CONFIG_REJECTED', message: 'nope' };
    await expectGrpcError(api.addRealServer({ service: key, server: { address: '198.19.0.3', port: 80, weight: 1 } }), grpc.status.INVALID_ARGUMENT, /rejected/);
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
    await expectGrpcError(api.deleteVirtualService({ key }), grpc.status.NOT_FOUND, /does not exist/);
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
  const controller = new Controller(fake, join(dir, 'state.json'), ringPortsState());
  await controller.applyInitial();
  try {
    const server = await startApiServer({ socket: join(dir, 'api.sock'), listen: '127.0.0.1:0', controller, stats: new StatsHub(fake),
      info: { version: 't', startedAt: Date.now(), workers: 1, polling: 'busy' }, forwarding: forwardingOf(controller) });
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
