// Export → sync → learn → hand-off through the real pieces: this process's data plane (gw1)
// with its FlowSync on 127.0.0.1, and a second FlowSync for gw2 on 127.0.0.2 whose data plane
// side only records (one EAL per process: gw2's packet path is the golden tests' owner side).
// The sync runs over loopback; the data plane's cluster uses the lab's outside addresses.
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { FlowSync, type FlowSyncDataplane } from '../../src/cluster/flow-sync.js';
import { handoffCounters, withCluster } from '../../src/cluster/handoff-config.js';
import type { ClusterSettings } from '../../src/config/cluster-types.js';
import { OUTSIDE_ADDRESS, PORT_MAC, clientTcp, expectEvents, labConfig, only, withLab } from '../support/golden.js';
import { buildFrame, hostMac } from '../support/packet.js';

const OWNER = '198.18.0.251';
const KEY = Buffer.from('a-shared-key-of-at-least-32-bytes!!');
const PORT = 20000 + Math.floor(Math.random() * 30000);

function syncCluster(node: string): Pick<ClusterSettings, 'node' | 'nodes' | 'sync'> {
  return {
    node,
    nodes: [{ name: 'gw1', address: '127.0.0.1' }, { name: 'gw2', address: '127.0.0.2' }],
    sync: { keyFile: '/unused', port: PORT, foreignFlows: 64 },
  };
}

async function until(what: string, check: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

test('a connection made here reaches gw2 as its ownership record; gw2\'s record makes our data plane hand the flow to gw2', async () => {
  await withLab(async (lab) => {
    const cluster = { nodes: [OUTSIDE_ADDRESS, OWNER], self: 0, foreignFlows: 64 };
    withCluster(lab.dp, cluster).apply(labConfig());
    lab.dp.step();
    const gw2Learned: Buffer[] = [];
    let gw2Pending = Buffer.alloc(0);
    const gw2Dataplane: FlowSyncDataplane = {
      ownershipDrain: () => { const out = gw2Pending; gw2Pending = Buffer.alloc(0); return out; },
      foreignLearn: (records) => { gw2Learned.push(Buffer.from(records)); return records.length / 40; },
    };
    const gw1 = new FlowSync({ cluster: syncCluster('gw1'), key: KEY, dataplane: lab.dp, intervalMs: 10 });
    const gw2 = new FlowSync({ cluster: syncCluster('gw2'), key: KEY, dataplane: gw2Dataplane, intervalMs: 10 });
    try {
      await gw1.start();
      await gw2.start();
      // gw1 makes a connection: its record reaches gw2.
      only(lab.forward('outside', clientTcp(43001, { flags: 'S', seq: 1, options: [{ kind: 'mss', value: 1460 }] })).inside, 'SYN');
      await until('gw2 learns the record', () => gw2Learned.length === 1);
      const exported = gw2Learned[0]!;
      assert.is(exported.length, 40);
      assert.is(exported.readUInt32BE(12), 0xc6120001, 'client 198.18.0.1');
      assert.is(exported.readUInt32BE(28), 0xc612000a, 'VIP 198.18.0.10');
      assert.equal([exported.readUInt16BE(32), exported.readUInt16BE(34), exported[36]], [43001, 80, 6]);
      // gw2 announces a flow it owns (its record as its own data plane would export it).
      const record = Buffer.from(exported);
      record.writeUInt16BE(43002, 32);
      gw2Pending = record;
      await until('gw1 learns it', () => gw1.snapshot().sync_records_learned === 1);
      const ack = clientTcp(43002, { flags: 'A', seq: 7, ack: 9 });
      const d = lab.counterDelta(() => {
        const out = lab.forward('outside', ack);
        assert.equal(only(out.outside, 'IPIP to gw2').raw, buildFrame({
          eth: { dst: hostMac(OWNER), src: PORT_MAC.outside },
          ipv4: { src: OUTSIDE_ADDRESS, dst: OWNER, protocol: 4, ttl: 64, id: 0, dontFragment: true },
          payload: ack.subarray(14),
        }));
      });
      expectEvents(d, { foreign_flows_learned: 1, handoff_sent: 1 });
      const counters = { ...gw1.snapshot(), ...handoffCounters(lab.stats()) };
      assert.is(counters.sync_records_sent, 1);
      assert.is(counters.sync_records_received, 1);
      assert.is(counters.handoff_sent, 1);
      assert.is(counters.handoff_ownership_exported, 1);
      assert.is(counters.handoff_foreign_flows_learned, 1);
    } finally {
      await gw1.stop();
      await gw2.stop();
    }
  }, null);
});

test.run();
