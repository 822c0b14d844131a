// IPv6 through the doors against the REAL daemon (live mode, ring ports): gRPC, pcadm and
// `portcullis defend`. The refusals are the validator's and need no data plane; the tests that
// apply IPv6 services or prefixes need a data plane that takes 16-byte addresses.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import type { MitigationsResponse__Output } from '../../src/api/generated/portcullis/v1/MitigationsResponse.js';
import { expectGrpcError } from '../support/expected-errors.js';
import { testConfig, withDaemon } from './daemon.js';

let dir = '';
test.before.each(async () => { dir = await mkdtemp(join(tmpdir(), 'pc-ipv6-')); });
test.after.each(async () => { await rm(dir, { recursive: true, force: true }); });

/** The test config with IPv6 beside IPv4 on both ports (the lab's addresses). */
function dualStackConfig(): string {
  return testConfig(dir)
    .replace('addresses: [198.18.0.254/24]', 'addresses: [198.18.0.254/24, "2001:db8:18::254/64"]')
    .replace('addresses: [198.19.0.254/24]', 'addresses: [198.19.0.254/24, "2001:db8:19::254/64"]');
}

const v6key = { protocol: 'TCP' as const, vip: '2001:db8:18::10', port: 80 };

test('refusals: bad IPv6 and mixed families are INVALID_ARGUMENT naming the field, nothing applied', async () => {
  await withDaemon({ dir }, async ({ api, defense }) => {
    const INVALID = grpc.status.INVALID_ARGUMENT;
    await expectGrpcError(api.createVirtualService({ service: { key: { ...v6key, vip: 'fe80::10' } } }), INVALID,
      /^service\.key\.vip: expected a global or unique-local IPv6 address \(not link-local fe80::\/10\), got "fe80::10"$/);
    await expectGrpcError(api.createVirtualService({ service: { key: { ...v6key, vip: '[2001:db8:18::10]' } } }), INVALID,
      /^service\.key\.vip: expected an IPv4 address \(dotted quad\) or an IPv6 address without brackets/);
    await expectGrpcError(api.createVirtualService({ service: { key: v6key, servers: [{ address: '2001:db8:19::1', port: 80, weight: 1 }, { address: '198.19.0.2', port: 80, weight: 1 }] } }), INVALID,
      /^service\.servers\[1\]\.address: server 198\.19\.0\.2 is IPv4 but server 2001:db8:19::1 is IPv6; a service's VIP, local addresses and servers share one family \(the VIP 2001:db8:18::10 is IPv6\)$/);
    await expectGrpcError(api.createVirtualService({ service: { key: v6key, persistenceTimeout: 60, persistenceNetmask: '255.255.255.0' } }), INVALID,
      /^service\.persistence_netmask: expected no netmask for an IPv6 service: give persistence_prefix_length 1\.\.128 \(ipvsadm -M 64\), got "255\.255\.255\.0"$/);
    await expectGrpcError(api.removeRealServer({ service: v6key, address: '2001:db8:19::zz', port: 80 }), INVALID,
      /^address: expected an IPv4 address \(dotted quad\) or an IPv6 address, got "2001:db8:19::zz"$/);
    const origin = { actor: 't', reason: 'test' };
    await expectGrpcError(defense('block', { prefix: '2001:db8:66::1/64', origin }), INVALID,
      /^prefix: expected a prefix with host bits zero \(2001:db8:66::\/64\), got "2001:db8:66::1\/64"$/);
    await expectGrpcError(defense('setServiceDefense', { udpIpv6SourcePrefixLength: 48, udpPerService: { pps: 1, burst: 1 }, origin }), INVALID,
      /^udp_ipv6_source_prefix_length: expected 0 \(unset\) unless udp_per_source is set: it shapes that limit only, got 48$/);
    await expectGrpcError(defense('setServiceDefense', { udpIpv6SourcePrefixLength: 129, udpPerSource: { pps: 1, burst: 1 }, origin }), INVALID,
      /^udp_ipv6_source_prefix_length: expected integer 1\.\.128, got 129$/);
    assert.equal((await api.listVirtualServices({})).services, []);
  });
});

// ---- these apply IPv6 to the data plane ----

test('gRPC: an IPv6 service from any spelling is stored and echoed canonical, found by another spelling; NAT64 beside it', async () => {
  await withDaemon({ dir, config: dualStackConfig() }, async ({ api }) => {
    const created = await api.createVirtualService({ service: {
      key: { ...v6key, vip: '2001:DB8:18:0::0010' }, scheduler: 'rr', persistenceTimeout: 300, persistencePrefixLength: 64,
      localAddresses: ['2001:db8:19:0::200'], servers: [{ address: '2001:DB8:19::1', port: 80, weight: 1 }],
    } });
    assert.equal([created.key?.vip, created.localAddresses, created.servers[0]?.address], ['2001:db8:18::10', ['2001:db8:19::200'], '2001:db8:19::1']);
    assert.equal([created.persistencePrefixLength, created.persistenceNetmask], [64, '']);
    const found = await api.getVirtualService({ key: { ...v6key, vip: '2001:db8:18:0:0:0:0:10' } });
    assert.is(found.key?.vip, '2001:db8:18::10');
    await expectGrpcError(api.createVirtualService({ service: { key: { ...v6key, vip: '2001:db8:18::0:10' } } }), grpc.status.ALREADY_EXISTS,
      /virtual service tcp\/\[2001:db8:18::10\]:80 already exists/);
    const nat64 = await api.createVirtualService({ service: {
      key: { ...v6key, vip: '2001:db8:18::64' }, localAddresses: ['198.19.0.201'], servers: [{ address: '198.19.0.1', port: 80, weight: 1 }],
    } });
    assert.equal([nat64.key?.vip, nat64.localAddresses, nat64.servers[0]?.address], ['2001:db8:18::64', ['198.19.0.201'], '198.19.0.1']);
    const stats = await api.getStats({});
    const row = stats.services.find((s) => s.key?.vip === '2001:db8:18::10');
    assert.equal(row?.localAddresses.map((l) => l.address), ['2001:db8:19::200']);
    assert.equal(row?.servers.map((s) => s.address), ['2001:db8:19::1']);
  });
});

test('pcadm: IPv6 and NAT64 services by ipvsadm commands, -Ln as ipvsadm prints them, -S/-C/-R round trip', async () => {
  await withDaemon({ dir, config: dualStackConfig() }, async ({ pcadm }) => {
    const ok = async (line: string, stdin = '') => {
      const r = await pcadm(line, stdin);
      assert.is(r.code, 0, `pcadm ${line}: ${r.err}`);
      return r.out;
    };
    await ok('-A -t [2001:db8:18::10]:80 -s rr -p 300 -M 64');
    await ok('--add-laddr -t [2001:db8:18::10]:80 -z 2001:db8:19::200');
    await ok('-a -t [2001:db8:18::10]:80 -r [2001:db8:19::1]:80 -b -w 2');
    await ok('-A -u [2001:db8:18::10]:53 -s rr');
    await ok('-P -u [2001:db8:18::10]:53 -z 2001:db8:19::201');
    await ok('-a -u [2001:db8:18::10]:53 -r [2001:db8:19::2]:53');
    await ok('-A -t [2001:db8:18::64]:80 -s rr');
    await ok('-P -t [2001:db8:18::64]:80 -z 198.19.0.202');
    await ok('-a -t [2001:db8:18::64]:80 -r 198.19.0.3:80');
    const mixed = await pcadm('-a -t [2001:db8:18::10]:80 -r 198.19.0.9:80');
    assert.is(mixed.code, 255, mixed.err);  // a refusal by the daemon, as for any other
    assert.match(mixed.err, /server 198\.19\.0\.9 is IPv4 but server 2001:db8:19::1 is IPv6/);
    const listing = await ok('-Ln');
    assert.fixture(listing, [
      'IP Virtual Server version 1.2.1 (size=4096)',
      'Prot LocalAddress:Port Scheduler Flags',
      '  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn',
      'TCP  [2001:db8:18::10]:80 rr persistent 300 mask 64',
      '  -> [2001:db8:19::1]:80          FullNat 2      0          0         ',
      'TCP  [2001:db8:18::64]:80 rr',
      '  -> 198.19.0.3:80                FullNat 1      0          0         ',
      'UDP  [2001:db8:18::10]:53 rr',
      '  -> [2001:db8:19::2]:53          FullNat 1      0          0         ',
      '',
    ].join('\n'));
    const saved = await ok('-Sn');
    await ok('-C');
    assert.is(await ok('-Sn'), '');
    await ok('-R', saved);
    assert.is(await ok('-Sn'), saved);
    assert.is(await ok('-Ln'), listing);
  });
});

test('defend: an IPv6 /64 blocked and a UDP per-source limit aggregated per /48, listed canonical', async () => {
  await withDaemon({ dir, config: dualStackConfig() }, async ({ defense, cli }) => {
    const origin = { actor: 't', reason: 'test' };
    const blocked = await defense<MitigationsResponse__Output>('block', { prefix: '2001:DB8:18:0::66', origin });
    assert.is(blocked.mitigations[0]?.prefix, '2001:db8:18::66/128');
    await defense('block', { prefix: '2001:db8:66::/64', origin });
    const limited = await defense<MitigationsResponse__Output>('setServiceDefense', { udpPerSource: { pps: 100, burst: 200 }, udpIpv6SourcePrefixLength: 48, origin });
    assert.is(limited.mitigations[0]?.udpIpv6SourcePrefixLength, 48);
    const shown = await cli(['defend', 'show']);
    assert.is(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /deny 2001:db8:66::\/64/);
    assert.match(shown.stdout, /udp_per_source 100\/s burst 200 \(IPv6 per \/48\)/);
  });
});

test.run();
