// PROXY protocol v1/v2: the header is the first bytes the real server reads (in front of
// the client's first data segment and of its retransmissions), and sequence numbers,
// acknowledgements, SACK blocks and the server's MSS are adjusted for the added bytes.
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import {
  CLIENT, VIP, clientSegment, clientTcp, labConfig, only, serverSegment, serverTcp, show, synThrough, withLab,
  type Flow, type Lab,
} from '../support/golden.js';
import type { DecodedFrame } from '../support/packet.js';

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
function open(lab: Lab, cport: number): { flow: Flow; clientMss: number } {
  const flow = synThrough(lab, cport);
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

test.run();
