// Prometheus labels for IPv6 services: the model's canonical text in vip/server/local_address,
// whatever spelling the data plane reports a LIP in, and nothing in IPv6 text that needs escaping
// (prom-client escapes \, " and newlines in label values; IPv6 text has only hex digits and colons).
// The data plane is a scripted counter source (it is not under test).
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import type { DataplaneStats } from '../../src/dataplane/types.js';
import { createMetrics } from '../../src/metrics/prometheus.js';
import { StatsHub, type StatsSource } from '../../src/metrics/stats-hub.js';
import { createService, readServiceSpec } from '../../src/model/index.js';
import { ringPortsState } from '../support/desired-state.js';

class ScriptedSource implements StatsSource {
  stats(): DataplaneStats {
    const t = { conns: 5, inPackets: 50, outPackets: 40, inBytes: 5000, outBytes: 4000, activeConns: 1, inactiveConns: 2 };
    return {
      snapshotVersion: 1, workerVersions: [1], workerBusyCycles: [0], workerIdleCycles: [0], workerListingScans: [], tscHz: 1e9,
      connections: 0, mbufsInUse: 0, defense: [], drops: {} as DataplaneStats['drops'], events: {} as DataplaneStats['events'], ports: [],
      services: [{ id: 1, ...t }], servers: [{ id: 1, ...t, persistentConns: 0, icmpUnreachable: 0, resets: 0 }],
      // The data plane's own spelling (uncompressed): joined to the model's canonical LIP.
      localAddresses: [{ serviceId: 1, address: '2001:db8:19:0:0:0:0:200', connections: 7, conflicts: 3 }],
    };
  }
  ports() { return []; }
  connections() { return { connections: [], nextCursor: 0 }; }
}

test('IPv6 service, server and LIP labels are canonical text; LIP counts found under the data plane\'s spelling', async () => {
  const { state } = createService(ringPortsState(), readServiceSpec({
    protocol: 'tcp', vip: '2001:DB8:18::0010', port: 80, local_addresses: ['2001:db8:19::200'], servers: [{ address: '2001:db8:19::1', port: 80 }],
  }, 'service'));
  const hub = new StatsHub(new ScriptedSource());
  hub.sample();
  const metrics = createMetrics({ hub, state: () => state, connectionCapacity: 1024 });
  metrics.refresh();
  const text = await metrics.registry.metrics();
  assert.match(text, /^portcullis_service_connections_total\{protocol="tcp",vip="2001:db8:18::10",port="80"\} 5$/m);
  assert.match(text, /^portcullis_real_server_connections_total\{protocol="tcp",vip="2001:db8:18::10",port="80",server="2001:db8:19::1",server_port="80"\} 5$/m);
  assert.match(text, /^portcullis_local_address_connections\{protocol="tcp",vip="2001:db8:18::10",port="80",local_address="2001:db8:19::200"\} 7$/m);
  assert.match(text, /^portcullis_local_address_conflicts_total\{protocol="tcp",vip="2001:db8:18::10",port="80",local_address="2001:db8:19::200"\} 3$/m);
  assert.not.match(text, /\\/, 'no escapes needed for IPv6 text');
});

test.run();
