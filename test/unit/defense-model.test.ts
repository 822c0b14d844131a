// Flood-defence mitigations in the model: durations, validation, replace/remove,
// expiry, the DataplaneConfig.defense mapping and the state file round trip.
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import {
  buildDataplaneConfig, createService, DEFAULT_TIMEOUTS, deleteService, effectiveSynproxy, formatDuration, parseDuration,
  pruneExpired, readBlockPrefix, readOrigin, readServiceSpec, removeMitigations, setMitigations, type DesiredState,
} from '../../src/model/index.js';
import { parseServiceArgument } from '../../src/cli/defend.js';
import { parseState, serializeState } from '../../src/state/file.js';
import { expectError } from '../support/expected-errors.js';

const T0 = Date.UTC(2026, 0, 1);
const origin = { actor: 'alice', reason: 'udp flood' };
const udp = { protocol: 'udp' as const, vip: '198.18.0.10', port: 7 };
const tcp = { protocol: 'tcp' as const, vip: '198.18.0.10', port: 80 };

function withServices(): DesiredState {
  let state: DesiredState = {
    ports: [{ name: 'outside', device: 'ring', addresses: ['198.18.0.254/24'] }, { name: 'inside', device: 'ring', addresses: ['198.19.0.254/24'] }],
    routes: [], defaultTimeouts: { ...DEFAULT_TIMEOUTS }, services: [], nextServiceId: 1, nextServerId: 1,
  };
  for (const key of [udp, tcp]) {
    state = createService(state, readServiceSpec({ ...key, local_addresses: ['198.19.0.200'], servers: [{ address: '198.19.0.1', port: key.port }] }, 's')).state;
  }
  return state;
}

test('durations: units, sums, bounds; bare numbers refused', () => {
  assert.is(parseDuration('90s'), 90_000);
  assert.is(parseDuration('30m'), 1_800_000);
  assert.is(parseDuration('2h'), 7_200_000);
  assert.is(parseDuration('1h30m'), 5_400_000);
  assert.is(parseDuration('1d'), 86_400_000);
  for (const bad of ['30', '0s', '-5m', '1.5h', '2w', '', '367d', 'm']) expectError(() => parseDuration(bad, '--for'), 'INVALID_ARGUMENT', /^--for: expected/);
  assert.is(formatDuration(5_400_000), '1h30m');
  assert.is(formatDuration(1), '1s');
});

test('origin and prefixes: actor and reason required, host bits zero, bare address = /32', () => {
  expectError(() => readOrigin('', 'x', undefined, 'origin'), 'INVALID_ARGUMENT', /^origin\.actor:/);
  expectError(() => readOrigin('a', '', undefined, 'origin'), 'INVALID_ARGUMENT', /^origin\.reason:/);
  assert.equal(readOrigin('a', 'b', '2h', ''), { actor: 'a', reason: 'b', durationMs: 7_200_000 });
  assert.is(readBlockPrefix('203.0.113.9', 'prefix'), '203.0.113.9/32');
  expectError(() => readBlockPrefix('203.0.113.9/24', 'prefix'), 'INVALID_ARGUMENT', /host bits zero/);
  expectError(() => readBlockPrefix('300.0.0.0/8', 'prefix'), 'INVALID_ARGUMENT', /^prefix: expected an IPv4 or IPv6 prefix like 203\.0\.113\.0\/24 or 2001:db8:66::\/64, or an address, got "300\.0\.0\.0\/8"$/);
  assert.equal(parseServiceArgument('198.18.0.10:7/udp'), { protocol: 'UDP', vip: '198.18.0.10', port: 7 });
  assert.equal(parseServiceArgument('tcp/198.18.0.10:80'), { protocol: 'TCP', vip: '198.18.0.10', port: 80 });
  expectError(() => parseServiceArgument('198.18.0.10:7'), 'INVALID_ARGUMENT', /^--service:/);
});

test('set: stamps origin and absolute expiry, replaces same scope+prefix, refuses unknown services', () => {
  const state = withServices();
  const first = setMitigations(state, [{ kind: 'deny', prefix: '10.0.0.0/8' }], { ...origin, durationMs: 60_000 }, T0);
  assert.is(state.mitigations, undefined, 'input untouched');
  assert.equal(first.result[0], { kind: 'deny', prefix: '10.0.0.0/8', actor: 'alice', reason: 'udp flood', createdAt: T0, expiresAt: T0 + 60_000 });
  const again = setMitigations(first.state, [{ kind: 'allow', prefix: '10.0.0.0/8' }, { kind: 'deny', prefix: '10.0.0.0/8', service: udp }], origin, T0 + 1);
  assert.equal(again.state.mitigations!.map((m) => [m.kind, m.service?.port ?? 'global']), [['allow', 'global'], ['deny', 7]]);
  expectError(() => setMitigations(state, [{ kind: 'conn_max', max: 10, service: { ...udp, port: 9 } }], origin, T0), 'NOT_FOUND', /udp\/198\.18\.0\.10:9 does not exist/);
  expectError(() => setMitigations(state, [{ kind: 'udp_per_source', pps: 0, burst: 1 }], origin, T0), 'INVALID_ARGUMENT', /pps: expected integer 1\.\./);
  expectError(() => setMitigations(state, [], origin, T0), 'INVALID_ARGUMENT', /nothing to set/);
});

test('remove and expiry; a deleted service takes its mitigations with it', () => {
  let state = setMitigations(withServices(), [{ kind: 'deny', prefix: '10.0.0.0/8' }], { ...origin, durationMs: 1000 }, T0).state;
  state = setMitigations(state, [{ kind: 'conn_max', max: 100, service: tcp }], origin, T0).state;
  assert.equal(pruneExpired(state, T0 + 999).result, []);
  const pruned = pruneExpired(state, T0 + 1000);
  assert.equal(pruned.result.map((m) => m.prefix), ['10.0.0.0/8']);
  assert.equal(pruned.state.mitigations!.map((m) => m.kind), ['conn_max']);
  expectError(() => removeMitigations(pruned.state, (m) => m.kind === 'deny', '10.0.0.0/8'), 'NOT_FOUND', /no active mitigation 10\.0\.0\.0\/8/);
  const gone = deleteService(pruned.state, tcp).state;
  assert.equal(pruneExpired(gone, T0 + 1000).result.map((m) => m.kind), ['conn_max'], 'the expiry timer also drops a deleted service\'s entries');
  const next = setMitigations(gone, [{ kind: 'deny', prefix: '192.0.2.0/24' }], origin, T0 + 2000).state;
  assert.equal(next.mitigations!.map((m) => m.kind), ['deny']);
});

test('snapshot: global limits are per-service defaults, UDP limits only on UDP services, ttlMs = time left', () => {
  const base = withServices();
  assert.is(buildDataplaneConfig(base).defense, undefined, 'no mitigations, no defence section');
  let state = setMitigations(base, [
    { kind: 'deny', prefix: '10.0.0.0/8' },
    { kind: 'udp_per_source', pps: 100, burst: 200 },
    { kind: 'conn_max', max: 5000 },
  ], origin, Date.now()).state;
  state = setMitigations(state, [{ kind: 'udp_per_source', pps: 10, burst: 20, service: udp }, { kind: 'allow', prefix: '10.1.0.0/16', service: udp }],
    { ...origin, durationMs: 3_600_000 }, Date.now()).state;
  const defense = buildDataplaneConfig(state).defense!;
  assert.equal(defense.acl, { entries: [{ prefix: '10.0.0.0/8', action: 'deny' }] });
  const [udpDefense, tcpDefense] = defense.services!;
  assert.is(udpDefense!.udpPerSource!.pps, 10);
  assert.is(udpDefense!.maxConns, 5000);
  const ttl = udpDefense!.acl!.entries[0]!.ttlMs!;
  assert.ok(ttl > 3_590_000 && ttl <= 3_600_000, String(ttl));
  assert.equal(tcpDefense, { serviceId: 2, maxConns: 5000 });
});

test('state file: mitigations round-trip; files without them still load; bad entries name the field', () => {
  const state = setMitigations(withServices(), [{ kind: 'deny', prefix: '10.0.0.0/8', service: udp }], { ...origin, durationMs: 60_000 }, T0).state;
  const text = serializeState(state);
  assert.match(text, /"expires_at": "2026-01-01T00:01:00.000Z"/);
  assert.equal(parseState(text).mitigations, state.mitigations);
  const without = serializeState(withServices());
  assert.not.match(without, /mitigations/);
  assert.is(parseState(without).mitigations, undefined);
  const broken = text.replace('"10.0.0.0/8"', '"10.0.0.1/8"');
  expectError(() => parseState(broken), 'INVALID_ARGUMENT', /^mitigations\[0\]\.prefix: expected a prefix with host bits zero/);
});

test('fragment policy: validated, one per scope, global = default for services without their own and for everything else', () => {
  const base = withServices();
  expectError(() => setMitigations(base, [{ kind: 'frag_policy', policy: 'limit' }], origin, T0), 'INVALID_ARGUMENT', /^pps: expected integer/);
  expectError(() => setMitigations(base, [{ kind: 'frag_policy', policy: 'reassemble', pps: 5, burst: 5 }], origin, T0), 'INVALID_ARGUMENT', /^pps: expected no rate/);
  expectError(() => setMitigations(base, [{ kind: 'frag_policy', policy: 'defrag' as never }], origin, T0), 'INVALID_ARGUMENT', /^policy: expected one of drop, limit, reassemble/);
  let state = setMitigations(base, [{ kind: 'frag_policy', policy: 'limit', pps: 50, burst: 100 }], origin, T0).state;
  state = setMitigations(state, [{ kind: 'frag_policy', policy: 'reassemble', service: udp }], { ...origin, durationMs: 60_000 }, T0).state;
  state = setMitigations(state, [{ kind: 'frag_policy', policy: 'reassemble', service: udp }], origin, T0 + 1).state;
  assert.is(state.mitigations!.filter((m) => m.kind === 'frag_policy').length, 2, 'the same scope replaces, not adds');
  const defense = buildDataplaneConfig(state).defense!;
  assert.equal(defense.fragments, { policy: 'limit', perSource: { pps: 50, burst: 100 } });
  const [udpDefense, tcpDefense] = defense.services!;
  assert.equal(udpDefense, { serviceId: 1, fragments: { policy: 'reassemble' } });
  assert.equal(tcpDefense, { serviceId: 2, fragments: { policy: 'limit', perSource: { pps: 50, burst: 100 } } });
  const text = serializeState(state);
  assert.equal(parseState(text).mitigations, state.mitigations, 'round-trips through the state file');
  expectError(() => parseState(text.replace('"reassemble"', '"maybe"')), 'INVALID_ARGUMENT', /^mitigations\[\d\]\.policy: expected one of/);
  const cleared = removeMitigations(state, (m) => m.kind === 'frag_policy' && m.service === undefined, 'global frag_policy').state;
  assert.equal(buildDataplaneConfig(cleared).defense!.services, [{ serviceId: 1, fragments: { policy: 'reassemble' } }], 'back to drop for the TCP service');
});

test('synproxy override: a TCP service only; mode checked; auto needs its threshold and hold time', () => {
  const state = withServices();
  expectError(() => setMitigations(state, [{ kind: 'synproxy', mode: 'on' }], origin, T0), 'INVALID_ARGUMENT', /^service: expected a TCP service/);
  expectError(() => setMitigations(state, [{ service: udp, kind: 'synproxy', mode: 'on' }], origin, T0), 'INVALID_ARGUMENT', /^service: .*TCP/);
  expectError(() => setMitigations(state, [{ service: tcp, kind: 'synproxy', mode: 'sometimes' as 'on' }], origin, T0), 'INVALID_ARGUMENT', /^mode: .*off, on, auto/);
  expectError(() => setMitigations(state, [{ service: tcp, kind: 'synproxy', mode: 'auto', synRate: 0, holdSeconds: 5 }], origin, T0), 'INVALID_ARGUMENT', /^syn_rate:/);
  const set = setMitigations(state, [{ service: tcp, kind: 'synproxy', mode: 'auto', synRate: 500, holdSeconds: 20 }], origin, T0);
  assert.is(set.state.services.find((s) => s.protocol === 'tcp')!.synproxy, 'off', 'the configured mode is left as it is');
});

test('synproxy override: wins over the config while active, the config returns after expiry; snapshot fields', () => {
  let state = withServices();
  const service = () => state.services.find((s) => s.protocol === 'tcp')!;
  assert.equal(effectiveSynproxy(state, service(), T0), { mode: 'off', auto: { synRate: 1000, holdSeconds: 30 } });
  state = setMitigations(state, [{ service: tcp, kind: 'synproxy', mode: 'auto', synRate: 500, holdSeconds: 20 }], { ...origin, durationMs: 60_000 }, T0).state;
  assert.equal(effectiveSynproxy(state, service(), T0 + 1000), { mode: 'auto', auto: { synRate: 500, holdSeconds: 20 } });
  assert.equal(effectiveSynproxy(state, service(), T0 + 60_000).mode, 'off', 'expired: back to the configured mode');
  // A second override replaces the first (same scope + kind).
  state = setMitigations(state, [{ service: tcp, kind: 'synproxy', mode: 'on' }], origin, T0).state;
  assert.is(state.mitigations!.filter((m) => m.kind === 'synproxy').length, 1);
  const config = buildDataplaneConfig(state).services.find((s) => s.protocol === 'tcp')!;
  assert.equal([config.synproxy, config.synproxyAuto], [true, undefined]);
  state = setMitigations(state, [{ service: tcp, kind: 'synproxy', mode: 'auto', synRate: 800, holdSeconds: 10 }], origin, T0).state;
  const auto = buildDataplaneConfig(state).services.find((s) => s.protocol === 'tcp')!;
  assert.equal([auto.synproxy, auto.synproxyAuto], [false, { synRate: 800, holdMs: 10_000 }]);
  // Round trip through the state file keeps the override.
  const back = parseState(serializeState(state));
  assert.equal(back.mitigations!.find((m) => m.kind === 'synproxy'), state.mitigations!.find((m) => m.kind === 'synproxy'));
});

test('synproxy auto from the config: thresholds default per field, state file round trip', () => {
  let state = withServices();
  state = createService(state, readServiceSpec({ protocol: 'tcp', vip: '198.18.0.10', port: 443, synproxy: 'auto', synproxy_auto: { hold_seconds: 5 },
    local_addresses: ['198.19.0.200'], servers: [{ address: '198.19.0.1', port: 443 }] }, 's')).state;
  const config = buildDataplaneConfig(state).services.find((s) => s.port === 443)!;
  assert.equal([config.synproxy, config.synproxyAuto], [false, { synRate: 1000, holdMs: 5000 }]);
  const back = parseState(serializeState(state));
  assert.equal(back.services.find((s) => s.port === 443)!.synproxyAuto, { synRate: 1000, holdSeconds: 5 });
});

test('defend arguments take IPv6: [VIP]:PORT/PROTO canonical, IPv6 prefixes and bare addresses (= /128)', () => {
  assert.equal(parseServiceArgument('[2001:DB8:18::0010]:53/udp'), { protocol: 'UDP', vip: '2001:db8:18::10', port: 53 });
  assert.equal(parseServiceArgument('tcp/[2001:db8:18::10]:80'), { protocol: 'TCP', vip: '2001:db8:18::10', port: 80 });
  expectError(() => parseServiceArgument('2001:db8:18::10:53/udp'), 'INVALID_ARGUMENT',
    /^--service: expected VIP:PORT\/PROTO like 198\.18\.0\.10:53\/udp or \[2001:db8:18::10\]:53\/udp, got "2001:db8:18::10:53\/udp"$/);
  expectError(() => parseServiceArgument('[ff02::1]:53/udp'), 'INVALID_ARGUMENT', /^--service: expected a unicast IPv6 address \(not multicast ff00::\/8\), got "ff02::1"$/);
  assert.is(readBlockPrefix('2001:db8:66::66', 'PREFIX'), '2001:db8:66::66/128');
  assert.is(readBlockPrefix('2001:DB8:66::/64', 'PREFIX'), '2001:db8:66::/64');
});

test.run();
