// ICMP errors about tracked connections are translated and relayed: PMTU discovery
// (fragmentation needed from the inside reaches the client quoting its own packet),
// port unreachable, the reverse direction, and the drops for what cannot be matched.
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import type { DropReason } from '../../src/dataplane/types.js';
import {
  CLIENT, PORT_MAC, TCP_SERVICE_ID, UDP_SERVICE_ID, VIP, clientSegment, clientUdp, expectDrops, expectEvents, frameFrom, labConfig,
  only, openTcp, serverSegment, show, withLab, type Lab, type PortName,
} from '../support/golden.js';
import { ICMP_TYPE, buildFrame, hostMac, internetChecksum, type DecodedFrame } from '../support/packet.js';

const INSIDE_ROUTER = '198.19.0.50';
const OUTSIDE_ROUTER = '198.18.0.99';
const FRAG_NEEDED = 4;
const PORT_UNREACHABLE = 3;

/** The first `length` bytes of a frame's IP packet, as an ICMP error quotes them. */
function quoteOf(frame: Buffer, length: number): Buffer {
  return Buffer.from(frame.subarray(14, 14 + length));
}

/** A quoted IP packet with another TTL (and its header checksum redone): what a hop later looks like. */
function withTtl(ipPacket: Buffer, ttl: number): Buffer {
  const b = Buffer.from(ipPacket);
  const headerLength = (b[0]! & 0xf) * 4;
  b[8] = ttl;
  b.writeUInt16BE(0, 10);
  b.writeUInt16BE(internetChecksum(b.subarray(0, headerLength)), 10);
  return b;
}

function icmpError(port: PortName, from: string, to: string, type: number, code: number, quote: Buffer, rest = 0): Buffer {
  return frameFrom(port, from, to, { icmp: { type, code, rest, payload: quote } });
}

/** Sends frame and returns what came out on each port plus the counter changes. */
function relay(lab: Lab, port: PortName, frame: Buffer) {
  let out: Record<PortName, DecodedFrame[]> = { outside: [], inside: [] };
  const delta = lab.counterDelta(() => { out = lab.forward(port, frame); });
  return { out, delta };
}

test('PMTU: fragmentation needed from an inside router reaches the client quoting its own segment', async () => {
  await withLab((lab) => {
    const flow = openTcp(lab, 42001);
    const sent = clientSegment(flow, { flags: 'PA', payload: Buffer.alloc(1400, 0x62) });
    const inside = only(lab.forward('outside', sent).inside, 'segment inside');
    // 40 bytes: the quote reaches the TCP checksum, which must come back to the client's own value.
    const error = icmpError('inside', INSIDE_ROUTER, flow.lip, ICMP_TYPE.DEST_UNREACH, FRAG_NEEDED, quoteOf(inside.raw, 40), 1300);
    const { out, delta } = relay(lab, 'inside', error);
    assert.is(out.inside.length, 0, show(out.inside));
    const got = only(out.outside, 'error to the client');
    const expected = buildFrame({
      eth: { dst: hostMac(CLIENT), src: PORT_MAC.outside },
      ipv4: { src: VIP, dst: CLIENT, ttl: 64 },
      icmp: { type: ICMP_TYPE.DEST_UNREACH, code: FRAG_NEEDED, rest: 1300, payload: withTtl(quoteOf(sent, 40), 63) },
    });
    assert.equal(got.raw, expected, `exact frame: ${show([got])}`);
    assert.ok(got.icmp!.checksumOk && got.icmp!.inner!.ipv4.checksumOk, 'ICMP and quoted IP checksums');
    expectDrops(delta, {});
    expectEvents(delta, { icmp_errors_to_client: 1 });
  });
});

test('PMTU with TOA: the announced MTU is lowered by the option length', async () => {
  const config = labConfig((c) => { c.services.find((s) => s.id === TCP_SERVICE_ID)!.clientAddress = 'toa'; });
  await withLab((lab) => {
    const flow = openTcp(lab, 42002);
    const inside = only(lab.forward('outside', clientSegment(flow, { flags: 'PA', payload: Buffer.alloc(1400, 0x63) })).inside, 'segment');
    const { out, delta } = relay(lab, 'inside',
      icmpError('inside', INSIDE_ROUTER, flow.lip, ICMP_TYPE.DEST_UNREACH, FRAG_NEEDED, quoteOf(inside.raw, 28), 1300));
    const got = only(out.outside, 'error to the client');
    assert.is(got.icmp!.rest, 1292, 'next-hop MTU 1300 - 8');
    assert.ok(got.icmp!.checksumOk, 'ICMP checksum');
    const inner = got.icmp!.inner!;
    assert.equal([inner.ipv4.src, inner.srcPort, inner.ipv4.dst, inner.dstPort], [CLIENT, flow.cport, VIP, 80]);
    assert.ok(inner.ipv4.checksumOk, 'quoted IP checksum');
    expectEvents(delta, { icmp_errors_to_client: 1 });
  }, config);
});

test('PMTU with a UDP PROXY v2 service: the announced MTU is lowered by the 28-byte header every datagram carries; UOA takes nothing off', async () => {
  for (const [mode, expected] of [['proxy_v2', 1272], ['uoa_opp', 1300]] as const) {
    const config = labConfig((c) => { c.services.find((s) => s.id === UDP_SERVICE_ID)!.clientAddress = mode; });
    await withLab((lab) => {
      // UOA rides on the first 3 datagrams; the 4th is plain UDP, whose quote a router's error can carry.
      let inside = only(lab.forward('outside', clientUdp(42006, Buffer.alloc(1200, 0x64))).inside, 'datagram');
      if (mode === 'uoa_opp') for (let n = 0; n < 3; n++) inside = only(lab.forward('outside', clientUdp(42006, Buffer.alloc(1200, 0x64))).inside, 'datagram');
      assert.is(inside.ipv4!.protocol, 17);
      const { out, delta } = relay(lab, 'inside',
        icmpError('inside', INSIDE_ROUTER, inside.ipv4!.src, ICMP_TYPE.DEST_UNREACH, FRAG_NEEDED, quoteOf(inside.raw, 28), 1300));
      const got = only(out.outside, `${mode}: error to the client`);
      assert.is(got.icmp!.rest, expected, `${mode}: next-hop MTU 1300 - ${1300 - expected}`);
      assert.ok(got.icmp!.checksumOk, 'ICMP checksum');
      expectEvents(delta, { icmp_errors_to_client: 1 });
    }, config);
  }
});

test('UDP port unreachable from the real server reaches the client, quote restored byte for byte', async () => {
  await withLab((lab) => {
    const sent = clientUdp(42003, Buffer.from('ping'));
    const inside = only(lab.forward('outside', sent).inside, 'datagram inside');
    const ip = inside.ipv4!;
    const { out, delta } = relay(lab, 'inside',
      icmpError('inside', ip.dst, ip.src, ICMP_TYPE.DEST_UNREACH, PORT_UNREACHABLE, quoteOf(inside.raw, ip.totalLength)));
    const got = only(out.outside, 'port unreachable to the client');
    const expected = buildFrame({
      eth: { dst: hostMac(CLIENT), src: PORT_MAC.outside },
      ipv4: { src: VIP, dst: CLIENT, ttl: 64 },
      icmp: { type: ICMP_TYPE.DEST_UNREACH, code: PORT_UNREACHABLE, payload: withTtl(quoteOf(sent, 20 + 8 + 4), 63) },
    });
    assert.equal(got.raw, expected, `exact frame (quoted UDP checksum = the client's): ${show([got])}`);
    expectEvents(delta, { icmp_errors_to_client: 1 });
  });
});

test('reverse: time exceeded from the client side reaches the server quoting its own segment', async () => {
  await withLab((lab) => {
    const flow = openTcp(lab, 42004);
    const sent = serverSegment(flow, { flags: 'PA', payload: Buffer.from('response') });
    const outside = only(lab.forward('inside', sent).outside, 'segment to the client');
    const { out, delta } = relay(lab, 'outside',
      icmpError('outside', OUTSIDE_ROUTER, VIP, ICMP_TYPE.TIME_EXCEEDED, 0, quoteOf(outside.raw, 28)));
    assert.is(out.outside.length, 0, show(out.outside));
    const got = only(out.inside, 'error to the server');
    const expected = buildFrame({
      eth: { dst: hostMac(flow.server), src: PORT_MAC.inside },
      ipv4: { src: flow.lip, dst: flow.server, ttl: 64 },
      icmp: { type: ICMP_TYPE.TIME_EXCEEDED, code: 0, payload: withTtl(quoteOf(sent, 28), 63) },
    });
    assert.equal(got.raw, expected, `exact frame: ${show([got])}`);
    expectEvents(delta, { icmp_errors_to_server: 1 });
  });
});

test('ICMP errors that match nothing are dropped with a reason', async () => {
  await withLab((lab) => {
    const flow = openTcp(lab, 42005);
    const inside = only(lab.forward('outside', clientSegment(flow, { flags: 'PA', payload: Buffer.from('x') })).inside, 'segment');
    const quote = quoteOf(inside.raw, 28);
    const unknown = Buffer.from(quote);
    unknown.writeUInt16BE(flow.lport ^ 1, 20);  // another lport: no such connection
    const cases: { name: string; port: PortName; frame: Buffer; expectDrops: Partial<Record<DropReason, number>> }[] = [
      { name: 'unknown connection', port: 'inside', expectDrops: { no_conn: 1 },
        frame: icmpError('inside', INSIDE_ROUTER, flow.lip, ICMP_TYPE.DEST_UNREACH, 1, unknown) },
      { name: 'sent to the VIP while quoting a LIP packet', port: 'outside', expectDrops: { no_conn: 1 },
        frame: icmpError('outside', OUTSIDE_ROUTER, VIP, ICMP_TYPE.DEST_UNREACH, 1, quote) },
      { name: 'quote shorter than IP header + 8', port: 'inside', expectDrops: { malformed_l4: 1 },
        frame: icmpError('inside', INSIDE_ROUTER, flow.lip, ICMP_TYPE.DEST_UNREACH, 1, quote.subarray(0, 24)) },
      { name: 'quote of an ICMP packet', port: 'inside', expectDrops: { icmp_unsupported: 1 },
        frame: icmpError('inside', INSIDE_ROUTER, flow.lip, ICMP_TYPE.DEST_UNREACH, 1,
          quoteOf(buildFrame({ eth: { dst: PORT_MAC.inside, src: PORT_MAC.inside }, ipv4: { src: flow.lip, dst: flow.server },
            icmp: { type: ICMP_TYPE.ECHO_REPLY, id: 1, sequence: 1 } }), 28)) },
    ];
    for (const c of cases) {
      const { out, delta } = relay(lab, c.port, c.frame);
      assert.is(out.outside.length + out.inside.length, 0, `${c.name}: nothing sent: ${show([...out.outside, ...out.inside])}`);
      expectDrops(delta, c.expectDrops, c.name);
    }
  });
});

test.run();
