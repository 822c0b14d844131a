// QUIC services (docs/schedulers.md, "QUIC"): a UDP datagram without a connection goes to the
// server whose quic_id sits at bytes 1-2 of its destination connection id (short header, or a
// Handshake long header), so a client that migrates keeps its server; Initial/0-RTT (client-chosen
// DCID), unknown ids and unreadable headers go to the scheduler; a tuple with a connection follows it.
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import {
  CLIENT, LIPS, SERVERS, UDP_SERVICE_ID, VIP, allConnections, expectDrops, expectEvents, frameFrom, labConfig, only,
  withLab, type Lab,
} from '../support/golden.js';
import type { DataplaneConfig } from '../../src/dataplane/types.js';

const QUIC_IDS = [0x0a01, 0x0a02, 0x0a03];  // SERVERS[0..2]
const SERVER_B = 1;
const QUIC_V1 = 0x00000001;
const QUIC_V2 = 0x6b3343cf;

function quicConfig(quic = true): DataplaneConfig {
  return labConfig((c) => {
    const udp = c.services.find((s) => s.id === UDP_SERVICE_ID)!;
    if (quic) udp.quic = true;
    udp.servers.forEach((server, i) => { server.quicId = QUIC_IDS[i]!; });
  });
}

/** An 8-byte connection id in the documented layout: byte 0 the server's, bytes 1-2 the id, then a nonce. */
function cid(quicId: number, nonce = 0x5a): Buffer {
  return Buffer.from([0x3f, quicId >> 8, quicId & 0xff, nonce, 0x11, 0x22, 0x33, 0x44]);
}

/** A 1-RTT (short header) packet: first byte, DCID, then protected bytes (packet number + AEAD). */
function shortHeader(dcid: Buffer, firstByte = 0x41, protectedBytes = 40): Buffer {
  return Buffer.concat([Buffer.from([firstByte]), dcid, Buffer.alloc(protectedBytes, 0xab)]);
}

/** A long-header packet: type bits (0x30) as the version numbers them, version, DCID, SCID, then the rest. */
function longHeader(type: number, dcid: Buffer, version = QUIC_V1, rest = 1160): Buffer {
  const scid = Buffer.from([1, 2, 3, 4, 5, 6, 7, 8]);
  const head = Buffer.alloc(6);
  head[0] = 0xc0 | (type << 4) | 0x01;
  head.writeUInt32BE(version, 1);
  head[5] = dcid.length;
  return Buffer.concat([head, dcid, Buffer.from([scid.length]), scid, Buffer.alloc(rest, 0)]);
}
const INITIAL_V1 = 0, ZERO_RTT_V1 = 1, HANDSHAKE_V1 = 2;
const INITIAL_V2 = 1, HANDSHAKE_V2 = 3;

function fromClient(payload: Buffer, cport: number, client = CLIENT) {
  return frameFrom('outside', client, VIP, { udp: { srcPort: cport, dstPort: 7, payload } });
}

/** The server a datagram reached (inside frame's destination) and the delta it caused. */
function sendTo(lab: Lab, payload: Buffer, cport: number, client = CLIENT) {
  let server = '';
  let lport = 0;
  let lip = '';
  const delta = lab.counterDelta(() => {
    const inbound = only(lab.forward('outside', fromClient(payload, cport, client)).inside, 'datagram to a server');
    server = inbound.ipv4!.dst;
    lip = inbound.ipv4!.src;
    lport = inbound.udp!.srcPort;
    assert.equal(inbound.udp!.payload, payload, 'payload forwarded unchanged');
  });
  return { server, lip, lport, delta };
}

const quicEvents = (d: { events: Partial<Record<string, number>> }) =>
  ['quic_routed_by_id', 'quic_id_unknown', 'quic_malformed'].map((e) => d.events[e] ?? 0);

test('short header naming server B goes to B, and from a new client address and port (migration) to B again', async () => {
  await withLab((lab) => {
    const first = sendTo(lab, shortHeader(cid(QUIC_IDS[SERVER_B]!)), 40000);
    assert.is(first.server, SERVERS[SERVER_B], 'rr would have picked SERVERS[0]');
    expectEvents(first.delta, { quic_routed_by_id: 1, conns_created: 1 });
    expectDrops(first.delta, {});

    const migrated = sendTo(lab, shortHeader(cid(QUIC_IDS[SERVER_B]!, 0x77)), 41234, '198.18.0.2');
    assert.is(migrated.server, SERVERS[SERVER_B]);
    expectEvents(migrated.delta, { quic_routed_by_id: 1, conns_created: 1 });
    const rebound = sendTo(lab, shortHeader(cid(QUIC_IDS[SERVER_B]!)), 40001);
    assert.is(rebound.server, SERVERS[SERVER_B], 'NAT rebinding (same address, new port)');
    expectEvents(rebound.delta, { quic_routed_by_id: 1, conns_created: 1 });

    // The server's answer reaches the migrated client through the new connection.
    const reply = frameFrom('inside', migrated.server, migrated.lip, { udp: { srcPort: 7, dstPort: migrated.lport, payload: Buffer.from('pong') } });
    const back = only(lab.forward('inside', reply).outside, 'reply to the migrated client');
    assert.equal([back.ipv4!.src, back.udp!.srcPort, back.ipv4!.dst, back.udp!.dstPort], [VIP, 7, '198.18.0.2', 41234]);

    const conns = allConnections(lab.dp).filter((c) => c.serviceId === UDP_SERVICE_ID);
    assert.is(conns.length, 3);
    assert.ok(conns.every((c) => c.server === SERVERS[SERVER_B]), JSON.stringify(conns.map((c) => c.server)));
    // Routed by id, still counted per server like any connection.
    const stats = lab.stats();
    assert.is(stats.servers.find((s) => s.id === 12)!.conns, 3);
  }, quicConfig());
});

test('every server reachable by its id; a quiesced server (weight 0) keeps its migrating clients', async () => {
  await withLab((lab) => {
    [2, 0, 1].forEach((k, i) => assert.is(sendTo(lab, shortHeader(cid(QUIC_IDS[k]!)), 42000 + i).server, SERVERS[k]));
    const config = quicConfig();
    config.services.find((s) => s.id === UDP_SERVICE_ID)!.servers[2]!.weight = 0;
    lab.apply(config);
    lab.dp.step();
    const moved = sendTo(lab, shortHeader(cid(QUIC_IDS[2]!)), 42100, '198.18.0.3');
    assert.is(moved.server, SERVERS[2]);
    expectEvents(moved.delta, { quic_routed_by_id: 1 });
  }, quicConfig());
});

test('unknown id (or id 0): scheduler, then the connection table for that tuple', async () => {
  await withLab((lab) => {
    const unknown = sendTo(lab, shortHeader(cid(0x0999)), 43000);
    assert.is(unknown.server, SERVERS[0], 'rr starts at the first server');
    expectEvents(unknown.delta, { quic_id_unknown: 1, conns_created: 1 });
    assert.equal(quicEvents(unknown.delta), [0, 1, 0]);
    const zero = sendTo(lab, shortHeader(cid(0)), 43001);
    assert.is(zero.server, SERVERS[1], 'rr moved on');
    expectEvents(zero.delta, { quic_id_unknown: 1 });

    // A tuple with a connection follows it; the header is not read again.
    const again = sendTo(lab, shortHeader(cid(QUIC_IDS[2]!)), 43000);
    assert.is(again.server, SERVERS[0]);
    assert.equal(quicEvents(again.delta), [0, 0, 0]);
    assert.is(again.delta.events.conns_created ?? 0, 0);
  }, quicConfig());
});

test('long header: Initial and 0-RTT (client-chosen DCID) go to the scheduler, then the table; Handshake is routed by id', async () => {
  await withLab((lab) => {
    // The client's random DCID happens to carry server C's id: not read.
    const initial = sendTo(lab, longHeader(INITIAL_V1, cid(QUIC_IDS[2]!)), 44000);
    assert.is(initial.server, SERVERS[0], 'rr');
    assert.equal(quicEvents(initial.delta), [0, 0, 0]);
    expectEvents(initial.delta, { conns_created: 1 });
    // The same client's Handshake (DCID = the server's, naming B here) follows the table.
    const handshake = sendTo(lab, longHeader(HANDSHAKE_V1, cid(QUIC_IDS[SERVER_B]!)), 44000);
    assert.is(handshake.server, SERVERS[0]);
    assert.equal(quicEvents(handshake.delta), [0, 0, 0]);

    const zeroRtt = sendTo(lab, longHeader(ZERO_RTT_V1, cid(QUIC_IDS[2]!)), 44001);
    assert.is(zeroRtt.server, SERVERS[1], 'rr, not C');
    assert.equal(quicEvents(zeroRtt.delta), [0, 0, 0]);
    const initialV2 = sendTo(lab, longHeader(INITIAL_V2, cid(QUIC_IDS[0]!), QUIC_V2), 44002);
    assert.is(initialV2.server, SERVERS[2], 'rr, not A (version 2 numbers Initial 1)');
    assert.equal(quicEvents(initialV2.delta), [0, 0, 0]);

    // A Handshake packet from a tuple without a connection is routed by its DCID (v1 and v2).
    const byId = sendTo(lab, longHeader(HANDSHAKE_V1, cid(QUIC_IDS[2]!)), 44003);
    assert.is(byId.server, SERVERS[2]);
    expectEvents(byId.delta, { quic_routed_by_id: 1 });
    const byIdV2 = sendTo(lab, longHeader(HANDSHAKE_V2, cid(QUIC_IDS[2]!), QUIC_V2), 44004);
    assert.is(byIdV2.server, SERVERS[2]);
    expectEvents(byIdV2.delta, { quic_routed_by_id: 1 });
    // Unknown version: its type bits mean nothing to us.
    const unknownVersion = sendTo(lab, longHeader(HANDSHAKE_V1, cid(QUIC_IDS[2]!), 0x0a0a0a0a), 44005);
    assert.equal(quicEvents(unknownVersion.delta), [0, 0, 0]);
    assert.is(unknownVersion.server, SERVERS[0], 'rr');
  }, quicConfig());
});

test('malformed QUIC headers are counted (quic_malformed) and still forwarded by the scheduler', async () => {
  await withLab((lab) => {
    const handshake = longHeader(HANDSHAKE_V1, cid(QUIC_IDS[2]!));
    const tooLongDcid = Buffer.from(handshake);
    tooLongDcid[5] = 21;
    const cases: [string, Buffer][] = [
      ['empty datagram', Buffer.alloc(0)],
      ['short header shorter than its header-protection sample (23 bytes)', shortHeader(cid(QUIC_IDS[2]!), 0x41, 14)],
      ['long header cut inside the version', handshake.subarray(0, 4)],
      ['long header DCID length 21', tooLongDcid],
      ['long header cut inside the DCID', handshake.subarray(0, 10)],
      ['long header without the SCID length byte', handshake.subarray(0, 14)],
    ];
    cases.forEach(([name, payload], i) => {
      const sent = sendTo(lab, payload, 45000 + i);
      expectEvents(sent.delta, { quic_malformed: 1, conns_created: 1 }, name);
      expectDrops(sent.delta, {}, name);
      assert.is(sent.server, SERVERS[i % 3], `${name}: rr`);
    });
    // The shortest readable ones are not malformed: 24-byte short header, SCID length byte present.
    assert.is(sendTo(lab, shortHeader(cid(QUIC_IDS[2]!), 0x41, 15), 45100).server, SERVERS[2]);
    assert.is(sendTo(lab, handshake.subarray(0, 15), 45101).server, SERVERS[2]);
    // A greased fixed bit (RFC 9287) is not malformed either.
    const greased = sendTo(lab, shortHeader(cid(QUIC_IDS[SERVER_B]!), 0x01), 45102);
    assert.is(greased.server, SERVERS[SERVER_B]);
    expectEvents(greased.delta, { quic_routed_by_id: 1 });
  }, quicConfig());
});

test('without quic: true the same short header is scheduled (rr), nothing QUIC counted', async () => {
  await withLab((lab) => {
    const first = sendTo(lab, shortHeader(cid(QUIC_IDS[SERVER_B]!)), 46000);
    const migrated = sendTo(lab, shortHeader(cid(QUIC_IDS[SERVER_B]!)), 46001, '198.18.0.2');
    assert.equal([first.server, migrated.server], [SERVERS[0], SERVERS[1]]);
    assert.equal(quicEvents(first.delta), [0, 0, 0]);
    assert.equal(quicEvents(migrated.delta), [0, 0, 0]);
  }, quicConfig(false));
});

test('config: quic on a TCP service and a quic_id twice in one service are refused, naming the field', async () => {
  await withLab((lab) => {
    const tcp = quicConfig();
    tcp.services[0]!.quic = true;
    assert.throws(() => lab.apply(tcp), /services\[0\]\.quic: QUIC routing is for UDP services only/);
    const duplicate = quicConfig();
    duplicate.services[1]!.servers[2]!.quicId = QUIC_IDS[0]!;
    assert.throws(() => lab.apply(duplicate), /services\[1\]\.servers\[2\]\.quic_id: duplicate id 2561/);
    // Nothing changed: the accepted config still routes by id.
    assert.is(sendTo(lab, shortHeader(cid(QUIC_IDS[SERVER_B]!)), 47000).server, SERVERS[SERVER_B]);
    assert.ok(LIPS.length > 0);
  }, quicConfig());
});

test.run();
