// The state file: round trip with ids, atomic replacement, corrupt-file refusal,
// and its authority over the config's seed services at start-up.
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { parseConfig } from '../../src/config/load.js';
import { initialState } from '../../src/daemon/run.js';
import { createService, readServiceSpec, seedServices } from '../../src/model/index.js';
import { setLogLevel } from '../../src/log.js';
import { parseState, readStateFile, serializeState, StateFileError, writeStateFile } from '../../src/state/file.js';

setLogLevel('error');
let dir = '';
test.before.each(async () => { dir = await mkdtemp(join(tmpdir(), 'pc-state-')); });
test.after.each(async () => { await rm(dir, { recursive: true, force: true }); });

const configText = (stateFile: string) => `state_file: ${stateFile}
ports:
  - { name: outside, device: ring, addresses: [198.18.0.254/24] }
  - { name: inside, device: ring, addresses: [198.19.0.254/24] }
services:
  - name: web
    protocol: tcp
    vip: 198.18.0.10
    port: 80
    local_addresses: [198.19.0.200]
    timeouts: { tcp_close: 3 }
    servers: [{ address: 198.19.0.1, port: 80, weight: 4 }, { address: 198.19.0.2, port: 80, forward: dr }]
`;

test('serialize → parse keeps services, ids, overrides and cursors', () => {
  const config = parseConfig(configText('/x'), 't');
  const seeded = seedServices({ ports: config.ports, routes: [], defaultTimeouts: config.timeouts, services: [], nextServiceId: 7, nextServerId: 40 }, config.services).state;
  const text = serializeState(seeded);
  assert.match(text, /"format": 1/);
  const back = parseState(text);
  assert.equal(back.services, seeded.services);
  assert.is(back.nextServiceId, 8);
  assert.is(back.nextServerId, 42);
  assert.equal(back.services[0]!.servers.map((s) => s.id), [40, 41]);
  assert.equal(back.services[0]!.timeouts, { tcpClose: 3 });
  assert.equal(back.services[0]!.servers.map((s) => s.forward), [undefined, 'dr'], 'fullnat is the absent default');
  assert.match(text, /"forward": "dr"/);
});

test('a QUIC service round-trips: quic and each server\'s quic_id (absent when off)', () => {
  const config = parseConfig(`state_file: /x
ports:
  - { name: outside, device: ring, addresses: [198.18.0.254/24] }
  - { name: inside, device: ring, addresses: [198.19.0.254/24] }
services:
  - { protocol: udp, vip: 198.18.0.10, port: 443, quic: true, local_addresses: [198.19.0.200],
      servers: [{ address: 198.19.0.1, port: 443, quic_id: 2561 }, { address: 198.19.0.2, port: 443 }] }
`, 't');
  const seeded = seedServices({ ports: config.ports, routes: [], defaultTimeouts: config.timeouts, services: [], nextServiceId: 1, nextServerId: 1 }, config.services).state;
  const text = serializeState(seeded);
  assert.match(text, /"quic": true/);
  assert.match(text, /"quic_id": 2561/);
  const back = parseState(text);
  assert.equal(back.services, seeded.services);
  assert.is(back.services[0]!.quic, true);
  assert.equal(back.services[0]!.servers.map((s) => s.quicId), [2561, undefined]);
});

test('atomic write replaces the file and leaves no temp files', async () => {
  const file = join(dir, 'sub', 'state.json');
  await writeStateFile(file, 'one\n');
  await writeStateFile(file, 'two\n');
  assert.is(await readFile(file, 'utf8'), 'two\n');
  assert.equal(await readdir(join(dir, 'sub')), ['state.json']);
});

test('missing file → undefined; corrupt file → StateFileError naming the file, file untouched', async () => {
  const file = join(dir, 'state.json');
  assert.is(await readStateFile(file), undefined);
  for (const [content, reason] of [
    ['{"format":1,"services":[', /not valid JSON/],
    ['{"format":2,"services":[]}', /format: expected 1, got 2/],
    ['{"format":1,"services":[{"protocol":"tcp","vip":"198.18.0.10","port":80,"servers":[]}]}', /services\[0\]\.id: expected integer 1\.\.4095, got nothing/],
    ['{"format":1,"services":[{"id":1,"protocol":"tcp","vip":"198.18.0.10","port":80,"servers":[{"address":"198.19.0.1","port":80,"weight":1}]}]}', /services\[0\]\.servers\[0\]\.id: /],
  ] as const) {
    await writeFile(file, content);
    try {
      await readStateFile(file);
      assert.unreachable(`accepted ${content}`);
    } catch (error) {
      assert.instance(error, StateFileError);
      assert.ok((error as Error).message.includes(file), (error as Error).message);
      assert.match((error as Error).message, reason);
    }
    assert.is(await readFile(file, 'utf8'), content, 'a corrupt state file must never be rewritten');
  }
});

test('duplicate ids in the state file are refused at start-up', async () => {
  const file = join(dir, 'state.json');
  const config = parseConfig(configText(file), 't');
  await writeFile(file, JSON.stringify({ format: 1, services: [
    { id: 1, protocol: 'tcp', vip: '198.18.0.10', port: 80, servers: [{ id: 5, address: '198.19.0.1', port: 80, weight: 1 }] },
    { id: 2, protocol: 'tcp', vip: '198.18.0.10', port: 81, servers: [{ id: 5, address: '198.19.0.1', port: 80, weight: 1 }] },
  ] }));
  try {
    await initialState(config, false);
    assert.unreachable('accepted duplicate server ids');
  } catch (error) {
    assert.instance(error, StateFileError);
    assert.match((error as Error).message, /server id 5 is out of range or not unique/);
  }
});

test('a UDP service stored with client_address set (accepted before it was refused) loads as none, with a warning naming it', async () => {
  const text = JSON.stringify({ format: 1, services: [
    { id: 1, protocol: 'udp', vip: '198.18.0.53', port: 53, client_address: 'proxy_v2', servers: [{ id: 1, address: '198.19.0.1', port: 53, weight: 1 }] },
    { id: 2, protocol: 'tcp', vip: '198.18.0.10', port: 80, client_address: 'proxy_v2', servers: [{ id: 2, address: '198.19.0.1', port: 80, weight: 1 }] },
  ] });
  const state = parseState(text);
  assert.equal(state.services.map((s) => [s.protocol, s.clientAddress, s.servers.length]), [['udp', 'none', 1], ['tcp', 'proxy_v2', 1]]);
  assert.equal(state.notes, [
    'services[0].client_address: proxy_v2 on UDP service 198.18.0.53:53 had no effect (client-address carriage works for TCP only) and is no longer accepted: loaded as none',
  ]);
  assert.equal(parseState(serializeState({ ...state, mitigations: [] })).notes, [], 'written back, it loads without a warning');
  // Through the daemon's start-up path: the state loads, nothing is lost.
  const file = join(dir, 'state.json');
  await writeFile(file, text);
  const started = await initialState(parseConfig(configText(file), 't'), false);
  assert.equal(started.services.map((s) => [s.id, s.clientAddress]), [[1, 'none'], [2, 'proxy_v2']]);
  assert.not.ok('notes' in started, 'the warnings are logged, not kept in the desired state');
});

test('UDP client_address written since UDP carriage exists (udp_client_address: true) loads as it is: proxy_v2, uoa_opp with uoa_datagrams round-trip without notes', () => {
  const before = parseState(JSON.stringify({ format: 1, services: [
    { id: 1, protocol: 'udp', vip: '198.18.0.53', port: 53, client_address: 'proxy_v2', servers: [{ id: 1, address: '198.19.0.1', port: 53, weight: 1 }] },
  ] }));
  assert.equal(before.services[0]!.clientAddress, 'none', 'an old file (no marker) is still reset');
  const service = { ...before.services[0]!, clientAddress: 'uoa_opp' as const, uoaDatagrams: 7 };
  const proxied = { ...before.services[0]!, id: 2, port: 54, clientAddress: 'proxy_v2' as const, servers: [{ id: 2, address: '198.19.0.1', port: 54, weight: 1 }] };
  const text = serializeState({ services: [service, proxied], nextServiceId: 3, nextServerId: 3, mitigations: [] });
  assert.match(text, /"udp_client_address": true/);
  const again = parseState(text);
  assert.equal(again.services.map((s) => [s.clientAddress, s.uoaDatagrams]), [['uoa_opp', 7], ['proxy_v2', undefined]]);
  assert.equal(again.notes, []);
  // toa on UDP never worked: reset even in a new file.
  const toa = JSON.parse(text) as { services: Record<string, unknown>[] };
  toa.services[1]!.client_address = 'toa';
  const reset = parseState(JSON.stringify(toa));
  assert.equal(reset.services.map((s) => s.clientAddress), ['uoa_opp', 'none']);
  assert.is(reset.notes.length, 1);
});

test('the state file is authoritative over config services; --reset-state re-seeds', async () => {
  const file = join(dir, 'state.json');
  const config = parseConfig(configText(file), 't');
  const fresh = await initialState(config, false);
  assert.equal(fresh.services.map((s) => s.name), ['web']);

  const changed = createService(fresh, readServiceSpec({ name: 'dns', protocol: 'udp', vip: '198.18.0.53', port: 53 }, 'service')).state;
  changed.services = changed.services.filter((s) => s.name === 'dns');
  await writeStateFile(file, serializeState(changed));

  const restored = await initialState(config, false);
  assert.equal(restored.services.map((s) => [s.name, s.id]), [['dns', 2]]);
  assert.is(restored.nextServiceId, 3);
  const reset = await initialState(config, true);
  assert.equal(reset.services.map((s) => [s.name, s.id]), [['web', 1]]);
});

test('a health check an older version accepted and this one refuses: the service loads without it (or, for TCP, with its unused path reset), with a note; nothing else is forgiven', async () => {
  const service = (id: number, port: number, check: Record<string, unknown>) => ({
    id, protocol: 'tcp', vip: '198.18.0.10', port, health_check: check, servers: [{ id, address: '198.19.0.1', port, weight: 4 }],
  });
  const parsed = parseState(JSON.stringify({ format: 1, services: [
    service(1, 80, { kind: 'http', path: '/health check' }),
    service(2, 81, { kind: 'tcp', path: '/a b', interval_ms: 500, timeout_ms: 100 }),
    service(3, 82, { kind: 'http', path: '/ok', interval_ms: 500, timeout_ms: 500 }),
    service(4, 83, { kind: 'http', path: '/ok' }),
  ] }));
  assert.equal(parsed.services.map((s) => [s.port, s.healthCheck?.kind, s.healthCheck?.path, s.servers[0]!.weight]),
    [[80, undefined, undefined, 4], [81, 'tcp', '/', 4], [82, undefined, undefined, 4], [83, 'http', '/ok', 4]]);
  assert.is(parsed.services[1]!.healthCheck!.intervalMs, 500, 'the TCP check keeps its other settings');
  assert.is(parsed.notes.length, 3);
  assert.match(parsed.notes[0]!, /^tcp\/198\.18\.0\.10:80 \(services\[0\]\) starts WITHOUT its health check, which this version refuses: services\[0\]\.health_check\.path: character " " at offset 7 .*the check was \{"kind":"http","path":"\/health check"\}; its servers keep their configured weights/);
  assert.match(parsed.notes[1]!, /^tcp\/198\.18\.0\.10:81 \(services\[1\]\): its TCP health check's path "\/a b", unused by TCP probes and refused by this version, is reset to "\/"$/);
  assert.match(parsed.notes[2]!, /services\[2\]\.health_check\.timeout_ms: must be below interval_ms/);

  // The rest of a service is still checked as strictly as before.
  try {
    parseState(JSON.stringify({ format: 1, services: [{ ...service(1, 80, { kind: 'http', path: '/a b' }), vip: '1.2.3' }] }));
    assert.unreachable('a bad vip was forgiven');
  } catch (error) {
    assert.match((error as Error).message, /^services\[0\]\.vip: /);
  }

  // Through initialState (what the daemon runs at start): the note is logged and the state has no bad check.
  const file = join(dir, 'state.json');
  await writeFile(file, JSON.stringify({ format: 1, next_service_id: 2, next_server_id: 2, services: [service(1, 80, { kind: 'http', path: '/a b' })] }));
  const lines: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string) => { lines.push(String(chunk)); return true; }) as typeof process.stderr.write;
  let state;
  try {
    state = await initialState(parseConfig(configText(file), 't'), false);
  } finally {
    process.stderr.write = write;
  }
  assert.is(state.services[0]!.healthCheck, undefined);
  assert.ok(!('notes' in state), 'the notes do not leak into the desired state');
  assert.match(lines.join(''), /ERROR state file .*state\.json: tcp\/198\.18\.0\.10:80 \(services\[0\]\) starts WITHOUT its health check/);
});

test('routes in the state file: round trip; absent (older file) = the config\'s; present, even empty, wins; bad ones refused by field', async () => {
  const file = join(dir, 'state.json');
  const config = parseConfig(configText(file).replace(/^services:/m, 'routes:\n  - { prefix: 10.97.0.0/16, via: 198.19.0.9, port: inside }\nservices:'), 't');
  const apiRoutes = [{ prefix: '10.99.0.0/16', via: '198.19.0.9', port: 'inside' }, { prefix: '10.98.0.0/24', port: 'inside' }];
  const seeded = seedServices({ ports: config.ports, routes: apiRoutes, defaultTimeouts: config.timeouts, services: [], nextServiceId: 1, nextServerId: 1 }, []).state;
  assert.equal(parseState(serializeState(seeded)).routes, apiRoutes);

  await writeFile(file, serializeState(seeded));
  assert.equal((await initialState(config, false)).routes, apiRoutes, 'the state file\'s routes, not the config\'s');
  await writeFile(file, serializeState({ ...seeded, routes: [] }));
  assert.equal((await initialState(config, false)).routes, [], 'every route deleted stays deleted');
  await writeFile(file, JSON.stringify({ format: 1, services: [] }));
  assert.equal((await initialState(config, false)).routes, config.routes, 'a file without routes takes the config\'s');

  for (const [routes, reason] of [
    [[{ prefix: '10.99.0.1/16', port: 'inside' }], /routes\[0\]\.prefix: expected a prefix with host bits zero/],
    [[{ prefix: '10.99.0.0/16', via: '2001:db8::1', port: 'inside' }], /routes\[0\]\.via: expected an IPv4 next hop/],
    [[{ prefix: '10.99.0.0/16', port: 'dmz' }], /does not fit the configuration: routes\[0\]\.port: expected one of the configured ports/],
  ] as const) {
    await writeFile(file, JSON.stringify({ format: 1, services: [], routes }));
    try {
      await initialState(config, false);
      assert.unreachable(`accepted ${JSON.stringify(routes)}`);
    } catch (error) {
      assert.instance(error, StateFileError);
      assert.match((error as Error).message, reason);
    }
  }
});

test.run();
