// Cluster hand-off with several workers (docs/cluster.md, "Several workers" under the hand-off's receive step): the outer
// header (node to node) puts every hand-off on one queue, but each connection lives in the table
// of the worker that made it. The owner's ownership record names that worker, the sender copies
// it into the outer header's id, and the receiving worker passes the hand-off to it through the
// worker rings (core/redirect.h) before decapsulating. On the sending side every worker holds
// every foreign flow, whichever queue a moved packet lands on.
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import {
  CLIENT, OUTSIDE_ADDRESS, PORT_MAC, VIP, clientTcp, expectDrops, expectEvents, labConfig, only, serverTcp, show,
  withLab, type Flow, type Lab,
} from '../support/golden.js';
import { buildFrame, hostMac } from '../support/packet.js';
import type { DataplaneConfig } from '../../src/dataplane/types.js';

const WORKERS = 2;
const OWNER = '198.18.0.251';  // gw2, node index 1 (this lab is gw1)

function clustered(config: DataplaneConfig): DataplaneConfig {
  config.cluster = { nodes: [OUTSIDE_ADDRESS, OWNER], self: 0, foreignFlows: 64 };
  return config;
}

/** Three-way handshake with every client segment on rx queue `queue` (worker `queue` makes the connection). */
function openOn(lab: Lab, queue: number, cport: number): Flow {
  lab.sendOn('outside', queue, clientTcp(cport, { flags: 'S', seq: 1000, options: [{ kind: 'mss', value: 1460 }] }));
  const syn = only(lab.resolveNeighbours().inside, `SYN from ${CLIENT}:${cport} on queue ${queue}`);
  const flow: Flow = { cport, lip: syn.ipv4!.src, lport: syn.tcp!.srcPort, server: syn.ipv4!.dst, sport: syn.tcp!.dstPort,
    clientIsn: 1000, serverIsn: 50000 };
  lab.sendOn('inside', queue, serverTcp(flow.server, flow.sport, flow.lip, flow.lport,
    { flags: 'SA', seq: flow.serverIsn, ack: flow.clientIsn + 1, options: [{ kind: 'mss', value: 1460 }] }));
  only(lab.resolveNeighbours().outside, `SYN-ACK for ${cport}`);
  lab.sendOn('outside', queue, clientTcp(cport, { flags: 'A', seq: 1001, ack: flow.serverIsn + 1 }));
  only(lab.resolveNeighbours().inside, `ACK for ${cport}`);
  return flow;
}

/** The frame gw2 sends us for the client frame `inner`, outer id = the owning worker it read from the record. */
function fromOwner(inner: Buffer, id: number): Buffer {
  return buildFrame({
    eth: { dst: PORT_MAC.outside, src: hostMac(OWNER) },
    ipv4: { src: OWNER, dst: OUTSIDE_ADDRESS, protocol: 4, ttl: 64, id, dontFragment: true },
    payload: inner.subarray(14),
  });
}

/** Ownership records (40 B each) by client port. */
function recordsByClientPort(records: Buffer): Map<number, Buffer> {
  const byPort = new Map<number, Buffer>();
  for (let at = 0; at < records.length; at += 40) byPort.set(records.readUInt16BE(at + 32), records.subarray(at, at + 40));
  return byPort;
}

test('owner side: hand-offs of connections on every worker, all arriving on queue 0, reach their worker and are forwarded', async () => {
  await withLab((lab) => {
    const flows: { flow: Flow; queue: number }[] = [];
    for (let i = 0; i < 6; i++) flows.push({ flow: openOn(lab, i % WORKERS, 43000 + i), queue: i % WORKERS });
    const records = recordsByClientPort(lab.dp.ownershipDrain());
    assert.is(records.size, flows.length, 'one record per connection');
    const handOffs = flows.map(({ flow }) => {
      const record = records.get(flow.cport)!;
      return fromOwner(clientTcp(flow.cport, { flags: 'A', seq: 1001, ack: flow.serverIsn + 1, payload: Buffer.from(`moved ${flow.cport}`) }),
        record[37]!);
    });
    let out: ReturnType<Lab['forward']> = { outside: [], inside: [] };
    const d = lab.counterDelta(() => {
      lab.sendOn('outside', 0, ...handOffs);
      out = lab.resolveNeighbours();
    });
    expectDrops(d, {});
    assert.is(out.inside.length, flows.length, `every hand-off to its server: ${show(out.inside)}`);
    for (const { flow } of flows) {
      const sent = out.inside.find((f) => f.tcp?.payload.toString() === `moved ${flow.cport}`);
      assert.ok(sent, `hand-off of ${flow.cport} forwarded`);
      assert.is(sent!.ipv4!.src, flow.lip, `${flow.cport}: the connection's LIP`);
      assert.is(sent!.tcp!.srcPort, flow.lport, `${flow.cport}: the connection's lport`);
      assert.is(sent!.ipv4!.dst, flow.server);
      assert.is(sent!.tcp!.dstPort, flow.sport);
      assert.ok(sent!.ipv4!.checksumOk && sent!.tcp!.checksumOk, 'checksums');
    }
    const onOther = flows.filter(({ queue }) => queue !== 0).length;
    expectEvents(d, { handoff_received: flows.length, redirected_out: onOther, redirected_in: onOther,
      packets_forwarded_in: flows.length });
    // The record names the worker that made the connection (byte 37; the sender copies it into the outer id).
    for (const { flow, queue } of flows) assert.is(records.get(flow.cport)![37], queue, `record of ${flow.cport}`);
  }, clustered(labConfig()), { workers: WORKERS });
});

test('non-owner side: every worker holds every learned foreign flow and sends it with the owner\'s worker in the outer id', async () => {
  await withLab((lab) => {
    const record = (cport: number, ownerWorker: number) => {
      const r = Buffer.alloc(40);
      r.writeUInt16BE(0xffff, 10);
      Buffer.from(CLIENT.split('.').map(Number)).copy(r, 12);
      r.writeUInt16BE(0xffff, 26);
      Buffer.from(VIP.split('.').map(Number)).copy(r, 28);
      r.writeUInt16BE(cport, 32);
      r.writeUInt16BE(80, 34);
      r[36] = 6;
      r[37] = ownerWorker;
      return r;
    };
    const learned = lab.counterDelta(() => {
      assert.is(lab.dp.foreignLearn(Buffer.concat([record(44000, 1), record(44001, 0)]), 1), 2);
      lab.dp.step();
    });
    expectEvents(learned, { foreign_flows_learned: 2 * WORKERS });
    for (let queue = 0; queue < WORKERS; queue++) {
      for (const [cport, ownerWorker] of [[44000, 1], [44001, 0]] as const) {
        const ack = clientTcp(cport, { flags: 'A', seq: 5, ack: 9 });
        let out: ReturnType<Lab['forward']> = { outside: [], inside: [] };
        const d = lab.counterDelta(() => {
          lab.sendOn('outside', queue, ack);
          out = lab.resolveNeighbours();
        });
        expectDrops(d, {}, `${cport} on queue ${queue}`);
        expectEvents(d, { handoff_sent: 1 }, `${cport} on queue ${queue}`);
        const sent = only(out.outside, `IPIP to gw2 for ${cport} on queue ${queue}`);
        assert.is(sent.ipv4!.dst, OWNER);
        assert.is(sent.ipv4!.protocol, 4);
        assert.is(sent.ipv4!.id, ownerWorker, 'outer id = the owner\'s worker');
        assert.ok(sent.ipv4!.checksumOk);
      }
    }
    assert.is(lab.stats().connections, 0);
  }, clustered(labConfig()), { workers: WORKERS });
});

test.run();
