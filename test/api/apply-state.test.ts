// portcullis.v1.Config against the REAL daemon (ring ports): ApplyState's diff (created / updated /
// deleted, field by field) applied as one generation, dry run, a stale expected_generation ABORTED,
// two appliers racing on one generation (exactly one wins), an invalid desired state refused whole,
// the generation on every read and across a restart, WatchConfig (each generation; a client that
// never reads is bounded, then ended with RESOURCE_EXHAUSTED), the read-only role, and
// `portcullis apply`'s output and exit codes.
import { connect as netConnect } from 'node:net';
import http2 from 'node:http2';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as assert from 'uvu/assert';
import { WATCH_CONFIG_MAX_PENDING, WATCH_CONFIG_MAX_STREAMS_PER_CALLER } from '../../src/api/config.js';
import type { ApplyStateRequest } from '../../src/api/generated/portcullis/v1/ApplyStateRequest.js';
import type { ApplyStateResponse__Output } from '../../src/api/generated/portcullis/v1/ApplyStateResponse.js';
import type { ConfigGeneration__Output } from '../../src/api/generated/portcullis/v1/ConfigGeneration.js';
import type { VirtualService } from '../../src/api/generated/portcullis/v1/VirtualService.js';
import { connect } from '../../src/cli/client.js';
import { resolveEndpoint } from '../../src/cli/endpoint.js';
import { setLogLevel } from '../../src/log.js';
import { expectGrpcError } from '../support/expected-errors.js';
import { test } from '../support/suite.js';
import { testConfig, WEB_SEED, withDaemon, withDaemonOutput, type DaemonSession } from './daemon.js';
import { makeLab, startSecured } from './secured.js';

setLogLevel('error');

let dir = '';
test.before.each(async () => { dir = await mkdtemp(join(tmpdir(), 'pc-apply-')); });
test.after.each(async () => { await rm(dir, { recursive: true, force: true }); });

const webConfig = (d: string) => testConfig(d, WEB_SEED);

interface ServiceOptions { scheduler?: string; servers?: [string, number, number][]; lips?: string[]; name?: string }

/** A TCP service as ApplyState takes it; servers as [address, port, weight]. */
function service(vip: string, port: number, options: ServiceOptions = {}): VirtualService {
  return {
    key: { protocol: 'TCP', vip, port },
    name: options.name ?? '',
    scheduler: options.scheduler ?? 'rr',
    localAddresses: options.lips ?? ['198.19.0.200'],
    servers: (options.servers ?? [['198.19.0.1', 80, 1]]).map(([address, p, weight]) => ({ address, port: p, weight })),
  };
}

/** The seeded "web" service exactly as WEB_SEED has it. */
const WEB = service('198.18.0.10', 80, { name: 'web' });

function apply(session: DaemonSession, request: ApplyStateRequest): Promise<ApplyStateResponse__Output> {
  return session.api.applyState(request);
}

async function snapshot(session: DaemonSession): Promise<{ generation: string; services: string }> {
  const listed = await session.api.listVirtualServices({});
  return { generation: listed.generation, services: JSON.stringify(listed.services) };
}

test('ApplyState: created / updated / deleted field by field, one generation; every read returns it; kept across a restart', async () => {
  await withDaemon({ dir, config: webConfig }, async (session) => {
    const { api } = session;
    const start = await api.listVirtualServices({});
    assert.is(start.generation, '1', 'a fresh state is generation 1');
    assert.is((await api.getStatus({})).generation, '1');
    const snapshotBefore = (await api.getStatus({})).snapshotVersion;

    // web: scheduler rr -> wrr, server .1 weight 1 -> 3, server .2 added; api: created.
    const webChanged = service('198.18.0.10', 80, { name: 'web', scheduler: 'wrr', servers: [['198.19.0.1', 80, 3], ['198.19.0.2', 80, 1]] });
    const created = service('198.18.0.11', 443, { name: 'api', servers: [['198.19.0.5', 8443, 2]] });
    const first = await apply(session, { services: [webChanged, created], expectedGeneration: 1 });
    assert.is(first.generation, '2');
    assert.is(first.applied, true);
    assert.equal(first.services.map((c) => [c.action, c.key?.vip, c.key?.port]), [['updated', '198.18.0.10', 80], ['created', '198.18.0.11', 443]]);
    assert.equal(first.services[0]!.fields, [
      { field: 'scheduler', before: 'rr', after: 'wrr' },
      { field: 'servers[198.19.0.1:80].weight', before: '1', after: '3' },
      { field: 'servers[198.19.0.2:80].weight', before: '', after: '1' },
    ]);
    assert.ok(first.services[1]!.fields.some((f) => f.field === 'servers[198.19.0.5:8443].weight' && f.before === '' && f.after === '2'), JSON.stringify(first.services[1]));
    assert.equal(first.unlisted, []);
    // One snapshot for the whole change.
    assert.is(Number((await api.getStatus({})).snapshotVersion), Number(snapshotBefore) + 1, 'applied as one snapshot');

    const listed = await api.listVirtualServices({});
    assert.is(listed.generation, '2');
    const web = listed.services.find((s) => s.key?.port === 80)!;
    assert.is(web.scheduler, 'wrr');
    assert.equal(web.servers.map((s) => [s.address, s.weight]), [['198.19.0.1', 3], ['198.19.0.2', 1]]);
    assert.is((await api.getVirtualService({ key: { protocol: 'TCP', vip: '198.18.0.10', port: 80 } })).generation, '2');
    assert.is((await api.getStatus({})).generation, '2');
    assert.is((await api.listRoutes({})).generation, '2');

    // Without prune, a service not listed is kept and reported; with prune it is deleted.
    const kept = await apply(session, { services: [created] });
    assert.is(kept.applied, false);
    assert.is(kept.generation, '2', 'no diff, no new generation');
    assert.equal(kept.unlisted.map((k) => k.port), [80]);
    const pruned = await apply(session, { services: [created], prune: true, expectedGeneration: '2' });
    assert.is(pruned.generation, '3');
    assert.equal(pruned.services.map((c) => [c.action, c.key?.port]), [['deleted', 80]]);
    assert.ok(pruned.services[0]!.fields.some((f) => f.field === 'scheduler' && f.before === 'wrr' && f.after === ''));
    assert.equal((await api.listVirtualServices({})).services.map((s) => s.key?.port), [443]);

    // A change through another door counts too.
    await api.createVirtualService({ service: WEB });
    assert.is((await api.listVirtualServices({})).generation, '4');
  });
  // The state file keeps the generation: a restart does not go back to 1.
  await withDaemon({ dir, config: webConfig }, async ({ api }) => {
    assert.is((await api.listVirtualServices({})).generation, '4');
  });
});

test('ApplyState routes: created, updated and deleted by prefix with apply_routes; untouched without it', async () => {
  await withDaemon({ dir, config: webConfig }, async (session) => {
    const route = { prefix: '10.99.0.0/16', via: '198.19.0.9', port: 'inside' };
    const added = await apply(session, { services: [WEB], routes: [route], applyRoutes: true });
    assert.equal(added.routes.map((c) => [c.action, c.prefix]), [['created', '10.99.0.0/16']]);
    assert.equal(added.services, [], 'web is already as listed');
    const moved = await apply(session, { services: [WEB], routes: [{ ...route, via: '198.19.0.8' }], applyRoutes: true });
    assert.equal(moved.routes[0]!.fields, [{ field: 'via', before: '198.19.0.9', after: '198.19.0.8' }]);
    const untouched = await apply(session, { services: [WEB], prune: true });
    assert.equal(untouched.routes, []);
    assert.is((await session.api.listRoutes({})).routes.length, 1);
    const deleted = await apply(session, { services: [WEB], routes: [], applyRoutes: true, prune: true });
    assert.equal(deleted.routes.map((c) => c.action), ['deleted']);
    assert.equal((await session.api.listRoutes({})).routes, []);
    assert.is(deleted.generation, '4');
  });
});

test('dry run returns the diff and changes nothing', async () => {
  await withDaemon({ dir, config: webConfig }, async (session) => {
    const before = await snapshot(session);
    const snapshotBefore = (await session.api.getStatus({})).snapshotVersion;
    const dry = await apply(session, { services: [service('198.18.0.12', 80)], prune: true, dryRun: true });
    assert.equal(dry.services.map((c) => [c.action, c.key?.vip]), [['created', '198.18.0.12'], ['deleted', '198.18.0.10']]);
    assert.is(dry.applied, false);
    assert.is(dry.generation, '1');
    assert.equal(await snapshot(session), before);
    assert.is((await session.api.getStatus({})).snapshotVersion, snapshotBefore, 'no snapshot published');
  });
});

test('a stale expected_generation is ABORTED and nothing changes', async () => {
  await withDaemon({ dir, config: webConfig }, async (session) => {
    await apply(session, { services: [WEB, service('198.18.0.12', 80)] });
    const before = await snapshot(session);
    assert.is(before.generation, '2');
    await expectGrpcError(apply(session, { services: [WEB], prune: true, expectedGeneration: 1 }), grpc.status.ABORTED,
      /^expected_generation: the configuration is at generation 2, not 1: it changed since it was read; nothing changed/);
    assert.equal(await snapshot(session), before);
  });
});

test('two appliers racing on the same generation: exactly one wins, the other is ABORTED, the state is the winner\'s', async () => {
  await withDaemon({ dir, config: webConfig }, async (session) => {
    for (let round = 0; round < 5; round++) {
      const { generation } = await session.api.listVirtualServices({});
      const a = service('198.18.0.10', 80, { name: 'web', scheduler: 'wlc', servers: [['198.19.0.1', 80, 10 + round]] });
      const b = service('198.18.0.10', 80, { name: 'web', scheduler: 'sh', servers: [['198.19.0.1', 80, 20 + round]] });
      // Two clients (two connections), sent together.
      const other = connect(session.socket);
      try {
        const outcomes = await Promise.allSettled([
          session.api.applyState({ services: [a], expectedGeneration: generation }),
          other.api.applyState({ services: [b], expectedGeneration: generation }),
        ]);
        const won = outcomes.filter((o) => o.status === 'fulfilled');
        const lost = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
        assert.is(won.length, 1, `round ${round}: ${JSON.stringify(outcomes.map((o) => o.status === 'rejected' ? (o.reason as grpc.ServiceError).details : 'ok'))}`);
        assert.is((lost[0]!.reason as grpc.ServiceError).code, grpc.status.ABORTED);
        const winner = outcomes[0]!.status === 'fulfilled' ? a : b;
        const listed = await session.api.listVirtualServices({});
        assert.is(listed.generation, String(Number(generation) + 1));
        assert.is(listed.services[0]!.scheduler, winner.scheduler);
        assert.is(listed.services[0]!.servers[0]!.weight, winner.servers![0]!.weight);
      } finally {
        other.close();
      }
    }
  });
});

test('an invalid desired state is refused whole, naming the field; nothing changes', async () => {
  await withDaemon({ dir, config: webConfig }, async (session) => {
    const before = await snapshot(session);
    const good = service('198.18.0.12', 80);
    const badWeight = service('198.18.0.13', 80, { servers: [['198.19.0.1', 80, 70000]] });
    await expectGrpcError(apply(session, { services: [good, badWeight] }), grpc.status.INVALID_ARGUMENT, /^services\[1\]\.servers\[0\]\.weight: expected integer 0\.\.65535, got 70000/);
    await expectGrpcError(apply(session, { services: [good, { ...good, name: 'twin' }] }), grpc.status.INVALID_ARGUMENT,
      /^services\[1\]\.key: virtual service tcp\/198\.18\.0\.12:80 is listed twice \(also at services\[0\]\.key\)/);
    await expectGrpcError(apply(session, { services: [service('198.18.0.12', 80, { servers: [['198.19.0.1', 80, 1], ['198.19.0.1', 80, 2]] })] }),
      grpc.status.INVALID_ARGUMENT, /^services\[0\]\.servers\[1\].*duplicate/);
    // A whole-state rule: a LIP must be in the servers' family (checked on the result as a whole).
    await expectGrpcError(apply(session, { services: [good, service('198.18.0.14', 80, { lips: ['2001:db8:19::200'] })] }),
      grpc.status.INVALID_ARGUMENT, /^services\[1\]\./);
    await expectGrpcError(apply(session, { services: [WEB], routes: [{ prefix: '10.1.0.0/16', via: '198.19.0.1', port: 'dmz' }], applyRoutes: true }),
      grpc.status.INVALID_ARGUMENT, /^routes\[0\]\.port: expected one of the configured ports/);
    await expectGrpcError(apply(session, { services: [WEB], routes: [{ prefix: '10.1.0.0/16', port: 'inside' }] }),
      grpc.status.INVALID_ARGUMENT, /^routes: routes were sent without apply_routes/);
    assert.equal(await snapshot(session), before, 'nothing changed');
  });
});

/** Reads messages from a WatchConfig stream as they come. */
function collect(call: grpc.ClientReadableStream<ConfigGeneration__Output>): { messages: ConfigGeneration__Output[]; next(count: number): Promise<void> } {
  const messages: ConfigGeneration__Output[] = [];
  let waiting: { count: number; resolve: () => void } | undefined;
  call.on('data', (m: ConfigGeneration__Output) => {
    messages.push(m);
    if (waiting && messages.length >= waiting.count) { waiting.resolve(); waiting = undefined; }
  });
  call.on('error', () => undefined);
  return {
    messages,
    next: (count) => new Promise<void>((resolve, reject) => {
      if (messages.length >= count) { resolve(); return; }
      waiting = { count, resolve };
      setTimeout(() => reject(new Error(`only ${messages.length} of ${count} messages: ${JSON.stringify(messages)}`)), 10_000);
    }),
  };
}

test('WatchConfig: the current generation, then each new one with what changed, from every door', async () => {
  await withDaemon({ dir, config: webConfig }, async (session) => {
    const call = session.clients.config.watchConfig({});
    try {
      const stream = collect(call);
      await stream.next(1);
      assert.equal(stream.messages[0], { generation: '1', initial: true, services: [], routes: [] });
      await apply(session, { services: [WEB, service('198.18.0.12', 80)] });
      await session.api.addRoute({ route: { prefix: '10.99.0.0/16', via: '198.19.0.9', port: 'inside' } });
      await session.api.updateRealServer({ service: WEB.key, server: { address: '198.19.0.1', port: 80, weight: 5 } });
      await apply(session, { services: [WEB, service('198.18.0.12', 80)] });  // weight back to 1: a change too
      await apply(session, { services: [WEB, service('198.18.0.12', 80)] });  // nothing to change: no generation
      await stream.next(5);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(stream.messages.map((m) => m.generation), ['1', '2', '3', '4', '5']);
      assert.equal(stream.messages[1]!.services.map((c) => [c.action, c.key?.vip]), [['created', '198.18.0.12']]);
      assert.equal(stream.messages[2]!.routes.map((c) => [c.action, c.prefix]), [['created', '10.99.0.0/16']]);
      assert.equal(stream.messages[3]!.services[0]!.fields, [{ field: 'servers[198.19.0.1:80].weight', before: '1', after: '5' }]);
      assert.equal(stream.messages[4]!.services[0]!.fields, [{ field: 'servers[198.19.0.1:80].weight', before: '5', after: '1' }]);
    } finally {
      call.cancel();
    }
  });
});

/** A gRPC message frame of WatchConfigRequest (empty). */
const EMPTY_REQUEST = Buffer.alloc(5);

/** gRPC length-prefixed messages in a byte stream. */
function grpcMessages(bytes: Buffer): Buffer[] {
  const messages: Buffer[] = [];
  for (let at = 0; at + 5 <= bytes.length;) {
    const length = bytes.readUInt32BE(at + 1);
    messages.push(bytes.subarray(at + 5, at + 5 + length));
    at += 5 + length;
  }
  return messages;
}

test('WatchConfig: a client that never reads holds a bounded number of generations, then its stream ends with RESOURCE_EXHAUSTED; 8 streams per caller', async () => {
  await withDaemon({ dir, config: webConfig }, async (session) => {
    // Raw HTTP/2 with a receive window of 0: not one byte of a message can reach this client.
    const h2 = http2.connect('http://localhost', { createConnection: () => netConnect(session.socket), settings: { initialWindowSize: 0 } });
    h2.on('error', () => undefined);
    try {
      const stream = h2.request({ ':method': 'POST', ':path': '/portcullis.v1.Config/WatchConfig', 'content-type': 'application/grpc', te: 'trailers' });
      stream.on('error', () => undefined);
      stream.end(EMPTY_REQUEST);
      await new Promise<void>((resolve) => stream.once('response', () => resolve()));
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      const trailers = new Promise<http2.IncomingHttpHeaders>((resolve) => stream.once('trailers', resolve));
      const produced = WATCH_CONFIG_MAX_PENDING + 40;  // well past what the daemon may hold for it
      for (let i = 0; i < produced; i++) {
        await apply(session, { services: [service('198.18.0.10', 80, { name: 'web', servers: [['198.19.0.1', 80, 2 + i]] })] });
      }
      assert.is((await session.api.listVirtualServices({})).generation, String(1 + produced));
      assert.is(chunks.length, 0, 'nothing reached the client while its window was closed');
      // Now open the window: what the daemon still held arrives, then the status.
      h2.settings({ initialWindowSize: 1 << 20 });
      const ended = await Promise.race([trailers, new Promise<undefined>((r) => setTimeout(() => r(undefined), 10_000))]);
      assert.ok(ended, 'the stream was ended');
      assert.is(ended!['grpc-status'], String(grpc.status.RESOURCE_EXHAUSTED));
      assert.match(decodeURIComponent(String(ended!['grpc-message'])), /^WatchConfig: the client did not read 32 generations in time \(now at \d+\); the stream is ended/);
      const received = grpcMessages(Buffer.concat(chunks));
      console.log(`  ${produced} generations produced for a client that did not read: ${received.length} message(s) held and delivered, then RESOURCE_EXHAUSTED`);
      // The current one, what the transport took before it stopped (grpc-js buffers up to 16), and the pending bound.
      assert.ok(received.length <= 1 + 16 + WATCH_CONFIG_MAX_PENDING + 1, `${received.length} messages`);
      assert.ok(received.length < produced, `${received.length} messages`);
    } finally {
      h2.destroy();
    }
    // The daemon carries on; the reset client's place is given back: 8 watchers (the most per caller) are
    // served, a 9th is RESOURCE_EXHAUSTED until one is cancelled.
    const calls = Array.from({ length: WATCH_CONFIG_MAX_STREAMS_PER_CALLER }, () => session.clients.config.watchConfig({}));
    try {
      for (const call of calls) {
        const stream = collect(call);
        await stream.next(1);
        assert.is(stream.messages[0]!.initial, true);
      }
      const ninth = session.clients.config.watchConfig({});
      const refused = await new Promise<grpc.ServiceError>((resolve) => ninth.on('error', resolve));
      assert.is(refused.code, grpc.status.RESOURCE_EXHAUSTED);
      assert.match(refused.details, /^WatchConfig: the unix socket already has 8 streams open/);
      calls.pop()!.cancel();
      await new Promise((r) => setTimeout(r, 200));
      const again = session.clients.config.watchConfig({});
      calls.push(again);
      await collect(again).next(1);
    } finally {
      for (const call of calls) call.cancel();
    }
  });
});

test('the read-only role may read generations and watch, not apply', async () => {
  const lab = await makeLab('pc-apply-ro-');
  const { daemon, port } = await startSecured(lab);
  const viewer = connect(resolveEndpoint({ server: `127.0.0.1:${port}`, 'tls-ca': lab.ca.cert, 'token-file': lab.viewerTokenFile }, {}));
  const operator = connect(resolveEndpoint({ server: `127.0.0.1:${port}`, 'tls-ca': lab.ca.cert, 'token-file': lab.opsTokenFile }, {}));
  const watch = viewer.config.watchConfig({});
  try {
    const stream = collect(watch);
    await stream.next(1);
    await expectGrpcError(viewer.api.applyState({ services: [WEB], dryRun: true }), grpc.status.PERMISSION_DENIED,
      /grafana \(read-only\) may not call \/portcullis\.v1\.Config\/ApplyState/);
    assert.is((await viewer.api.listVirtualServices({})).generation, '1');
    const done = await operator.api.applyState({ services: [service('198.18.0.12', 80)] });
    assert.is(done.generation, '2');
    await stream.next(2);
    assert.match(daemon.output(), /configuration applied by ops: generation 2: created tcp\/198\.18\.0\.12:80/);
  } catch (error) {
    throw withDaemonOutput(error, daemon);
  } finally {
    watch.cancel();
    viewer.close();
    operator.close();
    await daemon.stop();
    await rm(lab.dir, { recursive: true, force: true });
  }
});

test('portcullis apply -f: the diff printed; --dry-run, --prune, --expected-generation; exit codes 0, 2, 3', async () => {
  await withDaemon({ dir, config: webConfig }, async (session) => {
    const file = join(dir, 'services.yaml');
    await writeFile(file, `services:
  - { name: web, protocol: tcp, vip: 198.18.0.10, port: 80, scheduler: wrr, local_addresses: [198.19.0.200],
      servers: [{ address: 198.19.0.1, port: 80, weight: 2 }] }
  - { name: dns, protocol: udp, vip: 198.18.0.53, port: 53, local_addresses: [198.19.0.201],
      servers: [{ address: 198.19.0.5, port: 53, weight: 1 }] }
`);
    const dry = await session.cli(['apply', '-f', file, '--dry-run']);
    assert.is(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /^~ service tcp\/198\.18\.0\.10:80 \(web\) updated\n {4}scheduler: rr -> wrr\n {4}servers\[198\.19\.0\.1:80\]\.weight: 1 -> 2\n/);
    assert.match(dry.stdout, /\+ service udp\/198\.18\.0\.53:53 \(dns\) created\n/);
    assert.match(dry.stdout, /dry run: 2 change\(s\) not applied \(generation 1\)/);
    assert.is((await session.api.listVirtualServices({})).services.length, 1);

    const applied = await session.cli(['apply', '-f', file, '--expected-generation', '1']);
    assert.is(applied.code, 0, applied.stderr);
    assert.match(applied.stdout, /applied 2 change\(s\): generation 1 -> 2/);
    const again = await session.cli(['apply', '-f', file]);
    assert.match(again.stdout, /^no changes \(generation 2\)$/m);

    const stale = await session.cli(['apply', '-f', file, '--expected-generation', '1']);
    assert.is(stale.code, 3, stale.stdout + stale.stderr);
    assert.match(stale.stderr, /expected_generation: the configuration is at generation 2, not 1/);

    await writeFile(file, 'services:\n  - { protocol: tcp, vip: 198.18.0.10, port: 80, servers: [{ address: 198.19.0.1, port: 80, weight: -1 }] }\n');
    const bad = await session.cli(['apply', '-f', file]);
    assert.is(bad.code, 2);
    assert.match(bad.stderr, /services\[0\]\.servers\[0\]\.weight: expected integer 0\.\.65535, got -1/);

    await writeFile(file, 'services:\n  - { name: web, protocol: tcp, vip: 198.18.0.10, port: 80, scheduler: wrr, local_addresses: [198.19.0.200], servers: [{ address: 198.19.0.1, port: 80, weight: 2 }] }\n');
    const kept = await session.cli(['apply', '-f', file]);
    assert.match(kept.stdout, /1 running service\(s\) not in the file left alone \(--prune deletes them\): udp\/198\.18\.0\.53:53/);
    const pruned = await session.cli(['apply', '-f', file, '--prune']);
    assert.is(pruned.code, 0, pruned.stderr);
    assert.match(pruned.stdout, /^- service udp\/198\.18\.0\.53:53 \(dns\) deleted$/m);
    assert.is((await session.api.listVirtualServices({})).generation, '3');
  });
});

test.run();
