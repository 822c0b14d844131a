// The configuration generation and ApplyState's model step, in process: the controller counts a
// generation only for a committed change with a diff (health verdicts do not count) and tells
// watchers; applyDesiredConfig checks the result as a whole (two services swapping names is
// accepted), keeps server ids and health verdicts, and refuses a stale expected generation.
import * as assert from 'uvu/assert';
import { Controller, type ConfigChange } from '../../src/daemon/controller.js';
import { setLogLevel } from '../../src/log.js';
import {
  applyDesiredConfig, createService, generationOf, readServiceSpec, setServerHealth, updateService, type DesiredState, type ServiceSpec,
} from '../../src/model/index.js';
import { parseState, serializeState } from '../../src/state/file.js';
import { expectError } from '../support/expected-errors.js';
import { ringPortsState } from '../support/desired-state.js';
import { test } from '../support/suite.js';

setLogLevel('error');

function spec(vip: string, lips: string[], weight = 1, name = ''): ServiceSpec {
  return readServiceSpec({ name, protocol: 'tcp', vip, port: 80, local_addresses: lips, servers: [{ address: '198.19.0.1', port: 80, weight }] }, 'service');
}

function controllerWith(state: DesiredState): { controller: Controller; applies: () => number } {
  let applies = 0;
  const dataplane = { apply: () => ({ version: ++applies }) };
  return { controller: new Controller(dataplane, '/nonexistent/state.json', state, async () => undefined), applies: () => applies };
}

test('a change with a diff is a new generation and is announced; a health verdict and a no-op apply are not', async () => {
  const { controller, applies } = controllerWith(ringPortsState());
  const seen: ConfigChange[] = [];
  controller.onConfigChange((change) => seen.push(change));
  assert.is(controller.generation, 1);
  const service = await controller.mutate((s) => createService(s, spec('198.18.0.10', ['198.19.0.200'])));
  assert.is(controller.generation, 2);
  assert.equal(seen.map((c) => [c.generation, c.diff.services.map((d) => d.action)]), [[2, ['created']]]);
  await controller.mutate((s) => setServerHealth(s, service, service.servers[0]!.id, true));
  assert.is(controller.generation, 2, 'a health verdict is not configuration');
  assert.is(seen.length, 1);
  const before = applies();
  const same = await controller.mutate((s) => applyDesiredConfig(s, { services: [spec('198.18.0.10', ['198.19.0.200'])], prune: false }),
    { unchanged: (r) => r.diff.services.length === 0 && r.diff.routes.length === 0 });
  assert.is(same.generation, 2);
  assert.is(applies(), before, 'an empty diff publishes no snapshot');
  assert.is(controller.state.services[0]!.servers[0]!.healthDown, true, 'the verdict stays');
});

test('applyDesiredConfig: two services swapping names in one apply is valid as a whole (one by one it is not); ids and verdicts kept', () => {
  let state = createService(ringPortsState(), spec('198.18.0.10', ['198.19.0.200'], 1, 'blue')).state;
  state = createService(state, spec('198.18.0.11', ['198.19.0.201'], 1, 'green')).state;
  state = setServerHealth(state, state.services[0]!, state.services[0]!.servers[0]!.id, true).state;
  // Service by service, the first step already clashes: names are unique.
  expectError(() => updateService(state, spec('198.18.0.10', ['198.19.0.201'], 5, 'green'), true), 'ALREADY_EXISTS', /named "green" already exists/);
  const ids = state.services.map((s) => [s.id, s.servers[0]!.id]);
  const { state: after, result } = applyDesiredConfig(state, {
    services: [spec('198.18.0.10', ['198.19.0.201'], 5, 'green'), spec('198.18.0.11', ['198.19.0.200'], 1, 'blue')], prune: false,
  });
  assert.equal(after.services.map((s) => [s.id, s.servers[0]!.id]), ids);
  assert.equal(after.services.map((s) => s.name), ['green', 'blue']);
  assert.is(after.services[0]!.servers[0]!.healthDown, true);
  assert.is(result.generation, 2);
  assert.equal(result.diff.services[0]!.fields, [
    { field: 'name', before: 'blue', after: 'green' },
    { field: 'local_addresses', before: '198.19.0.200', after: '198.19.0.201' },
    { field: 'servers[198.19.0.1:80].weight', before: '1', after: '5' },
  ]);
});

test('applyDesiredConfig: a stale expected generation is ABORTED; the generation survives the state file', () => {
  const state: DesiredState = { ...ringPortsState(), generation: 7 };
  expectError(() => applyDesiredConfig(state, { services: [], prune: true, expectedGeneration: 6 }), 'ABORTED',
    /^expected_generation: the configuration is at generation 7, not 6/);
  assert.is(applyDesiredConfig(state, { services: [], prune: true, expectedGeneration: 7 }).result.generation, 7, 'nothing to change');
  assert.is(parseState(serializeState(state)).generation, 7);
  assert.is(generationOf(ringPortsState()), 1);
  assert.is(parseState(serializeState(ringPortsState())).generation, undefined, 'a file without it reads as generation 1');
});

test('the diff names every setting the state file keeps, UDP ones and nested ones field by field', () => {
  const udp = (extra: Record<string, unknown>, server: Record<string, unknown> = {}) => readServiceSpec({
    protocol: 'udp', vip: '198.18.0.53', port: 53, local_addresses: ['198.19.0.200'],
    servers: [{ address: '198.19.0.1', port: 53, weight: 1, ...server }], ...extra,
  }, 'service');
  const state = createService(ringPortsState(), udp({})).state;
  const changed = udp({
    one_packet: true, client_address: 'uoa_opp', uoa_datagrams: 5, passive_health: { rate: 10 },
    health_check: { kind: 'dns', query_name: 'example.org' }, timeouts: { udp: 30 },
  });
  const { result } = applyDesiredConfig(state, { services: [changed], prune: false });
  const fields = result.diff.services[0]!.fields.map((f) => `${f.field}=${f.before}->${f.after}`);
  for (const wanted of ['one_packet=->true', 'client_address=->uoa_opp', 'uoa_datagrams=->5', 'passive_health.rate=->10',
    'health_check.kind=->dns', 'health_check.query_name=->example.org', 'timeouts.udp=->30']) {
    assert.ok(fields.includes(wanted), `${wanted} in ${fields.join(' ')}`);
  }
  const quic = applyDesiredConfig(state, { services: [udp({ quic: true }, { quic_id: 7 })], prune: false }).result;
  assert.equal(quic.diff.services[0]!.fields.map((f) => f.field), ['quic', 'servers[198.19.0.1:53].quic_id']);
});

test.run();
