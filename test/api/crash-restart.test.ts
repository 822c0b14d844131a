// Faults (issue 8): `kill -9` of the REAL daemon in the middle of a stream of gRPC applies. On
// restart the state is the old or the new one for every change — never a mix, never a corrupt
// file — and the restart needs no manual clean-up (stale socket, EAL files).
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import * as grpc from '@grpc/grpc-js';
import type { MitigationsResponse__Output } from '../../src/api/generated/portcullis/v1/MitigationsResponse.js';
import { loadPortcullisProto } from '../../src/api/proto.js';
import { connect, rpc, type PortcullisApi } from '../../src/cli/client.js';
import { WEB_SEED, startDaemon, writeConfig, withDaemonOutput, type Daemon } from './daemon.js';

const web = { protocol: 'TCP' as const, vip: '198.18.0.10', port: 80 };

/** Two complete shapes of `web`; each update swaps every server and LIP, so a torn apply shows. */
const SHAPES = [
  { localAddresses: ['198.19.0.200', '198.19.0.201'], servers: ['198.19.0.1', '198.19.0.2', '198.19.0.3'].map((address) => ({ address, port: 80, weight: 1 })) },
  { localAddresses: ['198.19.0.202', '198.19.0.203'], servers: ['198.19.0.4', '198.19.0.5'].map((address) => ({ address, port: 8080, weight: 7 })) },
];
type Shape = (typeof SHAPES)[number];

/** The n-th service the stream creates: its own port, two servers. */
function extra(n: number) {
  return {
    key: { protocol: 'TCP' as const, vip: '198.18.0.10', port: 1000 + n }, name: `extra-${n}`, localAddresses: ['198.19.0.201'],
    servers: [{ address: '198.19.0.1', port: 1000 + n, weight: 1 }, { address: '198.19.0.2', port: 1000 + n, weight: 2 }],
  };
}

/** The fields this test sets (the API adds defaults such as thresholds). */
function plainServers(servers: { address?: string; port?: number; weight?: number }[]) {
  return servers.map(({ address, port, weight }) => ({ address, port, weight }));
}

interface Stream {
  /** What the daemon confirmed last for web, and what was in flight when it died. */
  webConfirmed: Shape | undefined;
  webInFlight: Shape | undefined;
  created: Set<number>;
  createInFlight: number | undefined;
  calls: number;
}

/** Applies changes back to back until a call fails (the daemon was killed). */
async function applyUntilDead(api: PortcullisApi, firstExtra: number, stream: Stream, afterConfirmed: () => void): Promise<void> {
  for (let i = 0; ; i++) {
    const shape = SHAPES[i % 2]!;
    stream.webInFlight = shape;
    try {
      await api.updateVirtualService({ service: { key: web, ...shape }, replaceServers: true });
    } catch { return; }
    stream.webConfirmed = shape;
    stream.webInFlight = undefined;
    stream.calls++;
    afterConfirmed();
    const n = firstExtra + i;
    stream.createInFlight = n;
    try {
      await api.createVirtualService({ service: extra(n) });
    } catch { return; }
    stream.created.add(n);
    stream.createInFlight = undefined;
    stream.calls++;
    afterConfirmed();
  }
}

let dir = '';
test.before.each(async () => { dir = await mkdtemp(join(tmpdir(), 'pc-crash-')); });
test.after.each(async () => { await rm(dir, { recursive: true, force: true }); });

test('kill -9 during a stream of applies: restart shows the old or the new state of each change, never a mix', async () => {
  const config = await writeConfig(dir, WEB_SEED);
  const socket = join(dir, 'api.sock');
  const stream: Stream = { webConfirmed: undefined, webInFlight: undefined, created: new Set(), createInFlight: undefined, calls: 0 };
  // Kill after different amounts of work and at different moments after a confirmation, while the
  // next call (already sent) is being applied: [confirmed calls, extra delay ms].
  const rounds: [number, number][] = [[1, 0], [4, 3], [7, 10]];
  let daemon: Daemon | undefined;
  try {
    for (const [round, [calls, delay]] of rounds.entries()) {
      const running = await startDaemon(['--config', config]);
      daemon = running;
      const client = connect(socket);
      const before = stream.calls;
      let killed = false;
      await applyUntilDead(client.api, round * 1000, stream, () => {
        if (killed || stream.calls - before < calls) return;
        killed = true;
        setTimeout(() => running.child.kill('SIGKILL'), delay);
      });
      client.close();
      const failedOnItsOwn = !killed;
      if (failedOnItsOwn) running.child.kill('SIGKILL');
      await running.stop(); // waits for the exit
      assert.not.ok(failedOnItsOwn, `round ${round}: a call failed before the kill\n${running.output()}`);

      // Restart with no clean-up in between: the stale socket and whatever the kill left behind stay.
      daemon = await startDaemon(['--config', config]);
      const check = connect(socket);
      try {
        const services = (await check.api.listVirtualServices({})).services;
        const byPort = new Map(services.map((s) => [s.key!.port, s]));
        const w = byPort.get(80);
        assert.ok(w, 'web survived');
        const got = { localAddresses: w!.localAddresses, servers: plainServers(w!.servers) };
        const allowed = [stream.webConfirmed, stream.webInFlight].filter((s): s is Shape => s !== undefined);
        assert.ok(allowed.some((shape) => JSON.stringify(shape) === JSON.stringify(got)),
          `round ${round}: web is ${JSON.stringify(got)}, expected one of ${JSON.stringify(allowed)}`);
        for (const n of stream.created) {
          const s = byPort.get(1000 + n);
          assert.ok(s, `round ${round}: confirmed service extra-${n} lost`);
          assert.equal(plainServers(s!.servers), extra(n).servers, `extra-${n} complete`);
        }
        const unexpected = services.map((s) => s.key!.port - 1000)
          .filter((n) => n >= 0 && !stream.created.has(n) && n !== stream.createInFlight);
        assert.equal(unexpected, [], `round ${round}: services nobody confirmed or sent`);
        // The in-flight create either fully happened or not at all; settle it for the next round.
        if (stream.createInFlight !== undefined) {
          const s = byPort.get(1000 + stream.createInFlight);
          if (s) { assert.equal(plainServers(s.servers), extra(stream.createInFlight).servers); stream.created.add(stream.createInFlight); }
          stream.createInFlight = undefined;
        }
        stream.webConfirmed = SHAPES.find((shape) => JSON.stringify(shape) === JSON.stringify(got));
        stream.webInFlight = undefined;
      } finally {
        check.close();
        await daemon.stop();
        daemon = undefined;
      }
    }
    const left = (await readdir(dir)).filter((f) => f.startsWith('state.json') && f !== 'state.json');
    assert.ok(left.length <= 1, `temporary state files pile up: ${left.join(', ')}`);
  } finally {
    await daemon?.stop();
  }
});

/** A Defense client on the test's socket: call(method, request) → response. */
function defense(socket: string) {
  const { grpcObject } = loadPortcullisProto();
  const client = new grpcObject.portcullis.v1.Defense(`unix:${socket}`, grpc.credentials.createInsecure());
  return { call: <Res>(method: string, request: object) => rpc<object, Res>(client, method)(request), close: () => client.close() };
}

test('kill -9 right after mitigations were confirmed: every one is back after the restart, with its actor, reason and end time', async () => {
  const config = await writeConfig(dir, WEB_SEED);
  const socket = join(dir, 'api.sock');
  const web80 = { protocol: 'TCP', vip: '198.18.0.10', port: 80 };
  let daemon: Daemon | undefined = await startDaemon(['--config', config]);
  const first = daemon;
  try {
    const api = defense(socket);
    let confirmed: MitigationsResponse__Output;
    try {
      await api.call('block', { prefix: '203.0.113.0/24', origin: { actor: 'alice', reason: 'INC-1 flood', duration: '1h' } });
      await api.call('setServiceDefense', { service: web80, newConnRate: { pps: 500, burst: 1000 }, maxConns: 20000, origin: { actor: 'bob', reason: 'INC-1 conns' } });
      await api.call('block', { prefix: '198.51.100.7', action: 'allow', origin: { actor: 'alice', reason: 'partner' } });
      confirmed = await api.call<MitigationsResponse__Output>('listMitigations', {});
    } finally {
      api.close();
    }
    first.child.kill('SIGKILL');  // no clean shutdown: whatever was confirmed must already be on disk
    assert.is(await first.exited, 'SIGKILL');

    daemon = await startDaemon(['--config', config]);  // no clean-up: stale socket, EAL leftovers
    const again = defense(socket);
    try {
      const back = await again.call<MitigationsResponse__Output>('listMitigations', {});
      const shape = (r: MitigationsResponse__Output) => r.mitigations.map((m) => [m.kind, m.prefix, m.service?.port ?? 0, m.rate?.pps ?? 0, m.maxConns, m.actor, m.reason, m.expiresAt]).sort();
      assert.is(confirmed.mitigations.length, 4, 'deny + allow + conn_rate + conn_max');
      assert.equal(shape(back), shape(confirmed));
      const entries = (await readFile(join(dir, 'audit.log'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { target: string; result: string });
      const byTarget = new Map<string, string[]>();
      for (const e of entries) byTarget.set(e.target, [...(byTarget.get(e.target) ?? []), e.result]);
      assert.equal([...byTarget.values()], Array(4).fill(['pending', 'ok']), 'per mitigation its pending line and then its outcome, none lost to the kill');
    } finally {
      again.close();
    }
  } catch (error) {
    throw withDaemonOutput(error, daemon);
  } finally {
    await first.stop();
    await daemon.stop();
  }
});

test.run();
