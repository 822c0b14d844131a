// Whole-state behaviour: id assignment and stability, cross-service checks, and
// DataplaneConfig building with resolved timeouts.
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import {
  addServer, allocateIds, buildDataplaneConfig, createService, deleteService, DEFAULT_TIMEOUTS,
  readServiceSpec, removeServer, seedServices, updateServer, updateService, type DesiredState, type ServiceSpec,
} from '../../src/model/index.js';
import { expectError } from '../support/expected-errors.js';

function base(): DesiredState {
  return {
    ports: [
      { name: 'outside', device: 'ring', addresses: ['198.18.0.254/24'] },
      { name: 'inside', device: 'ring', addresses: ['198.19.0.254/24'] },
    ],
    routes: [{ prefix: '0.0.0.0/0', via: '198.18.0.1', port: 'outside' }],
    defaultTimeouts: { ...DEFAULT_TIMEOUTS, udp: 100 },
    services: [],
    nextServiceId: 1,
    nextServerId: 1,
  };
}

const spec = (vip: string, port = 80, extra: Record<string, unknown> = {}): ServiceSpec => readServiceSpec({
  protocol: 'tcp', vip, port, local_addresses: ['198.19.0.200'],
  servers: [{ address: '198.19.0.1', port: 80 }, { address: '198.19.0.2', port: 80 }], ...extra,
}, 'service');

test('ids: services 1.., servers unique across services, input state untouched', () => {
  const start = base();
  const one = createService(start, spec('198.18.0.10'));
  const two = createService(one.state, spec('198.18.0.11'));
  assert.is(start.services.length, 0, 'input state must not change');
  assert.equal(two.state.services.map((s) => s.id), [1, 2]);
  assert.equal(two.state.services.flatMap((s) => s.servers.map((r) => r.id)), [1, 2, 3, 4]);
});

test('ids survive updates; replaced servers keep ids by address:port; freed ids are not reused at once', () => {
  let state = createService(base(), spec('198.18.0.10')).state;
  state = updateService(state, spec('198.18.0.10', 80, {
    scheduler: 'wrr', servers: [{ address: '198.19.0.2', port: 80, weight: 5 }, { address: '198.19.0.3', port: 80 }],
  }), true).state;
  const service = state.services[0]!;
  assert.is(service.id, 1);
  assert.equal(service.servers.map((s) => [s.address, s.id, s.weight]), [['198.19.0.2', 2, 5], ['198.19.0.3', 3, 1]]);
  state = deleteService(state, service).state;
  state = createService(state, spec('198.18.0.10')).state;
  assert.is(state.services[0]!.id, 2, 'a just-freed service id must not be handed out again');
  assert.equal(state.services[0]!.servers.map((s) => s.id), [4, 5]);
});

test('update without replace_servers leaves servers alone', () => {
  let state = createService(base(), spec('198.18.0.10')).state;
  state = updateService(state, spec('198.18.0.10', 80, { servers: [] }), false).state;
  assert.is(state.services[0]!.servers.length, 2);
});

test('allocateIds wraps around and reports exhaustion', () => {
  assert.equal(allocateIds(new Set([3, 4]), 2, 3, 4, 'x'), { ids: [1, 2], next: 3 });
  expectError(() => allocateIds(new Set([1, 2]), 1, 1, 2, 'thing'), 'RESOURCE_EXHAUSTED', /no free thing id/);
});

test('server add/update/remove with NOT_FOUND and ALREADY_EXISTS', () => {
  let state = createService(base(), spec('198.18.0.10')).state;
  const key = { protocol: 'tcp' as const, vip: '198.18.0.10', port: 80 };
  state = addServer(state, key, { address: '198.19.0.3', port: 80, weight: 2 }).state;
  assert.equal(state.services[0]!.servers.map((s) => s.id), [1, 2, 3]);
  expectError(() => addServer(state, key, { address: '198.19.0.3', port: 80, weight: 1 }), 'ALREADY_EXISTS', /^server: real server 198\.19\.0\.3:80 already exists/);
  state = updateServer(state, key, { address: '198.19.0.3', port: 80, weight: 0 }).state;
  assert.is(state.services[0]!.servers[2]!.weight, 0);
  expectError(() => updateServer(state, key, { address: '198.19.0.9', port: 80, weight: 1 }), 'NOT_FOUND', /^server: /);
  state = removeServer(state, key, '198.19.0.1', 80).state;
  assert.equal(state.services[0]!.servers.map((s) => s.id), [2, 3]);
  expectError(() => removeServer(state, key, '198.19.0.1', 80), 'NOT_FOUND', /does not exist/);
  expectError(() => addServer(state, { ...key, port: 81 }, { address: '198.19.0.3', port: 80, weight: 1 }), 'NOT_FOUND', /^service: virtual service tcp\/198\.18\.0\.10:81 does not exist/);
});

test('whole-state checks', () => {
  const state = createService(base(), spec('198.18.0.10', 80, { name: 'web' })).state;
  expectError(() => createService(state, spec('198.18.0.10')), 'ALREADY_EXISTS', /already exists/);
  expectError(() => createService(state, spec('198.18.0.11', 80, { name: 'web' })), 'ALREADY_EXISTS', /^service\.name: /);
  expectError(() => createService(state, spec('198.18.0.11', 80, { local_addresses: ['198.18.0.10'] })), 'INVALID_ARGUMENT',
    /^service\.local_addresses\[0\]: 198\.18\.0\.10 is the VIP of tcp\/198\.18\.0\.10:80/);
  expectError(() => createService(state, spec('198.18.0.254')), 'INVALID_ARGUMENT', /^service\.vip: .*port address/);
  expectError(() => createService(state, spec('198.18.0.12', 80, { local_addresses: ['198.19.0.254'] })), 'INVALID_ARGUMENT', /^service\.local_addresses\[0\]: .*port address/);
  // Same VIP, other port or protocol: fine.
  createService(state, spec('198.18.0.10', 443));
  createService(state, readServiceSpec({ protocol: 'udp', vip: '198.18.0.10', port: 80 }, 'service'));
  // A VIP outside every port prefix works but warns.
  const far = createService(state, spec('203.0.113.5'));
  assert.ok(far.warnings.some((w) => w.startsWith('service.vip: 203.0.113.5 is not inside')), far.warnings.join('\n'));
});

test('seeding reports problems with the config path', () => {
  expectError(() => seedServices(base(), [spec('198.18.0.10'), spec('198.18.0.10')]), 'ALREADY_EXISTS', /^services\[1\]: /);
  const bad = base();
  bad.routes.push({ prefix: '10.0.0.0/8', port: 'nowhere' });
  expectError(() => seedServices(bad, []), 'INVALID_ARGUMENT', /^routes\[1\]\.port: expected one of the configured ports \(outside, inside\), got "nowhere"/);
});

test('DataplaneConfig: ids, routes and resolved timeouts', () => {
  let state = createService(base(), spec('198.18.0.10', 80, { timeouts: { tcp_established: 30 } })).state;
  state = createService(state, readServiceSpec({ protocol: 'udp', vip: '198.18.0.10', port: 53 }, 'service')).state;
  const config = buildDataplaneConfig(state);
  assert.equal(config.ports, [{ name: 'outside', addresses: ['198.18.0.254/24'] }, { name: 'inside', addresses: ['198.19.0.254/24'] }]);
  assert.equal(config.routes, [{ prefix: '0.0.0.0/0', via: '198.18.0.1', port: 'outside' }]);
  assert.is(config.services[0]!.timeouts.tcpEstablished, 30, 'service override wins');
  assert.is(config.services[0]!.timeouts.udp, 100, 'daemon default fills the rest');
  assert.is(config.services[1]!.timeouts.tcpEstablished, 900);
  assert.equal(config.services[0]!.servers[0], { id: 1, address: '198.19.0.1', port: 80, weight: 1 });
  assert.equal(config.services.map((s) => [s.id, s.protocol, s.scheduler]), [[1, 'tcp', 'rr'], [2, 'udp', 'rr']]);
});


test('quic: a server added or changed alone may not repeat a quic_id of its service; the data-plane config carries quic and quicId', () => {
  const quicSpec = readServiceSpec({ protocol: 'udp', vip: '198.18.0.10', port: 443, quic: true, local_addresses: ['198.19.0.200'],
    servers: [{ address: '198.19.0.1', port: 443, quic_id: 7 }, { address: '198.19.0.2', port: 443 }] }, 'service');
  const state = createService(base(), quicSpec).state;
  const key = { protocol: 'udp' as const, vip: '198.18.0.10', port: 443 };
  expectError(() => addServer(state, key, { address: '198.19.0.3', port: 443, weight: 1, quicId: 7 }), 'INVALID_ARGUMENT',
    /^service\.servers\[2\]\.quic_id: expected an id no other server of the service has \(servers\[0\] has it\), got 7/);
  expectError(() => updateServer(state, key, { address: '198.19.0.2', port: 443, weight: 1, quicId: 7 }), 'INVALID_ARGUMENT',
    /^service\.servers\[1\]\.quic_id: /);
  const added = addServer(state, key, { address: '198.19.0.3', port: 443, weight: 1, quicId: 8 }).state;
  const service = buildDataplaneConfig(added).services[0]!;
  assert.is(service.quic, true);
  assert.equal(service.servers.map((s) => s.quicId), [7, undefined, 8]);
});

test.run();
