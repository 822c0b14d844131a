// The control API's trust pieces one by one (issue 14 items 1, 5, 6): the caller the interceptors
// record and handlers require (a server without its interceptor refuses every call, whatever the
// client claims),
// token lookup over digests, the file-mode checks on secrets, and the health verdict — the last
// also end to end through startApiServer, whose Check and Watch follow the inputs.
import { chmod, chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { CALLER_KEY, callerOf, CallerUnknownError, TokenTable, unixSocketInterceptor } from '../../src/api/auth.js';
import { forwardingVerdict, type ForwardingInputs } from '../../src/api/health-status.js';
import { loadPortcullisProto } from '../../src/api/proto.js';
import { readSecretFile, readTrustFile } from '../../src/api/secret-files.js';
import { startApiServer } from '../../src/api/server.js';
import { virtualServicesHandlers } from '../../src/api/virtual-services.js';
import { Controller } from '../../src/daemon/controller.js';
import type { DataplaneStats } from '../../src/dataplane/types.js';
import { setLogLevel } from '../../src/log.js';
import { StatsHub } from '../../src/metrics/stats-hub.js';
import { DEFAULT_TIMEOUTS, type DesiredState } from '../../src/model/index.js';

setLogLevel('error');

function metadataWith(...values: string[]): grpc.Metadata {
  const metadata = new grpc.Metadata();
  for (const v of values) metadata.add(CALLER_KEY, v);
  return metadata;
}

test('callerOf: metadata no interceptor has seen is refused, whatever it claims under x-portcullis-caller', () => {
  for (const claims of [[], ['unix'], ['tcp:ops'], ['unix', 'unix']]) {
    assert.throws(() => callerOf(metadataWith(...claims)), (error: unknown) => error instanceof CallerUnknownError, JSON.stringify(claims));
  }
});

test('TokenTable: every token matches its identity, anything else none (digests compared over the whole table)', () => {
  const table = TokenTable.from([['a'.repeat(16), { name: 'a', role: 'operator' }], ['b'.repeat(16), { name: 'b', role: 'read-only' }]]);
  assert.is(table.match('a'.repeat(16))?.name, 'a');
  assert.is(table.match('b'.repeat(16))?.name, 'b');
  for (const guess of ['', 'a', 'a'.repeat(15), 'a'.repeat(17), `${'a'.repeat(15)}b`]) assert.is(table.match(guess), undefined, guess);
});

function desired(): DesiredState {
  return { ports: [{ name: 'outside', device: 'ring', addresses: ['198.18.0.254/24'] }], routes: [], defaultTimeouts: { ...DEFAULT_TIMEOUTS },
    services: [], nextServiceId: 1, nextServerId: 1 };
}

test('a server wired without an interceptor refuses every call (no transport mark), and changes nothing; with the unix interceptor the same call works', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pc-mark-'));
  const applied: number[] = [];
  const controller = new Controller({ apply: () => { applied.push(1); return { version: applied.length }; } }, join(dir, 'state.json'), desired());
  await controller.applyInitial();
  const { grpcObject } = loadPortcullisProto();
  const create = { service: { key: { protocol: 'TCP' as const, vip: '198.18.0.10', port: 80 }, localAddresses: ['198.18.0.200'] } };
  const servers: grpc.Server[] = [];
  const clients: grpc.Client[] = [];
  const serve = async (name: string, interceptors: grpc.ServerInterceptor[]) => {
    const server = new grpc.Server({ interceptors });
    server.addService(grpcObject.portcullis.v1.VirtualServices.service, virtualServicesHandlers(controller));
    servers.push(server);
    const socket = join(dir, name);
    await new Promise<void>((resolve, reject) => server.bindAsync(`unix:${socket}`, grpc.ServerCredentials.createInsecure(), (e) => (e ? reject(e) : resolve())));
    const client = new grpcObject.portcullis.v1.VirtualServices(`unix:${socket}`, grpc.credentials.createInsecure());
    clients.push(client);
    return (metadata: grpc.Metadata) => new Promise<number>((resolve) => client.createVirtualService(create, metadata, (e) => resolve(e?.code ?? 0)));
  };
  try {
    const bare = await serve('bare.sock', []);
    // A client that forges the mark gets nowhere either: only an interceptor may set it.
    for (const claims of [[], ['unix'], ['tcp:ops']]) {
      assert.is(await bare(metadataWith(...claims)), grpc.status.UNAUTHENTICATED, `claims ${JSON.stringify(claims)}`);
    }
    assert.is(controller.state.services.length, 0, 'nothing changed');
    assert.is(applied.length, 1, 'the data plane saw only the initial apply');
    const guarded = await serve('guarded.sock', [unixSocketInterceptor()]);
    assert.is(await guarded(metadataWith('tcp:ops')), grpc.status.OK, 'positive control: the same call through the unix interceptor');
    assert.is(controller.state.services.length, 1);
  } finally {
    for (const c of clients) c.close();
    for (const s of servers) s.forceShutdown();
    await rm(dir, { recursive: true, force: true });
  }
});

test('secret files: token files and keys readable or writable by group/others are refused, naming the field and the mode; the CA may be world-readable but not writable; another owner is refused', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pc-secret-'));
  try {
    const file = join(dir, 'f');
    await writeFile(file, 'x'.repeat(20));
    const refusal = async (read: () => Promise<Buffer>) => read().then(() => 'accepted', (error: Error) => error.message);
    for (const mode of [0o600, 0o400, 0o700]) {
      await chmod(file, mode);
      assert.is(await refusal(() => readSecretFile(file, 'api.tokens[0].file')), 'accepted', mode.toString(8));
    }
    for (const mode of [0o644, 0o640, 0o604, 0o620, 0o602]) {
      await chmod(file, mode);
      assert.is(await refusal(() => readSecretFile(file, 'api.tls.key')),
        `api.tls.key: ${file} has mode 0${mode.toString(8)}: group or others may read or write this secret; chmod 600 ${file}`);
    }
    await chmod(file, 0o644);
    assert.is(await refusal(() => readTrustFile(file, 'api.tls.client_ca')), 'accepted');
    for (const mode of [0o664, 0o646]) {
      await chmod(file, mode);
      assert.match(await refusal(() => readTrustFile(file, 'api.tls.client_ca')), new RegExp(`^api\\.tls\\.client_ca: ${file} has mode 0${mode.toString(8)}: group or others may write it`));
    }
    if (process.geteuid?.() === 0) {
      await chmod(file, 0o600);
      await chown(file, 65534, 65534);
      assert.match(await refusal(() => readSecretFile(file, 'api.tokens[1].file')), /^api\.tokens\[1\]\.file: .* is owned by uid 65534, expected the daemon's user \(uid 0\) or root/);
    }
    assert.match(await refusal(() => readSecretFile(join(dir, 'missing'), 'api.tls.key')), /^api\.tls\.key: cannot read .*missing \(ENOENT/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

const fine: ForwardingInputs = { started: true, ports: [{ name: 'outside', up: true }, { name: 'inside', up: true }], rollbackFailure: undefined };

test('forwardingVerdict: SERVING only when started, every port up (unknown = down) and no failed rollback', () => {
  assert.equal(forwardingVerdict(fine), { status: 'SERVING', reason: 'forwarding' });
  assert.equal(forwardingVerdict({ ...fine, started: false }), { status: 'NOT_SERVING', reason: 'the data plane has not started' });
  assert.equal(forwardingVerdict({ ...fine, ports: [{ name: 'outside', up: true }, { name: 'inside', up: false }] }), { status: 'NOT_SERVING', reason: 'port inside: link down' });
  assert.equal(forwardingVerdict({ ...fine, ports: [{ name: 'outside', up: undefined }] }), { status: 'NOT_SERVING', reason: 'port outside: link state not known yet' });
  assert.equal(forwardingVerdict({ ...fine, rollbackFailure: 'EIO' }), { status: 'NOT_SERVING', reason: 'a failed change could not be rolled back (EIO)' });
});

test('startApiServer: Check and Watch follow the forwarding inputs (not started, started, rollback failed), for every service', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pc-health-'));
  const controller = new Controller({ apply: () => ({ version: 1 }) }, join(dir, 'state.json'), desired());
  const stats = new StatsHub({ stats: () => ({}) as DataplaneStats, connections: () => [], ports: () => [] } as never);
  let inputs: ForwardingInputs = { ...fine, started: false };
  const server = await startApiServer({ socket: join(dir, 'api.sock'), controller, stats, forwarding: () => inputs,
    info: { version: 't', startedAt: Date.now(), workers: 1, polling: 'adaptive' } });
  const loaded = grpc.loadPackageDefinition(protoLoader.loadSync(healthProtoPath, { enums: String, keepCase: true })) as unknown as {
    grpc: { health: { v1: { Health: new (t: string, c: grpc.ChannelCredentials) => grpc.Client & {
      check(r: { service: string }, cb: (e: Error | null, r: { status: string }) => void): void;
      watch(r: { service: string }): grpc.ClientReadableStream<{ status: string }>;
    } } } };
  };
  const client = new loaded.grpc.health.v1.Health(`unix:${join(dir, 'api.sock')}`, grpc.credentials.createInsecure());
  const names = ['', 'portcullis.v1.VirtualServices', 'portcullis.v1.Stats', 'portcullis.v1.Defense', 'portcullis.v1.Trace'];
  const all = () => Promise.all(names.map((service) => new Promise<string>((resolve, reject) =>
    client.check({ service }, (e, r) => (e ? reject(e) : resolve(r.status))))));
  const seen: string[] = [];
  const watch = client.watch({ service: 'portcullis.v1.VirtualServices' });
  watch.on('data', (r: { status: string }) => seen.push(r.status));
  watch.on('error', () => undefined);
  try {
    assert.equal(await all(), names.map(() => 'NOT_SERVING'), 'not started');
    inputs = fine;
    server.healthReporter.update();
    assert.equal(await all(), names.map(() => 'SERVING'), 'forwarding');
    inputs = { ...fine, rollbackFailure: 'state file and data plane disagree' };
    server.healthReporter.update();
    assert.equal(await all(), names.map(() => 'NOT_SERVING'), 'rollback failed');
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(seen, ['NOT_SERVING', 'SERVING', 'NOT_SERVING'], 'Watch saw each transition once');
  } finally {
    watch.cancel();
    client.close();
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test.run();
