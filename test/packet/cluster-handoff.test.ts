// Cluster hand-off (pipeline/cluster/handoff.h, docs/cluster.md): this node is gw1 at the
// outside port address 198.18.0.254; gw2 (198.18.0.251) owns flows it announced. A mid-flow packet
// of such a flow is sent to gw2 encapsulated (IPIP / IPv6-in-IPv4); what gw2 hands to us is
// decapsulated and processed as if received; every new connection here is exported for the sync.
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import {
  CLIENT, CLIENT6, IPVS_TIMEOUTS, LIPS, LIPS6, OUTSIDE_ADDRESS, PORT_MAC, SERVERS, SERVERS6, VIP, VIP6, allConnections,
  clientSegment, clientTcp, clientUdp, dualStackConfig, expectDrops, expectEvents, frameFrom, frameFrom6, labConfig, only,
  openTcp, show, withLab, type Lab,
} from '../support/golden.js';
import { buildFrame, hostMac, ip6 } from '../support/packet.js';
import type { DataplaneConfig, DataplaneService } from '../../src/dataplane/types.js';

const OWNER = '198.18.0.251';     // gw2, node index 1
const STRANGER = '198.18.0.77';   // not a cluster node

function clustered(config: DataplaneConfig, extra: Partial<NonNullable<DataplaneConfig['cluster']>> = {}): DataplaneConfig {
  config.cluster = { nodes: [OUTSIDE_ADDRESS, OWNER], self: 0, foreignFlows: 64, ...extra };
  return config;
}

function address16(text: string): Buffer {
  if (text.includes(':')) return ip6(text);
  const b = Buffer.alloc(16);
  b.writeUInt16BE(0xffff, 10);
  text.split('.').forEach((octet, i) => { b[12 + i] = Number(octet); });
  return b;
}

/** An ownership record (40 bytes): client, VIP, ports, protocol, as the data plane exports it. */
function record(protocol: 'tcp' | 'udp', client: string, cport: number, vip: string, vport: number): Buffer {
  const r = Buffer.alloc(40);
  address16(client).copy(r, 0);
  address16(vip).copy(r, 16);
  r.writeUInt16BE(cport, 32);
  r.writeUInt16BE(vport, 34);
  r[36] = protocol === 'tcp' ? 6 : 17;
  return r;
}

function learn(lab: Lab, ...records: Buffer[]): void {
  assert.is(lab.dp.foreignLearn(Buffer.concat(records), 1), records.length);
  lab.dp.step();  // the worker takes them on its timer run
}

/** The frame gw2 sends us: the client's packet (L3 on) inside IPIP / IPv6-in-IPv4. */
function fromOwner(inner: Buffer, src = OWNER, extra: { protocol?: number; fragmentOffset?: number } = {}): Buffer {
  const ipv6 = inner.readUInt16BE(12) === 0x86dd;
  return buildFrame({
    eth: { dst: PORT_MAC.outside, src: hostMac(src) },
    ipv4: { src, dst: OUTSIDE_ADDRESS, protocol: extra.protocol ?? (ipv6 ? 41 : 4), dontFragment: !extra.fragmentOffset,
      fragmentOffset: extra.fragmentOffset ?? 0 },
    payload: inner.subarray(14),
  });
}

/** What handoff_to_owner must put on the wire for the client frame `inner`. */
function toOwner(inner: Buffer, tos: number): Buffer {
  const ipv6 = inner.readUInt16BE(12) === 0x86dd;
  return buildFrame({
    eth: { dst: hostMac(OWNER), src: PORT_MAC.outside },
    ipv4: { src: OUTSIDE_ADDRESS, dst: OWNER, protocol: ipv6 ? 41 : 4, ttl: 64, id: 0, tos, dontFragment: true },
    payload: inner.subarray(14),
  });
}

function ipv6Config(): DataplaneConfig {
  return clustered(dualStackConfig((c) => {
    c.services.push({
      id: 3, protocol: 'tcp', vip: VIP6, port: 80, scheduler: 'rr', localAddresses: [...LIPS6], timeouts: { ...IPVS_TIMEOUTS },
      servers: SERVERS6.map((address, i) => ({ id: 21 + i, address, port: 80, weight: 1 })),
    });
  }));
}

test('a learned foreign flow turns a client ACK into IPIP to its owner: outer header exact, inner packet unchanged', async () => {
  await withLab((lab) => {
    const ack = frameFrom('outside', CLIENT, VIP, { tcp: { srcPort: 40001, dstPort: 80, flags: 'A', seq: 5, ack: 9, payload: Buffer.from('mid-flow') } },
      { tos: 0x28, ttl: 61, id: 0x4321 });
    let out: ReturnType<Lab['forward']> = { outside: [], inside: [] };
    const d = lab.counterDelta(() => {
      learn(lab, record('tcp', CLIENT, 40001, VIP, 80));
      out = lab.forward('outside', ack);
    });
    assert.equal(out.inside, [], 'nothing to the servers');
    assert.equal(only(out.outside, 'IPIP to gw2').raw, toOwner(ack, 0x28), show(out.outside));
    assert.ok(lab.arpRequests.some((r) => r.arp!.targetIp === OWNER), 'gw2 resolved by ARP on the outside port');
    expectDrops(d, {});
    expectEvents(d, { foreign_flows_learned: 1, handoff_sent: 1 });
    assert.is(lab.stats().connections, 0, 'no connection made here');
  }, clustered(labConfig()));
});

test('a UDP datagram of a foreign flow is handed off too (no new connection here)', async () => {
  await withLab((lab) => {
    const datagram = clientUdp(5353, Buffer.from('udp mid-flow'));
    let out: ReturnType<Lab['forward']> = { outside: [], inside: [] };
    const d = lab.counterDelta(() => {
      learn(lab, record('udp', CLIENT, 5353, VIP, 7));
      out = lab.forward('outside', datagram);
    });
    assert.equal(only(out.outside, 'IPIP to gw2').raw, toOwner(datagram, 0));
    assert.equal(out.inside, []);
    expectDrops(d, {});
    expectEvents(d, { handoff_sent: 1 });
    assert.is(lab.stats().connections, 0);
  }, clustered(labConfig()));
});

test('an IPv6 client flow is handed off as IPv6-in-IPv4 (protocol 41), traffic class copied, inner unchanged', async () => {
  await withLab((lab) => {
    const ack = frameFrom6('outside', CLIENT6, VIP6, { tcp: { srcPort: 40002, dstPort: 80, flags: 'A', seq: 5, ack: 9 } },
      { trafficClass: 0x48, flowLabel: 0x12345, hopLimit: 50 });
    let out: ReturnType<Lab['forward']> = { outside: [], inside: [] };
    const d = lab.counterDelta(() => {
      learn(lab, record('tcp', CLIENT6, 40002, VIP6, 80));
      out = lab.forward('outside', ack);
    });
    const sent = only(out.outside, 'IPv6-in-IPv4 to gw2');
    assert.is(sent.eth.type, 0x0800, 'an IPv4 frame now');
    assert.equal(sent.raw, toOwner(ack, 0x48), show(out.outside));
    expectDrops(d, {});
    expectEvents(d, { handoff_sent: 1 });
  }, ipv6Config());
});

test('a miss in both tables still drops NO_CONN; a SYN of a foreign flow makes a new connection here', async () => {
  await withLab((lab) => {
    learn(lab, record('tcp', CLIENT, 40003, VIP, 80));
    const d = lab.counterDelta(() => {
      const out = lab.forward('outside', clientTcp(40004, { flags: 'A', seq: 5, ack: 9 }));
      assert.equal(out, { outside: [], inside: [] });
    });
    expectDrops(d, { no_conn: 1 });
    assert.is(d.events.handoff_sent ?? 0, 0);
    // The client starts over: a new connection replaces the owner's (which expires there).
    const d2 = lab.counterDelta(() => {
      const out = lab.forward('outside', clientTcp(40003, { flags: 'S', seq: 1000, options: [{ kind: 'mss', value: 1460 }] }));
      only(out.inside, 'SYN to a server');
    });
    expectDrops(d2, {});
    expectEvents(d2, { conns_created: 1, ownership_exported: 1 });
    assert.is(d2.events.handoff_sent ?? 0, 0);
  }, clustered(labConfig()));
});

test('SYNPROXY service: an ACK of a foreign flow is handed off, not taken for a cookie ACK', async () => {
  await withLab((lab) => {
    learn(lab, record('tcp', CLIENT, 40005, VIP, 80));
    const ack = clientTcp(40005, { flags: 'A', seq: 12345, ack: 777 });
    let out: ReturnType<Lab['forward']> = { outside: [], inside: [] };
    const d = lab.counterDelta(() => { out = lab.forward('outside', ack); });
    assert.equal(only(out.outside, 'IPIP to gw2').raw, toOwner(ack, 0));
    expectDrops(d, {});  // no bad_cookie
    expectEvents(d, { handoff_sent: 1 });
    // The same ACK without a foreign entry is what SYNPROXY judges: a forged cookie.
    const d2 = lab.counterDelta(() => { lab.forward('outside', clientTcp(40006, { flags: 'A', seq: 12345, ack: 777 })); });
    expectDrops(d2, { bad_cookie: 1 });
  }, clustered(labConfig((c) => { c.services[0]!.synproxy = true; })));
});

test('owner side: a handed-off segment is decapsulated and forwarded with the connection\'s rewrite, as if received directly', async () => {
  await withLab((lab) => {
    const flow = openTcp(lab, 40010);
    const segment = clientSegment(flow, { payload: Buffer.from('via gw2') });
    let viaOwner: ReturnType<Lab['forward']> = { outside: [], inside: [] };
    const d = lab.counterDelta(() => { viaOwner = lab.forward('outside', fromOwner(segment)); });
    const handed = only(viaOwner.inside, 'segment to the server');
    assert.is(handed.ipv4!.src, flow.lip);
    assert.is(handed.tcp!.srcPort, flow.lport);
    assert.is(handed.ipv4!.dst, flow.server);
    assert.is(handed.tcp!.payload.toString(), 'via gw2');
    expectDrops(d, {});
    expectEvents(d, { handoff_received: 1, packets_forwarded_in: 1 });
    // Byte for byte what the same segment gives when the client's router sends it to us.
    const direct = only(lab.forward('outside', segment).inside, 'direct');
    assert.equal(handed.raw, direct.raw);
    assert.is(allConnections(lab.dp).length, 1);
  }, clustered(labConfig()));
});

test('owner side: an IPv6 segment in IPv4 (protocol 41) is decapsulated and finds its connection', async () => {
  await withLab((lab) => {
    const syn = frameFrom6('outside', CLIENT6, VIP6, { tcp: { srcPort: 40011, dstPort: 80, flags: 'S', seq: 1000, options: [{ kind: 'mss', value: 1440 }] } });
    const sent = only(lab.forward('outside', syn).inside, 'SYN inside');
    const data = frameFrom6('outside', CLIENT6, VIP6, { tcp: { srcPort: 40011, dstPort: 80, flags: 'A', seq: 1001, ack: 1, payload: Buffer.from('v6') } });
    let out: ReturnType<Lab['forward']> = { outside: [], inside: [] };
    const d = lab.counterDelta(() => { out = lab.forward('outside', fromOwner(data)); });
    const handed = only(out.inside, 'segment to the server');
    assert.is(handed.ipv6!.src, sent.ipv6!.src);
    assert.is(handed.tcp!.srcPort, sent.tcp!.srcPort);
    expectDrops(d, {});
    expectEvents(d, { handoff_received: 1 });
  }, ipv6Config());
});

test('IPIP to this node from an address that is not another cluster node is dropped (handoff_foreign_source)', async () => {
  await withLab((lab) => {
    const flow = openTcp(lab, 40012);
    const segment = clientSegment(flow, { payload: Buffer.from('forged') });
    for (const src of [STRANGER, OUTSIDE_ADDRESS]) {  // a stranger, or our own address
      const d = lab.counterDelta(() => assert.equal(lab.forward('outside', fromOwner(segment, src)), { outside: [], inside: [] }));
      expectDrops(d, { handoff_foreign_source: 1 }, src);
    }
  }, clustered(labConfig()));
});

test('a fragmented hand-off, an inner header of the wrong version, a hand-off inside a hand-off: handoff_bad_encapsulation', async () => {
  await withLab((lab) => {
    const flow = openTcp(lab, 40013);
    const segment = clientSegment(flow, { payload: Buffer.from('x') });
    const cases: [string, Buffer][] = [
      ['fragment', fromOwner(segment, OWNER, { fragmentOffset: 10 })],
      ['IPv4 inner as protocol 41', fromOwner(segment, OWNER, { protocol: 41 })],
      ['nested', fromOwner(fromOwner(segment))],
    ];
    for (const [name, frame] of cases) {
      const d = lab.counterDelta(() => assert.equal(lab.forward('outside', frame), { outside: [], inside: [] }));
      expectDrops(d, { handoff_bad_encapsulation: 1 }, name);
    }
  }, clustered(labConfig()));
});

test('without a cluster nothing of this runs: IPIP to the port address stays unsupported, no export', async () => {
  await withLab((lab) => {
    const d = lab.counterDelta(() => {
      lab.forward('outside', fromOwner(clientTcp(40014, { flags: 'A' })));
      lab.forward('outside', clientTcp(40015, { flags: 'S', seq: 1, options: [{ kind: 'mss', value: 1460 }] }));
    });
    expectDrops(d, { unsupported_l4: 1 });
    assert.is(d.events.ownership_exported ?? 0, 0);
    assert.is(lab.dp.ownershipDrain().length, 0);
  });
});

test('a hand-off that would exceed the egress MTU with its 20-byte header is a counted drop (handoff_over_mtu)', async () => {
  await withLab((lab) => {
    learn(lab, record('tcp', CLIENT, 40016, VIP, 80));
    const fits = clientTcp(40016, { flags: 'A', payload: Buffer.alloc(1440, 1) });       // IP 1480 + 20 = 1500
    const tooBig = clientTcp(40016, { flags: 'A', payload: Buffer.alloc(1441, 1) });     // IP 1481 + 20 > 1500
    const d = lab.counterDelta(() => {
      only(lab.forward('outside', fits).outside, 'fits');
      assert.equal(lab.forward('outside', tooBig), { outside: [], inside: [] });
    });
    expectDrops(d, { handoff_over_mtu: 1 });
    expectEvents(d, { handoff_sent: 1 });
  }, clustered(labConfig()));
});

test('the foreign-flow table keeps its bound: the oldest are evicted (counted) and then miss', async () => {
  await withLab((lab) => {
    const records = [0, 1, 2, 3, 4, 5].map((i) => record('tcp', CLIENT, 41000 + i, VIP, 80));
    const d = lab.counterDelta(() => learn(lab, ...records));
    expectEvents(d, { foreign_flows_learned: 6, foreign_flows_evicted: 2 });
    const ack = (i: number) => clientTcp(41000 + i, { flags: 'A', seq: 1, ack: 1 });
    const old = lab.counterDelta(() => { lab.forward('outside', ack(0)); lab.forward('outside', ack(1)); });
    expectDrops(old, { no_conn: 2 });
    const kept = lab.counterDelta(() => { for (const i of [2, 3, 4, 5]) lab.forward('outside', ack(i)); });
    expectDrops(kept, {});
    expectEvents(kept, { handoff_sent: 4 });
    // Learning one already there refreshes it: no eviction.
    const again = lab.counterDelta(() => learn(lab, records[5]!));
    expectEvents(again, { foreign_flows_learned: 1 });
    assert.is(again.events.foreign_flows_evicted ?? 0, 0);
  }, clustered(labConfig(), { foreignFlows: 4 }));
});

test('a foreign flow neither learned again nor used for foreignIdleSeconds is a miss', async () => {
  await withLab((lab) => {
    learn(lab, record('tcp', CLIENT, 40017, VIP, 80));
    const ack = clientTcp(40017, { flags: 'A', seq: 1, ack: 1 });
    lab.advance(8);
    expectEvents(lab.counterDelta(() => lab.forward('outside', ack)), { handoff_sent: 1 });  // used: idle time restarts
    lab.advance(8);
    expectEvents(lab.counterDelta(() => lab.forward('outside', ack)), { handoff_sent: 1 });
    lab.advance(11);
    expectDrops(lab.counterDelta(() => lab.forward('outside', ack)), { no_conn: 1 });
  }, clustered(labConfig(), { foreignIdleSeconds: 10 }));
});

// ------------------------------------------------------------ ownership export

function service(id: number, vport: number, forward: 'nat' | 'dr' | 'tun' | undefined, firstServer: number, extra: Partial<DataplaneService> = {}): DataplaneService {
  return {
    id, protocol: 'tcp', vip: VIP, port: vport, scheduler: 'rr', localAddresses: forward ? [] : [...LIPS], timeouts: { ...IPVS_TIMEOUTS },
    servers: [{ id: firstServer, address: SERVERS[0]!, port: vport, weight: 1, ...(forward ? { forward } : {}) }], ...extra,
  };
}

function everyKindConfig(): DataplaneConfig {
  return clustered(dualStackConfig((c) => {
    c.services.push(service(3, 81, 'nat', 31), service(4, 82, 'dr', 41), service(5, 83, 'tun', 51),
      service(6, 84, undefined, 61, { synproxy: true }),
      {
        id: 7, protocol: 'tcp', vip: VIP6, port: 80, scheduler: 'rr', localAddresses: [...LIPS], timeouts: { ...IPVS_TIMEOUTS },
        servers: [{ id: 71, address: SERVERS[0]!, port: 80, weight: 1 }],
      });
  }));
}

test('ownership records are exported for every kind of new connection: FullNAT TCP/UDP, NAT, DR, TUN, NAT64, SYNPROXY', async () => {
  await withLab((lab) => {
    const syn = (cport: number, vport: number) => clientTcp(cport, { flags: 'S', seq: 1000, options: [{ kind: 'mss', value: 1460 }] }, VIP, vport);
    const cases: [string, () => void, Buffer][] = [
      ['FullNAT TCP', () => { lab.forward('outside', syn(42001, 80)); }, record('tcp', CLIENT, 42001, VIP, 80)],
      ['FullNAT UDP', () => { lab.forward('outside', clientUdp(42002, Buffer.from('u'))); }, record('udp', CLIENT, 42002, VIP, 7)],
      ['NAT', () => { lab.forward('outside', syn(42003, 81)); }, record('tcp', CLIENT, 42003, VIP, 81)],
      ['DR', () => { lab.forward('outside', syn(42004, 82)); }, record('tcp', CLIENT, 42004, VIP, 82)],
      ['TUN', () => { lab.forward('outside', syn(42005, 83)); }, record('tcp', CLIENT, 42005, VIP, 83)],
      ['NAT64', () => {
        lab.forward('outside', frameFrom6('outside', CLIENT6, VIP6, { tcp: { srcPort: 42006, dstPort: 80, flags: 'S', seq: 1, options: [{ kind: 'mss', value: 1440 }] } }));
      }, record('tcp', CLIENT6, 42006, VIP6, 80)],
      ['SYNPROXY (once the cookie ACK makes it)', () => {
        const synAck = only(lab.forward('outside', syn(42007, 84)).outside, 'cookie SYN-ACK');
        assert.is(lab.dp.ownershipDrain().length, 0, 'no record for the cookie SYN-ACK: nothing is made yet');
        lab.forward('outside', clientTcp(42007, { flags: 'A', seq: 1001, ack: (synAck.tcp!.seq + 1) >>> 0 }, VIP, 84));
      }, record('tcp', CLIENT, 42007, VIP, 84)],
    ];
    for (const [name, act, expected] of cases) {
      const d = lab.counterDelta(act);
      expectEvents(d, { conns_created: 1, ownership_exported: 1 }, name);
      assert.equal(lab.dp.ownershipDrain(), expected, name);
    }
  }, everyKindConfig());
});

test('a full export ring (16384 records unread) counts each lost record (ownership_export_overflow), packets still flow', async () => {
  await withLab((lab) => {
    const total = 16384 + 16;
    const d = lab.counterDelta(() => {
      for (let first = 0; first < total; first += 256) {
        const frames = [];
        for (let i = first; i < Math.min(first + 256, total); i++) frames.push(clientUdp(1024 + i, Buffer.from('n')));
        lab.send('outside', ...frames);
        lab.resolveNeighbours();
      }
    });
    expectEvents(d, { conns_created: total, ownership_exported: 16384, ownership_export_overflow: 16 });
    assert.is(lab.dp.ownershipDrain(1 << 20).length, 16384 * 40);
    assert.is(lab.dp.ownershipDrain().length, 0);
  }, clustered(labConfig()), { connCapacity: 32768 });
});

test('apply refuses a cluster whose own node address is not a port address, or an IPv6 node address, naming the field', async () => {
  await withLab((lab) => {
    const refuse = (config: DataplaneConfig, words: RegExp) => {
      try {
        lab.apply(config);
      } catch (error) {
        assert.match((error as Error).message, words);
        return;
      }
      assert.unreachable('apply took it');
    };
    refuse(clustered(labConfig(), { nodes: ['198.18.0.9', OWNER] }), /cluster\.nodes\[0\].*port addresses/);
    refuse(clustered(labConfig(), { nodes: [OUTSIDE_ADDRESS, '2001:db8::1'] }), /cluster\.nodes\[1\].*IPv4/);
    refuse(clustered(labConfig(), { nodes: [OUTSIDE_ADDRESS, OUTSIDE_ADDRESS] }), /cluster\.nodes\[1\].*same address/);
  }, clustered(labConfig()));
});

test.run();
