// Defences over IPv6 (issue 16): CIDR lists take IPv6 prefixes with the IPv4 list's rules
// (longest prefix wins, expiry falls back to the parent, the two families never match each
// other), and the UDP per-source limit keys IPv6 sources by their prefix (default /64).
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import type { DataplaneConfig, DataplaneDefense, DataplaneService } from '../../src/dataplane/types.js';
import {
  IPVS_TIMEOUTS, LIPS6, SERVERS6, UDP_SERVICE_ID, VIP, VIP6, dualStackConfig, expectDrops, frameFrom, frameFrom6,
  withLab, type Lab,
} from '../support/golden.js';

const UDP6_SERVICE_ID = 62;

function udp6Service(): DataplaneService {
  return {
    id: UDP6_SERVICE_ID, protocol: 'udp', vip: VIP6, port: 7, scheduler: 'rr', localAddresses: [...LIPS6],
    timeouts: { ...IPVS_TIMEOUTS }, servers: SERVERS6.map((address, i) => ({ id: 71 + i, address, port: 7, weight: 1 })),
  };
}

function withDefense(defense: DataplaneDefense): DataplaneConfig {
  return dualStackConfig((c) => {
    c.services.push(udp6Service());
    c.defense = defense;
  });
}

/** One UDP datagram from src to VIP6:7 (or VIP:7 for an IPv4 src); true when it left on the inside. */
function udpPasses(lab: Lab, src: string, cport = 5000): boolean {
  const l4 = { udp: { srcPort: cport, dstPort: 7, payload: Buffer.from('x') } };
  const frame = src.includes(':') ? frameFrom6('outside', src, VIP6, l4) : frameFrom('outside', src, VIP, l4);
  return lab.forward('outside', frame).inside.length === 1;
}

test('IPv6 /64 denied: every address in it is dropped acl_denied, the next /64 passes', async () => {
  await withLab((lab) => {
    const d = lab.counterDelta(() => {
      assert.not.ok(udpPasses(lab, '2001:db8:66:1::1'), 'in the /64');
      assert.not.ok(udpPasses(lab, '2001:db8:66:1:ffff:ffff:ffff:ffff'), 'last address of the /64');
      assert.ok(udpPasses(lab, '2001:db8:66:2::1'), 'the next /64');
      assert.ok(udpPasses(lab, '2001:db8:66::ffff'), 'the /64 before');
    });
    expectDrops(d, { acl_denied: 2 });
  }, withDefense({ acl: { entries: [{ prefix: '2001:db8:66:1::/64', action: 'deny' }] } }));
});

test('IPv6 longest prefix wins: deny a /48, allow one /64 and one /128 inside it', async () => {
  await withLab((lab) => {
    const d = lab.counterDelta(() => {
      assert.ok(udpPasses(lab, '2001:db8:66:7::9'), 'the allowed /64');
      assert.ok(udpPasses(lab, '2001:db8:66:8::8'), 'the allowed /128');
      assert.not.ok(udpPasses(lab, '2001:db8:66:8::9'), 'beside the /128: the /48 denies');
      assert.not.ok(udpPasses(lab, '2001:db8:66:ffff::1'), 'the /48 end');
      assert.ok(udpPasses(lab, '2001:db8:67::1'), 'past the /48');
    });
    expectDrops(d, { acl_denied: 2 });
  }, withDefense({ acl: { entries: [
    { prefix: '2001:db8:66::/48', action: 'deny' },
    { prefix: '2001:db8:66:7::/64', action: 'allow' },
    { prefix: '2001:db8:66:8::8/128', action: 'allow' },
  ] } }));
});

test('service allow list with IPv6 and default deny: only the allowed /56 reaches the IPv6 service', async () => {
  await withLab((lab) => {
    const d = lab.counterDelta(() => {
      assert.ok(udpPasses(lab, '2001:db8:18:ff::5'), 'inside the /56');
      assert.not.ok(udpPasses(lab, '2001:db8:18:100::5'), 'just past it');
      assert.ok(udpPasses(lab, '198.18.0.5'), 'the IPv4 service has no list');
    });
    expectDrops(d, { acl_denied: 1 });
    const svc = lab.stats().defense.find((s) => s.id === UDP6_SERVICE_ID)!;
    assert.equal([svc.passed, svc.dropped.acl_denied], [1, 1]);
  }, withDefense({ services: [{ serviceId: UDP6_SERVICE_ID, acl: { default: 'deny', entries: [{ prefix: '2001:db8:18::/56', action: 'allow' }] } }] }));
});

test('mixed IPv4 and IPv6 entries in one list: each family matches only its own; ::/0 does not catch IPv4', async () => {
  await withLab((lab) => {
    const d = lab.counterDelta(() => {
      assert.not.ok(udpPasses(lab, '2001:db8:18::1'), '::/0 denies IPv6');
      assert.ok(udpPasses(lab, '2001:db8:18::7'), 'an allowed /128');
      assert.not.ok(udpPasses(lab, '198.18.0.9'), 'the IPv4 /32');
      assert.ok(udpPasses(lab, '198.18.0.8'), 'other IPv4: ::/0 is IPv6 only');
    });
    expectDrops(d, { acl_denied: 2 });
  }, withDefense({ acl: { entries: [
    { prefix: '::/0', action: 'deny' }, { prefix: '2001:db8:18::7/128', action: 'allow' },
    { prefix: '198.18.0.9/32', action: 'deny' },
  ] } }));
});

test('IPv6 entry with ttlMs stops matching after it and falls back to its parent', async () => {
  await withLab((lab) => {
    assert.not.ok(udpPasses(lab, '2001:db8:66:1::1'), 'blocked while the /64 lives');
    lab.advance(0.9);
    assert.not.ok(udpPasses(lab, '2001:db8:66:1::1'), 'still blocked at 0.9 s');
    lab.advance(0.2);
    assert.ok(udpPasses(lab, '2001:db8:66:1::1'), 'restored after 1 s');
    assert.not.ok(udpPasses(lab, '2001:db8:66:1:8000::1'), 'the permanent /65 inside it still denies');
    assert.is(lab.stats().drops.acl_denied, 3);
  }, withDefense({ acl: { entries: [
    { prefix: '2001:db8:66:1:8000::/65', action: 'deny' },
    { prefix: '2001:db8:66:1::/64', action: 'deny', ttlMs: 1000 },
  ] } }));
});

test('an IPv6 prefix longer than 128 is refused naming the entry', async () => {
  await withLab((lab) => {
    assert.throws(() => lab.apply(withDefense({ acl: { entries: [{ prefix: '2001:db8::/129', action: 'deny' }] } })),
      (e: Error) => /defense\.acl\.entries\[0\]/.test(e.message));
  });
});

test('UDP per-source limit: two IPv6 sources in one /64 share a bucket, a source in another /64 has its own', async () => {
  await withLab((lab) => {
    const d = lab.counterDelta(() => {
      assert.equal([udpPasses(lab, '2001:db8:66:1::1'), udpPasses(lab, '2001:db8:66:1::2')], [true, true], 'burst 2');
      assert.not.ok(udpPasses(lab, '2001:db8:66:1:ffff::3'), 'a third address of the same /64: the bucket is empty');
      assert.ok(udpPasses(lab, '2001:db8:66:2::1'), 'another /64');
    });
    expectDrops(d, { udp_source_rate_limited: 1 });
  }, withDefense({ services: [{ serviceId: UDP6_SERVICE_ID, udpPerSource: { pps: 1, burst: 2 } }] }));
});

test('UDP per-source limit with ipv6PrefixLength 48: sources in one /48 share; IPv4 sources stay per address', async () => {
  await withLab((lab) => {
    const d = lab.counterDelta(() => {
      assert.ok(udpPasses(lab, '2001:db8:66:1::1'));
      assert.not.ok(udpPasses(lab, '2001:db8:66:2::1'), 'another /64 of the same /48');
      assert.ok(udpPasses(lab, '2001:db8:67::1'), 'another /48');
    });
    expectDrops(d, { udp_source_rate_limited: 1 });
  }, withDefense({ services: [{ serviceId: UDP6_SERVICE_ID, udpPerSource: { pps: 1, burst: 1, ipv6PrefixLength: 48 } }] }));
  await withLab((lab) => {
    assert.equal([udpPasses(lab, '2001:db8:66::1'), udpPasses(lab, '2001:db8:66::2')], [true, true],
      'ipv6PrefixLength 128: per address');
    assert.equal([udpPasses(lab, '198.18.0.21'), udpPasses(lab, '198.18.0.22'), udpPasses(lab, '198.18.0.21')],
      [true, true, false], 'IPv4 per address');
  }, withDefense({ services: [
    { serviceId: UDP6_SERVICE_ID, udpPerSource: { pps: 1, burst: 1, ipv6PrefixLength: 128 } },
    { serviceId: UDP_SERVICE_ID, udpPerSource: { pps: 1, burst: 1 } },
  ] }));
});

test.run();
