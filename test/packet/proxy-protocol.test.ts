// PROXY protocol v1/v2: the header is the first bytes the real server reads (in front of
// the client's first data segment and of its retransmissions), and sequence numbers,
// acknowledgements, SACK blocks and the server's MSS are adjusted for the added bytes.
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import {
  CLIENT, VIP, clientSegment, clientTcp, expectDrops, expectEvents, labConfig, only, seededRandom, serverSegment,
  serverTcp, show, synThrough, withBadTcpChecksum, withLab, type Flow, type Lab,
} from '../support/golden.js';
import type { DecodedFrame } from '../support/packet.js';
import { receiveStream } from '../support/tcp-receiver.js';

type Mode = 'proxy_v1' | 'proxy_v2';
const config = (mode: Mode, synproxy = false) => labConfig((c) => { c.services[0]!.clientAddress = mode; c.services[0]!.synproxy = synproxy; });

function v2Header(cport: number): Buffer {
  const b = Buffer.alloc(28);
  Buffer.from('0d0a0d0a000d0a515549540a', 'hex').copy(b, 0);
  b[12] = 0x21; b[13] = 0x11; b.writeUInt16BE(12, 14);
  Buffer.from([198, 18, 0, 1]).copy(b, 16);
  Buffer.from([198, 18, 0, 10]).copy(b, 20);
  b.writeUInt16BE(cport, 24); b.writeUInt16BE(80, 26);
  return b;
}
const v1Header = (cport: number): Buffer => Buffer.from(`PROXY TCP4 ${CLIENT} ${VIP} ${cport} 80\r\n`);

/** Handshake through the gateway; returns the flow and the MSS the client was offered. */
function open(lab: Lab, cport: number, clientIsn = 1000): { flow: Flow; clientMss: number } {
  const flow = synThrough(lab, cport, 80, clientIsn);
  const synAck = only(lab.forward('inside', serverTcp(flow.server, flow.sport, flow.lip, flow.lport,
    { flags: 'SA', seq: flow.serverIsn, ack: flow.clientIsn + 1, options: [{ kind: 'mss', value: 1460 }] })).outside, 'SYN-ACK');
  assert.ok(synAck.tcp!.checksumOk);
  const mss = synAck.tcp!.options.find((o) => o.kind === 'mss');
  only(lab.forward('outside', clientSegment(flow, {})).inside, 'handshake ACK');
  return { flow, clientMss: mss && mss.kind === 'mss' ? mss.value : 0 };
}

function checkGrown(f: DecodedFrame): void {
  assert.ok(f.ipv4!.checksumOk, 'IP checksum');
  assert.ok(f.tcp!.checksumOk, 'TCP checksum');
  assert.is(f.ipv4!.totalLength, 20 + f.tcp!.dataOffset * 4 + f.tcp!.payload.length, 'IP total length');
}

for (const mode of ['proxy_v1', 'proxy_v2'] as const) {
  test(`${mode}: header in front of the first data segment, exact bytes; later seq/ack shifted`, async () => {
    await withLab((lab) => {
      const cport = 42000;
      const header = mode === 'proxy_v1' ? v1Header(cport) : v2Header(cport);
      const { flow, clientMss } = open(lab, cport);
      assert.is(clientMss, 1460 - header.length, 'MSS offered to the client leaves room for the header');
      const first = only(lab.forward('outside', clientSegment(flow, { flags: 'PA', payload: Buffer.from('GET /') })).inside, 'first data');
      checkGrown(first);
      assert.equal(first.tcp!.payload, Buffer.concat([header, Buffer.from('GET /')]));
      assert.is(first.tcp!.seq, flow.clientIsn + 1);
      // retransmission: the header again
      const again = only(lab.forward('outside', clientSegment(flow, { flags: 'PA', payload: Buffer.from('GET /') })).inside, 'retransmission');
      assert.equal(again.tcp!.payload, first.tcp!.payload);
      // next segment moves up by the header length
      const next = only(lab.forward('outside', clientSegment(flow, { flags: 'PA', seq: flow.clientIsn + 6, payload: Buffer.from(' HTTP') })).inside, 'second data');
      assert.is(next.tcp!.seq, flow.clientIsn + 6 + header.length);
      assert.equal(next.tcp!.payload, Buffer.from(' HTTP'));
      assert.ok(next.tcp!.checksumOk);
      // server ACKs everything and SACKs: back into the client's numbering
      const serverAckNo = flow.clientIsn + 1 + header.length + 10;
      const reply = only(lab.forward('inside', serverSegment(flow, {
        ack: serverAckNo, options: [{ kind: 'nop' }, { kind: 'nop' }, { kind: 'sack', blocks: [[serverAckNo + 100, serverAckNo + 200]] }],
      })).outside, 'server ACK');
      assert.is(reply.tcp!.ack, flow.clientIsn + 11);
      assert.equal(reply.tcp!.options.find((o) => o.kind === 'sack'),
        { kind: 'sack', blocks: [[flow.clientIsn + 111, flow.clientIsn + 211]] });
      assert.ok(reply.tcp!.checksumOk);
      // an ack that covers only part of the header means "nothing of yours yet"
      const partial = only(lab.forward('inside', serverSegment(flow, { ack: flow.clientIsn + 5 })).outside, 'partial ack');
      assert.is(partial.tcp!.ack, flow.clientIsn + 1);
    }, config(mode));
  });
}

test('proxy_v2 with SYNPROXY: held first segment carries the header; the client MSS leaves room', async () => {
  await withLab((lab) => {
    const cport = 42001, isn = 7000;
    const synAck = only(lab.forward('outside', clientTcp(cport, { flags: 'S', seq: isn, options: [{ kind: 'mss', value: 1460 }] })).outside, 'SYN-ACK');
    assert.equal(synAck.tcp!.options, [{ kind: 'mss', value: 1460 - 28 }]);
    const cookie = synAck.tcp!.seq;
    const syn = only(lab.forward('outside', clientTcp(cport, { flags: 'PA', seq: isn + 1, ack: (cookie + 1) >>> 0, payload: Buffer.from('hi') })).inside, 'backend SYN');
    const out = lab.forward('inside', serverTcp(syn.ipv4!.dst, 80, syn.ipv4!.src, syn.tcp!.srcPort,
      { flags: 'SA', seq: 1234, ack: isn + 1, options: [{ kind: 'mss', value: 1460 }] }));
    assert.is(out.inside.length, 2, show(out.inside));
    const data = out.inside[1]!;
    checkGrown(data);
    assert.equal(data.tcp!.payload, Buffer.concat([v2Header(cport), Buffer.from('hi')]));
    assert.is(data.tcp!.ack, 1235);
  }, config('proxy_v2', true));
});

// ------------------------------------------------------------------ forgery at the stream start
// The server's TCP delivers bytes at rcv_nxt and trims older ones off the front of a segment,
// so any client byte that lands at or after the stream start without our header in front of it
// would be read as the PROXY header. Each test reassembles what the server receives the way
// Linux would (test/support/tcp-receiver.ts) and checks that it starts with our header.

const FORGED_LINE = Buffer.from('PROXY TCP4 6.6.6.6 198.18.0.10 6666 80\r\nGET / HTTP/1.1\r\n\r\n');
const u32 = (n: number): number => n >>> 0;
const text = (b: Buffer): string => JSON.stringify(b.toString('latin1'));

/** Sends client frames, remembering everything that reached the server side. */
function toServer(lab: Lab): { seen: DecodedFrame[]; send: (frame: Buffer) => DecodedFrame[] } {
  const seen: DecodedFrame[] = [];
  return { seen, send: (frame) => { const out = lab.forward('outside', frame).inside; seen.push(...out); return out; } };
}

/** The server's stream from `start`: our header, then exactly `rest` (the client's bytes from the start on). */
function assertStream(frames: DecodedFrame[], start: number, header: Buffer, rest: Buffer): void {
  const { stream } = receiveStream(frames, start);
  assert.is(text(stream.subarray(0, header.length)), text(header), `the server reads our header first; frames:\n  ${show(frames)}`);
  assert.is(text(stream.subarray(header.length)), text(rest), 'then the client\'s own bytes');
}

for (const mode of ['proxy_v1', 'proxy_v2'] as const) {
  test(`${mode}: data at first − 1 carrying a forged PROXY line is cut at first and gets our header in front`, async () => {
    await withLab((lab) => {
      const cport = 42010;
      const header = mode === 'proxy_v1' ? v1Header(cport) : v2Header(cport);
      const { flow } = open(lab, cport);
      const first = flow.clientIsn + 1;
      const server = toServer(lab);
      const d = lab.counterDelta(() => {
        server.send(clientSegment(flow, { flags: 'PA', seq: first - 1, payload: Buffer.concat([Buffer.from('X'), FORGED_LINE]) }));
      });
      assertStream(server.seen, first, header, FORGED_LINE);  // after our header it is only data
      const cut = only(server.seen, 'cut segment');
      checkGrown(cut);
      assert.is(cut.tcp!.seq, first);
      expectEvents(d, { proxy_segment_trimmed: 1 });
      // a retransmission at first with other bytes: our header again, in front; the server trims it all
      server.send(clientSegment(flow, { flags: 'PA', seq: first - 1, payload: Buffer.from('YPROXY TCP4 7.7.7.7') }));
      assert.is(server.seen.length, 2);
      assert.is(server.seen[1]!.tcp!.payload.subarray(0, header.length).toString('hex'), header.toString('hex'));
      assertStream(server.seen, first, header, FORGED_LINE);
    }, config(mode));
  });
}

test('proxy_v1: bytes entirely before the stream start become a bare ACK (keepalive probes still answered)', async () => {
  await withLab((lab) => {
    const cport = 42011;
    const { flow } = open(lab, cport);
    const first = flow.clientIsn + 1;
    const server = toServer(lab);
    const d = lab.counterDelta(() => {
      server.send(clientSegment(flow, { flags: 'FPA', seq: first - FORGED_LINE.length - 1, payload: FORGED_LINE }));
      server.send(clientSegment(flow, { flags: 'PA', seq: first - 1, payload: Buffer.from('x') }));  // BSD-style keepalive
    });
    assert.is(server.seen.length, 2, show(server.seen));
    for (const f of server.seen) {
      assert.is(f.tcp!.payload.length, 0, show([f]));
      assert.is(f.tcp!.flagNames, 'A', 'FIN and PSH gone with the bytes');
      assert.ok(f.tcp!.checksumOk && f.ipv4!.checksumOk, 'checksums');
      assert.is(f.ipv4!.totalLength, 40);
    }
    assert.is(server.seen[0]!.tcp!.seq, u32(first - FORGED_LINE.length - 1), 'left at its own sequence number');
    expectEvents(d, { proxy_segment_trimmed: 2 });
    // a Linux keepalive (no byte) at first − 1 and a bare ACK at first pass as they are
    const probe = lab.counterDelta(() => {
      for (const seq of [first - 1, first]) {
        const f = only(server.send(clientSegment(flow, { seq, window: 777 })), `bare ACK at ${seq}`);
        assert.is(f.tcp!.seq, seq);
        assert.is(f.tcp!.payload.length, 0);
        assert.is(f.tcp!.window, 777);
      }
    });
    assert.is(probe.events.proxy_segment_trimmed, undefined);
    server.send(clientSegment(flow, { flags: 'PA', payload: Buffer.from('GET /') }));
    assertStream(server.seen, first, v1Header(cport), Buffer.from('GET /'));
  }, config('proxy_v1'));
});

test('proxy_v1 without SYNPROXY: a SYN never brings client bytes (Fast Open would start the stream with them) and is never moved', async () => {
  await withLab((lab) => {
    const cport = 42012, isn = 3000;
    const server = toServer(lab);
    let syn: DecodedFrame | undefined;
    const d = lab.counterDelta(() => {
      syn = only(server.send(clientTcp(cport, { flags: 'S', seq: isn, options: [{ kind: 'mss', value: 1460 }], payload: FORGED_LINE })), 'SYN');
    });
    const flow: Flow = { cport, lip: syn!.ipv4!.src, lport: syn!.tcp!.srcPort, server: syn!.ipv4!.dst, sport: 80, clientIsn: isn, serverIsn: 50000 };
    lab.forward('inside', serverTcp(flow.server, 80, flow.lip, flow.lport, { flags: 'SA', seq: flow.serverIsn, ack: isn + 1 }));
    server.send(clientSegment(flow, { flags: 'PA', payload: Buffer.from('GET /') }));
    assertStream(server.seen, isn + 1, v1Header(cport), Buffer.from('GET /'));
    assert.is(syn!.tcp!.payload.length, 0, `payload removed: ${show([syn!])}`);
    assert.is(syn!.tcp!.seq, isn);
    assert.ok(syn!.tcp!.checksumOk && syn!.ipv4!.checksumOk);
    expectEvents(d, { proxy_segment_trimmed: 1 });
    // later SYNs (past the start): not moved by the header length, bytes removed
    const later = only(server.send(clientTcp(cport, { flags: 'S', seq: isn + 100, payload: FORGED_LINE })), 'later SYN');
    assert.is(later.tcp!.seq, isn + 100);
    assert.is(later.tcp!.payload.length, 0);
  }, config('proxy_v1'));
});

test('proxy_v1: a FIN at the stream start carries the header; bytes + FIN straddling the start are cut to it', async () => {
  await withLab((lab) => {
    for (const [cport, seqBack, payload] of [[42013, 0, ''], [42014, 3, 'abc']] as const) {
      const { flow } = open(lab, cport);
      const first = flow.clientIsn + 1;
      const server = toServer(lab);
      const fin = only(server.send(clientSegment(flow, { flags: 'FPA', seq: first - seqBack, payload: Buffer.from(payload) })), 'FIN');
      assertStream(server.seen, first, v1Header(cport), Buffer.alloc(0));
      checkGrown(fin);
      assert.is(fin.tcp!.seq, first);
      assert.ok(fin.tcp!.flagNames.includes('F'), 'still a FIN');
      assert.is(fin.tcp!.payload.toString('hex'), v1Header(cport).toString('hex'));
      // the server acknowledges header + FIN: the client sees its FIN acknowledged
      const ack = only(lab.forward('inside', serverSegment(flow, { ack: first + v1Header(cport).length + 1 })).outside, 'ACK of FIN');
      assert.is(ack.tcp!.ack, first + 1);
    }
  }, config('proxy_v1'));
});

test('proxy_v1: sequence numbers wrapping past 2^32 at the stream start', async () => {
  await withLab((lab) => {
    for (const [cport, isn] of [[42015, 0xffffffff], [42016, 0xfffffff0]] as const) {
      const header = v1Header(cport);
      const { flow } = open(lab, cport, isn);
      const first = u32(isn + 1);
      const server = toServer(lab);
      const cut = only(server.send(clientSegment(flow, { flags: 'PA', seq: u32(first - 2), payload: Buffer.from('XYGET /') })), 'cut');
      const more = Buffer.alloc(40, 0x62);  // crosses 2^32 for the second ISN
      const next = only(server.send(clientSegment(flow, { flags: 'PA', seq: u32(first + 5), payload: more })), 'next');
      assertStream(server.seen, first, header, Buffer.concat([Buffer.from('GET /'), more]));
      assert.is(cut.tcp!.seq, first);
      checkGrown(cut);
      assert.is(next.tcp!.seq, u32(first + 5 + header.length));
    }
  }, config('proxy_v1'));
});

test('proxy_v1: an urgent pointer cannot take a byte of the header out of the stream', async () => {
  await withLab((lab) => {
    const cport = 42017;
    const { flow } = open(lab, cport);
    const first = flow.clientIsn + 1;
    const server = toServer(lab);
    const d = lab.counterDelta(() => {
      server.send(clientSegment(flow, { flags: 'UA', urgent: 4 }));
      server.send(clientSegment(flow, { flags: 'UPA', urgent: 0, payload: Buffer.from('GET /') }));
    });
    assertStream(server.seen, first, v1Header(cport), Buffer.from('GET /'));
    assert.equal(receiveStream(server.seen, first).urgent, []);
    assert.is(server.seen.length, 2, show(server.seen));
    const [ack, data] = server.seen as [DecodedFrame, DecodedFrame];
    assert.is(ack.tcp!.flagNames, 'A', 'URG cleared');
    assert.is(ack.tcp!.urgent, 0);
    assert.ok(ack.tcp!.checksumOk);
    assert.is(data.tcp!.flagNames, 'PA', 'URG cleared');
    checkGrown(data);
    expectEvents(d, { proxy_segment_trimmed: 2 });
  }, config('proxy_v1'));
});

test('proxy_v1 without SYNPROXY: the stream starts where the server\'s SYN-ACK says (first SYN corrupted, second with another ISN)', async () => {
  await withLab((lab) => {
    const cport = 42018;
    const server = toServer(lab);
    const corrupted = only(server.send(withBadTcpChecksum(clientTcp(cport, { flags: 'S', seq: 5000 }))), 'first SYN');
    const flow: Flow = { cport, lip: corrupted.ipv4!.src, lport: corrupted.tcp!.srcPort, server: corrupted.ipv4!.dst, sport: 80, clientIsn: 4000, serverIsn: 50000 };
    only(server.send(clientTcp(cport, { flags: 'S', seq: 4000 })), 'second SYN');
    const synAck = only(lab.forward('inside', serverTcp(flow.server, 80, flow.lip, flow.lport, { flags: 'SA', seq: flow.serverIsn, ack: 4001 })).outside, 'SYN-ACK');
    assert.is(synAck.tcp!.ack, 4001);
    server.send(clientSegment(flow, {}));
    server.send(clientSegment(flow, { flags: 'PA', payload: FORGED_LINE }));
    assertStream(server.seen, 4001, v1Header(cport), FORGED_LINE);
  }, config('proxy_v1'));
});

test('proxy_v1 with SYNPROXY: segments held before the server answers are cut and headed like any other', async () => {
  await withLab((lab) => {
    const cport = 42019, isn = 7000;
    const header = v1Header(cport);
    const synAck = only(lab.forward('outside', clientTcp(cport, { flags: 'S', seq: isn, options: [{ kind: 'mss', value: 1460 }] })).outside, 'SYN-ACK');
    const ack = u32(synAck.tcp!.seq + 1);
    const syn = only(lab.forward('outside', clientTcp(cport, { flags: 'A', seq: isn + 1, ack })).inside, 'backend SYN');
    const held = lab.forward('outside',
      clientTcp(cport, { flags: 'PA', seq: isn, ack, payload: Buffer.concat([Buffer.from('X'), FORGED_LINE]) }),
      clientTcp(cport, { flags: 'PA', seq: isn + 1, ack, payload: Buffer.from('GET /') }));
    assert.is(held.inside.length, 0, `held: ${show(held.inside)}`);
    let out: DecodedFrame[] = [];
    const d = lab.counterDelta(() => {
      out = lab.forward('inside', serverTcp(syn.ipv4!.dst, 80, syn.ipv4!.src, syn.tcp!.srcPort,
        { flags: 'SA', seq: 1234, ack: isn + 1, options: [{ kind: 'mss', value: 1460 }] })).inside;
    });
    assert.is(out.length, 3, show(out));
    assertStream(out, isn + 1, header, FORGED_LINE);
    for (const f of out.slice(1)) {
      checkGrown(f);
      assert.is(f.tcp!.seq, isn + 1);
    }
    expectEvents(d, { proxy_segment_trimmed: 1 });
  }, config('proxy_v1', true));
});

test('proxy_v1: the segment that would carry the header is verified — a bad checksum is dropped (client_address_bad_checksum), not re-checksummed', async () => {
  await withLab((lab) => {
    const cport = 42020;
    const { flow } = open(lab, cport);
    const server = toServer(lab);
    const segment = clientSegment(flow, { flags: 'PA', payload: Buffer.from('GET /') });
    const d = lab.counterDelta(() => { server.send(withBadTcpChecksum(segment)); });
    assert.is(server.seen.length, 0, `a corrupted segment is not blessed with a fresh checksum: ${show(server.seen)}`);
    expectDrops(d, { client_address_bad_checksum: 1 });
    server.send(segment);
    assertStream(server.seen, flow.clientIsn + 1, v1Header(cport), Buffer.from('GET /'));
  }, config('proxy_v1'));
});

for (const synproxy of [false, true]) {
  test(`proxy_v1${synproxy ? ' with SYNPROXY' : ''}: a new connection on the same ports after the server reset starts with our header too`, async () => {
    await withLab((lab) => {
      const cport = synproxy ? 42022 : 42021, isn = 8000, header = v1Header(cport);
      // first connection, through the gateway's handshake or the server's
      let server = '', lip = '', lport = 0;
      if (synproxy) {
        const synAck = only(lab.forward('outside', clientTcp(cport, { flags: 'S', seq: isn, options: [{ kind: 'mss', value: 1460 }] })).outside, 'SYN-ACK');
        const syn = only(lab.forward('outside', clientTcp(cport, { flags: 'A', seq: isn + 1, ack: u32(synAck.tcp!.seq + 1) })).inside, 'backend SYN');
        ({ dst: server, src: lip } = syn.ipv4!);
        lport = syn.tcp!.srcPort;
        lab.forward('inside', serverTcp(server, 80, lip, lport, { flags: 'SA', seq: 1234, ack: isn + 1 }));
      } else {
        const flow = open(lab, cport, isn).flow;
        ({ server, lip, lport } = flow);
      }
      lab.forward('outside', clientTcp(cport, { flags: 'PA', seq: isn + 1, ack: 1, payload: Buffer.from('hi') }));
      lab.forward('inside', serverTcp(server, 80, lip, lport, { flags: 'R', seq: 1235 }));
      // the server forgot the connection; the client opens another one on the same ports
      const next = isn + 100_000, serverIsn = 777_000;
      const toServer2 = toServer(lab);
      const syn2 = only(toServer2.send(clientTcp(cport, { flags: 'S', seq: next })), 'new SYN');
      const start = u32(syn2.tcp!.seq + 1);  // the server's new stream starts after the SYN it got
      lab.forward('inside', serverTcp(server, 80, lip, lport, { flags: 'SA', seq: serverIsn, ack: start }));
      // forged bytes that would land at the new start if it were moved like data, then data
      toServer2.send(clientTcp(cport, { flags: 'PA', seq: next + 1 - header.length, ack: serverIsn + 1, payload: FORGED_LINE }));
      toServer2.send(clientTcp(cport, { flags: 'PA', seq: next + 1, ack: serverIsn + 1, payload: Buffer.from('GET /') }));
      const { stream } = receiveStream(toServer2.seen, start);
      assert.is(text(stream.subarray(0, header.length)), text(header), `the new stream starts with our header:\n  ${show(toServer2.seen)}`);
      assert.is(syn2.tcp!.seq, next, 'a SYN is never moved by the header length');
    }, config('proxy_v1', synproxy));
  });
}

test('proxy_v1, seeded random segments around the stream start (any flags, urgent, bad checksums, ISNs near 2^32): the server reads our header first', async () => {
  await withLab((lab) => {
    const rnd = seededRandom(0x70c0a5);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    const flagChoices = ['A', 'PA', 'FA', 'FPA', 'UA', 'UPA', 'S', 'SA', 'RA', 'FUPA'] as const;
    for (let n = 0; n < 120; n++) {
      const cport = 43000 + n;
      const header = v1Header(cport);
      const isn = pick([1000, 0xffffffff, 0xfffffff0, 0xffffffc0, Math.floor(rnd() * 2 ** 32)]);
      const { flow } = open(lab, cport, isn);
      const first = u32(isn + 1);
      const server = toServer(lab);
      for (let k = 0; k < 6; k++) {
        const offset = Math.floor(rnd() * 160) - 100;
        const length = pick([0, 0, 1, 5, 40, 80]);
        const payload = rnd() < 0.5 ? FORGED_LINE.subarray(0, length) : Buffer.from(Array.from({ length }, () => Math.floor(rnd() * 256)));
        const frame = clientSegment(flow, { flags: pick(flagChoices), seq: u32(first + offset), urgent: Math.floor(rnd() * 60), payload });
        server.send(rnd() < 0.1 ? withBadTcpChecksum(frame) : frame);
      }
      server.send(clientSegment(flow, { flags: 'PA', payload: Buffer.from('GET /') }));
      const { stream } = receiveStream(server.seen, first);
      assert.ok(stream.length >= header.length, `connection ${n} (ISN ${isn}): the server got the header:\n  ${show(server.seen)}`);
      assert.is(text(stream.subarray(0, header.length)), text(header), `connection ${n} (ISN ${isn}):\n  ${show(server.seen)}`);
    }
  }, config('proxy_v1'), { connCapacity: 4096 });
});

test.run();
