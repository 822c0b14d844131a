// Persistence for IPv6 VIPs (ipvsadm -M as a prefix length): persistencePrefixLength groups IPv6
// clients by their prefix, so every address of one /64 (or /48, ...) reaches the same server while
// its template lives; without it (128) each address is its own client.
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import type { DataplaneConfig } from '../../src/dataplane/types.js';
import { IPVS_TIMEOUTS, LIPS6, SERVERS6, VIP6, dualStackConfig, frameFrom6, only, withLab, type Lab } from '../support/golden.js';

function persistentConfig(prefixLength?: number): DataplaneConfig {
  return dualStackConfig((c) => {
    c.services.push({
      id: 61, protocol: 'tcp', vip: VIP6, port: 80, scheduler: 'rr', localAddresses: [...LIPS6],
      timeouts: { ...IPVS_TIMEOUTS }, persistenceTimeout: 300,
      ...(prefixLength === undefined ? {} : { persistencePrefixLength: prefixLength }),
      servers: SERVERS6.map((address, i) => ({ id: 61 + i, address, port: 80, weight: 1 })),
    });
  });
}

/** The server a SYN from client:cport to VIP6:80 was sent to. */
function serverFor(lab: Lab, client: string, cport: number): string {
  const out = lab.forward('outside', frameFrom6('outside', client, VIP6, { tcp: { srcPort: cport, dstPort: 80, flags: 'S', seq: 1 } }));
  return only(out.inside, `SYN from ${client}`).ipv6!.dst;
}

test('persistencePrefixLength 64: addresses of one /64 share a server, the next /64 is scheduled anew', async () => {
  await withLab((lab) => {
    const first = serverFor(lab, '2001:db8:66:1::1', 40000);
    assert.is(serverFor(lab, '2001:db8:66:1::2', 40001), first, 'same /64');
    assert.is(serverFor(lab, '2001:db8:66:1:ffff:ffff:ffff:fffe', 40002), first, 'same /64, far end');
    const other = serverFor(lab, '2001:db8:66:2::1', 40003);
    assert.is.not(other, first, 'another /64: rr moves on');
    assert.is(serverFor(lab, '2001:db8:66:2::9', 40004), other, 'which then sticks too');
  }, persistentConfig(64));
});

test('persistencePrefixLength 48 groups a /48; absent, every IPv6 address is its own client', async () => {
  await withLab((lab) => {
    const first = serverFor(lab, '2001:db8:66:1::1', 40000);
    assert.is(serverFor(lab, '2001:db8:66:ff::1', 40001), first, 'another /64 of the same /48');
  }, persistentConfig(48));
  await withLab((lab) => {
    const a = serverFor(lab, '2001:db8:66:1::1', 40000);
    const b = serverFor(lab, '2001:db8:66:1::2', 40001);
    assert.is.not(a, b, 'per address: rr gives the second address the next server');
    assert.is(serverFor(lab, '2001:db8:66:1::1', 40002), a, 'the first address still sticks');
  }, persistentConfig());
});

test('persistencePrefixLength out of 1..128 is refused naming the field', async () => {
  await withLab((lab) => {
    assert.throws(() => lab.apply(persistentConfig(129)), (e: Error) => /services\[2\]\.persistencePrefixLength/.test(e.message));
  });
});

test.run();
