// StatsHub: estimator ticks from stats() samples, per-worker busy ratio, and ipvsadm -Z
// baselines, over a scripted counter source (the data plane itself is not under test).
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import type { DataplaneStats, TrafficStats } from '../../src/dataplane/types.js';
import { StatsHub, type StatsSource } from '../../src/metrics/stats-hub.js';

function traffic(id: number, conns: number): TrafficStats {
  return { id, conns, inPackets: conns * 10, outPackets: conns * 8, inBytes: conns * 1000, outBytes: conns * 5000, activeConns: 3, inactiveConns: 4 };
}

class ScriptedSource implements StatsSource {
  conns = 0;
  busy = 0;
  idle = 0;
  stats(): DataplaneStats {
    return {
      snapshotVersion: 1, workerVersions: [1], workerBusyCycles: [this.busy], workerIdleCycles: [this.idle], workerListingScans: [], tscHz: 1e9,
      connections: 0, mbufsInUse: 0, defense: [], drops: {} as DataplaneStats['drops'], events: {} as DataplaneStats['events'], ports: [],
      services: [traffic(1, this.conns)], servers: [{ ...traffic(7, this.conns), persistentConns: 2, icmpUnreachable: 0, resets: 0 }], localAddresses: [],
    };
  }
  ports() { return []; }
  connections() { return { connections: [], nextCursor: 0 }; }
}

test('rates follow the 2 s samples; busy ratio is per interval', () => {
  const source = new ScriptedSource();
  const hub = new StatsHub(source);
  hub.sample();
  for (let i = 0; i < 40; i++) {
    source.conns += 200;          // 100 conn/s over a 2 s tick
    source.busy += 300; source.idle += 700;
    hub.sample();
  }
  assert.is(hub.serviceRates(1).cps, 100);
  assert.is(hub.serverRates(7).inPps, 1000);
  assert.is(hub.serviceRates(99).cps, 0, 'unknown ids read zero');
  const load = hub.workerLoad(source.stats());
  assert.is(load.length, 1);
  assert.ok(Math.abs(load[0]!.busyRatio - 0.3) < 1e-9, String(load[0]!.busyRatio));
});

test('zero(): counters read from zero afterwards and rates restart; gauges are untouched', () => {
  const source = new ScriptedSource();
  const hub = new StatsHub(source);
  hub.sample();
  source.conns = 1000;
  hub.sample();
  assert.ok(hub.serviceRates(1).cps > 0);
  hub.zero([1], []);
  let stats = hub.stats();
  assert.equal(stats.services[0], { ...traffic(1, 0), activeConns: 3, inactiveConns: 4 });
  assert.is(stats.servers[0]!.conns, 1000, 'server 7 was not zeroed');
  assert.is(hub.serviceRates(1).cps, 0);
  source.conns = 1010;
  stats = hub.stats();
  assert.is(stats.services[0]!.conns, 10);
  assert.is(stats.services[0]!.inBytes, 10_000);
});

test.run();
