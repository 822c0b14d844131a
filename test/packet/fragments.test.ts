// IPv4 fragment policy (issue 5) and reassembly-table exhaustion (issue 8): drop | limit |
// reassemble per service, reassembly before FullNAT, re-fragmentation over the egress MTU,
// and every refused fragment counted under its reason. Time is the injected clock. The
// scenarios IPv6 shares (default drop, per service, overlap, timeout) are in
// fragments-families.test.ts, run for both.
import { test } from '../support/suite.js';
import { fragmentFrame4 } from '../support/fragment-frames.js';
import * as assert from 'uvu/assert';
import {
  CLIENT, LIPS, SERVERS, UDP_SERVICE_ID, VIP, clientSegment, expectDrops, expectEvents, frameFrom, labConfig, only,
  openTcp, seededRandom, show, withLab, type Lab,
} from '../support/golden.js';
import { buildIpv4, decodeUdp, type DecodedFrame } from '../support/packet.js';
import type { DataplaneConfig } from '../../src/dataplane/types.js';
import { REASSEMBLE, bigUdp, strictDnsBesideReassembly, stormLeavesNothing, withDefense } from '../support/fragment-families.js';

const reassembleAll = () => withDefense({ fragments: REASSEMBLE });

/** Reassembles captured fragments (one datagram) the way a receiver would. */
function joinFragments(frames: DecodedFrame[]): { payload: Buffer; src: string; dst: string } {
  const sorted = [...frames].sort((a, b) => a.ipv4!.fragmentOffset - b.ipv4!.fragmentOffset);
  let expected = 0;
  for (const f of sorted) {
    assert.is(f.ipv4!.fragmentOffset * 8, expected, `fragments tile the datagram: ${show(frames)}`);
    assert.ok(f.ipv4!.checksumOk, 'each fragment has a valid header checksum');
    expected += f.ipv4!.payload.length;
  }
  assert.not.ok(sorted.at(-1)!.ipv4!.moreFragments, 'the last fragment has MF clear');
  for (const f of sorted.slice(0, -1)) assert.ok(f.ipv4!.moreFragments, 'every other fragment has MF set');
  return { payload: Buffer.concat(sorted.map((f) => f.ipv4!.payload)), src: sorted[0]!.ipv4!.src, dst: sorted[0]!.ipv4!.dst };
}

/** First fragments (MF set, offset 0) of `count` different datagrams from src: each starts a set. */
function openSets(lab: Lab, count: number, firstId: number, src = CLIENT): void {
  for (let i = 0; i < count; i++) lab.send('outside', fragmentFrame4(bigUdp(600, 4100 + i, src).frame, [0, 304], firstId + i)[0]!);
}

test('reassemble: a UDP datagram in three in-order fragments leaves as one rewritten datagram, checksums valid', async () => {
  await withLab((lab) => {
    const { frame, payload } = bigUdp(1200);
    const d = lab.counterDelta(() => {
      const out = lab.forward('outside', ...fragmentFrame4(frame, [0, 400, 800], 7));
      const f = only(out.inside, 'rebuilt datagram');
      assert.ok(f.ipv4!.checksumOk, 'IP header checksum');
      assert.equal([f.ipv4!.moreFragments, f.ipv4!.fragmentOffset], [false, 0], 'not a fragment any more');
      assert.ok(LIPS.includes(f.ipv4!.src) && SERVERS.includes(f.ipv4!.dst), `FullNAT addresses: ${show(out.inside)}`);
      assert.is(f.udp!.dstPort, 7);
      assert.ok(f.udp!.checksumOk, 'UDP checksum over the whole datagram');
      assert.ok(f.udp!.payload.equals(payload), 'payload intact');
    });
    expectDrops(d, {});
    expectEvents(d, { frag_reassembled: 1 });
  }, reassembleAll());
});

test('reassemble: a TCP segment of an open connection, fragments out of order, rewritten with a valid checksum', async () => {
  await withLab((lab) => {
    const flow = openTcp(lab, 5100);
    const data = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 7) % 256));
    const pieces = fragmentFrame4(clientSegment(flow, { flags: 'PA', payload: data }), [0, 256, 512, 768], 99);
    const out = lab.forward('outside', ...pieces.reverse());
    const f = only(out.inside, 'rebuilt segment');
    assert.equal([f.ipv4!.src, f.ipv4!.dst, f.tcp!.srcPort, f.tcp!.dstPort], [flow.lip, flow.server, flow.lport, flow.sport]);
    assert.ok(f.ipv4!.checksumOk && f.tcp!.checksumOk, 'IP and TCP checksums');
    assert.is(f.tcp!.seq, flow.clientIsn + 1);
    assert.ok(f.tcp!.payload.equals(data));
  }, reassembleAll());
});

test('re-fragmentation: a 3000-byte datagram is rebuilt, rewritten, and leaves in MTU-sized fragments', async () => {
  await withLab((lab) => {
    const { frame, payload } = bigUdp(3000);
    const d = lab.counterDelta(() => {
      const out = lab.forward('outside', ...fragmentFrame4(frame, [0, 1480, 2960], 3));
      assert.is(out.inside.length, 3, show(out.inside));
      for (const f of out.inside) assert.ok(f.ipv4!.totalLength <= 1500, `fits the 1500 MTU: ${f.ipv4!.totalLength}`);
      const joined = joinFragments(out.inside);
      const { udp } = decodeUdp(joined.payload, joined.src, joined.dst);
      assert.ok(udp && udp.checksumOk, 'UDP checksum of the re-joined datagram');
      assert.ok(udp!.payload.equals(payload));
      assert.is(udp!.dstPort, 7);
    });
    expectDrops(d, {});
    // Three fragments joined into one datagram, which left as three pieces.
    expectEvents(d, { frag_reassembled: 1, frag_joined: 3, frag_refragmented: 1, frag_out_pieces: 3 });
  }, reassembleAll());
});

test('replies: a fragmented server reply to a LIP is reassembled under its service\'s policy and reaches the client', async () => {
  await withLab((lab) => {
    const first = only(lab.forward('outside', bigUdp(10, 4200).frame).inside, 'request');
    const reply = Buffer.from(Array.from({ length: 1400 }, (_, i) => i % 13));
    const fromServer = frameFrom('inside', first.ipv4!.dst, first.ipv4!.src, { udp: { srcPort: 7, dstPort: first.udp!.srcPort, payload: reply } });
    const out = lab.forward('inside', ...fragmentFrame4(fromServer, [0, 720], 55));
    const f = only(out.outside, 'reply to the client');
    assert.equal([f.ipv4!.src, f.ipv4!.dst, f.udp!.srcPort, f.udp!.dstPort], [VIP, CLIENT, 7, 4200]);
    assert.ok(f.udp!.checksumOk && f.udp!.payload.equals(reply));
  }, withDefense({ services: [{ serviceId: UDP_SERVICE_ID, fragments: REASSEMBLE }] }));
});

test('services sharing a VIP and protocol that disagree get the strictest policy (drop)', async () => {
  const config: DataplaneConfig = strictDnsBesideReassembly();
  await withLab((lab) => {
    const d = lab.counterDelta(() => assert.is(lab.forward('outside', ...fragmentFrame4(bigUdp(800).frame, [0, 400], 1)).inside.length, 0));
    expectDrops(d, { frag_dropped: 2 });
  }, config);
});

test('oversize: a set that would exceed maxDatagram is dropped frag_oversize', async () => {
  await withLab((lab) => {
    const d = lab.counterDelta(() => lab.forward('outside', ...fragmentFrame4(bigUdp(1200).frame, [0, 600], 4)));
    expectDrops(d, { frag_oversize: 2 });
    assert.is(lab.forward('outside', ...fragmentFrame4(bigUdp(800).frame, [0, 400], 5)).inside.length, 1, 'a datagram within the limit passes');
  }, reassembleAll(), { fragments: { maxDatagram: 1000 } });
});

test('too many fragments: the piece over maxFragments drops its set, each counted frag_too_many', async () => {
  await withLab((lab) => {
    const d = lab.counterDelta(() => lab.forward('outside', ...fragmentFrame4(bigUdp(1200).frame, [0, 400, 800], 6)));
    expectDrops(d, { frag_too_many: 3 });
    assert.is(lab.forward('outside', ...fragmentFrame4(bigUdp(1200).frame, [0, 600], 7)).inside.length, 1, 'two pieces are fine');
  }, reassembleAll(), { fragments: { maxFragments: 2 } });
});

test('limit: fragments over the per-source bucket are dropped frag_rate_limited; what passes is reassembled', async () => {
  await withLab((lab) => {
    const d = lab.counterDelta(() => openSets(lab, 5, 100));
    expectDrops(d, { frag_rate_limited: 2 }, 'burst 3');
    const other = lab.counterDelta(() => openSets(lab, 1, 200, '198.18.0.77'));
    expectDrops(other, {}, 'another source has its own bucket');
    lab.advance(0.2); // 10/s: two tokens
    const out = lab.forward('outside', ...fragmentFrame4(bigUdp(600, 4300).frame, [0, 304], 300));
    assert.is(out.inside.length, 1, 'a datagram within the rate is reassembled and forwarded');
  }, withDefense({ fragments: { policy: 'limit', perSource: { pps: 10, burst: 3 } } }));
});

test('table full: counted frag_table_full, established flows keep forwarding, and the table recovers after the timeout', async () => {
  await withLab((lab) => {
    const flow = bigUdp(20, 4500);
    assert.is(lab.forward('outside', flow.frame).inside.length, 1, 'an established UDP flow');
    const baseline = lab.stats().mbufsInUse;
    openSets(lab, 8, 1000); // 8 sets = one table set of 8 ways: full
    const full = lab.counterDelta(() => {
      openSets(lab, 3, 2000, '198.18.0.50');
      assert.is(lab.forward('outside', flow.frame).inside.length, 1, 'the established flow still forwards');
      assert.is(lab.forward('outside', bigUdp(20, 4600).frame).inside.length, 1, 'a new unfragmented flow too');
    });
    expectDrops(full, { frag_table_full: 3 });
    // A set already held still completes (and frees its way).
    const rest = fragmentFrame4(bigUdp(600, 4100).frame, [0, 304], 1000)[1]!;
    assert.is(lab.forward('outside', rest).inside.length, 1, 'a held set completes while the table is full');
    lab.advance(1.2);
    assert.is(lab.stats().drops.frag_timeout, 7, 'the seven incomplete sets time out');
    assert.is(lab.stats().mbufsInUse, baseline, 'every held fragment went back to the pool');
    const out = lab.forward('outside', ...fragmentFrame4(bigUdp(600, 4700).frame, [0, 304], 3000));
    assert.is(out.inside.length, 1, 'room again: a fragmented datagram is reassembled');
  }, reassembleAll(), { fragments: { sets: 8 } });
});

test('held fragments are bounded by a quarter of the receive pool: beyond it frag_table_full, and rx keeps working', async () => {
  await withLab((lab) => {
    const d = lab.counterDelta(() => openSets(lab, 130, 5000)); // 512 mbufs / 4 = 128 held at most
    expectDrops(d, { frag_table_full: 2 });
    assert.is(lab.forward('outside', bigUdp(20, 4800).frame).inside.length, 1, 'unfragmented traffic still forwards');
    lab.advance(1.2);
    assert.is(lab.stats().drops.frag_timeout, 128);
  }, reassembleAll(), { mbufs: 512 });
});

test('a seeded storm of overlapping, duplicate, short and complete fragments: every frame accounted for, no mbuf leaked', async () => {
  await withLab((lab) => {
    const rnd = seededRandom(0xf4a9);
    const int = (n: number) => Math.floor(rnd() * n);
    stormLeavesNothing(lab, 200, (batch) => {
      const frames: Buffer[] = [];
      for (let i = 0; i < 64; i++) {
        const more = rnd() < 0.7;
        const length = more ? 8 * (1 + int(64)) : 1 + int(600);
        const ip = buildIpv4({ src: `198.18.0.${1 + int(4)}`, dst: rnd() < 0.9 ? VIP : LIPS[0]!, protocol: rnd() < 0.8 ? 17 : 6,
          id: int(8), moreFragments: more, fragmentOffset: rnd() < 0.3 ? 0 : int(200) }, Buffer.alloc(length, batch));
        frames.push(Buffer.concat([frameFrom('outside', CLIENT, VIP, { payload: Buffer.alloc(0) }).subarray(0, 14), ip]));
      }
      if (batch % 10 === 0) frames.push(...fragmentFrame4(bigUdp(2500 + batch, 6000 + batch).frame, [0, 1480], 40000 + batch));
      return frames;
    }, { minRebuilt: 20, reasons: ['frag_overlap', 'frag_timeout', 'frag_too_many'] });
  }, reassembleAll(), { fragments: { maxFragments: 4 } });
});

test('a limit policy without a rate is refused with the field path; the old config stays live', async () => {
  await withLab((lab) => {
    assert.throws(() => lab.apply(withDefense({ fragments: { policy: 'limit' } })),
      (e: Error & { code?: string }) => e.code === 'EINVAL' && /config\.defense\.fragments\.perSource/.test(e.message));
    assert.is(lab.forward('outside', ...fragmentFrame4(bigUdp(800).frame, [0, 400], 1)).inside.length, 1);
  }, reassembleAll());
});

test.run();
