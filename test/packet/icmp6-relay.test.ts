// ICMPv6 errors about tracked FullNAT v6 connections are translated and relayed (RFC 4443):
// Packet Too Big both ways (IPv6 routers never fragment, so PMTU discovery must work through
// the gateway), with the MTU lowered by the 20-byte TOA option for a TOA client but never
// below 1280; destination unreachable both ways; the quote rewritten back to what the other
// side sent (addresses, ports, the quoted checksum byte for byte, extension headers walked);
// and the drops for what cannot be matched.
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import type { DataplaneConfig, DropReason } from '../../src/dataplane/types.js';
import {
  CLIENT6, PORT_MAC, VIP6, dualStackConfig, expectDrops, expectEvents, frameFrom6, only, show, withLab, type Flow, type Lab,
  type PortName,
} from '../support/golden.js';
import { ICMP6_TYPE, buildFrame, hostMac, packetTooBig, type DecodedFrame, type Icmp6Spec } from '../support/packet.js';
import { clientSegment6, openTcp6, serverSegment6, TCP6_SERVICE_ID, UDP6_SERVICE_ID, v6Service } from '../support/flow6.js';

const INSIDE_ROUTER6 = '2001:db8:19::50';
const OUTSIDE_ROUTER6 = '2001:db8:18::99';
const ADDRESS_UNREACHABLE = 3;
const PORT_UNREACHABLE = 4;
const QUOTE_MAX = 1280 - 40 - 8;  // RFC 4443 2.4(c): as much as fits the minimum MTU

function configWith(clientAddress: 'toa' | 'none'): DataplaneConfig {
  return dualStackConfig((c) => {
    c.services.push(v6Service(TCP6_SERVICE_ID, 'tcp', 80, 61, { clientAddress }), v6Service(UDP6_SERVICE_ID, 'udp', 7, 71));
  });
}

/** The first `length` bytes of a frame's IPv6 packet, as an ICMPv6 error quotes them. */
function quoteOf(frame: Buffer, length = QUOTE_MAX): Buffer {
  return Buffer.from(frame.subarray(14, Math.min(frame.length, 14 + length)));
}

/** The quoted packet as the next hop saw it: hop limit one lower than sent (no checksum covers it). */
function withHopLimit(ipPacket: Buffer, hopLimit: number): Buffer {
  const b = Buffer.from(ipPacket);
  b[7] = hopLimit;
  return b;
}

function icmp6Error(port: PortName, from: string, to: string, spec: Icmp6Spec): Buffer {
  return frameFrom6(port, from, to, { icmp6: spec });
}

function relay(lab: Lab, port: PortName, frame: Buffer) {
  let out: Record<PortName, DecodedFrame[]> = { outside: [], inside: [] };
  const delta = lab.counterDelta(() => { out = lab.forward(port, frame); });
  return { out, delta };
}

/** A big client segment on an established flow (past the TOA-carrying ones) and what left inside. */
function bigSegment(lab: Lab, flow: Flow): { sent: Buffer; inside: DecodedFrame } {
  const first = Buffer.from('GET / HTTP/1.1\r\n\r\n');
  only(lab.forward('outside', clientSegment6(flow, { flags: 'PA', payload: first })).inside, 'first data');
  const sent = clientSegment6(flow, { flags: 'PA', seq: flow.clientIsn + 1 + first.length, payload: Buffer.alloc(1400, 0x62) });
  return { sent, inside: only(lab.forward('outside', sent).inside, 'big segment inside') };
}

for (const [mode, announced, expected] of [['toa', 1400, 1380], ['toa', 1290, 1280], ['none', 1400, 1400]] as const) {
  test(`Packet Too Big ${announced} from an inside router reaches the client as ${expected} (client_address ${mode}), quoting its own segment`, async () => {
    await withLab((lab) => {
      const flow = openTcp6(lab, 45001);
      const { sent, inside } = bigSegment(lab, flow);
      const { out, delta } = relay(lab, 'inside', icmp6Error('inside', INSIDE_ROUTER6, flow.lip, packetTooBig(announced, quoteOf(inside.raw))));
      assert.is(out.inside.length, 0, show(out.inside));
      const got = only(out.outside, 'Packet Too Big to the client');
      const want = buildFrame({
        eth: { dst: hostMac(CLIENT6), src: PORT_MAC.outside },
        ipv6: { src: VIP6, dst: CLIENT6, hopLimit: 64 },
        icmp6: packetTooBig(expected, withHopLimit(quoteOf(sent), 63)),
      });
      assert.is(got.raw.toString('hex'), want.toString('hex'), `exact frame: ${show([got])}`);
      assert.ok(got.icmp6!.checksumOk, 'ICMPv6 checksum over the new pseudo-header');
      expectDrops(delta, {});
      expectEvents(delta, { icmp_errors_to_client: 1 });
    }, configWith(mode));
  });
}

test('Packet Too Big from an outside router (to the VIP, quoting VIP -> client) reaches the server quoting its own segment, MTU as announced', async () => {
  await withLab((lab) => {
    const flow = openTcp6(lab, 45002);
    const sent = serverSegment6(flow, { flags: 'PA', payload: Buffer.alloc(1400, 0x72) });
    const outside = only(lab.forward('inside', sent).outside, 'segment to the client');
    const { out, delta } = relay(lab, 'outside', icmp6Error('outside', OUTSIDE_ROUTER6, VIP6, packetTooBig(1300, quoteOf(outside.raw))));
    assert.is(out.outside.length, 0, show(out.outside));
    const got = only(out.inside, 'Packet Too Big to the server');
    const want = buildFrame({
      eth: { dst: hostMac(flow.server), src: PORT_MAC.inside },
      ipv6: { src: flow.lip, dst: flow.server, hopLimit: 64 },
      icmp6: packetTooBig(1300, withHopLimit(quoteOf(sent), 63)),
    });
    assert.is(got.raw.toString('hex'), want.toString('hex'), `exact frame: ${show([got])}`);
    expectDrops(delta, {});
    expectEvents(delta, { icmp_errors_to_server: 1 });
  }, configWith('toa'));
});

test('UDP port unreachable from the server reaches the client, quote (with a destination-options header) restored byte for byte', async () => {
  await withLab((lab) => {
    const sent = frameFrom6('outside', CLIENT6, VIP6, { udp: { srcPort: 5353, dstPort: 7, payload: Buffer.from('ping') } },
      { extensions: [{ type: 'destOptions' }] });
    const inside = only(lab.forward('outside', sent).inside, 'datagram inside');
    assert.is(inside.ipv6!.extensions.length, 1, 'the extension header was forwarded');
    const ip = inside.ipv6!;
    const { out, delta } = relay(lab, 'inside', icmp6Error('inside', ip.dst, ip.src,
      { type: ICMP6_TYPE.DEST_UNREACH, code: PORT_UNREACHABLE, rest: 0, payload: quoteOf(inside.raw) }));
    const got = only(out.outside, 'port unreachable to the client');
    const want = buildFrame({
      eth: { dst: hostMac(CLIENT6), src: PORT_MAC.outside },
      ipv6: { src: VIP6, dst: CLIENT6, hopLimit: 64 },
      icmp6: { type: ICMP6_TYPE.DEST_UNREACH, code: PORT_UNREACHABLE, rest: 0, payload: withHopLimit(quoteOf(sent), 63) },
    });
    assert.is(got.raw.toString('hex'), want.toString('hex'), `exact frame (quoted UDP checksum = the client's): ${show([got])}`);
    expectEvents(delta, { icmp_errors_to_client: 1 });
  }, configWith('none'));
});

test('address unreachable from an outside router (client gone) reaches the server; a 48-byte quote (no TCP checksum) is enough', async () => {
  await withLab((lab) => {
    const flow = openTcp6(lab, 45003);
    const sent = serverSegment6(flow, { flags: 'PA', payload: Buffer.from('response') });
    const outside = only(lab.forward('inside', sent).outside, 'segment to the client');
    const { out, delta } = relay(lab, 'outside', icmp6Error('outside', OUTSIDE_ROUTER6, VIP6,
      { type: ICMP6_TYPE.DEST_UNREACH, code: ADDRESS_UNREACHABLE, rest: 0, payload: quoteOf(outside.raw, 48) }));
    const got = only(out.inside, 'error to the server');
    const want = buildFrame({
      eth: { dst: hostMac(flow.server), src: PORT_MAC.inside },
      ipv6: { src: flow.lip, dst: flow.server, hopLimit: 64 },
      icmp6: { type: ICMP6_TYPE.DEST_UNREACH, code: ADDRESS_UNREACHABLE, rest: 0, payload: withHopLimit(quoteOf(sent, 48), 63) },
    });
    assert.is(got.raw.toString('hex'), want.toString('hex'), `exact frame: ${show([got])}`);
    expectEvents(delta, { icmp_errors_to_server: 1 });
  }, configWith('none'));
});

test('a client segment over the inside port\'s MTU (1280) is not sent: the gateway\'s own Packet Too Big 1280 reaches the client from the VIP', async () => {
  await withLab((lab) => {
    const flow = openTcp6(lab, 45005);
    const sent = clientSegment6(flow, { flags: 'PA', payload: Buffer.alloc(1300, 0x63) });
    const { out, delta } = relay(lab, 'outside', sent);
    assert.is(out.inside.length, 0, show(out.inside));
    const got = only(out.outside, 'Packet Too Big to the client');
    const want = buildFrame({
      eth: { dst: hostMac(CLIENT6), src: PORT_MAC.outside },
      ipv6: { src: VIP6, dst: CLIENT6, hopLimit: 64 },
      icmp6: packetTooBig(1280, quoteOf(sent)),
    });
    assert.is(got.raw.toString('hex'), want.toString('hex'), `exact frame: ${show([got])}`);
    expectEvents(delta, { icmp6_packet_too_big_sent: 1 });
    expectDrops(delta, { egress_mtu_exceeded: 1 });
  }, configWith('none'), { ports: [
    { name: 'outside', device: 'ring', mac: PORT_MAC.outside },
    { name: 'inside', device: 'ring', mac: PORT_MAC.inside, mtu: 1280 },
  ] });
});

test('ICMPv6 errors that match nothing, or are forged, are dropped with a reason and nothing is sent', async () => {
  await withLab((lab) => {
    const flow = openTcp6(lab, 45004);
    const inside = only(lab.forward('outside', clientSegment6(flow, { flags: 'PA', payload: Buffer.from('x') })).inside, 'segment');
    const quote = quoteOf(inside.raw);
    const unknown = Buffer.from(quote);
    unknown.writeUInt16BE(flow.lport ^ 1, 40);  // another lport: no such connection
    const echoQuote = quoteOf(buildFrame({ eth: { dst: PORT_MAC.inside, src: PORT_MAC.inside }, ipv6: { src: flow.lip, dst: flow.server },
      icmp6: { type: ICMP6_TYPE.ECHO_REQUEST, id: 1, sequence: 1 } }));
    const unreachable = (payload: Buffer): Icmp6Spec => ({ type: ICMP6_TYPE.DEST_UNREACH, code: ADDRESS_UNREACHABLE, rest: 0, payload });
    const badChecksum = icmp6Error('inside', INSIDE_ROUTER6, flow.lip, { ...packetTooBig(1300, quote), checksum: 0x1234 });
    const cases: { name: string; port: PortName; frame: Buffer; drops: Partial<Record<DropReason, number>> }[] = [
      { name: 'about no connection', port: 'inside', drops: { no_conn: 1 },
        frame: icmp6Error('inside', INSIDE_ROUTER6, flow.lip, packetTooBig(1300, unknown)) },
      { name: 'forged: sent to the VIP while quoting a LIP packet', port: 'outside', drops: { no_conn: 1 },
        frame: icmp6Error('outside', OUTSIDE_ROUTER6, VIP6, packetTooBig(1300, quote)) },
      { name: 'quote shorter than the IPv6 header + 8', port: 'inside', drops: { malformed_l4: 1 },
        frame: icmp6Error('inside', INSIDE_ROUTER6, flow.lip, unreachable(quote.subarray(0, 44))) },
      { name: 'quote of an ICMPv6 packet', port: 'inside', drops: { icmp_unsupported: 1 },
        frame: icmp6Error('inside', INSIDE_ROUTER6, flow.lip, unreachable(echoQuote)) },
      { name: 'bad ICMPv6 checksum', port: 'inside', drops: { icmp6_bad_checksum: 1 }, frame: badChecksum },
    ];
    for (const c of cases) {
      const { out, delta } = relay(lab, c.port, c.frame);
      assert.is(out.outside.length + out.inside.length, 0, `${c.name}: nothing sent: ${show([...out.outside, ...out.inside])}`);
      expectDrops(delta, c.drops, c.name);
      assert.is(delta.events.icmp_errors_to_client ?? 0, 0, c.name);
    }
  }, configWith('none'));
});

test.run();
