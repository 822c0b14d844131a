// Several workers, the features whose packets do not name their worker by an lport
// (dataplane/pipeline/conn/client_owner.h): NAT connections (the reply RIP:rport -> CIP:cport
// names its owner by the client endpoint), persistence across workers (a client network's new
// connections are all made on one worker, so one template decides them), a datagram rebuilt
// from fragments on a worker that does not own its connection, and fragment drops counted per
// service. Test mode runs the three workers inside step(); sendOn(port, queue) picks the worker.
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import type { DataplaneConfig } from '../../src/dataplane/types.js';
import {
  CLIENT, CLIENT6, PORT_MAC, SERVERS, SERVERS6, TCP_SERVICE_ID, UDP_SERVICE_ID, VIP, VIP6, allConnections, clientTcp,
  dualStackConfig, expectDrops, expectEvents, frameFrom, frameFrom6, labConfig, only, seededRandom, show, withLab,
  type CounterDelta, type Lab,
} from '../support/golden.js';
import { hostMac, type DecodedFrame } from '../support/packet.js';
import { fragmentFrame4, fragmentFrame6 } from '../support/fragment-frames.js';
import { DNS_SERVICE_ID, REASSEMBLE, bigUdp, config6, strictDnsBesideReassembly, withDefense } from '../support/fragment-families.js';

const WORKERS = 3;
const SEVERAL = { workers: WORKERS };
const RIP = SERVERS[0]!;
const RIP6 = SERVERS6[0]!;

/** The lab config with one NAT server per service and no LIPs. */
function natConfig(): DataplaneConfig {
  return labConfig((config) => {
    for (const service of config.services) {
      service.localAddresses = [];
      service.servers = [{ ...service.servers[0]!, forward: 'nat' }];
    }
  });
}

/** The same over IPv6 (VIP6 -> SERVERS6[0]). */
function natConfig6(): DataplaneConfig {
  return dualStackConfig((config) => {
    for (const service of config.services) {
      service.vip = VIP6;
      service.localAddresses = [];
      service.servers = [{ ...service.servers[0]!, address: RIP6, forward: 'nat' }];
    }
  });
}

/** Sends frame on port's queue, runs the workers (ARP/ND answered); what left, and the counters. */
function sendOnQueue(lab: Lab, port: 'outside' | 'inside', queue: number, frame: Buffer): { out: Record<'outside' | 'inside', DecodedFrame[]>; d: CounterDelta } {
  let out!: Record<'outside' | 'inside', DecodedFrame[]>;
  const d = lab.counterDelta(() => {
    lab.sendOn(port, queue, frame);
    out = lab.resolveNeighbours();
  });
  return { out, d };
}

const tcpFrom = (cport: number, flags: string, seq: number, ack = 0) =>
  clientTcp(cport, { flags, seq, ack, options: flags === 'S' ? [{ kind: 'mss', value: 1460 }] : [] });
const tcpFromServer = (cport: number, flags: string, seq: number, ack: number, payload = Buffer.alloc(0)) =>
  frameFrom('inside', RIP, CLIENT, { tcp: { srcPort: 80, dstPort: cport, flags, seq, ack, payload } });

function checkInside(frame: DecodedFrame, cport: number): void {
  assert.equal([frame.eth.dst, frame.eth.src], [hostMac(RIP), PORT_MAC.inside]);
  assert.equal([frame.ipv4!.src, frame.ipv4!.dst, frame.ipv4!.ttl], [CLIENT, RIP, 63]);
  assert.equal([frame.tcp!.srcPort, frame.tcp!.dstPort], [cport, 80]);
  assert.ok(frame.ipv4!.checksumOk && frame.tcp!.checksumOk, 'checksums');
}

function checkOutside(frame: DecodedFrame, cport: number): void {
  assert.equal([frame.eth.dst, frame.eth.src], [hostMac(CLIENT), PORT_MAC.outside]);
  assert.equal([frame.ipv4!.src, frame.ipv4!.dst, frame.ipv4!.ttl], [VIP, CLIENT, 63]);
  assert.equal([frame.tcp!.srcPort, frame.tcp!.dstPort], [80, cport]);
  assert.ok(frame.ipv4!.checksumOk && frame.tcp!.checksumOk, 'checksums');
}

test('NAT, 3 workers: a SYN on a worker its client does not name is handed to the one it names; replies on any worker reach it', async () => {
  await withLab((lab) => {
    // The first client port whose owner is not worker 0 (the rule spreads ports over all three).
    let cport = 40000;
    let syn = sendOnQueue(lab, 'outside', 0, tcpFrom(cport, 'S', 1000));
    while (!syn.d.events.client_flows_handed_over) {
      assert.is(syn.out.inside.length, 1, `worker 0 owns ${cport}: it forwards the SYN itself`);
      assert.ok(cport < 40020, 'some port among 20 must belong to another worker');
      syn = sendOnQueue(lab, 'outside', 0, tcpFrom(++cport, 'S', 1000));
    }
    checkInside(only(syn.out.inside, 'SYN to the server'), cport);
    expectEvents(syn.d, { client_flows_handed_over: 1, conns_created: 1 });
    assert.ok((syn.d.events.redirected_out ?? 0) >= 1 && syn.d.events.redirected_in === syn.d.events.redirected_out);
    expectDrops(syn.d, {}, 'nothing dropped');

    // The server's SYN-ACK on worker 0 (not the owner): handed over by the client endpoint, rewritten.
    const synAck = sendOnQueue(lab, 'inside', 0, tcpFromServer(cport, 'SA', 7000, 1001));
    const toClient = only(synAck.out.outside, 'SYN-ACK to the client');
    checkOutside(toClient, cport);
    assert.is(toClient.tcp!.flagNames, 'SA');
    expectDrops(synAck.d, {});
    expectEvents(synAck.d, { packets_forwarded_out: 1 });
    assert.ok((synAck.d.events.redirected_out ?? 0) >= 1, 'the reply went through a worker ring');

    // The client's ACK on worker 0 again: no connection there, handed to the owner, forwarded;
    // traced on both (handed_over on worker 0, forwarded with the rewrite on the owner).
    lab.dp.traceSet({ enabled: true, serviceId: TCP_SERVICE_ID });
    const ack = sendOnQueue(lab, 'outside', 0, tcpFrom(cport, 'A', 1001, 7001));
    checkInside(only(ack.out.inside, 'ACK to the server'), cport);
    expectEvents(ack.d, { client_flows_handed_over: 1, packets_forwarded_in: 1 });
    expectDrops(ack.d, {});
    const traced = lab.dp.traceRead().records.map((r) => [r.worker === 0, r.verdict, r.outDestination]);
    assert.equal(traced, [[true, 'handed_over', '0.0.0.0'], [false, 'forwarded', RIP]], JSON.stringify(traced));
    lab.dp.traceSet({ enabled: false });

    // Data from the server on every worker's queue: each one leaves translated, none dropped.
    for (let queue = 0; queue < WORKERS; queue++) {
      const payload = Buffer.from(`data on queue ${queue}`);
      const data = sendOnQueue(lab, 'inside', queue, tcpFromServer(cport, 'PA', 7001 + queue * 100, 1001, payload));
      const segment = only(data.out.outside, `data from queue ${queue}`);
      checkOutside(segment, cport);
      assert.is(segment.tcp!.payload.toString(), payload.toString());
      expectDrops(data.d, {});
    }
    const conns = allConnections(lab.dp);
    assert.is(conns.length, 1 + (cport - 40000), `one connection per SYN: ${JSON.stringify(conns)}`);
    const conn = conns.find((c) => c.clientPort === cport)!;
    assert.equal([conn.client, conn.server, conn.state], [CLIENT, RIP, 'ESTABLISHED']);
  }, natConfig(), SEVERAL);
});

test('NAT, 3 workers: 60 connections, each packet on a random worker, all forwarded, each connection made once', async () => {
  await withLab((lab) => {
    const rnd = seededRandom(0x4a7);
    const queue = () => Math.floor(rnd() * WORKERS);
    const flows = Array.from({ length: 60 }, (_, i) => 41000 + i);
    const total = lab.counterDelta(() => {
      for (const cport of flows) {
        const steps: [('outside' | 'inside'), Buffer][] = [
          ['outside', tcpFrom(cport, 'S', 1000)],
          ['inside', tcpFromServer(cport, 'SA', 7000, 1001)],
          ['outside', tcpFrom(cport, 'A', 1001, 7001)],
          ['inside', tcpFromServer(cport, 'PA', 7001, 1001, Buffer.from('hi'))],
          ['outside', tcpFrom(cport, 'FA', 1001, 7003)],
        ];
        for (const [port, frame] of steps) {
          const { out } = sendOnQueue(lab, port, queue(), frame);
          const other = port === 'outside' ? 'inside' : 'outside';
          assert.is(out[other].length, 1, `${cport}: one frame out of ${other}: ${show(out[other])}`);
        }
      }
    });
    expectDrops(total, {}, 'nothing dropped');
    expectEvents(total, { conns_created: flows.length });
    assert.ok((total.events.client_flows_handed_over ?? 0) > 0 && (total.events.redirected_out ?? 0) > 0, 'hand-offs happened');
    const listed = allConnections(lab.dp).map((c) => c.clientPort).sort();
    assert.equal(listed, flows, 'every connection listed once, on one worker');
  }, natConfig(), SEVERAL);
});

test('NAT, 3 workers: a UDP reply and the server\'s ICMP port-unreachable on another worker reach the owner', async () => {
  await withLab((lab) => {
    const payload = Buffer.from('question');
    for (let cport = 5300; cport < 5306; cport++) {
      const request = sendOnQueue(lab, 'outside', cport % WORKERS, frameFrom('outside', CLIENT, VIP, { udp: { srcPort: cport, dstPort: 7, payload } }));
      const inside = only(request.out.inside, 'UDP to the server');
      assert.equal([inside.ipv4!.src, inside.ipv4!.dst, inside.udp!.srcPort], [CLIENT, RIP, cport]);
      const reply = sendOnQueue(lab, 'inside', (cport + 1) % WORKERS, frameFrom('inside', RIP, CLIENT, { udp: { srcPort: 7, dstPort: cport, payload } }));
      const out = only(reply.out.outside, 'UDP reply');
      assert.equal([out.ipv4!.src, out.ipv4!.dst, out.udp!.srcPort, out.udp!.dstPort], [VIP, CLIENT, 7, cport]);
      assert.ok(out.udp!.checksumOk);
      expectDrops(reply.d, {});
      // Port unreachable quoting the datagram the server got (CIP:cport -> RIP:7), on yet another worker.
      const quoted = inside.raw.subarray(14, 14 + 28);
      const icmp = frameFrom('inside', RIP, CLIENT, { icmp: { type: 3, code: 3, payload: quoted } });
      const error = sendOnQueue(lab, 'inside', (cport + 2) % WORKERS, icmp);
      const relayed = only(error.out.outside, 'ICMP error to the client');
      assert.equal([relayed.ipv4!.src, relayed.ipv4!.dst, relayed.icmp!.type], [VIP, CLIENT, 3]);
      expectDrops(error.d, {});
    }
  }, natConfig(), SEVERAL);
});

test('NAT IPv6, 3 workers: replies on every worker reach the connection\'s owner', async () => {
  await withLab((lab) => {
    for (let cport = 42000; cport < 42006; cport++) {
      const syn = sendOnQueue(lab, 'outside', cport % WORKERS, frameFrom6('outside', CLIENT6, VIP6, { tcp: { srcPort: cport, dstPort: 80, flags: 'S', seq: 1000 } }));
      const inside = only(syn.out.inside, 'SYN to the server');
      assert.equal([inside.ipv6!.src, inside.ipv6!.dst, inside.tcp!.srcPort], [CLIENT6, RIP6, cport]);
      for (let queue = 0; queue < WORKERS; queue++) {
        const reply = sendOnQueue(lab, 'inside', queue, frameFrom6('inside', RIP6, CLIENT6, { tcp: { srcPort: 80, dstPort: cport, flags: 'SA', seq: 7000, ack: 1001 } }));
        const out = only(reply.out.outside, `SYN-ACK from queue ${queue}`);
        assert.equal([out.ipv6!.src, out.ipv6!.dst, out.tcp!.srcPort, out.tcp!.dstPort], [VIP6, CLIENT6, 80, cport]);
        assert.ok(out.tcp!.checksumOk);
        expectDrops(reply.d, {});
      }
    }
    assert.is(allConnections(lab.dp).length, 6);
  }, natConfig6(), SEVERAL);
});

test('NAT IPv6, 3 workers: a UDP reply and the server\'s ICMPv6 port-unreachable on other workers reach the owner', async () => {
  await withLab((lab) => {
    const payload = Buffer.from('question6');
    for (let cport = 5400; cport < 5406; cport++) {
      const request = sendOnQueue(lab, 'outside', cport % WORKERS, frameFrom6('outside', CLIENT6, VIP6, { udp: { srcPort: cport, dstPort: 7, payload } }));
      const inside = only(request.out.inside, 'UDP to the server');
      assert.equal([inside.ipv6!.src, inside.ipv6!.dst, inside.udp!.srcPort], [CLIENT6, RIP6, cport]);
      const reply = sendOnQueue(lab, 'inside', (cport + 1) % WORKERS, frameFrom6('inside', RIP6, CLIENT6, { udp: { srcPort: 7, dstPort: cport, payload } }));
      const out = only(reply.out.outside, 'UDP reply');
      assert.equal([out.ipv6!.src, out.ipv6!.dst, out.udp!.srcPort, out.udp!.dstPort], [VIP6, CLIENT6, 7, cport]);
      expectDrops(reply.d, {});
      // Port unreachable (type 1 code 4) quoting what the server got (CIP6:cport -> RIP6:7), on the third worker.
      const quoted = Buffer.from(inside.raw.subarray(14));
      const icmp = frameFrom6('inside', RIP6, CLIENT6, { icmp6: { type: 1, code: 4, rest: 0, payload: quoted } });
      const error = sendOnQueue(lab, 'inside', (cport + 2) % WORKERS, icmp);
      const relayed = only(error.out.outside, 'ICMPv6 error to the client');
      assert.equal([relayed.ipv6!.src, relayed.ipv6!.dst, relayed.icmp6!.type], [VIP6, CLIENT6, 1]);
      expectDrops(error.d, {});
    }
  }, natConfig6(), SEVERAL);
});

/** The TCP service persistent for `timeout` s over /24 client networks (rr: a new template takes the next server). */
function persistentConfig(timeout: number): DataplaneConfig {
  return labConfig((c) => {
    const svc = c.services.find((s) => s.id === TCP_SERVICE_ID)!;
    svc.persistenceTimeout = timeout;
    svc.persistenceNetmask = '255.255.255.0';
  });
}

/** A SYN from client:cport on queue; the server it was sent to (or null), and the counters. */
function serverOn(lab: Lab, queue: number, client: string, cport: number): { server: string | null; d: CounterDelta } {
  const { out, d } = sendOnQueue(lab, 'outside', queue, clientTcp(cport, { flags: 'S', seq: 1000 }, VIP, 80, client));
  return { server: out.inside.length ? only(out.inside, `SYN from ${client}:${cport}`).ipv4!.dst : null, d };
}

test('persistence, 3 workers: one client network\'s connections arriving on every worker all get one server, one template', async () => {
  await withLab((lab) => {
    const servers = new Set<string | null>();
    const d = lab.counterDelta(() => {
      for (let i = 0; i < 18; i++) servers.add(serverOn(lab, i % WORKERS, `198.18.0.${1 + (i % 6)}`, 50000 + i).server);
    });
    assert.equal([...servers], [servers.values().next().value], `one server for the /24: ${[...servers].join(', ')}`);
    assert.ok(!servers.has(null));
    expectEvents(d, { persist_templates_created: 1, persist_template_hits: 17, conns_created: 18 });
    assert.ok((d.events.client_flows_handed_over ?? 0) >= 6, 'SYNs on the other workers were handed over');
    expectDrops(d, {});
    const templates = lab.stats().servers.reduce((n, s) => n + s.persistentConns, 0);
    assert.is(templates, 1, 'PersistConn: one template over all workers');
    // Another network gets its own template (on the worker it names) and sticks to its server on every worker.
    let other: (string | null)[] = [];
    const second = lab.counterDelta(() => { other = [0, 1, 2].map((queue) => serverOn(lab, queue, '198.18.1.7', 50100 + queue).server); });
    assert.equal(new Set(other).size, 1, `other network: ${other.join(', ')}`);
    expectEvents(second, { persist_templates_created: 1, persist_template_hits: 2 });
  }, persistentConfig(300), SEVERAL);
});

test('persistence, 3 workers: template expiry still works (rr decides again, on whichever worker the SYN lands)', async () => {
  // SYN-only connections live 60 s (SYN_RECV); a template 100 s from its last use.
  await withLab((lab) => {
    const first = serverOn(lab, 0, '198.18.0.1', 50200).server;
    assert.is(serverOn(lab, 1, '198.18.0.9', 50201).server, first, 'same /24, another worker: template hit');
    const elsewhere = serverOn(lab, 2, '198.18.5.9', 50202).server;  // another network: rr's next server
    assert.ok(elsewhere !== first);
    lab.advance(272);  // connections gone at 60, templates at 100 (and swept)
    assert.is(lab.stats().servers.reduce((n, s) => n + s.persistentConns, 0), 0, 'no template counted after expiry');
    const after = serverOn(lab, 1, '198.18.0.1', 50203);
    expectEvents(after.d, { persist_templates_created: 1 });
    assert.ok(after.server !== null && after.server !== first, `expired: rr continues (got ${after.server}, first ${first})`);
  }, persistentConfig(100), SEVERAL);
});

test('reassembly, 3 workers: a fragmented UDP reply rebuilt on a worker that does not own its lport is handed to the owner', async () => {
  await withLab((lab) => {
    const request = sendOnQueue(lab, 'outside', 0, bigUdp(10, 4200).frame);
    const first = only(request.out.inside, 'request to the server');
    const lport = first.udp!.srcPort;
    const reply = Buffer.from(Array.from({ length: 1400 }, (_, i) => i % 13));
    const fromServer = frameFrom('inside', first.ipv4!.dst, first.ipv4!.src, { udp: { srcPort: 7, dstPort: lport, payload: reply } });
    const wrong = (lport + 1) % WORKERS;
    const { out, d } = (() => {
      let o!: Record<'outside' | 'inside', DecodedFrame[]>;
      const delta = lab.counterDelta(() => {
        lab.sendOn('inside', wrong, ...fragmentFrame4(fromServer, [0, 720], 55));
        o = lab.resolveNeighbours();
      });
      return { out: o, d: delta };
    })();
    const f = only(out.outside, 'reply to the client');
    assert.equal([f.ipv4!.src, f.ipv4!.dst, f.udp!.srcPort, f.udp!.dstPort], [VIP, CLIENT, 7, 4200]);
    assert.ok(f.udp!.checksumOk && f.udp!.payload.equals(reply), 'rebuilt, rewritten, payload intact');
    expectDrops(d, {}, 'no no_conn on the worker that rebuilt it');
    expectEvents(d, { frag_reassembled: 1, reassembled_handed_over: 1, packets_forwarded_out: 1 });
    assert.ok((d.events.redirected_out ?? 0) >= 1);
  }, withDefense({ services: [{ serviceId: UDP_SERVICE_ID, fragments: REASSEMBLE }] }), SEVERAL);
});

test('reassembly IPv6, 3 workers: the owner sends a handed-over datagram on in pieces no bigger than it came in', async () => {
  await withLab((lab) => {
    const UDP6 = lab.stats().services.find((s) => s.id !== UDP_SERVICE_ID && s.id !== TCP_SERVICE_ID)?.id;
    assert.ok(UDP6 !== undefined);
    const request = sendOnQueue(lab, 'outside', 0, frameFrom6('outside', CLIENT6, VIP6, { udp: { srcPort: 4300, dstPort: 7, payload: Buffer.from('q') } }));
    const first = only(request.out.inside, 'request to the server');
    const lport = first.udp!.srcPort;
    const reply = Buffer.from(Array.from({ length: 800 }, (_, i) => i % 17));
    const fromServer = frameFrom6('inside', first.ipv6!.dst, first.ipv6!.src, { udp: { srcPort: 7, dstPort: lport, payload: reply } });
    let out!: Record<'outside' | 'inside', DecodedFrame[]>;
    const d = lab.counterDelta(() => {
      lab.sendOn('inside', (lport + 2) % WORKERS, ...fragmentFrame6(fromServer, [0, 400], 77));
      out = lab.resolveNeighbours();
    });
    expectDrops(d, {});
    expectEvents(d, { frag_reassembled: 1, reassembled_handed_over: 1 });
    assert.is(out.outside.length, 2, `two pieces, as it came: ${show(out.outside)}`);
    for (const piece of out.outside) assert.ok(piece.raw.length - 14 <= 40 + 8 + 408, `piece of ${piece.raw.length - 14} IP bytes`);
  }, config6({ fragments: REASSEMBLE }), SEVERAL);
});

test('fragment drops are counted per service (the service whose policy decided), global ones under no service', async () => {
  const config: DataplaneConfig = strictDnsBesideReassembly();
  await withLab((lab) => {
    const d = lab.counterDelta(() => {
      lab.forward('outside', ...fragmentFrame4(bigUdp(800).frame, [0, 400], 1));  // UDP to the VIP: service 3's drop wins
      lab.forward('outside', ...fragmentFrame4(clientTcp(5000, { flags: 'S', payload: Buffer.alloc(600) }), [0, 304], 2));  // TCP: the global drop
    });
    expectDrops(d, { frag_dropped: 4 });
    const defense = lab.stats().defense;
    const of = (id: number) => defense.find((s) => s.id === id)?.dropped.frag_dropped;
    assert.equal([of(DNS_SERVICE_ID), of(UDP_SERVICE_ID), of(TCP_SERVICE_ID), of(0)], [2, 0, 2, 0],
      'UDP fragments against service 3, TCP ones against the TCP service (its policy is the global one)');
  }, config);
});

test.run();
