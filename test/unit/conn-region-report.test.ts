// What the region report and the last hand-over look like to operators: GetStatus (through the
// real API server), `portcullis status` text and Prometheus. The data plane is a scripted stats
// source (the adoption itself is the data plane's, tested there).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { formatStatus } from '../../src/api/format.js';
import { startApiServer } from '../../src/api/server.js';
import { connect } from '../../src/cli/client.js';
import { Controller } from '../../src/daemon/controller.js';
import type { TakeoverRecord } from '../../src/daemon/takeover.js';
import type { ConnRegionReport, DataplaneStats } from '../../src/dataplane/types.js';
import { setLogLevel } from '../../src/log.js';
import { createMetrics } from '../../src/metrics/prometheus.js';
import { StatsHub, type StatsSource } from '../../src/metrics/stats-hub.js';
import { ringPortsState } from '../support/desired-state.js';

setLogLevel('error');

const ADOPTED: ConnRegionReport = {
  path: '/dev/shm/portcullis-0123456789ab.conns', outcome: 'adopted', rejectedReason: '', rejectedPath: '',
  adopted: 1234, dropped: { uncommitted: 1, stale: 2, duplicate: 0, synproxyPending: 5, invalid: 0 }, adoptUs: 2500,
};
const REJECTED: ConnRegionReport = {
  ...ADOPTED, outcome: 'created', adopted: 0, dropped: { uncommitted: 0, stale: 0, duplicate: 0, synproxyPending: 0, invalid: 0 }, adoptUs: 0,
  rejectedReason: 'compat hash differs (worker count 1 -> 2)', rejectedPath: '/dev/shm/portcullis-0123456789ab.conns.rejected-1796000000',
};
const TAKEOVER: TakeoverRecord = { gapUs: 12_345, oldPid: 4242, at: Date.UTC(2026, 11, 5, 3, 0, 0) };

class ScriptedSource implements StatsSource {
  constructor(private readonly region: ConnRegionReport | undefined) {}
  apply() { return { version: 1 }; }
  stats(): DataplaneStats {
    return {
      snapshotVersion: 1, workerVersions: [1], workerBusyCycles: [0], workerIdleCycles: [0], workerListingScans: [], tscHz: 1e9,
      connections: 0, mbufsInUse: 0, defense: [], drops: {} as DataplaneStats['drops'], events: {} as DataplaneStats['events'], ports: [],
      services: [], servers: [], localAddresses: [], ...(this.region ? { connRegion: this.region } : {}),
    };
  }
  ports() { return []; }
  connections() { return { connections: [], nextCursor: 0 }; }
}

let dir = '';
test.before.each(async () => { dir = await mkdtemp(join(tmpdir(), 'pc-region-')); });
test.after.each(async () => { await rm(dir, { recursive: true, force: true }); });

async function status(region: ConnRegionReport | undefined, lastTakeover?: TakeoverRecord) {
  const source = new ScriptedSource(region);
  const controller = new Controller(source, join(dir, 'state.json'), ringPortsState());
  await controller.applyInitial();
  const socket = join(dir, 'api.sock');
  const server = await startApiServer({
    socket, controller, stats: new StatsHub(source), forwarding: () => ({ started: true, ports: [], rollbackFailure: undefined }),
    info: { version: 't', startedAt: Date.now(), workers: 1, polling: 'adaptive', ...(lastTakeover ? { lastTakeover } : {}) },
  });
  const client = connect(socket);
  try {
    return await client.api.getStatus({});
  } finally {
    client.close();
    await server.close();
  }
}

test('GetStatus + portcullis status: adopted region with its drops by reason, and the last takeover gap', async () => {
  const reply = await status(ADOPTED, TAKEOVER);
  assert.equal(reply.connRegion, {
    path: ADOPTED.path, outcome: 'adopted', adopted: '1234', adoptUs: '2500', rejectedReason: '', rejectedPath: '',
    dropped: { uncommitted: '1', stale: '2', duplicate: '0', synproxy_pending: '5', invalid: '0' },
  });
  assert.equal(reply.lastTakeover, { gapUs: '12345', oldPid: 4242, at: '2026-12-05T03:00:00.000Z' });
  const text = formatStatus(reply);
  assert.match(text, /^connection region \/dev\/shm\/portcullis-0123456789ab\.conns: adopted$/m);
  assert.match(text, /^ {2}1234 connection\(s\) adopted in 2500 us; not adopted: 1 uncommitted, 2 stale, 5 synproxy_pending$/m);
  assert.match(text, /^last takeover: from pid 4242 at 2026-12-05T03:00:00\.000Z, 12\.3 ms without forwarding$/m);
});

test('GetStatus + portcullis status: a rejected region says why and where it went; no region says off', async () => {
  const rejected = await status(REJECTED);
  assert.is(rejected.lastTakeover, null);
  const text = formatStatus(rejected);
  assert.match(text, /: created$/m);
  assert.match(text, /^ {2}an incompatible region was set aside: compat hash differs \(worker count 1 -> 2\) \(moved to .*\.rejected-1796000000\)$/m);
  assert.not.match(text, /last takeover/);
  const off = await status(undefined);
  assert.is(off.connRegion, null);
  assert.match(formatStatus(off), /^connection region: off \(a restart forgets every connection\)$/m);
});

test('Prometheus: region outcome, adopted connections, dropped records by reason, adoption time, takeover gap', async () => {
  const hub = new StatsHub(new ScriptedSource(ADOPTED));
  const metrics = createMetrics({ hub, state: () => ringPortsState(), connectionCapacity: 1024, lastTakeover: TAKEOVER });
  metrics.refresh();
  const text = await metrics.registry.metrics();
  assert.match(text, /^portcullis_conn_region_outcome\{outcome="adopted"\} 1$/m);
  assert.match(text, /^portcullis_conn_region_outcome\{outcome="created"\} 0$/m);
  assert.match(text, /^portcullis_conn_region_adopted_connections 1234$/m);
  assert.match(text, /^portcullis_conn_region_dropped_records\{reason="synproxy_pending"\} 5$/m);
  assert.match(text, /^portcullis_conn_region_dropped_records\{reason="duplicate"\} 0$/m);
  assert.match(text, /^portcullis_conn_region_adopt_seconds 0\.0025$/m);
  assert.match(text, /^portcullis_conn_region_rejected 0$/m);
  assert.match(text, /^portcullis_takeover_gap_seconds 0\.012345$/m);

  const plain = createMetrics({ hub: new StatsHub(new ScriptedSource(undefined)), state: () => ringPortsState(), connectionCapacity: 1024 });
  plain.refresh();
  const none = await plain.registry.metrics();
  assert.not.match(none, /portcullis_takeover_gap_seconds/, 'no gap metric without a takeover (0 would read as a perfect one)');
  assert.not.match(none, /^portcullis_conn_region_outcome\{/m, 'no region, no outcome');
});

test.run();
