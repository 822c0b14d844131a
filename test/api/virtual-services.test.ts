// The gRPC API against the REAL daemon (`portcullis run`, live mode, two ring ports).
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { runCli, testConfig, withDaemon, writeConfig } from './daemon.js';
import { expectGrpcError } from '../support/expected-errors.js';

const SEED = `
  - name: web
    protocol: tcp
    vip: 198.18.0.10
    port: 80
    local_addresses: [198.19.0.200, 198.19.0.201]
    servers:
      - { address: 198.19.0.1, port: 80, weight: 1 }
`;
const web = { protocol: 'TCP' as const, vip: '198.18.0.10', port: 80 };
const dns = { protocol: 'UDP' as const, vip: '198.18.0.53', port: 53 };

let dir = '';
test.before.each(async () => { dir = await mkdtemp(join(tmpdir(), 'pc-api-')); });
test.after.each(async () => { await rm(dir, { recursive: true, force: true }); });


test('bad config: exit 2 with the field path, nothing started', async () => {
  const config = join(dir, 'bad.yaml');
  await writeFile(config, (await readFile(await writeConfig(dir), 'utf8')).replace('addresses: [198.19', 'adress: [198.19'));
  const checked = await runCli(['run', '--config', config, '--check']);
  assert.is(checked.code, 2);
  assert.match(checked.stderr, /ports\[1\]\.adress: unknown key/);
  const run = await runCli(['run', '--config', config]);
  assert.is(run.code, 2);
  assert.match(run.stderr, /ports\[1\]\.adress: unknown key/);
  assert.not.ok(existsSync(join(dir, 'api.sock')));
  const good = await runCli(['run', '--config', await writeConfig(dir, SEED), '--check']);
  assert.is(good.code, 0, good.stderr);
  assert.is(good.stdout, 'config OK\n');
});

test('corrupt state file: refuse to start, name the file, leave it alone', async () => {
  const config = await writeConfig(dir, SEED);
  const stateFile = join(dir, 'state.json');
  await writeFile(stateFile, '{"format":1,"services":[{');
  const run = await runCli(['run', '--config', config]);
  assert.is(run.code, 2);
  assert.ok(run.stderr.includes(`state file ${stateFile}`), run.stderr);
  assert.is(await readFile(stateFile, 'utf8'), '{"format":1,"services":[{');
});

test('unknown command or flag: usage, exit 2', async () => {
  const unknown = await runCli(['frobnicate']);
  assert.is(unknown.code, 2);
  assert.match(unknown.stderr, /usage:/);
  const flag = await runCli(['stats', '--jsonn']);
  assert.is(flag.code, 2);
});

test('virtual services and real servers over gRPC, state survives restart', async () => {
  const config = testConfig(dir, SEED);
  const stateFile = join(dir, 'state.json');
  const socket = join(dir, 'api.sock');

  const firstExit = await withDaemon({ dir, config }, async ({ api, daemon, cli }) => {
    assert.match(daemon.readyLine, new RegExp(`^portcullis ready: grpc unix:${socket} snapshot \\d+$`));

    const seeded = await api.getVirtualService({ key: web });
    assert.equal(seeded.servers, [{ address: '198.19.0.1', port: 80, weight: 1, upperThreshold: 0, lowerThreshold: 0, forward: 'fullnat', quicId: 0, health: '', healthReason: '' }]);

    const created = await api.createVirtualService({ service: {
      key: dns, name: 'dns', localAddresses: ['198.19.0.202'], timeouts: { udp: 30 },
      servers: [{ address: '198.19.0.1', port: 53, weight: 1 }, { address: '198.19.0.2', port: 53, weight: 3 }],
    } });
    assert.equal(created.key, dns);
    assert.is(created.scheduler, 'rr');
    assert.is(created.timeouts?.udp, 30);
    assert.is(created.quic, false);

    // QUIC: quic on a UDP service and the servers' quic_id round-trip; refused on TCP, and a quic_id twice.
    const quicKey = { ...dns, port: 443 };
    const quic = await api.createVirtualService({ service: {
      key: quicKey, quic: true, localAddresses: ['198.19.0.202'],
      servers: [{ address: '198.19.0.1', port: 443, weight: 1, quicId: 2561 }, { address: '198.19.0.2', port: 443, weight: 1 }],
    } });
    assert.equal([quic.quic, quic.servers.map((s) => s.quicId)], [true, [2561, 0]]);
    await expectGrpcError(api.createVirtualService({ service: { key: { ...web, port: 443 }, quic: true } }),
      grpc.status.INVALID_ARGUMENT, /^service\.quic: expected false on a tcp service/);
    await expectGrpcError(api.addRealServer({ service: quicKey, server: { address: '198.19.0.3', port: 443, weight: 1, quicId: 70000 } }),
      grpc.status.INVALID_ARGUMENT, /^server\.quic_id: /);
    await expectGrpcError(api.addRealServer({ service: quicKey, server: { address: '198.19.0.3', port: 443, weight: 1, quicId: 2561 } }),
      grpc.status.INVALID_ARGUMENT, /^service\.servers\[2\]\.quic_id: expected an id no other server of the service has \(servers\[0\] has it\)/);
    await expectGrpcError(api.updateVirtualService({ replaceServers: true, service: { key: quicKey, quic: true, localAddresses: ['198.19.0.202'],
      servers: [{ address: '198.19.0.1', port: 443, weight: 1, quicId: 7 }, { address: '198.19.0.2', port: 443, weight: 1, quicId: 7 }] } }),
      grpc.status.INVALID_ARGUMENT, /^service\.servers\[1\]\.quic_id: expected an id no other server of the service has/);
    await api.deleteVirtualService({ key: quicKey });
    assert.equal((await api.listVirtualServices({})).services.map((s) => s.key?.vip), ['198.18.0.10', '198.18.0.53']);

    // Errors: the field path first, the right code, and no change.
    await expectGrpcError(api.createVirtualService({ service: { key: dns } }), grpc.status.ALREADY_EXISTS, /already exists/);
    await expectGrpcError(api.createVirtualService({ service: { key: { ...dns, port: 54 }, servers: [{ address: '198.19.0.1', port: 53, weight: -1 as unknown as number }] } }),
      grpc.status.INVALID_ARGUMENT, /^service\.servers\[0\]\.(weight|port|address)?/);
    await expectGrpcError(api.createVirtualService({ service: { key: { ...dns, vip: '198.18.0.999' } } }), grpc.status.INVALID_ARGUMENT, /^service\.key\.vip: expected an IPv4 address \(dotted quad\) or an IPv6 address, got "198\.18\.0\.999"$/);
    await expectGrpcError(api.createVirtualService({ service: { key: { ...dns, port: 54 }, localAddresses: ['198.18.0.10'] } }),
      grpc.status.INVALID_ARGUMENT, /^service\.local_addresses\[0\]: 198\.18\.0\.10 is the VIP of/);
    await expectGrpcError(api.getVirtualService({ key: { ...web, port: 8080 } }), grpc.status.NOT_FOUND, /does not exist/);
    await expectGrpcError(api.removeRealServer({ service: web, address: '198.19.0.9', port: 80 }), grpc.status.NOT_FOUND, /^address: /);
    await expectGrpcError(api.addRealServer({ service: web, server: { address: '198.19.0.1', port: 80, weight: 1 } }), grpc.status.ALREADY_EXISTS, /already exists/);
    const stateBefore = await readFile(stateFile, 'utf8');
    assert.is((await api.listVirtualServices({})).services.length, 2, 'failed calls changed nothing');
    assert.is(await readFile(stateFile, 'utf8'), stateBefore, 'failed calls did not touch the state file');

    // Updates.
    const updated = await api.updateVirtualService({ service: { key: web, scheduler: 'wrr', localAddresses: ['198.19.0.203'] } });
    assert.is(updated.scheduler, 'wrr');
    assert.equal(updated.localAddresses, ['198.19.0.203']);
    assert.is(updated.servers.length, 1, 'servers untouched without replace_servers');
    const withServer = await api.addRealServer({ service: web, server: { address: '198.19.0.2', port: 80, weight: 5, forward: 'nat' } });
    assert.equal(withServer.servers.map((s) => s.forward), ['fullnat', 'nat']);
    await expectGrpcError(api.addRealServer({ service: web, server: { address: '198.19.0.3', port: 80, weight: 1, forward: 'gre' } }),
      grpc.status.INVALID_ARGUMENT, /^server\.forward: expected one of fullnat, nat, dr, tun/);
    const quiesced = await api.updateRealServer({ service: web, server: { address: '198.19.0.2', port: 80, weight: 0, forward: 'dr' } });
    assert.equal([quiesced.servers[1]!.weight, quiesced.servers[1]!.forward], [0, 'dr']);
    await expectGrpcError(api.updateVirtualService({ service: { key: web, scheduler: 'wrr', localAddresses: ['198.19.0.203'], synproxy: 'on' } }),
      grpc.status.INVALID_ARGUMENT, /^service\.servers\[1\]\.forward: dr cannot be used with synproxy on/);
    const removed = await api.removeRealServer({ service: web, address: '198.19.0.1', port: 80 });
    assert.equal(removed.servers.map((s) => s.address), ['198.19.0.2']);
    await api.deleteVirtualService({ key: dns });
    await expectGrpcError(api.deleteVirtualService({ key: dns }), grpc.status.NOT_FOUND, /does not exist/);

    // Stats: every drop reason, uint64 as strings, services by key.
    const stats = await api.getStats({});
    assert.is(typeof stats.snapshotVersion, 'string');
    for (const reason of ['no_service', 'malformed_l3', 'conn_table_full', 'redirect_ring_full', 'neigh_unresolved']) {
      assert.ok(reason in stats.drops, `drop reason ${reason} missing`);
    }
    assert.is(Object.keys(stats.drops).length >= 23, true);
    assert.equal(stats.services.map((s) => s.key), [web]);
    assert.equal(stats.ports.map((p) => p.name), ['outside', 'inside']);

    const status = await api.getStatus({});
    assert.is(status.services, 1);
    assert.is(status.stateFile, stateFile);

    // The CLI clients.
    const cliStats = await cli(['stats']);
    assert.is(cliStats.code, 0, cliStats.stderr);
    assert.match(cliStats.stdout, /tcp 198\.18\.0\.10:80/);
    const cliJson = await cli(['stats', '--json']);
    assert.is(cliJson.code, 0, cliJson.stderr);
    assert.ok('no_service' in (JSON.parse(cliJson.stdout) as { drops: Record<string, string> }).drops);
    const cliStatus = await cli(['status']);
    assert.is(cliStatus.code, 0, cliStatus.stderr);
    assert.match(cliStatus.stdout, /outside/);
  });
  assert.is(firstExit, 0, 'SIGTERM → exit 0');
  assert.not.ok(existsSync(socket), 'socket removed on stop');

  // Restart: the state file wins over the config's seed.
  await withDaemon({ dir, config }, async ({ api }) => {
    const services = (await api.listVirtualServices({})).services;
    assert.is(services.length, 1);
    assert.is(services[0]!.scheduler, 'wrr');
    assert.equal(services[0]!.servers, [{ address: '198.19.0.2', port: 80, weight: 0, upperThreshold: 0, lowerThreshold: 0, forward: 'dr', quicId: 0, health: '', healthReason: '' }]);
  });

  // --reset-state re-seeds from the config.
  await withDaemon({ dir, config, args: ['--reset-state'] }, async ({ api }) => {
    const services = (await api.listVirtualServices({})).services;
    assert.equal(services.map((s) => [s.scheduler, s.servers.length]), [['rr', 1]]);
  });
});

test('health check SERVING on the daemon socket', async () => {
  await withDaemon({ dir, args: ['--socket', join(dir, 'api.sock')] }, async () => {
    const definition = protoLoader.loadSync(healthProtoPath, { enums: String, keepCase: true });
    const loaded = grpc.loadPackageDefinition(definition) as unknown as {
      grpc: { health: { v1: { Health: new (t: string, c: grpc.ChannelCredentials) => grpc.Client & {
        check(r: { service: string }, cb: (e: Error | null, r: { status: string }) => void): void;
      } } } };
    };
    const client = new loaded.grpc.health.v1.Health(`unix:${join(dir, 'api.sock')}`, grpc.credentials.createInsecure());
    try {
      const reply = await new Promise<{ status: string }>((resolve, reject) =>
        client.check({ service: 'portcullis.v1.Stats' }, (e, r) => (e ? reject(e) : resolve(r))));
      assert.is(reply.status, 'SERVING');
    } finally {
      client.close();
    }
  });
});

test.run();
