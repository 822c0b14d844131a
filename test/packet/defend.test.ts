// The defend stage (issue 5): CIDR lists with longest-prefix match and expiry, per-source and
// per-service UDP token buckets (bounded source table with LRU eviction), per-service
// new-connection rate and concurrent-connection caps. Time is the injected clock.
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { TCP_SERVICE_ID, UDP_SERVICE_ID, VIP, clientTcp, expectDrops, frameFrom, labConfig, withLab, type Lab } from '../support/golden.js';
import type { DataplaneDefense, DefenseStats } from '../../src/dataplane/types.js';

const withDefense = (defense: DataplaneDefense) => labConfig((c) => { c.defense = defense; });

/** One UDP datagram from src to VIP:7; true when it left on the inside. */
function udpPasses(lab: Lab, src: string, cport = 5000): boolean {
  const out = lab.forward('outside', frameFrom('outside', src, VIP, { udp: { srcPort: cport, dstPort: 7, payload: Buffer.from('x') } }));
  return out.inside.length === 1;
}

/** A SYN from src:cport to VIP:80; true when a SYN left on the inside. */
function synPasses(lab: Lab, cport: number, src = '198.18.0.1'): boolean {
  return lab.forward('outside', clientTcp(cport, { flags: 'S', seq: 1 }, VIP, 80, src)).inside.length === 1;
}

function defenseOf(lab: Lab, id: number): DefenseStats {
  const found = lab.stats().defense.find((d) => d.id === id);
  if (!found) throw new Error(`no defense stats for service ${id}`);
  return found;
}

test('global list: longest prefix wins (deny /24, allow one /32 inside it), counted acl_denied per service', async () => {
  await withLab((lab) => {
    const d = lab.counterDelta(() => {
      assert.ok(udpPasses(lab, '198.18.0.1'), 'allowed /32 inside the denied /24');
      assert.not.ok(udpPasses(lab, '198.18.0.2'), 'denied by the /24');
      assert.ok(udpPasses(lab, '198.18.1.2'), 'outside every prefix: default allow');
    });
    expectDrops(d, { acl_denied: 1 });
    const udp = defenseOf(lab, UDP_SERVICE_ID);
    assert.is(udp.dropped.acl_denied, 1);
    assert.is(udp.passed, 2);
  }, withDefense({ acl: { entries: [
    { prefix: '198.18.0.0/24', action: 'deny' }, { prefix: '198.18.0.1/32', action: 'allow' },
  ] } }));
});

test('global list: an entry with ttlMs stops matching after it (advanceClock), falling back to its parent', async () => {
  await withLab((lab) => {
    assert.not.ok(udpPasses(lab, '198.18.0.7'), 'blocked while the entry lives');
    assert.not.ok(synPasses(lab, 4000, '198.18.0.7'), 'TCP from the prefix is blocked too');
    lab.advance(0.9);
    assert.not.ok(udpPasses(lab, '198.18.0.7'), 'still blocked at 0.9 s');
    lab.advance(0.2);
    assert.ok(udpPasses(lab, '198.18.0.7'), 'restored after 1 s');
    assert.not.ok(udpPasses(lab, '198.18.0.200'), 'the permanent /25 parent still denies its half');
    assert.is(lab.stats().drops.acl_denied, 4);
  }, withDefense({ acl: { entries: [
    { prefix: '198.18.0.128/25', action: 'deny' },
    { prefix: '198.18.0.0/24', action: 'deny', ttlMs: 1000 },
  ] } }));
});

test('service list with default deny: only the allowed prefix reaches the service; other services untouched', async () => {
  await withLab((lab) => {
    assert.ok(udpPasses(lab, '198.18.0.5'));
    assert.not.ok(udpPasses(lab, '198.18.0.66'));
    assert.ok(synPasses(lab, 4001, '198.18.0.66'), 'the TCP service has no list');
    assert.is(defenseOf(lab, UDP_SERVICE_ID).dropped.acl_denied, 1);
  }, withDefense({ services: [{ serviceId: UDP_SERVICE_ID, acl: { default: 'deny', entries: [{ prefix: '198.18.0.0/26', action: 'allow' }] } }] }));
});

test('thousands of entries: 5000 denied /32s and a lookup still finds the right one', async () => {
  const entries = Array.from({ length: 5000 }, (_, i) => ({ prefix: `10.${(i >> 8) & 255}.${i & 255}.1/32`, action: 'deny' as const }));
  entries.push({ prefix: '198.18.0.9/32', action: 'deny' });
  await withLab((lab) => {
    assert.not.ok(udpPasses(lab, '198.18.0.9'));
    assert.ok(udpPasses(lab, '198.18.0.8'));
    assert.is(lab.stats().drops.acl_denied, 1);
  }, withDefense({ acl: { entries } }));
});

test('UDP per-source bucket: burst then the refill rate; another source has its own bucket', async () => {
  await withLab((lab) => {
    const a = '198.18.0.21', b = '198.18.0.22';
    const d = lab.counterDelta(() => {
      const first = [1, 2, 3, 4, 5].map(() => udpPasses(lab, a));
      assert.equal(first, [true, true, true, false, false], 'burst 3');
      assert.ok(udpPasses(lab, b), 'another source');
      lab.advance(0.1); // 10 pps -> one token
      assert.equal([udpPasses(lab, a), udpPasses(lab, a)], [true, false], 'one token after 100 ms');
    });
    expectDrops(d, { udp_source_rate_limited: 3 });
    const udp = defenseOf(lab, UDP_SERVICE_ID);
    assert.equal([udp.passed, udp.dropped.udp_source_rate_limited], [5, 3]);
  }, withDefense({ services: [{ serviceId: UDP_SERVICE_ID, udpPerSource: { pps: 10, burst: 3 } }] }));
});

test('UDP per-service bucket: all sources share it', async () => {
  await withLab((lab) => {
    let passed: boolean[] = [];
    const d = lab.counterDelta(() => {
      passed = ['198.18.0.31', '198.18.0.32', '198.18.0.33'].flatMap((src) => [udpPasses(lab, src), udpPasses(lab, src)]);
    });
    assert.is(passed.filter(Boolean).length, 4);
    expectDrops(d, { udp_service_rate_limited: 2 });
  }, withDefense({ services: [{ serviceId: UDP_SERVICE_ID, udpPerService: { pps: 100, burst: 4 } }] }));
});

test('source table is bounded: the least recently used source is evicted (and comes back with a full bucket)', async () => {
  await withLab((lab) => {
    const a = '198.18.0.40';
    assert.equal([udpPasses(lab, a), udpPasses(lab, a)], [true, false], 'burst 1 used up');
    // 8 buckets = one set of 8 ways: eight newer sources push `a` out.
    for (let i = 1; i <= 8; i++) assert.ok(udpPasses(lab, `198.18.0.${40 + i}`));
    assert.ok(udpPasses(lab, a), 'a was evicted, so it starts over with a full bucket');
  }, withDefense({ sourceBuckets: 8, services: [{ serviceId: UDP_SERVICE_ID, udpPerSource: { pps: 1, burst: 1 } }] }));
});

test('new-connection rate cap: SYNs over the rate are dropped conn_rate_limited; packets of existing flows are not', async () => {
  await withLab((lab) => {
    assert.equal([synPasses(lab, 5001), synPasses(lab, 5002), synPasses(lab, 5003)], [true, true, false]);
    assert.ok(synPasses(lab, 5001), 'a retransmitted SYN of an existing connection passes');
    lab.advance(1);
    assert.ok(synPasses(lab, 5004), 'one more after a second');
    assert.is(lab.stats().drops.conn_rate_limited, 1);
    assert.is(defenseOf(lab, TCP_SERVICE_ID).dropped.conn_rate_limited, 1);
  }, withDefense({ services: [{ serviceId: TCP_SERVICE_ID, newConnRate: { pps: 1, burst: 2 } }] }));
});

test('concurrent-connection cap: the third connection is refused conn_limit_reached until one expires', async () => {
  await withLab((lab) => {
    assert.equal([udpPasses(lab, '198.18.0.51'), udpPasses(lab, '198.18.0.52'), udpPasses(lab, '198.18.0.53')], [true, true, false]);
    assert.ok(udpPasses(lab, '198.18.0.51'), 'existing flows keep going');
    assert.is(lab.stats().drops.conn_limit_reached, 1);
    lab.advance(301); // UDP timeout 300 s
    assert.ok(udpPasses(lab, '198.18.0.53'), 'room again after expiry');
  }, withDefense({ services: [{ serviceId: UDP_SERVICE_ID, maxConns: 2 }] }));
});

test('a defence naming a service that is not in the config is rejected with the field path', async () => {
  await withLab((lab) => {
    assert.throws(() => lab.apply(withDefense({ services: [{ serviceId: 99, maxConns: 1 }] })),
      (e: Error & { code?: string }) => e.code === 'CONFIG_REJECTED' && /defense\.services\[0\]\.serviceId/.test(e.message));
    assert.throws(() => lab.apply(withDefense({ acl: { entries: [{ prefix: '10.0.0.0/33', action: 'deny' }] } })),
      (e: Error & { code?: string }) => e.code === 'EINVAL' && /config\.defense\.acl\.entries\[0\]\.prefix/.test(e.message));
    assert.ok(udpPasses(lab, '198.18.0.1'), 'the old config stays live');
  });
});

test('no defence configured: nothing is dropped and nothing is counted as passed', async () => {
  await withLab((lab) => {
    assert.ok(udpPasses(lab, '198.18.0.1'));
    assert.equal(lab.stats().defense.map((d) => d.passed), [0, 0, 0]);
  });
});

test.run();
