// The pipeline benchmark's IPv6 scenarios (bench/pipeline.ts rows "established FullNAT v6",
// "new connections v6", "IPv6 UDP flood drop"), run small on the golden harness's ring ports:
// the bench's simulated IPv6 clients and servers (neighbour advertisements, mirrored IPv6
// replies, renewed IPv6 SYNs) must make the pipeline do what each row claims to measure,
// and the memory row must fill a table with IPv6 connections.
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import type { DataplaneAddon, DataplaneConfig, DataplaneService } from '../../src/dataplane/types.js';
import { allConnections, dualStackConfig, LIPS6, SERVERS6, VIP6, withLab } from '../support/golden.js';

const FLOWS = 64;

/** One IPv6 service (the bench runs the config's first), on the dual-stack ports. */
function ipv6Config(protocol: 'tcp' | 'udp', edit?: (service: DataplaneService, config: DataplaneConfig) => void): DataplaneConfig {
  return dualStackConfig((config) => {
    const port = protocol === 'tcp' ? 80 : 7;
    const service: DataplaneService = {
      id: 1, protocol, vip: VIP6, port, scheduler: 'rr', localAddresses: [...LIPS6],
      timeouts: { ...config.services[0]!.timeouts! },
      servers: SERVERS6.map((address, i) => ({ id: i + 1, address, port, weight: 1 })),
    };
    config.services = [service];
    edit?.(service, config);
  });
}

test('fullnat on an IPv6 service: every packet forwarded on an IPv6 connection, none dropped, none new, no mbuf leaked', async () => {
  await withLab(({ dp }) => {
    const result = dp.bench({ scenario: 'fullnat', packets: 20_000, flows: FLOWS }) as ReturnType<DataplaneAddon['bench']> & { mbufsLeaked: number };
    assert.ok(result.packets >= 20_000, `${result.packets} packets`);
    assert.is(result.dropped, 0, 'drops');
    assert.is(result.connsCreated, 0, 'new connections in the measured loop');
    assert.is(result.mbufsLeaked, 0, 'mbufs leaked');
    const connections = allConnections(dp);
    assert.is(connections.length, FLOWS, 'one connection per flow, made in the warm-up');
    for (const c of connections) {
      assert.match(c.client, /^2001:db8:18::/, `an IPv6 client: ${JSON.stringify(c)}`);
      assert.ok(LIPS6.includes(c.local) && SERVERS6.includes(c.server), `IPv6 LIP and server: ${JSON.stringify(c)}`);
    }
  }, ipv6Config('tcp'));
});

test('newconn on an IPv6 service: every packet a new IPv6 connection', async () => {
  await withLab(({ dp }) => {
    const result = dp.bench({ scenario: 'newconn', packets: 5_000, flows: FLOWS, roundConnections: 2_000 });
    assert.ok(result.packets >= 5_000, `${result.packets} packets`);
    assert.ok(result.connsCreated >= result.packets * 0.99, `${result.connsCreated} connections for ${result.packets} packets`);
    assert.ok(result.dropped <= result.packets * 0.01, `${result.dropped} drops`);
  }, ipv6Config('tcp'), { connCapacity: 8192 });
});

test('drop on an IPv6 UDP service with an empty per-source bucket: every packet dropped as udp_source_rate_limited', async () => {
  const config = ipv6Config('udp', (_service, c) => {
    c.defense = { services: [{ serviceId: 1, udpPerSource: { pps: 1, burst: 1 } }] };
  });
  await withLab(({ dp }) => {
    const before = dp.stats().drops;
    const result = dp.bench({ scenario: 'drop', packets: 20_000, flows: FLOWS });
    const after = dp.stats().drops;
    assert.ok(result.packets >= 20_000, `${result.packets} packets`);
    assert.ok(result.dropped >= result.packets * 0.99, `${result.dropped} of ${result.packets} dropped`);
    assert.ok(after.udp_source_rate_limited - before.udp_source_rate_limited >= result.packets * 0.99,
      `dropped as udp_source_rate_limited: ${after.udp_source_rate_limited - before.udp_source_rate_limited}`);
  }, config);
});

test('benchMemory fills a table with IPv6 connections (family ipv6), and names a bad family', async () => {
  await withLab(({ dp }) => {
    const v6 = dp.benchMemory({ connections: 20_000, family: 'ipv6' });
    const v4 = dp.benchMemory({ connections: 20_000 });
    assert.is(v6.connections, 20_000);
    assert.ok(v6.dpdkBytes > 0);
    assert.is(v6.dpdkBytes, v4.dpdkBytes, 'records are one size: an IPv6 table costs what an IPv4 one does');
    assert.throws(() => dp.benchMemory({ connections: 10, family: 'ipv5' as 'ipv6' }), /options\.family/);
  }, null);
});

test.run();
