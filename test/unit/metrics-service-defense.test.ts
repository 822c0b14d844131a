// Prometheus: what the flood defences and the fragment policy dropped, per virtual service and
// reason (portcullis_service_defense_drops_total), joined to the model's services by id. The data
// plane is a scripted counter source (it is not under test; test/packet/workers-client-owner.test.ts
// checks the counts themselves).
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import type { DataplaneStats, DefenseStats } from '../../src/dataplane/types.js';
import { ALL_DEFENSE_DROP_REASONS } from '../../src/api/stats.js';
import { createMetrics } from '../../src/metrics/prometheus.js';
import { StatsHub, type StatsSource } from '../../src/metrics/stats-hub.js';
import { createService, readServiceSpec } from '../../src/model/index.js';
import { ringPortsState } from '../support/desired-state.js';

function defense(id: number, dropped: Partial<DefenseStats['dropped']>): DefenseStats {
  const all = Object.fromEntries(ALL_DEFENSE_DROP_REASONS.map((r) => [r, 0])) as DefenseStats['dropped'];
  return { id, passed: 0, dropped: { ...all, ...dropped } };
}

class ScriptedSource implements StatsSource {
  stats(): DataplaneStats {
    return {
      snapshotVersion: 1, workerVersions: [1], workerBusyCycles: [0], workerIdleCycles: [0], workerListingScans: [], tscHz: 1e9,
      connections: 0, mbufsInUse: 0, drops: {} as DataplaneStats['drops'], events: {} as DataplaneStats['events'], ports: [],
      defense: [defense(0, { frag_dropped: 9 }), defense(1, { frag_dropped: 4, frag_rate_limited: 2, acl_denied: 1 })],
      services: [], servers: [], localAddresses: [],
    };
  }
  ports() { return []; }
  connections() { return { connections: [], nextCursor: 0 }; }
}

test('fragment and other defence drops per service and reason; drops under no service are not given a service label', async () => {
  const { state } = createService(ringPortsState(), readServiceSpec({
    protocol: 'udp', vip: '198.18.0.10', port: 53, local_addresses: ['198.19.0.200'], servers: [{ address: '198.19.0.1', port: 53 }],
  }, 'service'));
  assert.is(state.services[0]!.id, 1);
  const hub = new StatsHub(new ScriptedSource());
  hub.sample();
  const metrics = createMetrics({ hub, state: () => state, connectionCapacity: 1024 });
  metrics.refresh();
  const text = await metrics.registry.metrics();
  const labels = 'protocol="udp",vip="198.18.0.10",port="53"';
  assert.match(text, new RegExp(`^portcullis_service_defense_drops_total\\{${labels},reason="frag_dropped"\\} 4$`, 'm'));
  assert.match(text, new RegExp(`^portcullis_service_defense_drops_total\\{${labels},reason="frag_rate_limited"\\} 2$`, 'm'));
  assert.match(text, new RegExp(`^portcullis_service_defense_drops_total\\{${labels},reason="acl_denied"\\} 1$`, 'm'));
  assert.match(text, new RegExp(`^portcullis_service_defense_drops_total\\{${labels},reason="conn_limit_reached"\\} 0$`, 'm'), 'every reason, zeros included');
  assert.not.match(text, / 9$/m, 'the no-service row is not a service');
});

test.run();
