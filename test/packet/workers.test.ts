// Several workers (test mode runs them all inside step(), worker w reading rx queue w):
// lports per worker residue class, replies that land on a worker that does not own their
// connection handed to the owner through the worker rings, ARP replies shared, and the
// per-worker state (counters, connection listing, timers, schedulers, snapshots) adding up.
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import type { DataplaneConfig, DataplaneService } from '../../src/dataplane/types.js';
import {
  CLIENT, CLIENT6, IPVS_TIMEOUTS, LIPS, LIPS6, OUTSIDE_ADDRESS, PORT_MAC, PORTS, SERVERS, SERVERS6, TCP_SERVICE_ID, VIP,
  VIP6, allConnections, arpReply, clientTcp, clientUdp, dualStackConfig, expectDrops, expectEvents, frameFrom, frameFrom6,
  labConfig, only, openTcp, seededRandom, serverTcp, show, withLab, type Flow, type Lab, type PortName,
} from '../support/golden.js';
import {
  ARP_OP, ETHERTYPE, ICMP6_TYPE, ICMP_TYPE, buildFrame, decodeFrame, hostMac, type DecodedFrame,
} from '../support/packet.js';
import { frameAccounting, noteInsideFrame, randomFrame, type SeenFlow } from '../support/random-frames.js';

const WORKERS = 3;
const SEVERAL = { workers: WORKERS };
const RANDOM_BATCHES = 200;  // x 128 frames

/** A client SYN received by worker `queue`; ARP answered (on queue 0); returns the flow it made. */
function synOn(lab: Lab, queue: number, cport: number): Flow {
  lab.sendOn('outside', queue, clientTcp(cport, { flags: 'S', seq: 1000, options: [{ kind: 'mss', value: 1460 }] }));
  const syn = only(lab.resolveNeighbours().inside, `SYN from ${CLIENT}:${cport} on queue ${queue}`);
  return { cport, lip: syn.ipv4!.src, lport: syn.tcp!.srcPort, server: syn.ipv4!.dst, sport: syn.tcp!.dstPort, clientIsn: 1000, serverIsn: 50000 };
}

function synAckOf(flow: Flow): Buffer {
  return serverTcp(flow.server, flow.sport, flow.lip, flow.lport,
    { flags: 'SA', seq: flow.serverIsn, ack: flow.clientIsn + 1, options: [{ kind: 'mss', value: 1460 }] });
}

function checkToClient(frame: DecodedFrame, cport: number): void {
  assert.equal(frame.eth, { dst: hostMac(CLIENT), src: PORT_MAC.outside, type: 0x0800 });
  assert.is(frame.ipv4!.src, VIP);
  assert.is(frame.ipv4!.dst, CLIENT);
  assert.ok(frame.ipv4!.checksumOk, 'IP checksum');
  const l4 = frame.tcp ?? frame.udp;
  assert.ok(l4, `TCP or UDP expected: ${show([frame])}`);
  assert.is(l4!.dstPort, cport);
  assert.ok(l4!.checksumOk, 'L4 checksum');
}

test('each worker hands out lports from its own residue class; counters and the listing cover every worker', async () => {
  await withLab((lab) => {
    const flows: Flow[] = [];
    for (let queue = 0; queue < WORKERS; queue++) {
      for (let i = 0; i < 4; i++) {
        const flow = synOn(lab, queue, 41000 + queue * 10 + i);
        assert.is(flow.lport % WORKERS, queue, `worker ${queue} gave lport ${flow.lport}`);
        flows.push(flow);
      }
    }
    const stats = lab.stats();
    expectEvents(stats, { conns_created: 12 });
    assert.is(stats.connections, 12);
    assert.is(stats.services.find((s) => s.id === TCP_SERVICE_ID)?.conns, 12, 'service counters summed over workers');
    assert.is(stats.servers.reduce((sum, s) => sum + s.conns, 0), 12, 'server counters summed over workers');
    assert.is(stats.workerVersions.length, WORKERS);
    const listed = allConnections(lab.dp);
    assert.equal(listed.map((c) => c.localPort).sort(), flows.map((f) => f.lport).sort(), 'connections listed from every worker');
    // Paging walks across workers too.
    const paged = allConnections(lab.dp, 5);
    assert.equal(paged.map((c) => c.localPort).sort(), flows.map((f) => f.lport).sort(), 'paged listing');
    assert.equal(stats.drops.no_conn, 0);
  }, labConfig(), SEVERAL);
});

test('a TCP reply received by a worker that does not own it is handed over and leaves translated', async () => {
  await withLab((lab) => {
    const flow = synOn(lab, 0, 42000);
    assert.is(flow.lport % WORKERS, 0);
    let out = lab.resolveNeighbours();
    const first = lab.counterDelta(() => {
      lab.sendOn('inside', 1, synAckOf(flow));
      out = lab.resolveNeighbours();
    });
    const synAck = only(out.outside, 'SYN-ACK to the client');
    checkToClient(synAck, flow.cport);
    assert.is(synAck.tcp!.flagNames, 'SA');
    assert.is(synAck.tcp!.srcPort, 80);
    assert.is(out.inside.length, 0, `nothing else inside: ${show(out.inside)}`);
    expectDrops(first, {}, 'nothing dropped');
    // The reply went 1 -> 0; worker 0 then ARPed for the client and shared the answer with 1 and 2.
    expectEvents(first, { packets_forwarded_out: 1 });
    expectEvents(first, { arp_replies_shared: WORKERS - 1 });
    expectEvents(first, { redirected_out: 1 + (WORKERS - 1) });
    expectEvents(first, { redirected_in: first.events.redirected_out });

    // The client's ACK on its own queue, then data from the server on worker 2's queue.
    lab.sendOn('outside', 0, clientTcp(flow.cport, { flags: 'A', seq: 1001, ack: 50001 }));
    only(lab.resolveNeighbours().inside, 'ACK inside');
    const data = Buffer.from('hello from the server');
    const second = lab.counterDelta(() => {
      lab.sendOn('inside', 2, serverTcp(flow.server, flow.sport, flow.lip, flow.lport, { flags: 'PA', seq: 50001, ack: 1001, payload: data }));
      out = lab.resolveNeighbours();
    });
    const segment = only(out.outside, 'data to the client');
    checkToClient(segment, flow.cport);
    assert.is(segment.tcp!.payload.toString(), data.toString());
    expectDrops(second, {});
    assert.equal([second.events.redirected_out, second.events.redirected_in, second.events.packets_forwarded_out], [1, 1, 1]);

    // On its owner's own queue nothing is handed over.
    const own = lab.counterDelta(() => {
      lab.sendOn('inside', 0, serverTcp(flow.server, flow.sport, flow.lip, flow.lport, { flags: 'A', seq: 50001 + data.length, ack: 1001 }));
      out = lab.resolveNeighbours();
    });
    only(out.outside, 'ACK to the client');
    assert.is(own.events.redirected_out, undefined, 'no hand-off for a reply on its owner');
    expectDrops(own, {});
  }, labConfig(), SEVERAL);
});

test('a UDP reply on the wrong worker is handed over; an ICMP error quoting an lport too', async () => {
  await withLab((lab) => {
    lab.sendOn('outside', 2, clientUdp(43000, Buffer.from('ping')));
    const sent = only(lab.resolveNeighbours().inside, 'UDP inside');
    const lport = sent.udp!.srcPort;
    assert.is(lport % WORKERS, 2);
    const reply = frameFrom('inside', sent.ipv4!.dst, sent.ipv4!.src, { udp: { srcPort: 7, dstPort: lport, payload: Buffer.from('pong') } });
    let out = lab.resolveNeighbours();
    const d = lab.counterDelta(() => {
      lab.sendOn('inside', 0, reply);
      out = lab.resolveNeighbours();
    });
    const back = only(out.outside, 'UDP reply to the client');
    checkToClient(back, 43000);
    assert.is(back.udp!.srcPort, 7);
    assert.is(back.udp!.payload.toString(), 'pong');
    expectDrops(d, {});
    assert.ok((d.events.redirected_in ?? 0) >= 1 && d.events.redirected_in === d.events.redirected_out, JSON.stringify(d.events));

    // The server's host says port unreachable about our LIP:lport -> RIP:7 datagram, to worker 1.
    const quoted = sent.raw.subarray(14, 14 + 20 + 8);
    const icmp = frameFrom('inside', sent.ipv4!.dst, sent.ipv4!.src,
      { icmp: { type: ICMP_TYPE.DEST_UNREACH, code: 3, payload: quoted } });
    const e = lab.counterDelta(() => {
      lab.sendOn('inside', 1, icmp);
      out = lab.resolveNeighbours();
    });
    const relayed = only(out.outside, 'ICMP error to the client');
    assert.is(relayed.ipv4!.dst, CLIENT);
    assert.is(relayed.icmp!.type, ICMP_TYPE.DEST_UNREACH);
    expectDrops(e, {});
    assert.equal([e.events.redirected_out, e.events.redirected_in, e.events.icmp_errors_to_client], [1, 1, 1]);
  }, labConfig(), SEVERAL);
});

test('SYNPROXY: the final ACK may reach another worker than the SYN; the server SYN-ACK is handed to its owner', async () => {
  const synproxy = labConfig((c) => { c.services[0]!.synproxy = true; });
  await withLab((lab) => {
    lab.sendOn('outside', 0, clientTcp(47500, { flags: 'S', seq: 7000, options: [{ kind: 'mss', value: 1460 }] }));
    const cookie = only(lab.resolveNeighbours().outside, 'cookie SYN-ACK').tcp!.seq;
    // Cookie keys are process-wide, so worker 2 validates what worker 0 issued and owns the connection.
    lab.sendOn('outside', 2, clientTcp(47500, { flags: 'PA', seq: 7001, ack: (cookie + 1) >>> 0, payload: Buffer.from('GET /') }));
    const syn = only(lab.resolveNeighbours().inside, 'backend SYN');
    assert.is(syn.tcp!.srcPort % WORKERS, 2, 'the worker that accepted the cookie owns the connection');
    let out = lab.resolveNeighbours();
    const d = lab.counterDelta(() => {
      lab.sendOn('inside', 0, serverTcp(syn.ipv4!.dst, 80, syn.ipv4!.src, syn.tcp!.srcPort,
        { flags: 'SA', seq: 90000, ack: 7001, options: [{ kind: 'mss', value: 1460 }] }));
      out = lab.resolveNeighbours();
    });
    assert.ok(out.inside.some((f) => f.tcp?.payload.toString() === 'GET /'), `held data released to the server: ${show(out.inside)}`);
    expectEvents(d, { synproxy_server_handshakes: 1 });
    assert.equal([d.events.redirected_out, d.events.redirected_in], [1, 1]);
    expectDrops(d, {});
  }, synproxy, SEVERAL);
});

test('an ARP reply received by one worker teaches every worker', async () => {
  const oneServer = labConfig((c) => { c.services[0]!.servers = c.services[0]!.servers.slice(0, 1); });
  await withLab((lab) => {
    synOn(lab, 0, 44000);
    assert.is(lab.arpRequests.length, 1, 'worker 0 ARPed for the server');
    // Workers 1 and 2 got a copy of the answer, so their first SYNs go out without ARP.
    for (const queue of [1, 2]) {
      const d = lab.counterDelta(() => { lab.sendOn('outside', queue, clientTcp(44000 + queue, { flags: 'S', seq: 1 })); });
      assert.is(d.events.arp_requests_sent, undefined, `worker ${queue} did not ARP`);
      const syn = only(lab.recv('inside'), `SYN from worker ${queue}`);
      assert.is(syn.ipv4!.dst, SERVERS[0]);
      assert.is(syn.tcp!.srcPort % WORKERS, queue);
    }
  }, oneServer, SEVERAL);
});

test('timers expire connections on every worker', async () => {
  await withLab((lab) => {
    for (let queue = 0; queue < WORKERS; queue++) for (let i = 0; i < 2; i++) synOn(lab, queue, 45000 + queue * 10 + i);
    assert.is(lab.stats().connections, 6);
    const d = lab.counterDelta(() => lab.advance(61));  // SYN_RECV lasts 60 s
    expectEvents(d, { conns_expired: 6 });
    assert.is(lab.stats().connections, 0);
    assert.equal(allConnections(lab.dp), []);
  }, labConfig(), SEVERAL);
});

test('wrr keeps its proportions over several workers (each worker runs its own sequence)', async () => {
  const weights = [3, 2, 1];
  const weighted = labConfig((c) => {
    c.services[0]!.scheduler = 'wrr';
    c.services[0]!.servers.forEach((s, i) => { s.weight = weights[i]!; });
  });
  await withLab((lab) => {
    const perWorker = 20;
    const counts = new Map<string, number>();
    for (let queue = 0; queue < WORKERS; queue++) {
      for (let i = 0; i < perWorker; i++) {
        const flow = synOn(lab, queue, 46000 + queue * 100 + i);
        counts.set(flow.server, (counts.get(flow.server) ?? 0) + 1);
      }
    }
    const total = perWorker * WORKERS;
    const weightSum = weights.reduce((a, b) => a + b, 0);
    SERVERS.forEach((server, i) => {
      const expected = (total * weights[i]!) / weightSum;
      const got = counts.get(server) ?? 0;
      // Documented bound (docs/architecture.md, "Several workers"): within one wrr cycle's share per worker.
      assert.ok(Math.abs(got - expected) <= WORKERS, `${server}: ${got} connections, expected ${expected} ± ${WORKERS}`);
    });
  }, weighted, SEVERAL);
});

test('lc counts the connections of every worker', async () => {
  const leastConnections = labConfig((c) => { c.services[0]!.scheduler = 'lc'; });
  await withLab((lab) => {
    // One new connection per worker: each sees the others' connections, so all three servers get one.
    const servers = [0, 1, 2].map((queue) => synOn(lab, queue, 46500 + queue).server);
    assert.equal([...servers].sort(), [...SERVERS].sort(), `servers chosen: ${servers.join(', ')}`);
  }, leastConnections, SEVERAL);
});

test('a snapshot apply reaches every worker', async () => {
  await withLab((lab) => {
    const version = lab.apply(labConfig((c) => { c.services[0]!.servers = c.services[0]!.servers.slice(0, 2); }));
    lab.dp.step();
    assert.equal(lab.stats().workerVersions, Array(WORKERS).fill(version));
    // And every worker schedules with it: no connection to the removed server.
    for (let queue = 0; queue < WORKERS; queue++) {
      for (let i = 0; i < 3; i++) {
        const flow = synOn(lab, queue, 47000 + queue * 10 + i);
        assert.ok(flow.server !== SERVERS[2], `worker ${queue} used the removed server`);
      }
    }
  }, labConfig(), SEVERAL);
});

test('a NAT server is accepted with several workers (test/packet/workers-client-owner.test.ts); fullnat beside it stays', async () => {
  await withLab((lab) => {
    const version = lab.apply(labConfig((c) => { c.services[0]!.servers[1]!.forward = 'nat'; }));
    assert.is(lab.stats().snapshotVersion, version, 'the config with a NAT server is live');
    assert.ok(openTcp(lab, 49400).server, 'connections keep working');
  }, labConfig(), SEVERAL);
});

/** A NAT server beside the FullNAT ones, both services persistent, every fragment reassembled: the client-owner rule everywhere. */
const clientOwnedConfig = labConfig((c) => {
  c.services[0]!.servers[1]!.forward = 'nat';
  for (const service of c.services) { service.persistenceTimeout = 60; service.persistenceNetmask = '255.255.255.0'; }
  c.defense = { fragments: { policy: 'reassemble' } };
});

for (const [name, config] of [['FullNAT', labConfig()], ['NAT, persistence and reassembly', clientOwnedConfig]] as const) {
test(`random frames on random workers' queues (${name}): every frame accounted for, no mbuf left in a ring`, async () => {
  await withLab((lab) => {
    const flow = openTcp(lab, 49500);
    const baseline = lab.stats().mbufsInUse;
    const rnd = seededRandom(0x5eed);
    const seen: SeenFlow[] = [{ lip: flow.lip, lport: flow.lport, server: flow.server, sport: flow.sport }];
    for (let batch = 0; batch < RANDOM_BATCHES; batch++) {
      const perQueue = new Map<string, { port: PortName; queue: number; frames: Buffer[] }>();
      for (let i = 0; i < 128; i++) {
        const { port, frame } = randomFrame(rnd, seen);
        const queue = Math.floor(rnd() * WORKERS);
        const key = `${port}/${queue}`;
        if (!perQueue.has(key)) perQueue.set(key, { port, queue, frames: [] });
        perQueue.get(key)!.frames.push(frame);
      }
      for (const { port, queue, frames } of perQueue.values()) assert.is(lab.dp.inject(port, frames, queue), frames.length);
      lab.dp.step();
      for (const port of PORTS) {
        const replies: Buffer[] = [];
        for (const bytes of lab.dp.capture(port)) {
          const b = Buffer.from(bytes);
          if (port === 'inside') noteInsideFrame(b, seen);
          if (b.length >= 22 && b.readUInt16BE(12) === ETHERTYPE.ARP && b.readUInt16BE(20) === ARP_OP.REQUEST) replies.push(arpReply(decodeFrame(b), port));
        }
        if (replies.length) lab.dp.inject(port, replies, Math.floor(rnd() * WORKERS));
      }
      if (batch % 32 === 0) lab.dp.advanceClock(Math.floor(rnd() * 2000));
    }
    for (let s = 0; s < 20; s++) {  // let ARP resolution give up on whatever is still held
      lab.dp.advanceClock(500);
      lab.dp.step();
      lab.dp.capture('outside');
      lab.dp.capture('inside');
    }
    const stats = lab.stats();
    const { arrived, accounted } = frameAccounting(stats);
    assert.is(accounted, arrived, `arrived (rx + generated ARP + ARP copies) vs accounted; drops ${JSON.stringify(stats.drops)}`);
    expectEvents(stats, { redirected_in: stats.events.redirected_out }, 'every hand-off taken');
    assert.ok(stats.events.redirected_out > 0, 'some frames were handed over');
    if (config === clientOwnedConfig) assert.ok(stats.events.client_flows_handed_over > 0, 'client packets were handed to their owner');
    assert.is(stats.mbufsInUse, baseline, 'mbufs in use after the storm vs before');
  }, config, SEVERAL);
});
}

test('a hand-off ring that overflows drops as redirect_ring_full, and nothing leaks', async () => {
  await withLab((lab) => {
    const flow = synOn(lab, 0, 49700);
    lab.sendOn('inside', 0, synAckOf(flow));
    lab.resolveNeighbours();
    const baseline = lab.stats().mbufsInUse;
    // Worker 1 gets 1500 replies owned by worker 0 on one port and 1500 ARP replies on the other:
    // per sweep it hands worker 0 up to 64 frames (32 replies + 32 ARP copies) while worker 0 takes
    // 32 from each ring, so the 1 -> 0 ring (1024 slots) fills up.
    const replies = Array.from({ length: 1500 }, (_, i) => serverTcp(flow.server, flow.sport, flow.lip, flow.lport,
      { flags: 'A', seq: 50001 + i, ack: 1001 }));
    const arps = Array.from({ length: 1500 }, () => buildFrame({
      eth: { dst: PORT_MAC.outside, src: hostMac(CLIENT) },
      arp: { op: ARP_OP.REPLY, senderMac: hostMac(CLIENT), senderIp: CLIENT, targetMac: PORT_MAC.outside, targetIp: OUTSIDE_ADDRESS },
    }));
    assert.is(lab.dp.inject('inside', replies, 1), replies.length);
    assert.is(lab.dp.inject('outside', arps, 1), arps.length);
    const delta = lab.counterDelta(() => {
      lab.dp.step();
      lab.dp.capture('outside');
      lab.dp.capture('inside');
    });
    const after = lab.stats();
    const shared = delta.events.arp_replies_shared ?? 0;
    const out = delta.events.redirected_out ?? 0;
    expectDrops(delta, { redirect_ring_full: 1500 + shared - out }, 'every reply and ARP copy either entered a ring or was dropped for a full one');
    expectEvents(after, { redirected_in: after.events.redirected_out }, 'everything in the rings was taken');
    const { arrived, accounted } = frameAccounting(after);
    assert.is(accounted, arrived, `every frame accounted for; drops ${JSON.stringify(after.drops)}`);
    assert.is(after.mbufsInUse, baseline, 'no mbuf left behind');
  }, labConfig(), SEVERAL);
});

test('inject names the queue: one per worker, EINVAL beyond', async () => {
  await withLab((lab) => {
    assert.throws(() => lab.dp.inject('outside', [clientTcp(48000, { flags: 'S' })], WORKERS), (e: Error & { code?: string }) =>
      e.code === 'EINVAL' && /queue: expected 0\.\.2/.test(e.message));
  }, labConfig(), SEVERAL);
});

// ---------------------------------------------------------------- IPv6 LIPs

/** The lab's dual-stack ports with IPv6 services beside the IPv4 ones: TCP :80 and UDP :7. */
function ipv6Config(edit?: (config: DataplaneConfig) => void): DataplaneConfig {
  const service = (id: number, protocol: 'tcp' | 'udp', port: number, firstServerId: number): DataplaneService => ({
    id, protocol, vip: VIP6, port, scheduler: 'rr', localAddresses: [...LIPS6], timeouts: { ...IPVS_TIMEOUTS },
    servers: SERVERS6.map((address, i) => ({ id: firstServerId + i, address, port, weight: 1 })),
  });
  return dualStackConfig((c) => {
    c.services.push(service(61, 'tcp', 80, 61), service(62, 'udp', 7, 71));
    edit?.(c);
  });
}

const client6Tcp = (cport: number, tcp: Parameters<typeof clientTcp>[1]) =>
  frameFrom6('outside', CLIENT6, VIP6, { tcp: { srcPort: cport, dstPort: 80, ...tcp } });

/**
 * A client SYN to the IPv6 VIP received by worker `queue`. The server's NA is answered on
 * queue 0 (resolveNeighbours), so every worker but 0 learns the server from a shared copy.
 */
function syn6On(lab: Lab, queue: number, cport: number): Flow {
  lab.sendOn('outside', queue, client6Tcp(cport, { flags: 'S', seq: 1000, options: [{ kind: 'mss', value: 1460 }] }));
  const syn = only(lab.resolveNeighbours().inside, `IPv6 SYN from [${CLIENT6}]:${cport} on queue ${queue}`);
  return { cport, lip: syn.ipv6!.src, lport: syn.tcp!.srcPort, server: syn.ipv6!.dst, sport: syn.tcp!.dstPort, clientIsn: 1000, serverIsn: 50000 };
}

const server6Tcp = (flow: Flow, tcp: Parameters<typeof serverTcp>[4]) =>
  frameFrom6('inside', flow.server, flow.lip, { tcp: { srcPort: flow.sport, dstPort: flow.lport, ...tcp } });

function checkToClient6(frame: DecodedFrame, cport: number): void {
  assert.equal(frame.eth, { dst: hostMac(CLIENT6), src: PORT_MAC.outside, type: 0x86dd });
  assert.equal([frame.ipv6!.src, frame.ipv6!.dst], [VIP6, CLIENT6]);
  const l4 = frame.tcp ?? frame.udp;
  assert.ok(l4, `TCP or UDP expected: ${show([frame])}`);
  assert.is(l4!.dstPort, cport);
  assert.ok(l4!.checksumOk, 'L4 checksum over the IPv6 pseudo-header');
}

test('IPv6: each worker hands out lports from its own residue class; a neighbour advertisement teaches every worker', async () => {
  await withLab((lab) => {
    for (let queue = 0; queue < WORKERS; queue++) {
      const d = lab.counterDelta(() => {
        const flow = syn6On(lab, queue, 41600 + queue);
        assert.ok(LIPS6.includes(flow.lip), `LIP ${flow.lip}`);
        assert.is(flow.lport % WORKERS, queue, `worker ${queue} gave lport ${flow.lport}`);
      });
      expectDrops(d, {}, `queue ${queue}`);
      if (queue === 0) {
        // Worker 0 solicited the server and got the NA itself; workers 1 and 2 got copies.
        expectEvents(d, { nd_solicitations_sent: 1, nd_advertisements_shared: WORKERS - 1 });
      } else {
        // The shared copy taught worker `queue` already: its SYN left without a solicitation.
        assert.equal([d.events.nd_solicitations_sent, d.events.nd_advertisements_shared], [undefined, undefined], `queue ${queue}`);
      }
    }
    expectEvents(lab.stats(), { conns_created: WORKERS });
  }, ipv6Config((c) => { c.services.find((s) => s.id === 61)!.servers.splice(1); }), SEVERAL);
});

test('IPv6: a TCP reply to a LIP received by a worker that does not own it is handed over and leaves translated', async () => {
  await withLab((lab) => {
    const flow = syn6On(lab, 0, 42600);
    assert.is(flow.lport % WORKERS, 0);
    let out = lab.resolveNeighbours();
    const first = lab.counterDelta(() => {
      lab.sendOn('inside', 1, server6Tcp(flow, { flags: 'SA', seq: flow.serverIsn, ack: flow.clientIsn + 1, options: [{ kind: 'mss', value: 1460 }] }));
      out = lab.resolveNeighbours();
    });
    const synAck = only(out.outside, 'SYN-ACK to the client');
    checkToClient6(synAck, flow.cport);
    assert.is(synAck.tcp!.flagNames, 'SA');
    assert.is(synAck.tcp!.srcPort, 80);
    expectDrops(first, {}, 'nothing dropped');
    // 1 -> 0 for the reply; worker 0 then solicited the client and shared the NA with 1 and 2.
    expectEvents(first, { packets_forwarded_out: 1, nd_advertisements_shared: WORKERS - 1, redirected_out: 1 + (WORKERS - 1) });
    expectEvents(first, { redirected_in: first.events.redirected_out });

    lab.sendOn('outside', 0, client6Tcp(flow.cport, { flags: 'A', seq: 1001, ack: 50001 }));
    only(lab.resolveNeighbours().inside, 'ACK inside');
    const data = Buffer.from('hello over IPv6 from the server');
    const second = lab.counterDelta(() => {
      lab.sendOn('inside', 2, server6Tcp(flow, { flags: 'PA', seq: 50001, ack: 1001, payload: data }));
      out = lab.resolveNeighbours();
    });
    const segment = only(out.outside, 'data to the client');
    checkToClient6(segment, flow.cport);
    assert.is(segment.tcp!.payload.toString(), data.toString());
    expectDrops(second, {});
    assert.equal([second.events.redirected_out, second.events.redirected_in, second.events.packets_forwarded_out], [1, 1, 1]);

    const own = lab.counterDelta(() => {
      lab.sendOn('inside', 0, server6Tcp(flow, { flags: 'A', seq: 50001 + data.length, ack: 1001 }));
      out = lab.resolveNeighbours();
    });
    only(out.outside, 'ACK to the client');
    assert.is(own.events.redirected_out, undefined, 'no hand-off for a reply on its owner');
    expectDrops(own, {});
  }, ipv6Config(), SEVERAL);
});

test('IPv6: a UDP reply to a LIP on the wrong worker is handed over; an ICMPv6 error quoting an lport too', async () => {
  await withLab((lab) => {
    lab.sendOn('outside', 2, frameFrom6('outside', CLIENT6, VIP6, { udp: { srcPort: 43600, dstPort: 7, payload: Buffer.from('ping6') } }));
    const sent = only(lab.resolveNeighbours().inside, 'UDP inside');
    const lport = sent.udp!.srcPort;
    assert.is(lport % WORKERS, 2);
    let out = lab.resolveNeighbours();
    const d = lab.counterDelta(() => {
      lab.sendOn('inside', 0, frameFrom6('inside', sent.ipv6!.dst, sent.ipv6!.src, { udp: { srcPort: 7, dstPort: lport, payload: Buffer.from('pong6') } }));
      out = lab.resolveNeighbours();
    });
    const back = only(out.outside, 'UDP reply to the client');
    checkToClient6(back, 43600);
    assert.is(back.udp!.payload.toString(), 'pong6');
    expectDrops(d, {});
    assert.ok((d.events.redirected_in ?? 0) >= 1 && d.events.redirected_in === d.events.redirected_out, JSON.stringify(d.events));

    // The server says port unreachable about our LIP:lport -> RIP:7 datagram, to worker 1.
    const icmp = frameFrom6('inside', sent.ipv6!.dst, sent.ipv6!.src,
      { icmp6: { type: ICMP6_TYPE.DEST_UNREACH, code: 4, rest: 0, payload: sent.raw.subarray(14) } });
    const e = lab.counterDelta(() => {
      lab.sendOn('inside', 1, icmp);
      out = lab.resolveNeighbours();
    });
    const relayed = only(out.outside, 'ICMPv6 error to the client');
    assert.is(relayed.ipv6!.dst, CLIENT6);
    assert.is(relayed.icmp6!.type, ICMP6_TYPE.DEST_UNREACH);
    expectDrops(e, {});
    assert.equal([e.events.redirected_out, e.events.redirected_in, e.events.icmp_errors_to_client], [1, 1, 1]);
  }, ipv6Config(), SEVERAL);
});

test('ring ports report no rte_flow steering for either family: the worker rings carry IPv4 and IPv6 replies', async () => {
  await withLab((lab) => {
    assert.equal(lab.dp.ports().map((p) => [p.name, p.queues, p.flowSteering, p.flowSteering6]),
      [['outside', WORKERS, false, false], ['inside', WORKERS, false, false]]);
  }, ipv6Config(), SEVERAL);
});

test('one worker: nothing is handed over and no owner is computed', async () => {
  await withLab((lab) => {
    const d = lab.counterDelta(() => {
      const flow = synOn(lab, 0, 49000);
      lab.send('inside', synAckOf(flow));
      only(lab.resolveNeighbours().outside, 'SYN-ACK');
    });
    assert.is(d.events.redirected_out, undefined);
    assert.is(d.events.redirected_in, undefined);
    assert.is(d.events.arp_replies_shared, undefined);
    assert.ok(LIPS.length > 0);
  });
});

test.run();
