// Passive health: the config validator (every door reads through it), the back-off state machine
// (quiesce above the rate, doubling while the server keeps refusing, forgiveness, the max), and the
// watcher quiescing and restoring a server through the real Controller and model, beside the active
// health check (the data plane is a recording fake; the watcher, the state machine and the model are
// what is under test; the counters it reads are the data plane's own: test/packet/passive-health.test.ts).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ringPortsStateRouted } from '../support/desired-state.js';
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { serverHealth, serverHealthReason } from '../../src/api/health-convert.js';
import { serviceSpecFromProto, serviceToProto } from '../../src/api/convert.js';
import { Controller } from '../../src/daemon/controller.js';
import type { DataplaneConfig, DataplaneStats } from '../../src/dataplane/types.js';
import { initialPassiveRecord, passiveStep, type PassiveRecord } from '../../src/health/passive-backoff.js';
import { PassiveWatcher } from '../../src/health/passive.js';
import { setLogLevel } from '../../src/log.js';
import { controlEvents } from '../../src/metrics/control-events.js';
import { createMetrics } from '../../src/metrics/prometheus.js';
import { StatsHub } from '../../src/metrics/stats-hub.js';
import {
  createService, ModelError, readPassiveHealth, readServiceSpec, setServerHealth, setServerPassiveDown,
  updateService, type PassiveHealth,
} from '../../src/model/index.js';
import { parseState, serializeState } from '../../src/state/file.js';

setLogLevel('error');

const SETTINGS: PassiveHealth = readPassiveHealth({ rate: 10, interval_ms: 1000, backoff_ms: 5000, max_backoff_ms: 20000 }, 'p');

const readError = (raw: unknown) => {
  try { readPassiveHealth(raw, 'services[0].passive_health'); } catch (e) { return (e as ModelError).message; }
  return 'accepted';
};

test('passive_health: defaults, and every bad field named', () => {
  assert.equal(readPassiveHealth({ rate: 5 }, 'p'), { rate: 5, intervalMs: 1000, backoffMs: 5000, maxBackoffMs: 60000 });
  assert.equal(readPassiveHealth({ rate: 5, backoff_ms: 90000 }, 'p').maxBackoffMs, 90000, 'a first back-off above the default max is the max');
  assert.match(readError({}), /^services\[0\]\.passive_health\.rate: is required/);
  assert.match(readError({ rate: 0 }), /^services\[0\]\.passive_health\.rate: expected integer 1\.\.10000000, got 0/);
  assert.match(readError({ rate: 1.5 }), /^services\[0\]\.passive_health\.rate: expected integer/);
  assert.match(readError({ rate: 1, interval_ms: 50 }), /^services\[0\]\.passive_health\.interval_ms: expected integer 100\.\.3600000, got 50/);
  assert.match(readError({ rate: 1, backoff_ms: 'long' }), /^services\[0\]\.passive_health\.backoff_ms: expected integer/);
  assert.match(readError({ rate: 1, backoff_ms: 5000, max_backoff_ms: 1000 }), /^services\[0\]\.passive_health\.max_backoff_ms: must be at least backoff_ms \(5000\), got 1000/);
  assert.match(readError({ rate: 1, max_backoff_ms: 86_400_001 }), /^services\[0\]\.passive_health\.max_backoff_ms: expected integer 100\.\.86400000/);
  assert.match(readError({ rate: 1, backof_ms: 5 }), /^services\[0\]\.passive_health.*backof_ms/);
  assert.match(readError('on'), /^services\[0\]\.passive_health: /);
});

test('passive_health: through a service spec, the state file and the gRPC message, and back', () => {
  const spec = readServiceSpec({
    name: 'dns', protocol: 'udp', vip: '198.18.0.53', port: 53, local_addresses: ['198.19.0.200'],
    passive_health: { rate: 3, interval_ms: 500, backoff_ms: 2000, max_backoff_ms: 8000 }, servers: [{ address: '198.19.0.1', port: 53, weight: 1 }],
  }, 'service');
  assert.equal(spec.passiveHealth, { rate: 3, intervalMs: 500, backoffMs: 2000, maxBackoffMs: 8000 });
  const state = createService(ringPortsStateRouted(), spec).state;
  const reread = parseState(serializeState(state));
  assert.equal(reread.services[0]!.passiveHealth, spec.passiveHealth, 'kept by the state file');
  const message = serviceToProto(state.services[0]!);
  assert.equal(message.passiveHealth, { rate: 3, intervalMs: 500, backoffMs: 2000, maxBackoffMs: 8000 });
  // What a client sends back (proto3: the unset fields as zeros) reads the same.
  const back = serviceSpecFromProto(JSON.parse(JSON.stringify(message)), 'service');
  assert.equal(back.passiveHealth, spec.passiveHealth, 'round-trips over gRPC');
  try {
    serviceSpecFromProto({ ...JSON.parse(JSON.stringify(message)), passiveHealth: { rate: 0, intervalMs: 0, backoffMs: 0, maxBackoffMs: 0 } }, 'service');
    assert.unreachable('a message without a rate was accepted');
  } catch (error) {
    assert.match((error as Error).message, /^service\.passive_health\.rate: is required/);
  }
  const off = updateService(state, { ...spec, passiveHealth: undefined } as typeof spec, false).state;
  assert.is(off.services[0]!.passiveHealth, undefined, 'an update without it turns it off');
});

/** Steps `record` through `samples` (counter values, one per interval), returning the actions by kind. */
function run(record: PassiveRecord, start: number, samples: number[], stepMs = 1000): { record: PassiveRecord; actions: string[]; now: number } {
  const actions: string[] = [];
  let now = start;
  for (const count of samples) {
    now += stepMs;
    const result = passiveStep(record, count, now, SETTINGS);
    record = result.record;
    const a = result.action;
    actions.push(a.kind === 'quiesce' ? `quiesce ${a.backoffMs}` : a.kind === 'restore' ? 'restore' : '-');
  }
  return { record, actions, now };
}

test('back-off: the first sample is a baseline; at the rate nothing happens, above it the server is quiesced for backoff_ms', () => {
  const start = 1_000_000;
  // A counter already high at the first sample (refusals before passive health was on) moves nothing.
  let r = run(initialPassiveRecord(SETTINGS, start), start, [500, 510, 520]);
  assert.equal(r.actions, ['-', '-', '-'], '10 a second at rate 10 is not above it');
  r = run(r.record, r.now, [531]);
  assert.equal(r.actions, ['quiesce 5000'], '11 in a second is above 10/s');
  assert.is(r.record.state, 'backed_off');
  // While backed off its counter is not looked at (existing connections may still refuse).
  r = run(r.record, r.now, [900, 1300, 1700, 2100]);
  assert.equal(r.actions, ['-', '-', '-', '-']);
  r = run(r.record, r.now, [2500]);
  assert.equal(r.actions, ['restore'], 'restored when the back-off is over');
  assert.is(r.record.state, 'up');
  assert.equal(run(r.record, r.now, [2505]).actions, ['-'], 'the refusals during the back-off are not held against it');
});

test('back-off: doubles while the server keeps refusing, up to max_backoff_ms; forgiven after as long as its last back-off', () => {
  const start = 0;
  let count = 0;
  const refusing = () => (count += 100);
  let r = run(initialPassiveRecord(SETTINGS, start), start, [count]);
  const backoffs: number[] = [];
  for (let i = 0; i < 4; i++) {
    const before = run(r.record, r.now, [refusing()]);
    assert.equal(before.actions.length, 1);
    backoffs.push(Number(before.actions[0]!.split(' ')[1]));
    // Wait out the back-off: one sample a second until it is restored.
    r = before;
    for (let guard = 0; r.record.state === 'backed_off' && guard < 100; guard++) r = run(r.record, r.now, [count]);
  }
  assert.equal(backoffs, [5000, 10000, 20000, 20000], 'doubling, capped at max_backoff_ms 20000');
  // Quiet for 19 s after a 20 s back-off: not forgiven yet.
  r = run(r.record, r.now, Array<number>(19).fill(count));
  r = run(r.record, r.now, [refusing()]);
  assert.equal(r.actions, ['quiesce 20000'], 'still the long back-off');
  for (let guard = 0; r.record.state === 'backed_off' && guard < 100; guard++) r = run(r.record, r.now, [count]);
  // Quiet for the whole 20 s: the next back-off starts over.
  r = run(r.record, r.now, Array<number>(20).fill(count));
  assert.equal(run(r.record, r.now, [refusing()]).actions, ['quiesce 5000'], 'forgiven: back to backoff_ms');
});

test('back-off: the rate is per second of the time that really passed; a counter that went backwards is a new baseline', () => {
  const start = 0;
  // 25 refusals over 2.5 s at rate 10: not above.
  let r = run(initialPassiveRecord(SETTINGS, start), start, [0]);
  assert.equal(run(r.record, r.now, [25], 2500).actions, ['-']);
  assert.equal(run(r.record, r.now, [26], 2500).actions, ['quiesce 5000']);
  // The server was removed and added again under its id: its counter restarted from 0.
  r = run(r.record, r.now, [1000]);
  assert.equal(run(r.record, r.now, [3], 1000).actions, ['-'], 'no negative or huge delta from a reset counter');
});


test('watcher: a refusing server goes to weight 0 and back after its back-off; one the health check holds down stays down', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-passive-'));
  const applied: DataplaneConfig[] = [];
  let version = 0;
  const dataplane = { apply: (config: DataplaneConfig) => { applied.push(structuredClone(config)); return { version: ++version }; } };
  try {
    const spec = readServiceSpec({
      name: 'dns', protocol: 'udp', vip: '198.18.0.53', port: 53, local_addresses: ['198.19.0.200'],
      health_check: { kind: 'udp', payload: 'ping' },
      passive_health: { rate: 2, interval_ms: 1000, backoff_ms: 3000, max_backoff_ms: 6000 },
      servers: [{ address: '198.19.0.1', port: 53, weight: 7 }, { address: '198.19.0.2', port: 53, weight: 3 }],
    }, 'service');
    const controller = new Controller(dataplane, join(dir, 'state.json'), createService(ringPortsStateRouted(), spec).state);
    await controller.applyInitial();
    const [good, bad] = controller.state.services[0]!.servers;
    const counters = new Map<number, number>([[good!.id, 0], [bad!.id, 0]]);
    let now = 0;
    const watcher = new PassiveWatcher({
      state: () => controller.state,
      refusals: () => new Map(counters),
      apply: async ({ service, serverId, down }) => {
        await controller.mutate((current) => setServerPassiveDown(current, service, serverId, down));
      },
      now: () => now,
    });
    const serviceId = controller.state.services[0]!.id;
    const round = async (badRefusals: number, goodRefusals = 0) => {
      now += 1000;
      counters.set(bad!.id, counters.get(bad!.id)! + badRefusals);
      counters.set(good!.id, counters.get(good!.id)! + goodRefusals);
      await watcher.sampleService(serviceId);
    };
    const weights = () => applied.at(-1)!.services[0]!.servers.map((s) => s.weight);
    const shown = () => controller.state.services[0]!.servers.map((s) => `${serverHealth(controller.state.services[0]!, s)}:${serverHealthReason(s)}`);
    const quiescedBefore = controlEvents().passive_health_quiesced;

    await round(0);  // baseline
    await round(2, 2);
    assert.equal(weights(), [7, 3], '2 a second at rate 2 is not above it');
    await round(3);
    assert.equal(weights(), [7, 0], 'above the rate: quiesced in the data plane');
    assert.equal(shown(), ['up:', 'down:passive']);
    assert.is(controller.state.services[0]!.servers[1]!.weight, 3, 'the configured weight is kept');
    assert.is(controlEvents().passive_health_quiesced - quiescedBefore, 1, 'counted as passive_health_quiesced');
    await round(50);
    await round(50);
    assert.equal(weights(), [7, 0], 'still backed off (3 s)');
    await round(0);
    assert.equal(weights(), [7, 3], 'restored after its back-off');
    assert.equal(shown(), ['up:', 'up:']);

    await round(3);
    assert.equal(weights(), [7, 0], 'refusing again at once: quiesced again');
    // Meanwhile its health check fails too: down for both reasons.
    await controller.mutate((current) => setServerHealth(current, controller.state.services[0]!, bad!.id, true));
    assert.equal(shown(), ['up:', 'down:active,passive']);
    for (let i = 0; i < 6; i++) await round(0);  // the doubled back-off: 6 s
    assert.is(controller.state.services[0]!.servers[1]!.passiveDown, undefined, 'passive health let it back');
    assert.equal(weights(), [7, 0], 'but the failing health check still holds it down');
    assert.equal(shown(), ['up:', 'down:active']);
    await controller.mutate((current) => setServerHealth(current, controller.state.services[0]!, bad!.id, false));
    assert.equal(weights(), [7, 3], 'up once both let it back');

    // The verdict does not survive the state file (a restart starts every server up).
    await round(3);
    assert.equal(weights(), [7, 0]);
    assert.is(parseState(serializeState(controller.state)).services[0]!.servers[1]!.passiveDown, undefined);

    // Passive health turned off while the server is backed off: it gets its weight back.
    const withoutPassive = { ...spec, passiveHealth: undefined } as typeof spec;
    await controller.mutate((current) => updateService(current, withoutPassive, false));
    watcher.start();
    try {
      // The controller swaps its state after the data plane and the state file took the change.
      for (let i = 0; i < 100 && controller.state.services[0]!.servers[1]!.passiveDown; i++) await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal(weights(), [7, 3], 'released when the service no longer has passive health');
    } finally {
      watcher.stop();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('Prometheus: the backed-off gauge for servers of services with passive health, and the evidence counters', async () => {
  const spec = readServiceSpec({
    name: 'dns', protocol: 'udp', vip: '198.18.0.53', port: 53, local_addresses: ['198.19.0.200'], passive_health: { rate: 1 },
    servers: [{ address: '198.19.0.1', port: 53 }, { address: '198.19.0.2', port: 53 }],
  }, 'service');
  let state = createService(ringPortsStateRouted(), spec).state;
  const [first, second] = state.services[0]!.servers;
  state = setServerPassiveDown(state, spec, second!.id, true).state;
  const t = { conns: 0, inPackets: 0, outPackets: 0, inBytes: 0, outBytes: 0, activeConns: 0, inactiveConns: 0, persistentConns: 0 };
  const source = {
    stats: (): DataplaneStats => ({
      snapshotVersion: 1, workerVersions: [1], workerBusyCycles: [0], workerIdleCycles: [0], workerListingScans: [], tscHz: 1e9,
      connections: 0, mbufsInUse: 0, defense: [], drops: {} as DataplaneStats['drops'], events: {} as DataplaneStats['events'], ports: [],
      services: [{ id: 1, ...t }], localAddresses: [],
      servers: [{ id: first!.id, ...t, icmpUnreachable: 0, resets: 0 }, { id: second!.id, ...t, icmpUnreachable: 41, resets: 2 }],
    }),
    ports: () => [],
    connections: () => ({ connections: [], nextCursor: 0 }),
  };
  const hub = new StatsHub(source);
  hub.sample();
  const metrics = createMetrics({ hub, state: () => state, connectionCapacity: 1024 });
  metrics.refresh();
  const text = await metrics.registry.metrics();
  const labels = (address: string) => `\\{protocol="udp",vip="198\\.18\\.0\\.53",port="53",server="${address.replace(/\./g, '\\.')}",server_port="53"\\}`;
  assert.match(text, new RegExp(`^portcullis_real_server_passive_down${labels('198.19.0.1')} 0$`, 'm'));
  assert.match(text, new RegExp(`^portcullis_real_server_passive_down${labels('198.19.0.2')} 1$`, 'm'));
  assert.match(text, new RegExp(`^portcullis_real_server_icmp_unreachable_total${labels('198.19.0.2')} 41$`, 'm'));
  assert.match(text, new RegExp(`^portcullis_real_server_resets_total${labels('198.19.0.2')} 2$`, 'm'));
  assert.not.match(text, /^portcullis_real_server_up\{/m, 'no health check: no up gauge');
});

test.run();
