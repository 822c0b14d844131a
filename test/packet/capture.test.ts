// Packet capture (issue 21): per-worker rings of packet copies, each matched packet as the
// connection stage received it ('in') and as it left ('out', rewritten), filled only for the
// captured service or port; a full ring keeps what it has and counts the rest as lost.
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import type { CapturedPacket } from '../../src/dataplane/types.js';
import {
  TCP_SERVICE_ID, clientSegment, clientTcp, clientUdp, expectEvents, labConfig, openTcp, serverSegment, serverTcp, withLab,
} from '../support/golden.js';

const SLOTS_PER_WORKER = 2048;

function summary(packets: CapturedPacket[]): [string, string, number][] {
  return packets.map((p) => [p.direction, p.port, p.wireLength]);
}

function sameBytes(actual: Buffer, expected: Buffer, what: string): void {
  assert.ok(Buffer.compare(Buffer.from(actual), Buffer.from(expected)) === 0,
    `${what}: ${Buffer.from(actual).toString('hex')} != ${Buffer.from(expected).toString('hex')}`);
}

test('a captured service: both directions, as received and byte-exact as sent', async () => {
  await withLab((lab) => {
    const flow = openTcp(lab, 40000);
    lab.dp.packetCaptureSet({ enabled: true, serviceId: TCP_SERVICE_ID });
    const request = clientSegment(flow, { flags: 'PA', payload: Buffer.from('GET / HTTP/1.0\r\n\r\n') });
    lab.send('outside', request);
    const sentInside = lab.dp.capture('inside');
    const reply = serverSegment(flow, { flags: 'PA', payload: Buffer.from('HTTP/1.0 200 OK\r\n\r\n') });
    expectEvents(lab.counterDelta(() => lab.send('inside', reply)), { capture_copies: 2 }, 'as received and as sent');
    const sentOutside = lab.dp.capture('outside');
    lab.send('outside', clientUdp(5353, Buffer.from('another service')));
    lab.dp.capture('inside');
    assert.is(sentInside.length, 1);
    assert.is(sentOutside.length, 1);

    const { packets, lost, clockOffsetUs } = lab.dp.packetCaptureRead();
    assert.is(lost, 0);
    assert.is(clockOffsetUs, 0, 'test mode keeps the injected clock');
    assert.equal(summary(packets), [
      ['in', 'outside', request.length], ['out', 'inside', sentInside[0]!.length],
      ['in', 'inside', reply.length], ['out', 'outside', sentOutside[0]!.length],
    ]);
    sameBytes(packets[0]!.data, request, 'client request as received');
    sameBytes(packets[1]!.data, sentInside[0]!, 'request as sent to the server (LIP -> RIP)');
    sameBytes(packets[2]!.data, reply, 'server reply as received');
    sameBytes(packets[3]!.data, sentOutside[0]!, 'reply as sent to the client (VIP -> CIP)');
    assert.not.equal(packets[1]!.data, packets[0]!.data, 'the out copy is the rewritten frame');
    assert.ok(packets.every((p, i) => i === 0 || p.timeUs >= packets[i - 1]!.timeUs), 'oldest first');
    assert.equal(lab.dp.packetCaptureRead().packets, [], 'a read drains the rings');
  });
});

test('snaplen keeps the first bytes and the whole length; a dropped packet is captured as received only', async () => {
  await withLab((lab) => {
    lab.dp.packetCaptureSet({ enabled: true, serviceId: TCP_SERVICE_ID, snaplen: 54 });
    const stray = clientTcp(40001, { flags: 'A', seq: 1, ack: 1, payload: Buffer.alloc(100, 7) });  // no connection: no_conn
    const delta = lab.counterDelta(() => lab.send('outside', stray));
    assert.is(delta.drops.no_conn, 1);
    const { packets } = lab.dp.packetCaptureRead();
    assert.equal(summary(packets), [['in', 'outside', stray.length]]);
    sameBytes(packets[0]!.data, stray.subarray(0, 54), 'first 54 bytes');
  });
});

test('filter by port: only packets received on it (and their out copies); off captures nothing', async () => {
  await withLab((lab) => {
    const flow = openTcp(lab, 40002);
    lab.dp.packetCaptureSet({ enabled: true, port: 'inside' });
    lab.send('outside', clientSegment(flow, { payload: Buffer.from('not on the captured port') }));
    lab.dp.capture('inside');
    lab.send('inside', serverSegment(flow, { payload: Buffer.from('on it') }));
    lab.dp.capture('outside');
    assert.equal(lab.dp.packetCaptureRead().packets.map((p) => [p.direction, p.port]), [['in', 'inside'], ['out', 'outside']]);

    lab.dp.packetCaptureSet({ enabled: false });
    lab.send('inside', serverSegment(flow, { payload: Buffer.from('after the end') }));
    lab.dp.capture('outside');
    assert.equal(lab.dp.packetCaptureRead(), { packets: [], lost: 0, clockOffsetUs: 0 });
  });
});

test('a full ring keeps the first copies and counts the rest as lost', async () => {
  await withLab((lab) => {
    lab.dp.packetCaptureSet({ enabled: true, serviceId: TCP_SERVICE_ID, snaplen: 64 });
    const extra = 52;
    for (let sent = 0; sent < SLOTS_PER_WORKER + extra; sent += 100) {
      const frames = [];
      for (let i = sent; i < Math.min(sent + 100, SLOTS_PER_WORKER + extra); i++) frames.push(clientTcp(20000 + i, { flags: 'A', seq: 1, ack: 1 }));
      lab.send('outside', ...frames);
    }
    const delta = lab.counterDelta(() => lab.send('outside', clientTcp(30001, { flags: 'A', seq: 1, ack: 1 })));
    expectEvents(delta, { capture_lost: 1 }, 'GetStats counts every refused copy');
    assert.is(delta.events.capture_copies ?? 0, 0);
    const first = lab.dp.packetCaptureRead();
    assert.is(first.packets.length, SLOTS_PER_WORKER);
    assert.is(first.lost, extra + 1);
    assert.is(first.packets[0]!.data.readUInt16BE(34), 20000, 'the first copies are kept');
    assert.equal(lab.dp.packetCaptureRead(), { packets: [], lost: 0, clockOffsetUs: 0 }, 'losses are reported once');
    lab.send('outside', clientTcp(30000, { flags: 'A', seq: 1, ack: 1 }));
    assert.is(lab.dp.packetCaptureRead().packets.length, 1, 'a drained ring takes copies again');
  });
});

test('several workers: each copies what it handles; a reply handed to its owner is copied once, by the owner', async () => {
  await withLab((lab) => {
    // Worker 1 owns this connection (its lport's residue class); the server's reply arrives on worker 0.
    lab.sendOn('outside', 1, clientTcp(40010, { flags: 'S', seq: 1000 }));
    const syn = lab.resolveNeighbours().inside[0]!;
    assert.is(syn.tcp!.srcPort % 2, 1, 'worker 1 took the connection');
    lab.dp.packetCaptureSet({ enabled: true, serviceId: TCP_SERVICE_ID });
    const handed = lab.counterDelta(() =>
      lab.sendOn('inside', 0, serverTcp(syn.ipv4!.dst, syn.tcp!.dstPort, syn.ipv4!.src, syn.tcp!.srcPort, { flags: 'SA', seq: 5, ack: 1001 })));
    assert.is(handed.events.redirected_out, 1, 'the reply went through the worker ring');
    // Held while worker 1 resolves the client (the copy waits with it), then sent.
    assert.is(lab.resolveNeighbours().outside.length, 1, 'the SYN-ACK reached the client');
    lab.sendOn('outside', 0, clientTcp(40011, { flags: 'A', seq: 1, ack: 1 }));  // worker 0: no connection, dropped
    const { packets } = lab.dp.packetCaptureRead();
    assert.equal(packets.map((p) => [p.worker, p.direction, p.port]).sort(), [
      [0, 'in', 'outside'], [1, 'in', 'inside'], [1, 'out', 'outside'],
    ]);
  }, labConfig(), { workers: 2 });
});

test('packetCaptureSet rejects bad options with EINVAL naming the field', async () => {
  await withLab((lab) => {
    const bad: [unknown, RegExp][] = [
      [{ serviceId: 1 }, /options\.enabled/],
      [{ enabled: true, serviceId: 0 }, /options\.serviceId/],
      [{ enabled: true, port: 'nowhere' }, /options\.port.*outside/],
      [{ enabled: true, snaplen: 2049 }, /options\.snaplen/],
      [{ enabled: true, snaplen: 0 }, /options\.snaplen/],
    ];
    for (const [options, message] of bad) {
      try {
        lab.dp.packetCaptureSet(options as never);
        assert.unreachable(`accepted ${JSON.stringify(options)}`);
      } catch (e) {
        assert.is((e as { code?: string }).code, 'EINVAL');
        assert.match((e as Error).message, message);
      }
    }
  });
});

test.run();
