// Exhaustion is bounded and counted (issue 8): fill each resource, check the counted drop, check
// that an established flow keeps forwarding meanwhile, and that new flows work again once the
// load goes away. Resources: connection table, lports of a LIP, the ARP hold queue, the mbuf pool
// (also when a datagram must be fragmented on its way out), a port's tx ring.
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import type { DataplaneConfig } from '../../src/dataplane/types.js';
import {
  CLIENT, IPVS_TIMEOUTS, LIPS, PORT_MAC, TCP_SERVICE_ID, clientSegment, clientTcp, clientUdp, expectDrops, expectEvents, labConfig, only,
  openTcp, serverSegment, show, withLab, type Flow, type Lab,
} from '../support/golden.js';

const OTHER_CLIENT = '198.18.0.2';
const SYN_RECV_SECONDS = IPVS_TIMEOUTS.tcpSynRecv;

/** SYNs from client:cport for each cport, injected in batches (no ARP answering); returns forwarded SYNs. */
function synFlood(lab: Lab, cports: number[], client = CLIENT, dport = 80): number {
  let forwarded = 0;
  for (let i = 0; i < cports.length; i += 1024) {
    const frames = cports.slice(i, i + 1024).map((cport) => clientTcp(cport, { flags: 'S', seq: 7 }, undefined, dport, client));
    lab.send('outside', ...frames);
    forwarded += lab.dp.capture('inside').length;
    lab.dp.capture('outside');
  }
  return forwarded;
}

/** Data both ways on an open flow; throws (with the frames seen) unless each segment forwards once. */
function assertFlowForwards(lab: Lab, flow: Flow, what: string): void {
  const payload = Buffer.from(what);
  const inward = lab.forward('outside', clientSegment(flow, { flags: 'PA', payload }));
  assert.is(Buffer.from(only(inward.inside, `${what}: client data`).tcp?.payload ?? []).toString(), what);
  const outward = lab.forward('inside', serverSegment(flow, { flags: 'PA', payload }));
  assert.is(Buffer.from(only(outward.outside, `${what}: server data`).tcp?.payload ?? []).toString(), what);
}

function range(from: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => from + i);
}

/** The lab with TCP :80 on one server (resolved by the first openTcp) and the given LIPs. */
function oneServer(lips: string[] = [...LIPS]): DataplaneConfig {
  return labConfig((c: DataplaneConfig) => {
    const tcp = c.services.find((s) => s.id === TCP_SERVICE_ID)!;
    tcp.localAddresses = lips;
    tcp.servers = tcp.servers.slice(0, 1);
  });
}

test('connection table full: conn_table_full drops, established flow unaffected, new flows after expiry', async () => {
  const capacity = 64;
  await withLab((lab) => {
    const flow = openTcp(lab, 40000);
    const flood = 100;
    const delta = lab.counterDelta(() => synFlood(lab, range(2000, flood)));
    const full = delta.drops.conn_table_full ?? 0;
    assert.ok(full >= flood - (capacity - 1), `conn_table_full ${full} of ${flood} SYNs (capacity ${capacity}): ${JSON.stringify(delta)}`);
    expectDrops(delta, { conn_table_full: flood - (delta.events.conns_created ?? 0) }, 'every SYN made a connection or was counted full');
    assert.ok(lab.stats().connections <= capacity);
    assertFlowForwards(lab, flow, 'while the table is full');

    lab.advance(SYN_RECV_SECONDS + 1); // the half-open flood expires; the established flow does not
    assert.is(lab.stats().connections, 1);
    assertFlowForwards(lab, flow, 'after the flood expired');
    only(lab.forward('outside', clientTcp(3000, { flags: 'S', seq: 1 })).inside, 'a new SYN after recovery');
  }, oneServer(), { connCapacity: capacity });
});

test('lport pool exhausted (one LIP, one server): lport_exhausted drops, established flow unaffected, recovery', async () => {
  const lports = 65536 - 1024; // kLportMin..65535 with one worker
  await withLab((lab) => {
    // The established flow holds one lport; the flood takes every other one and then one more.
    const flow = openTcp(lab, 40000);
    assert.is(flow.lip, LIPS[0]);
    let forwarded = 0;
    const delta = lab.counterDelta(() => {
      forwarded = synFlood(lab, range(1024, lports), OTHER_CLIENT);
    });
    assert.is(forwarded, lports - 1, 'SYNs forwarded before the pool ran out');
    expectDrops(delta, { lport_exhausted: 1 });
    assert.is(lab.stats().connections, lports);
    assertFlowForwards(lab, flow, 'while every lport is taken');
    const more = lab.counterDelta(() => synFlood(lab, [40001]));
    expectDrops(more, { lport_exhausted: 1 });

    lab.advance(SYN_RECV_SECONDS + 1);
    assert.is(lab.stats().connections, 1);
    assertFlowForwards(lab, flow, 'after the flood expired');
    const syn = only(lab.forward('outside', clientTcp(40002, { flags: 'S', seq: 1 })).inside, 'a new SYN after recovery');
    assert.is(syn.ipv4!.src, LIPS[0]);
  }, oneServer([LIPS[0]!]), { connCapacity: lports + 16 });
});

test('ARP hold queue full: neigh_queue_full beyond 8 per neighbour / 256 in all, then neigh_unresolved, recovery', async () => {
  // Port 81: 40 servers that never answer ARP (198.19.0.10-49); port 80 keeps its answering servers.
  const silent = range(10, 40).map((n) => `198.19.0.${n}`);
  const config = labConfig((c) => {
    c.services.push({
      id: 3, protocol: 'tcp', vip: c.services[0]!.vip, port: 81, scheduler: 'rr', localAddresses: [...LIPS],
      timeouts: { ...IPVS_TIMEOUTS }, servers: silent.map((address, i) => ({ id: 100 + i, address, port: 81, weight: 1 })),
    });
  });
  await withLab((lab) => {
    const flow = openTcp(lab, 40000);
    const baseline = lab.stats().mbufsInUse;
    // 10 SYNs per silent server: 8 may wait for each (320), but only 256 in all.
    const delta = lab.counterDelta(() => synFlood(lab, range(2000, 400), CLIENT, 81));
    expectEvents(delta, { neigh_queued: 256 }, JSON.stringify(delta));
    expectDrops(delta, { neigh_queue_full: 400 - 256 });
    expectEvents(delta, { arp_requests_sent: silent.length });
    assertFlowForwards(lab, flow, 'while the hold queue is full');

    // Nobody answers: after the retries every held SYN is dropped, counted once.
    const expiry = lab.counterDelta(() => {
      for (let s = 0; s < 5; s++) { lab.advance(1); lab.dp.capture('inside'); }
    });
    expectDrops(expiry, { neigh_unresolved: 256 }, JSON.stringify(expiry));
    assert.is(lab.stats().mbufsInUse, baseline, 'held packets went back to the pool');
    assertFlowForwards(lab, flow, 'after the queue drained');
    // A silent server that starts answering gets its SYN through (resolveNeighbours answers ARP).
    const out = lab.forward('outside', clientTcp(3000, { flags: 'S', seq: 1 }, undefined, 81));
    assert.ok(silent.includes(only(out.inside, 'SYN to a server that now answers').ipv4!.dst));
  }, config);
});

test('mbuf pool empty: a generated ARP request fails as mbuf_alloc_failed, established data still forwards, recovery', async () => {
  const mbufs = 1023;
  await withLab((lab) => {
    const flow = openTcp(lab, 40000); // rr: the next new flow goes to a server not resolved yet
    const baseline = lab.stats().mbufsInUse;
    const free = mbufs - baseline;
    // Every free mbuf: data on the established flow, then one SYN whose server needs ARP. The
    // forwarded data waits in the inside tx ring (not captured), so the pool stays empty.
    const data = range(0, free - 1).map((i) => clientSegment(flow, { flags: 'PA', seq: flow.clientIsn + 1 + i, payload: Buffer.from([i & 0xff]) }));
    const syn = clientTcp(41000, { flags: 'S', seq: 1 });
    assert.is(lab.dp.inject('outside', [...data, syn]), free, 'frames that fit in the pool');
    assert.is(lab.dp.inject('outside', [syn]), 0, 'the pool is empty: nothing more is received');
    const delta = lab.counterDelta(() => lab.dp.step());
    expectDrops(delta, { mbuf_alloc_failed: 1 }, JSON.stringify(delta));
    const forwarded = lab.dp.capture('inside');
    assert.is(forwarded.length, free - 1, 'established data left through the inside port');

    // Load gone: the ARP retry finds an mbuf, is answered, and the held SYN leaves.
    lab.advance(1);
    const out = lab.resolveNeighbours();
    const held = only(out.inside, 'the held SYN after recovery');
    assert.is(held.tcp!.dstPort, 80);
    assert.not.equal(held.ipv4!.dst, flow.server, 'rr chose the next server');
    assertFlowForwards(lab, flow, 'after the pool refilled');
    assert.is(lab.stats().mbufsInUse, baseline);
  }, labConfig(), { mbufs });
});

/** Usable slots of a ring port's tx ring (dataplane/core/ports.cpp kRingPortSlots: 4096, one kept free). */
const TX_RING_SLOTS = 4095;

test('tx ring full: what does not fit is dropped tx_full, what fits leaves; forwarding resumes once it drains', async () => {
  const sent = TX_RING_SLOTS + 105;
  await withLab((lab) => {
    const flow = openTcp(lab, 40000);
    const baseline = lab.stats().mbufsInUse;
    const segments = range(0, sent).map((i) => clientSegment(flow, { flags: 'PA', seq: flow.clientIsn + 1 + i, payload: Buffer.from([i & 0xff]) }));
    // Nobody drains the inside port meanwhile (no capture): its tx ring fills up.
    const delta = lab.counterDelta(() => {
      for (let i = 0; i < sent; i += 1000) lab.send('outside', ...segments.slice(i, i + 1000));
    });
    expectDrops(delta, { tx_full: sent - TX_RING_SLOTS }, JSON.stringify(delta));
    expectEvents(delta, { packets_forwarded_in: sent, tx_packets: TX_RING_SLOTS });
    assert.is(lab.dp.capture('inside').length, TX_RING_SLOTS, 'the ring held what fit');
    assert.is(lab.stats().mbufsInUse, baseline, 'the dropped packets went back to the pool');
    assertFlowForwards(lab, flow, 'after the ring drained');
  });
});

test('mbuf pool empty when a datagram must leave in fragments: frag_out_failed, no piece sent, recovery', async () => {
  const mbufs = 1023;
  const ports = [
    { name: 'outside', device: 'ring', mac: PORT_MAC.outside },
    { name: 'inside', device: 'ring', mac: PORT_MAC.inside, mtu: 1000 },
  ];
  await withLab((lab) => {
    const flow = openTcp(lab, 40000);
    // 1428 bytes of IPv4: fits the outside MTU (1500), not the inside one (1000): leaves in two fragments.
    const big = clientUdp(41000, Buffer.alloc(1400, 0x42));
    const first = lab.forward('outside', big);
    assert.is(first.inside.length, 2, `two fragments inside: ${show(first.inside)}`);
    const baseline = lab.stats().mbufsInUse;
    const free = mbufs - baseline;
    // Every free mbuf: data on the TCP flow (left waiting in the inside tx ring), then the datagram.
    const data = range(0, free - 1).map((i) => clientSegment(flow, { flags: 'PA', seq: flow.clientIsn + 1 + i, payload: Buffer.from([i & 0xff]) }));
    assert.is(lab.dp.inject('outside', [...data, big]), free, 'frames that fit in the pool');
    const delta = lab.counterDelta(() => lab.dp.step());
    expectDrops(delta, { frag_out_failed: 1 }, JSON.stringify(delta));
    assert.is(lab.dp.capture('inside').length, free - 1, 'the data left, no piece of the datagram did');

    // Load gone: the same datagram leaves in two fragments again, and nothing leaked.
    const again = lab.forward('outside', big);
    assert.is(again.inside.length, 2, `two fragments after recovery: ${show(again.inside)}`);
    assert.is(lab.stats().mbufsInUse, baseline);
  }, labConfig(), { mbufs, ports });
});

test.run();
