// NAT session logging in the data plane (pipeline/conn/session_log.h): a creation record when a
// connection is made and an end record when it ends, with its four endpoints, its packets and
// bytes per direction and its times, taken by sessionLogDrain() and decoded as the exporter does
// (src/session-log/records.ts); a full ring loses records and counts them.
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import {
  CLIENT, CLIENT6, IPVS_TIMEOUTS, LIPS6, SERVERS6, VIP6, dualStackConfig, frameFrom6, LIPS, SERVERS, TCP_SERVICE_ID, TCP_SERVER_IDS, UDP_SERVICE_ID, VIP, clientSegment, clientTcp, clientUdp,
  expectEvents, frameFrom, labConfig, only, openTcp, serverSegment, withLab, type Lab,
} from '../support/golden.js';
import { decodeSessionRecords, type SessionRecord } from '../../src/session-log/records.js';
import type { DataplaneConfig } from '../../src/dataplane/types.js';

function logged(config: DataplaneConfig = labConfig()): DataplaneConfig {
  return { ...config, sessionLog: true };
}

function drain(lab: Lab): { records: SessionRecord[]; nowUs: number } {
  const { records, nowUs } = lab.dp.sessionLogDrain();
  return { records: decodeSessionRecords(records), nowUs };
}

/** L3 bytes of a frame (what the data plane counts: the IP total length as received). */
const l3 = (frame: Buffer): number => frame.length - 14;

test('a TCP connection: its creation record, then at its end one record with both directions\' packets and bytes', async () => {
  await withLab((lab) => {
    const created = lab.counterDelta(() => { openTcp(lab, 40001); });
    expectEvents(created, { conns_created: 1, session_events_queued: 1 });
    const first = drain(lab);
    assert.is(first.records.length, 1);
    const c = first.records[0]!;
    const flow = { lip: c.local.text, lport: c.localPort, server: c.server.text, sport: c.serverPort };
    assert.equal({ kind: c.kind, protocol: c.protocol, client: c.client.text, clientPort: c.clientPort, vip: c.vip.text, vipPort: c.vipPort,
      method: c.method, serviceId: c.serviceId, state: c.state, packets: c.packetsIn + c.packetsOut },
    { kind: 'create', protocol: 6, client: CLIENT, clientPort: 40001, vip: VIP, vipPort: 80, method: 'fullnat', serviceId: TCP_SERVICE_ID,
      state: 'NONE', packets: 0 });
    assert.ok(LIPS.includes(flow.lip) && SERVERS.includes(flow.server) && flow.sport === 80, `LIP ${flow.lip}, server ${flow.server}`);
    assert.ok(TCP_SERVER_IDS.includes(c.serverId));
    assert.is(c.startUs, c.timeUs, 'a creation starts when it is made');
    assert.ok(c.timeUs <= first.nowUs, 'records are on the clock the drain reports');
    assert.is(drain(lab).records.length, 0, 'a record is drained once');

    // openTcp sent SYN (with MSS), ACK from the client and a SYN-ACK from the server; now data both ways, then a RST.
    const handshakeIn = [clientTcp(40001, { flags: 'S', seq: 1000, options: [{ kind: 'mss', value: 1460 }] }), clientTcp(40001, { flags: 'A', seq: 1001, ack: 50001 })];
    const fullFlow = { cport: 40001, lip: flow.lip, lport: flow.lport, server: flow.server, sport: flow.sport, clientIsn: 1000, serverIsn: 50000 };
    const request = clientSegment(fullFlow, { flags: 'PA', payload: Buffer.from('GET / HTTP/1.0\r\n\r\n') });
    const answer = serverSegment(fullFlow, { flags: 'PA', payload: Buffer.alloc(700, 0x61) });
    const reset = clientSegment(fullFlow, { flags: 'R', seq: 1001 + 18 });
    only(lab.forward('outside', request).inside, 'request');
    only(lab.forward('inside', answer).outside, 'answer');
    only(lab.forward('outside', reset).inside, 'reset');
    assert.is(drain(lab).records.length, 0, 'nothing while it lives');
    const ended = lab.counterDelta(() => lab.advance(IPVS_TIMEOUTS.tcpClose + 1));
    expectEvents(ended, { conns_expired: 1, session_events_queued: 1 });
    const [e] = drain(lab).records;
    assert.ok(e, 'an end record');
    assert.equal({ kind: e!.kind, cause: e!.cause, state: e!.state, client: e!.client.text, clientPort: e!.clientPort, local: e!.local.text,
      localPort: e!.localPort, server: e!.server.text, startUs: e!.startUs },
    { kind: 'end', cause: 'expired', state: 'CLOSE', client: CLIENT, clientPort: 40001, local: flow.lip, localPort: flow.lport,
      server: flow.server, startUs: c.startUs });
    assert.is(e!.packetsIn, 4, 'SYN, ACK, request, RST');
    assert.is(e!.packetsOut, 2, 'SYN-ACK, answer');
    const synAckBytes = 20 + 20 + 4;  // IPv4 + TCP with the MSS option
    assert.is(e!.bytesIn, l3(handshakeIn[0]!) + l3(handshakeIn[1]!) + l3(request) + l3(reset));
    assert.is(e!.bytesOut, synAckBytes + l3(answer));
    assert.ok(e!.timeUs - c.timeUs >= IPVS_TIMEOUTS.tcpClose * 1e6, 'ends after its CLOSE timeout');
  }, logged());
});

test('one-packet UDP: the server\'s reply ends the connection (cause answered), once: the wheel adds no second end', async () => {
  const config = logged(labConfig((c) => { c.services[1]!.onePacket = true; }));
  await withLab((lab) => {
    const datagram = clientUdp(5353, Buffer.from('question'));
    const out = only(lab.forward('outside', datagram).inside, 'datagram');
    const reply = frameFrom('inside', out.ipv4!.dst, out.ipv4!.src, { udp: { srcPort: 7, dstPort: out.udp!.srcPort, payload: Buffer.from('answer!') } });
    const d = lab.counterDelta(() => { only(lab.forward('inside', reply).outside, 'reply'); });
    expectEvents(d, { session_events_queued: 1 });
    const records = drain(lab).records;
    assert.equal(records.map((r) => `${r.kind}/${r.cause ?? ''}/${r.packetsIn}/${r.packetsOut}`), ['create//0/0', 'end/answered/1/1']);
    assert.is(records[1]!.serviceId, UDP_SERVICE_ID);
    assert.is(records[1]!.bytesIn, l3(datagram));
    assert.is(records[1]!.bytesOut, l3(reply));
    const later = lab.counterDelta(() => lab.advance(IPVS_TIMEOUTS.udpOnePacket + 1));
    assert.is(later.events.session_events_queued ?? 0, 0, 'the record leaving the wheel is no second end');
    assert.is(drain(lab).records.length, 0);
  }, config);
});

test('a UDP connection that idles out ends with state UDP and its counts', async () => {
  await withLab((lab) => {
    const first = clientUdp(6000, Buffer.from('one'));
    const second = clientUdp(6000, Buffer.from('second datagram'));
    only(lab.forward('outside', first).inside, 'first');
    only(lab.forward('outside', second).inside, 'second');
    lab.advance(IPVS_TIMEOUTS.udp + 1);
    const records = drain(lab).records;
    assert.equal(records.map((r) => `${r.kind}/${r.state}/${r.packetsIn}/${r.bytesIn}/${r.packetsOut}`),
      ['create/UDP/0/0/0', `end/UDP/2/${l3(first) + l3(second)}/0`]);
  }, logged());
});

test('IPv6 FullNAT: the records carry the IPv6 endpoints (RFC 5952 text) and the datagram\'s bytes', async () => {
  const config = logged(dualStackConfig((c) => {
    c.services.push({
      id: 62, protocol: 'udp', vip: VIP6, port: 7, scheduler: 'rr', localAddresses: [...LIPS6], timeouts: { ...IPVS_TIMEOUTS },
      servers: SERVERS6.map((address, i) => ({ id: 71 + i, address, port: 7, weight: 1 })),
    });
  }));
  await withLab((lab) => {
    const datagram = frameFrom6('outside', CLIENT6, VIP6, { udp: { srcPort: 5000, dstPort: 7, payload: Buffer.from('six') } });
    const out = only(lab.forward('outside', datagram).inside, 'datagram');
    lab.advance(IPVS_TIMEOUTS.udp + 1);
    const records = drain(lab).records;
    assert.equal(records.map((r) => [r.kind, r.client.text, r.clientPort, r.vip.text, r.local.text, r.localPort, r.server.text, r.bytesIn]), [
      ['create', CLIENT6, 5000, VIP6, out.ipv6!.src, out.udp!.srcPort, out.ipv6!.dst, 0],
      ['end', CLIENT6, 5000, VIP6, out.ipv6!.src, out.udp!.srcPort, out.ipv6!.dst, l3(datagram)],
    ]);
    assert.is(records[0]!.client.bytes.length, 16);
    assert.not.ok(records[0]!.nat64);
  }, config);
});

test('two workers: each queues its own connections\' records, one drain takes both rings', async () => {
  await withLab((lab) => {
    const d = lab.counterDelta(() => {
      lab.sendOn('outside', 0, clientUdp(7001, Buffer.from('w0')));
      lab.sendOn('outside', 1, clientUdp(7002, Buffer.from('w1')));
      lab.resolveNeighbours();
    });
    expectEvents(d, { conns_created: 2, session_events_queued: 2 });
    const records = drain(lab).records;
    assert.equal(records.map((r) => `${r.kind}:${r.clientPort}`).sort(), ['create:7001', 'create:7002']);
  }, logged(), { workers: 2 });
});

test('off (the default): no record, no counting; switched on later, a connection alive then ends with its start unknown', async () => {
  await withLab((lab) => {
    const before = lab.counterDelta(() => { openTcp(lab, 40002); });
    assert.is(before.events.session_events_queued ?? 0, 0);
    assert.is(lab.dp.sessionLogDrain().records.length, 0);
    lab.apply(logged());
    lab.dp.step();
    only(lab.forward('outside', clientTcp(40002, { flags: 'R', seq: 1001, ack: 50001 })).inside, 'reset');
    lab.advance(IPVS_TIMEOUTS.tcpClose + 1);
    const [e, ...rest] = drain(lab).records;
    assert.is(rest.length, 0);
    assert.is(e!.kind, 'end');
    assert.is(e!.startUs, undefined, 'made before logging was on: start unknown');
    assert.is(e!.packetsIn, 1, 'counted from when logging went on: the RST');
  }, labConfig());
});

test('a full ring (32768 records unread) loses each further record and counts it (session_events_lost); traffic flows', async () => {
  await withLab((lab) => {
    const total = 32768 + 16;
    const d = lab.counterDelta(() => {
      for (let first = 0; first < total; first += 512) {
        const frames = [];
        for (let i = first; i < Math.min(first + 512, total); i++) {
          frames.push(clientUdp(1024 + i, Buffer.from('n')));
        }
        lab.send('outside', ...frames);
        lab.resolveNeighbours();
      }
    });
    expectEvents(d, { conns_created: total, session_events_queued: 32768, session_events_lost: 16 });
    assert.is(lab.dp.sessionLogDrain(1 << 20).records.length, 32768 * 128);
    assert.is(lab.dp.sessionLogDrain().records.length, 0);
  }, logged(), { connCapacity: 65536 });
});

test.run();
