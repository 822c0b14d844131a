// Client-address carriage per protocol: TCP has toa / proxy_v1 / proxy_v2, UDP has uoa_ipo / uoa_opp /
// proxy_v2. A mode the protocol cannot carry is refused through every door that can set it — the config
// file, gRPC create and update — with INVALID_ARGUMENT naming the field; the UDP modes are accepted
// over gRPC and read back (uoa_datagrams with them). A state file written before UDP carriage existed
// still loads (its UDP setting never had an effect): the field comes back as none, with a warning.
// pcadm has no option that sets client_address, so it is not a door.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { runCli, withDaemon, writeConfig } from './daemon.js';
import { expectGrpcError } from '../support/expected-errors.js';

const dns = { protocol: 'UDP' as const, vip: '198.18.0.53', port: 53 };
const web = { protocol: 'TCP' as const, vip: '198.18.0.10', port: 80 };
const REFUSED = /^service\.client_address: (toa|proxy_v1) is not supported for UDP services \((TOA is a TCP option|PROXY v1 has no UDP form)\): expected one of none, uoa_ipo, uoa_opp, proxy_v2$/;
const REFUSED_ON_TCP = /^service\.client_address: uoa_(ipo|opp) is not supported for TCP services \(UOA carries a UDP client's address; TCP has toa\): expected one of none, toa, proxy_v1, proxy_v2$/;


test('config file: a UDP service with client_address set is refused at start, naming the field', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pc-udp-ca-'));
  try {
    const config = await writeConfig(dir, `
  - name: dns
    protocol: udp
    vip: 198.18.0.53
    port: 53
    client_address: proxy_v1
    local_addresses: [198.19.0.200]
`);
    const checked = await runCli(['run', '--config', config, '--check']);
    assert.is(checked.code, 2, checked.stdout + checked.stderr);
    assert.match(checked.stderr, /services\[0\]\.client_address: proxy_v1 is not supported for UDP services \(PROXY v1 has no UDP form\)/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('state file from before: loads with client_address none and a warning; gRPC create and update are refused, nothing changes', async () => {
  const stateFromBefore = `${JSON.stringify({
    format: 1, next_service_id: 3, next_server_id: 3,
    services: [
      { id: 1, protocol: 'udp', vip: dns.vip, port: 53, client_address: 'toa', local_addresses: ['198.19.0.200'],
        servers: [{ id: 1, address: '198.19.0.1', port: 53, weight: 1 }] },
      { id: 2, protocol: 'tcp', vip: web.vip, port: 80, client_address: 'toa', local_addresses: ['198.19.0.201'],
        servers: [{ id: 2, address: '198.19.0.1', port: 80, weight: 1 }] },
    ],
  }, null, 2)}\n`;
  await withDaemon({ files: { 'state.json': stateFromBefore } }, async ({ api, daemon, dir }) => {
    const stateFile = join(dir, 'state.json');
    assert.match(daemon.output(), /services\[0\]\.client_address: toa on UDP service 198\.18\.0\.53:53 had no effect .* loaded as none/);
    const loaded = (await api.listVirtualServices({})).services;
    assert.equal(loaded.map((s) => [s.key?.protocol, s.clientAddress, s.servers.length]), [['UDP', 'none', 1], ['TCP', 'toa', 1]],
      'both services are back; only the UDP one lost the setting it could not use');

    const stateBefore = await readFile(stateFile, 'utf8');
    for (const mode of ['toa', 'proxy_v1']) {
      await expectGrpcError(api.createVirtualService({ service: { key: { ...dns, port: 54 }, clientAddress: mode, localAddresses: ['198.19.0.202'] } }), grpc.status.INVALID_ARGUMENT, REFUSED);
      await expectGrpcError(api.updateVirtualService({ service: { key: dns, clientAddress: mode, localAddresses: ['198.19.0.200'] } }), grpc.status.INVALID_ARGUMENT, REFUSED);
    }
    for (const mode of ['uoa_ipo', 'uoa_opp']) {
      await expectGrpcError(api.updateVirtualService({ service: { key: web, clientAddress: mode, localAddresses: ['198.19.0.201'] } }), grpc.status.INVALID_ARGUMENT, REFUSED_ON_TCP);
    }
    const after = (await api.listVirtualServices({})).services;
    assert.equal(after.map((s) => [s.key?.port, s.clientAddress]), [[53, 'none'], [80, 'toa']], 'the refused calls changed nothing');
    assert.is(await readFile(stateFile, 'utf8'), stateBefore, 'nor the state file');

    // The next accepted change stores none for the UDP service.
    await api.updateVirtualService({ service: { key: dns, name: 'dns', localAddresses: ['198.19.0.200'] } });
    const stored = JSON.parse(await readFile(stateFile, 'utf8')) as { services: { protocol: string; client_address: string }[] };
    assert.equal(stored.services.map((s) => [s.protocol, s.client_address]), [['udp', 'none'], ['tcp', 'toa']]);

    // The UDP modes: accepted, applied, read back with the uoa_datagrams in force, kept in the state file.
    await api.updateVirtualService({ service: { key: dns, clientAddress: 'uoa_opp', uoaDatagrams: 5, localAddresses: ['198.19.0.200'] } });
    await api.createVirtualService({ service: { key: { ...dns, port: 54 }, clientAddress: 'uoa_ipo', localAddresses: ['198.19.0.202'] } });
    await api.createVirtualService({ service: { key: { ...dns, port: 55 }, clientAddress: 'proxy_v2', localAddresses: ['198.19.0.203'] } });
    const udp = (await api.listVirtualServices({})).services.filter((s) => s.key?.protocol === 'UDP');
    assert.equal(udp.map((s) => [s.key?.port, s.clientAddress, s.uoaDatagrams]), [[53, 'uoa_opp', 5], [54, 'uoa_ipo', 3], [55, 'proxy_v2', 0]]);
    const kept = JSON.parse(await readFile(stateFile, 'utf8')) as { udp_client_address: boolean; services: { port: number; client_address: string; uoa_datagrams?: number }[] };
    assert.is(kept.udp_client_address, true);
    assert.equal(kept.services.map((s) => [s.port, s.client_address, s.uoa_datagrams]), [[53, 'uoa_opp', 5], [80, 'toa', undefined], [54, 'uoa_ipo', undefined], [55, 'proxy_v2', undefined]]);
  });
});

test.run();
