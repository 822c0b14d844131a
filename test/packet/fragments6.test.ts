// IPv6 fragments (Fragment header, RFC 8200 4.5) under the per-service fragment policy of IPv4's
// (pipeline/defend/frag_policy.h): drop | limit | reassemble, reassembly before FullNAT v6 and
// NAT64, the security rules (RFC 5722 overlaps, RFC 7112 header chain, RFC 6946 atomic
// fragments, 65535 bytes, 8-byte multiples) and what leaves: pieces no bigger than the biggest
// that arrived, or a Packet Too Big when even that does not fit. Time is the injected clock.
// The scenarios IPv4 shares (default drop, per service, overlap, timeout) are in
// fragments-families.test.ts, run for both.
import { test } from '../support/suite.js';
import { fragmentFrame6 } from '../support/fragment-frames.js';
import * as assert from 'uvu/assert';
import type { StartOptions } from '../../src/dataplane/types.js';
import {
  CLIENT6, LIPS, LIPS6, PORT_MAC, SERVERS, SERVERS6, VIP6, expectDrops, expectEvents, frameFrom6, only, seededRandom, show, withLab,
} from '../support/golden.js';
import { REASSEMBLE, bigUdp6, config6, stormLeavesNothing } from '../support/fragment-families.js';
import { UDP6_SERVICE_ID, clientSegment6, openTcp6 } from '../support/flow6.js';
import { ICMP6_TYPE, IPPROTO, buildIpv6, decodeIpv6, decodeTcp, decodeUdp, type DecodedFrame } from '../support/packet.js';

const OTHER_NET6 = '2001:db8:77::5'; // a client in another /64
const reassembleAll = () => config6({ fragments: REASSEMBLE });

function ports(outsideMtu: number, insideMtu: number): NonNullable<StartOptions['ports']> {
  return [
    { name: 'outside', device: 'ring', mac: PORT_MAC.outside, mtu: outsideMtu },
    { name: 'inside', device: 'ring', mac: PORT_MAC.inside, mtu: insideMtu },
  ];
}

/** Reassembles captured IPv6 fragments (one datagram) the way a receiver would: the fragmentable bytes. */
function joinFragments6(frames: DecodedFrame[]): { body: Buffer; src: string; dst: string; protocol: number; id: number } {
  const pieces = frames.map((f) => {
    const { ipv6 } = decodeIpv6(f.raw.subarray(14));
    assert.ok(ipv6?.fragment, `every piece is a fragment: ${show(frames)}`);
    // The fragmentable part: everything after the Fragment header.
    let at = 40;
    for (const e of ipv6!.extensions) {
      at += e.length;
      if (e.code === 44) break;
    }
    return { ipv6: ipv6!, bytes: f.raw.subarray(14 + at, 14 + 40 + ipv6!.payloadLength) };
  }).sort((a, b) => a.ipv6.fragment!.offset - b.ipv6.fragment!.offset);
  let expected = 0;
  for (const p of pieces) {
    assert.is(p.ipv6.fragment!.offset * 8, expected, `fragments tile the datagram: ${show(frames)}`);
    assert.is(p.ipv6.fragment!.id, pieces[0]!.ipv6.fragment!.id, 'one identification');
    expected += p.bytes.length;
  }
  assert.not.ok(pieces.at(-1)!.ipv6.fragment!.more, 'the last fragment has M clear');
  for (const p of pieces.slice(0, -1)) assert.ok(p.ipv6.fragment!.more, 'every other fragment has M set');
  const first = pieces[0]!.ipv6;
  return { body: Buffer.concat(pieces.map((p) => p.bytes)), src: first.src, dst: first.dst, protocol: first.protocol, id: first.fragment!.id };
}

/** The rebuilt-and-rewritten UDP datagram behind captured fragments, checked whole. */
function joinedUdp(frames: DecodedFrame[]) {
  const joined = joinFragments6(frames);
  assert.is(joined.protocol, IPPROTO.UDP);
  const { udp } = decodeUdp(joined.body, joined.src, joined.dst);
  assert.ok(udp, `a UDP datagram: ${show(frames)}`);
  assert.ok(udp!.checksumOk, 'UDP checksum over the IPv6 pseudo-header and the whole datagram');
  return { udp: udp!, src: joined.src, dst: joined.dst, id: joined.id };
}

/** The IP size (40 + payload length) of each captured frame. */
const ipSizes = (frames: DecodedFrame[]) => frames.map((f) => 40 + f.ipv6!.payloadLength);

test('reassemble, in order: three fragments are rebuilt, FullNAT v6 rewritten, and leave in pieces no bigger than they came', async () => {
  await withLab((lab) => {
    const { frame, payload } = bigUdp6(1200);
    const arriving = fragmentFrame6(frame, [0, 400, 800], 0x01020304);
    const d = lab.counterDelta(() => {
      const out = lab.forward('outside', ...arriving);
      assert.is(out.inside.length, 3, show(out.inside));
      const biggest = Math.max(...arriving.map((f) => f.length - 14));
      for (const size of ipSizes(out.inside)) assert.ok(size <= biggest, `piece of ${size} <= ${biggest} bytes`);
      const { udp, src, dst, id } = joinedUdp(out.inside);
      assert.ok(LIPS6.includes(src) && SERVERS6.includes(dst), `FullNAT v6 addresses: ${src} -> ${dst}`);
      assert.is(udp.dstPort, 7);
      assert.ok(udp.payload.equals(payload), 'payload intact');
      assert.is.not(id, 0x01020304, 'the gateway sends with its own identification');
      for (const f of out.inside) assert.is(f.ipv6!.hopLimit, 63, 'hop limit decremented');
    });
    expectDrops(d, {});
    expectEvents(d, { frag_reassembled: 1, frag_joined: 3, frag_refragmented: 1, frag_out_pieces: 3 });
  }, reassembleAll());
});

test('reassemble, out of order: a TCP segment of an open connection, rewritten with a valid checksum', async () => {
  await withLab((lab) => {
    const flow = openTcp6(lab, 5100);
    const data = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 7) % 256));
    const pieces = fragmentFrame6(clientSegment6(flow, { flags: 'PA', payload: data }), [0, 256, 512, 768], 99);
    const d = lab.counterDelta(() => {
      const out = lab.forward('outside', ...pieces.reverse());
      assert.is(out.inside.length, 4, show(out.inside));
      const joined = joinFragments6(out.inside);
      assert.equal([joined.src, joined.dst, joined.protocol], [flow.lip, flow.server, IPPROTO.TCP]);
      const { tcp } = decodeTcp(joined.body, joined.src, joined.dst);
      assert.ok(tcp, `a TCP segment: ${show(out.inside)}`);
      assert.ok(tcp!.checksumOk, 'TCP checksum over the IPv6 pseudo-header and the whole segment');
      assert.equal([tcp!.srcPort, tcp!.dstPort, tcp!.seq], [flow.lport, flow.sport, flow.clientIsn + 1]);
      assert.ok(tcp!.payload.equals(data), 'payload intact');
    });
    expectDrops(d, {});
    expectEvents(d, { frag_reassembled: 1, frag_joined: 4 });
  }, reassembleAll());
});

test('replies: a fragmented server reply to an IPv6 LIP is reassembled under its service\'s policy and reaches the client', async () => {
  await withLab((lab) => {
    const first = only(lab.forward('outside', bigUdp6(10, 4200).frame).inside, 'request');
    const reply = Buffer.from(Array.from({ length: 1400 }, (_, i) => i % 13));
    const fromServer = frameFrom6('inside', first.ipv6!.dst, first.ipv6!.src, { udp: { srcPort: 7, dstPort: first.udp!.srcPort, payload: reply } });
    const out = lab.forward('inside', ...fragmentFrame6(fromServer, [0, 720], 55));
    const { udp, src, dst } = joinedUdp(out.outside);
    assert.equal([src, dst, udp.srcPort, udp.dstPort], [VIP6, CLIENT6, 7, 4200]);
    assert.ok(udp.payload.equals(reply));
  }, config6({ services: [{ serviceId: UDP6_SERVICE_ID, fragments: REASSEMBLE }] }));
});

test('atomic fragment (offset 0, M clear): forwarded as the whole packet it is, without the policy or reassembly (RFC 6946)', async () => {
  await withLab((lab) => {
    const payload = Buffer.from('atomic');
    const frame = frameFrom6('outside', CLIENT6, VIP6, { udp: { srcPort: 4400, dstPort: 7, payload } },
      { extensions: [{ type: 'fragment', offset: 0, more: false, id: 5 }] });
    const d = lab.counterDelta(() => {
      const f = only(lab.forward('outside', frame).inside, 'the atomic fragment, forwarded');
      assert.ok(LIPS6.includes(f.ipv6!.src) && SERVERS6.includes(f.ipv6!.dst), `FullNAT v6 addresses: ${show([f])}`);
      assert.ok(f.udp!.checksumOk && f.udp!.payload.equals(payload), 'UDP rewritten, checksum valid');
    });
    expectDrops(d, {}, 'the default policy drop does not apply to a whole packet');
    expectEvents(d, { conns_created: 1 });
    assert.is(d.events.frag_reassembled ?? 0, 0, 'no reassembly');
  }, config6());
});

test('tiny first fragment: a TCP header split over two fragments drops frag_header_chain_incomplete (RFC 7112)', async () => {
  await withLab((lab) => {
    const syn = frameFrom6('outside', CLIENT6, VIP6, { tcp: { srcPort: 5300, dstPort: 80, flags: 'S', payload: Buffer.alloc(40) } });
    const [first, rest] = fragmentFrame6(syn, [0, 16], 11); // 16 of the 20 TCP header bytes in the first
    const d = lab.counterDelta(() => {
      lab.send('outside', first!);
      assert.is(lab.forward('outside', rest!).inside.length, 0);
    });
    expectDrops(d, { frag_header_chain_incomplete: 1 }, 'the first fragment; the rest waits in the table');
    const expired = lab.counterDelta(() => lab.advance(1.2));
    expectDrops(expired, { frag_timeout: 1 });
  }, reassembleAll());
});

test('tiny first fragment: an extension header running past the first fragment drops frag_header_chain_incomplete, whatever the policy', async () => {
  // Fragment header, then a 16-byte destination options header of which 8 bytes are here.
  const cut = (more: boolean) => frameFrom6('outside', CLIENT6, VIP6, { payload: Buffer.alloc(0) }, {
    protocol: IPPROTO.UDP,
    extensions: [{ type: 'fragment', offset: 0, more, id: 12 }, { type: 'raw', nextHeader: 60, bytes: Buffer.from([0, 1, 1, 4, 0, 0, 0, 0]) }],
  });
  await withLab((lab) => {
    const d = lab.counterDelta(() => assert.is(lab.forward('outside', cut(true)).inside.length, 0));
    expectDrops(d, { frag_header_chain_incomplete: 1 });
    const whole = lab.counterDelta(() => lab.forward('outside', cut(false)));
    expectDrops(whole, { ipv6_ext_header_malformed: 1 }, 'an atomic fragment so cut is a malformed whole packet');
  }, config6());
});

test('a fragment that is not the last and not a multiple of 8 bytes drops ipv6_malformed', async () => {
  await withLab((lab) => {
    const { frame } = bigUdp6(100);
    const odd = Buffer.concat([frame.subarray(0, 14), buildIpv6({ src: CLIENT6, dst: VIP6, protocol: IPPROTO.UDP,
      extensions: [{ type: 'fragment', offset: 0, more: true, id: 13 }] }, frame.subarray(54, 54 + 20))]);
    const d = lab.counterDelta(() => lab.forward('outside', odd));
    expectDrops(d, { ipv6_malformed: 1 });
  }, reassembleAll());
});

test('oversize: a fragment reaching past a 65535-byte payload, or a set past maxDatagram, drops frag_oversize', async () => {
  await withLab((lab) => {
    const far = Buffer.concat([bigUdp6(10).frame.subarray(0, 14), buildIpv6({ src: CLIENT6, dst: VIP6, protocol: IPPROTO.UDP,
      extensions: [{ type: 'fragment', offset: 8189, more: false, id: 14 }] }, Buffer.alloc(32))]); // ends at 65544
    const d = lab.counterDelta(() => lab.forward('outside', far));
    expectDrops(d, { frag_oversize: 1 });
    const big = lab.counterDelta(() => lab.forward('outside', ...fragmentFrame6(bigUdp6(1200).frame, [0, 600], 15)));
    expectDrops(big, { frag_oversize: 2 }, 'maxDatagram 1000');
    assert.is(lab.forward('outside', ...fragmentFrame6(bigUdp6(800).frame, [0, 400], 16)).inside.length, 2, 'a datagram within the limit passes');
  }, reassembleAll(), { fragments: { maxDatagram: 1000 } });
});

test('identification is 32 bits and part of the key: two datagrams differing above bit 16 do not mix', async () => {
  await withLab((lab) => {
    const a = fragmentFrame6(bigUdp6(800, 4600).frame, [0, 400], 0x00010007);
    const b = fragmentFrame6(bigUdp6(800, 4601).frame, [0, 400], 0x00020007);
    const d = lab.counterDelta(() => {
      lab.send('outside', a[0]!, b[0]!);
      const out = lab.forward('outside', a[1]!, b[1]!);
      assert.is(out.inside.length, 4, show(out.inside));
    });
    expectDrops(d, {});
    expectEvents(d, { frag_reassembled: 2 });
  }, reassembleAll());
});

test('limit: fragments over the per-source bucket drop frag_rate_limited, one bucket per /64; what passes is reassembled', async () => {
  await withLab((lab) => {
    const open = (count: number, firstId: number, src: string) => {
      for (let i = 0; i < count; i++) lab.send('outside', fragmentFrame6(bigUdp6(600, 4100 + i, src).frame, [0, 304], firstId + i)[0]!);
    };
    const d = lab.counterDelta(() => open(5, 100, CLIENT6));
    expectDrops(d, { frag_rate_limited: 2 }, 'burst 3');
    const sameNet = lab.counterDelta(() => open(1, 150, '2001:db8:18::2'));
    expectDrops(sameNet, { frag_rate_limited: 1 }, 'another address of the same /64 shares the bucket');
    const other = lab.counterDelta(() => open(1, 200, OTHER_NET6));
    expectDrops(other, {}, 'another /64 has its own bucket');
    lab.advance(0.2); // 10/s: two tokens
    const out = lab.forward('outside', ...fragmentFrame6(bigUdp6(600, 4300).frame, [0, 304], 300));
    assert.is(out.inside.length, 2, 'a datagram within the rate is reassembled and forwarded');
  }, config6({ fragments: { policy: 'limit', perSource: { pps: 10, burst: 3 } } }));
});

test('egress: a rebuilt datagram whose biggest fragment does not fit the inside MTU gets a Packet Too Big and drops egress_mtu_exceeded', async () => {
  await withLab((lab) => {
    const { frame, payload } = bigUdp6(2800);
    const arriving = fragmentFrame6(frame, [0, 1448], 20); // 1496 + 1368 bytes
    const d = lab.counterDelta(() => {
      const out = lab.forward('outside', ...arriving);
      assert.is(out.inside.length, 0, show(out.inside));
      const ptb = only(out.outside, 'Packet Too Big to the client');
      assert.equal([ptb.ipv6!.src, ptb.ipv6!.dst, ptb.icmp6!.type, ptb.icmp6!.rest], [VIP6, CLIENT6, ICMP6_TYPE.PACKET_TOO_BIG, 1400]);
      assert.ok(ptb.icmp6!.checksumOk);
    });
    expectDrops(d, { egress_mtu_exceeded: 1 });
    expectEvents(d, { frag_reassembled: 1, icmp6_packet_too_big_sent: 1 });
    // The client learns 1400: its next datagram comes in 1400-byte fragments, which leave as such.
    const smaller = fragmentFrame6(frame, [0, 1352, 2704], 21);
    const out = lab.forward('outside', ...smaller);
    assert.is(out.inside.length, 3, show(out.inside));
    for (const size of ipSizes(out.inside)) assert.ok(size <= 1400, `fits the 1400 MTU: ${size}`);
    assert.ok(joinedUdp(out.inside).udp.payload.equals(payload));
  }, reassembleAll(), { ports: ports(1500, 1400) });
});

test('NAT64: a datagram rebuilt from IPv6 fragments leaves as IPv4 without DF, in fragments for the IPv4 MTU', async () => {
  await withLab((lab) => {
    const { frame, payload } = bigUdp6(3000, 4700, CLIENT6, '2001:db8:18::11');
    const d = lab.counterDelta(() => {
      const out = lab.forward('outside', ...fragmentFrame6(frame, [0, 1448, 2896], 30));
      assert.ok(out.inside.length >= 3, show(out.inside));
      const sorted = [...out.inside].sort((a, b) => a.ipv4!.fragmentOffset - b.ipv4!.fragmentOffset);
      for (const f of sorted) {
        assert.ok(f.ipv4!.totalLength <= 1500 && f.ipv4!.checksumOk, `an IPv4 fragment within the MTU: ${f.ipv4!.totalLength}`);
        assert.not.ok(f.ipv4!.dontFragment, 'DF clear');
        assert.ok(LIPS.includes(f.ipv4!.src) && SERVERS.includes(f.ipv4!.dst));
      }
      const body = Buffer.concat(sorted.map((f) => f.ipv4!.payload));
      const { udp } = decodeUdp(body, sorted[0]!.ipv4!.src, sorted[0]!.ipv4!.dst);
      assert.ok(udp && udp.checksumOk && udp.payload.equals(payload), 'the UDP datagram, whole and valid over IPv4');
    });
    expectDrops(d, {});
    expectEvents(d, { frag_reassembled: 1, frag_refragmented: 1 });
  }, reassembleAll());
});

test('a fragment to a multicast group (neighbour discovery is never fragmented) drops not_for_us', async () => {
  await withLab((lab) => {
    const ns = frameFrom6('outside', CLIENT6, 'ff02::1:ff00:254', { payload: Buffer.alloc(24) },
      { protocol: IPPROTO.ICMPV6, extensions: [{ type: 'fragment', offset: 0, more: true, id: 40 }] }, '33:33:ff:00:02:54');
    const d = lab.counterDelta(() => lab.forward('outside', ns));
    expectDrops(d, { not_for_us: 1 });
  }, reassembleAll());
});

test('reassembled ICMPv6 echo to an owned address is answered whole', async () => {
  await withLab((lab) => {
    const echo = frameFrom6('outside', CLIENT6, VIP6, { icmp6: { type: ICMP6_TYPE.ECHO_REQUEST, id: 1, sequence: 1, payload: Buffer.alloc(600, 7) } });
    const reply = only(lab.forward('outside', ...fragmentFrame6(echo, [0, 304], 41)).outside, 'echo reply');
    assert.is(reply.icmp6!.type, ICMP6_TYPE.ECHO_REPLY);
    assert.ok(reply.icmp6!.checksumOk && reply.icmp6!.payload.equals(Buffer.alloc(600, 7)));
  }, reassembleAll());
});

test('a seeded storm of overlapping, duplicate, short, cut and complete IPv6 fragments: every frame accounted for, no mbuf leaked', async () => {
  await withLab((lab) => {
    const rnd = seededRandom(0x6f4a);
    const int = (n: number) => Math.floor(rnd() * n);
    const eth = bigUdp6(1).frame.subarray(0, 14);
    stormLeavesNothing(lab, 150, (batch) => {
      const frames: Buffer[] = [];
      for (let i = 0; i < 64; i++) {
        const more = rnd() < 0.7;
        const length = more ? 8 * int(64) : int(600); // 0 included: an empty fragment
        const ip = buildIpv6({ src: `2001:db8:18::${1 + int(4)}`, dst: rnd() < 0.9 ? VIP6 : LIPS6[0]!, protocol: rnd() < 0.8 ? 17 : 6,
          extensions: [{ type: 'fragment', offset: rnd() < 0.3 ? 0 : int(200), more, id: int(8) + (rnd() < 0.5 ? 0x10000 : 0) }] },
          Buffer.alloc(length, batch));
        frames.push(Buffer.concat([eth, ip]));
      }
      if (batch % 10 === 0) frames.push(...fragmentFrame6(bigUdp6(2500 + batch, 6000 + batch).frame, [0, 1448], 40000 + batch).reverse());
      return frames;
    }, { minRebuilt: 15, reasons: ['frag_overlap', 'frag_timeout', 'frag_too_many', 'ipv6_malformed', 'frag_header_chain_incomplete'] });
  }, reassembleAll(), { fragments: { maxFragments: 4 } });
});

test.run();
