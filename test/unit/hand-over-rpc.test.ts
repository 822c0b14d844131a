// The running daemon's side of `portcullis run --takeover`, in process: the real API server,
// Controller, audit log and HandOver handler over a fake data plane that records handOver/resume
// (the daemon-level tests with the real addon are in test/api/takeover.test.ts).
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { startApiServer, type ApiServer } from '../../src/api/server.js';
import { connect } from '../../src/cli/client.js';
import { describeCallError } from '../../src/cli/endpoint.js';
import { runPcadm } from '../../src/cli/pcadm/main.js';
import { Controller } from '../../src/daemon/controller.js';
import { HandOverSource } from '../../src/daemon/hand-over.js';
import type { DataplaneConfig, DataplaneStats, PortInfo } from '../../src/dataplane/types.js';
import { AuditLog, type AuditEntry } from '../../src/defense/audit-log.js';
import { setLogLevel } from '../../src/log.js';
import { StatsHub } from '../../src/metrics/stats-hub.js';
import { parseState } from '../../src/state/file.js';
import { expectGrpcError } from '../support/expected-errors.js';
import { ringPortsState } from '../support/desired-state.js';
import { openHandOver, type HandOverStream } from '../support/hand-over-stream.js';

setLogLevel('error');

/** Applies anything; records the takeover calls the daemon makes. */
class FakeDataplane {
  version = 0;
  calls: string[] = [];
  failHandOver: { code: string; message: string } | undefined;
  apply(_config: DataplaneConfig) {
    return { version: ++this.version };
  }
  handOver() {
    this.calls.push('handOver');
    if (this.failHandOver) throw Object.assign(new Error(this.failHandOver.message), { code: this.failHandOver.code });
    return { heldAtUs: 123456789 };
  }
  resume() {
    this.calls.push('resume');
  }
  stats(): DataplaneStats {
    return {
      snapshotVersion: this.version, workerVersions: [this.version], workerBusyCycles: [0], workerIdleCycles: [0], workerListingScans: [], tscHz: 1e9,
      connections: 0, mbufsInUse: 0, defense: [], drops: {} as DataplaneStats['drops'], events: {} as DataplaneStats['events'],
      ports: [], services: [], servers: [], localAddresses: [],
    };
  }
  connections() {
    return { connections: [], nextCursor: 0 };
  }
  ports(): PortInfo[] {
    return [];
  }
}

interface Setup {
  fake: FakeDataplane;
  api: ReturnType<typeof connect>['api'];
  socket: string;
  /** How many times the daemon was told to close its listeners and exit. */
  handedOver: () => number;
  audit: () => Promise<AuditEntry[]>;
  stateFile: string;
}

const web = (port: number) => ({ service: { key: { protocol: 'TCP' as const, vip: '198.18.0.10', port }, localAddresses: ['198.19.0.200'], servers: [{ address: '198.19.0.1', port: 80, weight: 1 }] } });

let dir = '';
test.before.each(async () => { dir = await mkdtemp(join(tmpdir(), 'pc-handover-')); });
test.after.each(async () => { await rm(dir, { recursive: true, force: true }); });

async function withOldDaemon(options: { region?: string | undefined; clustered?: boolean }, body: (setup: Setup) => Promise<void>): Promise<void> {
  const fake = new FakeDataplane();
  const socket = join(dir, 'api.sock');
  const stateFile = join(dir, 'state.json');
  const auditPath = join(dir, 'audit.log');
  const controller = new Controller(fake, stateFile, ringPortsState());
  await controller.applyInitial();
  let exits = 0;
  const takeover = new HandOverSource({
    controller, dataplane: fake, audit: new AuditLog(auditPath),
    region: 'region' in options ? options.region : join(dir, 'conns'), clustered: options.clustered ?? false,
    onHandedOver: () => { exits++; },
  });
  let server: ApiServer | undefined;
  let client: ReturnType<typeof connect> | undefined;
  try {
    server = await startApiServer({
      socket, controller, stats: new StatsHub(fake), takeover,
      info: { version: 't', startedAt: Date.now(), workers: 1, polling: 'adaptive' },
      forwarding: () => ({ started: true, ports: [], rollbackFailure: undefined }),
    });
    client = connect(socket);
    await body({
      fake, api: client.api, socket, stateFile, handedOver: () => exits,
      audit: async () => (await readFile(auditPath, 'utf8').catch(() => '')).split('\n').filter(Boolean).map((line) => JSON.parse(line) as AuditEntry),
    });
  } finally {
    client?.close();
    await server?.close();
  }
}

async function withStream(socket: string, body: (stream: HandOverStream) => Promise<void>): Promise<void> {
  const stream = openHandOver(`unix:${socket}`);
  try {
    await body(stream);
  } finally {
    stream.close();
  }
}

const HOLD = { step: 'HOLD' as const, pid: 4242, actor: 'alice', reason: 'upgrade to 0.2' };

/** Polls until check() holds (the server handles a cancel asynchronously). */
async function eventually(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.unreachable(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

test('HOLD: state file written, workers held, HELD carries held_at_us, pid and state file; writes refused UNAVAILABLE meanwhile', async () => {
  await withOldDaemon({}, async ({ fake, api, socket, stateFile, audit }) => {
    await api.createVirtualService(web(80));
    await withStream(socket, async (stream) => {
      stream.send(HOLD);
      const held = await stream.next();
      assert.is(held.step, 'HELD');
      assert.is(held.heldAtUs, '123456789');
      assert.is(held.pid, process.pid);
      assert.is(held.stateFile, stateFile);
      assert.equal(fake.calls, ['handOver']);
      assert.equal(parseState(await readFile(stateFile, 'utf8')).services.map((s) => s.port), [80], 'the state file holds the last change');
      await expectGrpcError(api.createVirtualService(web(81)), grpc.status.UNAVAILABLE, /handing over to a new daemon/);
      await expectGrpcError(api.deleteVirtualService({ key: web(80).service.key }), grpc.status.UNAVAILABLE, /handing over to a new daemon/);
      // The CLIs say what happened, not "cannot reach the daemon" (UNAVAILABLE usually means that).
      let err = '';
      const code = await runPcadm(['--socket', socket, '-A', '-t', '198.18.0.10:90', '-s', 'rr'], { stdout: () => undefined, stderr: (t) => { err += t; }, stdin: async () => '' });
      assert.is.not(code, 0);
      assert.match(err, /handing over to a new daemon/);
      assert.not.match(err, /cannot reach/);
      const refusal = await api.createVirtualService(web(91)).then(() => undefined, (error: unknown) => error);
      assert.match(describeCallError(refusal, `unix:${socket}`), /^handing over to a new daemon/);
      assert.equal(parseState(await readFile(stateFile, 'utf8')).services.map((s) => s.port), [80], 'nothing changed');
      const lines = await audit();
      assert.is(lines.length, 1);
      assert.is(lines[0]!.action, 'takeover');
      assert.is(lines[0]!.result, 'pending');
      assert.is(lines[0]!.actor, 'unix:alice');
      assert.is(lines[0]!.reason, 'upgrade to 0.2');
      assert.match(lines[0]!.target, new RegExp(`daemon pid ${process.pid} -> pid 4242`));
    });
  });
});

test('abort: the new side cancels before COMMIT → the old daemon resumes and takes writes again', async () => {
  await withOldDaemon({}, async ({ fake, api, socket, handedOver, audit }) => {
    await withStream(socket, async (stream) => {
      stream.send(HOLD);
      assert.is((await stream.next()).step, 'HELD');
      stream.cancel();
      await eventually(() => fake.calls.includes('resume'), 'resume() after the cancel');
    });
    assert.equal(fake.calls, ['handOver', 'resume']);
    await api.createVirtualService(web(82));
    assert.is(handedOver(), 0, 'the old daemon keeps serving');
    await eventually(async () => (await audit()).length === 2, 'the outcome line');
    const outcome = (await audit())[1]!.result;
    assert.match(outcome, /^error: the new daemon (closed, )?cancelled.* before COMMIT; resumed$/, outcome);
  });
});

test('abort: the new side half-closes before COMMIT → resumed, the stream ends FAILED_PRECONDITION', async () => {
  await withOldDaemon({}, async ({ fake, api, socket }) => {
    await withStream(socket, async (stream) => {
      stream.send(HOLD);
      assert.is((await stream.next()).step, 'HELD');
      stream.halfClose();
      const end = await stream.ended();
      assert.is(end.code, grpc.status.FAILED_PRECONDITION, end.details);
      assert.match(end.details, /closed before COMMIT: this daemon resumed/);
    });
    assert.equal(fake.calls, ['handOver', 'resume']);
    await api.createVirtualService(web(83));
  });
});

test('COMMIT: COMMITTED, no resume, the daemon is told to exit; writes stay refused; audit says ok with the gap', async () => {
  await withOldDaemon({}, async ({ fake, api, socket, handedOver, audit }) => {
    await withStream(socket, async (stream) => {
      stream.send(HOLD);
      assert.is((await stream.next()).step, 'HELD');
      stream.send({ step: 'COMMIT', gapUs: 4321 });
      const committed = await stream.next();
      assert.is(committed.step, 'COMMITTED');
      assert.is((await stream.ended()).code, grpc.status.OK);
      await eventually(() => handedOver() === 1, 'onHandedOver after COMMITTED');
    });
    assert.equal(fake.calls, ['handOver'], 'never resumed after COMMIT');
    await expectGrpcError(api.createVirtualService(web(84)), grpc.status.UNAVAILABLE, /handing over to a new daemon/);
    const lines = await audit();
    assert.equal(lines.map((l) => l.result), ['pending', 'ok: gap 4321 us']);
  });
});

test('HOLD refused when the data plane cannot hold: FAILED_PRECONDITION, writes accepted, audit error', async () => {
  await withOldDaemon({}, async ({ fake, api, socket, audit }) => {
    fake.failHandOver = { code: 'ESTATE', message: 'worker 0 did not answer within 1 s' };
    await withStream(socket, async (stream) => {
      stream.send(HOLD);
      await expectGrpcError(stream.next(), grpc.status.FAILED_PRECONDITION, /could not hold its workers \(ESTATE\): worker 0 did not answer/);
    });
    await api.createVirtualService(web(85));
    assert.equal((await audit()).map((l) => l.result.replace(/:.*/, '')), ['pending', 'error']);
  });
});

test('HOLD refused without a region or in a cluster; nothing held, nothing paused', async () => {
  for (const [options, pattern] of [[{ region: undefined }, /conn_region is off/], [{ clustered: true }, /cluster member cannot hand over yet: drain it/]] as const) {
    await withOldDaemon(options, async ({ fake, api, socket }) => {
      await withStream(socket, async (stream) => {
        stream.send(HOLD);
        await expectGrpcError(stream.next(), grpc.status.FAILED_PRECONDITION, pattern);
      });
      assert.equal(fake.calls, []);
      await api.createVirtualService(web(86));
    });
  }
});

test('steps out of order: COMMIT first and a second HOLD are INVALID_ARGUMENT; a second stream is refused while one holds', async () => {
  await withOldDaemon({}, async ({ fake, api, socket }) => {
    await withStream(socket, async (stream) => {
      stream.send({ step: 'COMMIT', gapUs: 1 });
      await expectGrpcError(stream.next(), grpc.status.INVALID_ARGUMENT, /COMMIT before HELD/);
    });
    await withStream(socket, async (stream) => {
      stream.send(HOLD);
      assert.is((await stream.next()).step, 'HELD');
      await withStream(socket, async (second) => {
        second.send(HOLD);
        await expectGrpcError(second.next(), grpc.status.FAILED_PRECONDITION, /another hand-over is under way/);
      });
      stream.send(HOLD);
      await expectGrpcError(stream.next(), grpc.status.INVALID_ARGUMENT, /HOLD was already sent/);
    });
    assert.equal(fake.calls, ['handOver', 'resume'], 'the failed stream resumed what it held');
    await api.createVirtualService(web(87));
  });
});

test.run();
