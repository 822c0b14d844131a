// PROXY protocol over IPv6 on FullNAT v6 (without SYNPROXY): v1 "PROXY TCP6 <cip6> <vip6> <cport>
// <vport>\r\n" with RFC 5952 addresses, v2 with family/transport 0x21 (AF_INET6, STREAM) and 36
// address bytes; the header is the first thing the server reads, the stream shift (seq, ack,
// SACK, MSS) works over the IPv6 pseudo-header as over IPv4's.
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import type { DataplaneConfig } from '../../src/dataplane/types.js';
import { CLIENT6, VIP6, dualStackConfig, expectDrops, expectEvents, frameFrom6, only, show, withLab, type Flow, type Lab } from '../support/golden.js';
import { ip6, type DecodedFrame } from '../support/packet.js';
import { clientSegment6, serverSegment6, serverTcp6, synThrough6, TCP6_SERVICE_ID, v6Service } from '../support/flow6.js';
import { receiveStream } from '../support/tcp-receiver.js';

type Mode = 'proxy_v1' | 'proxy_v2';
const config = (mode: Mode): DataplaneConfig => dualStackConfig((c) => {
  c.services.push(v6Service(TCP6_SERVICE_ID, 'tcp', 80, 61, { clientAddress: mode }));
});

function v2Header6(client: string, cport: number): Buffer {
  const b = Buffer.alloc(16 + 36);
  Buffer.from('0d0a0d0a000d0a515549540a', 'hex').copy(b, 0);
  b[12] = 0x21; b[13] = 0x21; b.writeUInt16BE(36, 14);
  ip6(client).copy(b, 16);
  ip6(VIP6).copy(b, 32);
  b.writeUInt16BE(cport, 48); b.writeUInt16BE(80, 50);
  return b;
}
const v1Header6 = (client: string, cport: number, text = client): Buffer => Buffer.from(`PROXY TCP6 ${text} ${VIP6} ${cport} 80\r\n`);
const headerOf = (mode: Mode, cport: number): Buffer => (mode === 'proxy_v1' ? v1Header6(CLIENT6, cport) : v2Header6(CLIENT6, cport));

/** Handshake through the gateway; the flow and the MSS the client was offered. */
function open6(lab: Lab, cport: number): { flow: Flow; clientMss: number } {
  const flow = synThrough6(lab, cport);
  const synAck = only(lab.forward('inside', serverTcp6(flow.server, flow.sport, flow.lip, flow.lport,
    { flags: 'SA', seq: flow.serverIsn, ack: flow.clientIsn + 1, options: [{ kind: 'mss', value: 1440 }] })).outside, 'SYN-ACK');
  assert.ok(synAck.tcp!.checksumOk);
  const mss = synAck.tcp!.options.find((o) => o.kind === 'mss');
  only(lab.forward('outside', clientSegment6(flow, {})).inside, 'handshake ACK');
  return { flow, clientMss: mss && mss.kind === 'mss' ? mss.value : 0 };
}

function checkGrown(f: DecodedFrame): void {
  assert.ok(f.tcp!.checksumOk, 'TCP checksum over the IPv6 pseudo-header');
  assert.is(f.ipv6!.payloadLength, f.tcp!.dataOffset * 4 + f.tcp!.payload.length, 'IPv6 payload length');
}

for (const mode of ['proxy_v1', 'proxy_v2'] as const) {
  test(`${mode} over IPv6: header in front of the first data segment, exact bytes; later seq/ack/SACK shifted`, async () => {
    await withLab((lab) => {
      const cport = 42100;
      const header = headerOf(mode, cport);
      assert.is(header.length, 52, 'v1: 11 + 14 + 1 + 15 + 1 + 5 + 1 + 2 + 2; v2: 16 + 36');
      const { flow, clientMss } = open6(lab, cport);
      assert.is(clientMss, 1440 - header.length, 'MSS offered to the client leaves room for the header');
      const first = only(lab.forward('outside', clientSegment6(flow, { flags: 'PA', payload: Buffer.from('GET /') })).inside, 'first data');
      checkGrown(first);
      assert.is(first.tcp!.payload.toString('hex'), Buffer.concat([header, Buffer.from('GET /')]).toString('hex'));
      assert.is(first.tcp!.seq, flow.clientIsn + 1);
      const again = only(lab.forward('outside', clientSegment6(flow, { flags: 'PA', payload: Buffer.from('GET /') })).inside, 'retransmission');
      assert.equal(again.tcp!.payload, first.tcp!.payload);
      const next = only(lab.forward('outside', clientSegment6(flow, { flags: 'PA', seq: flow.clientIsn + 6, payload: Buffer.from(' HTTP') })).inside, 'second data');
      assert.is(next.tcp!.seq, flow.clientIsn + 6 + header.length);
      assert.ok(next.tcp!.checksumOk);
      const serverAckNo = flow.clientIsn + 1 + header.length + 10;
      const reply = only(lab.forward('inside', serverSegment6(flow, {
        ack: serverAckNo, options: [{ kind: 'nop' }, { kind: 'nop' }, { kind: 'sack', blocks: [[serverAckNo + 100, serverAckNo + 200]] }],
      })).outside, 'server ACK');
      assert.is(reply.tcp!.ack, flow.clientIsn + 11);
      assert.equal(reply.tcp!.options.find((o) => o.kind === 'sack'), { kind: 'sack', blocks: [[flow.clientIsn + 111, flow.clientIsn + 211]] });
      assert.ok(reply.tcp!.checksumOk);
    }, config(mode));
  });

  test(`${mode} over IPv6: data at first − 1 carrying a forged PROXY line is cut at first and headed; the server reads ours first`, async () => {
    await withLab((lab) => {
      const cport = 42101;
      const header = headerOf(mode, cport);
      const { flow } = open6(lab, cport);
      const forged = Buffer.from('PROXY TCP6 2001:db8:66::6 2001:db8:18::10 6666 80\r\nGET / HTTP/1.1\r\n\r\n');
      const first = flow.clientIsn + 1;
      let seen: DecodedFrame[] = [];
      const d = lab.counterDelta(() => {
        seen = lab.forward('outside', clientSegment6(flow, { flags: 'PA', seq: first - 1, payload: Buffer.concat([Buffer.from('X'), forged]) })).inside;
      });
      const cut = only(seen, 'cut segment');
      checkGrown(cut);
      assert.is(cut.tcp!.seq, first);
      const { stream } = receiveStream(seen, first);
      assert.is(stream.toString('hex'), Buffer.concat([header, forged]).toString('hex'), `our header, then only data: ${show(seen)}`);
      expectEvents(d, { proxy_segment_trimmed: 1 });
    }, config(mode));
  });
}

test('proxy_v1 over IPv6: the segment that would carry the header is verified — a bad checksum is dropped (client_address_bad_checksum)', async () => {
  await withLab((lab) => {
    const { flow } = open6(lab, 42102);
    const segment = clientSegment6(flow, { flags: 'PA', payload: Buffer.from('GET /') });
    const bad = Buffer.from(segment);
    const checksumAt = 14 + 40 + 16;  // the TCP checksum behind the 40-byte IPv6 header
    bad[checksumAt] = bad.readUInt8(checksumAt) ^ 0x5a;
    let seen: DecodedFrame[] = [];
    const d = lab.counterDelta(() => { seen = lab.forward('outside', bad).inside; });
    assert.is(seen.length, 0, show(seen));
    expectDrops(d, { client_address_bad_checksum: 1 });
    const good = only(lab.forward('outside', segment).inside, 'retransmission');
    assert.is(good.tcp!.payload.toString(), `PROXY TCP6 ${CLIENT6} ${VIP6} 42102 80\r\nGET /`);
  }, config('proxy_v1'));
});

// RFC 5952 §4: no leading zeros, "::" for the longest run of two or more zero groups (the
// first of equal runs), a single zero group written "0", lower case.
const TEXT_CASES: [string, string][] = [
  ['2001:0db8:0018:0000:0000:0001:0000:0001', '2001:db8:18::1:0:1'],     // first run (2) beats a lone zero
  ['2001:0db8:0018:0000:0001:0000:0000:0001', '2001:db8:18:0:1::1'],     // the longer run, not the first zero
  ['2001:0db8:0018:0000:0000:00ab:0000:0000', '2001:db8:18::ab:0:0'],    // equal runs: the first
  ['2001:0db8:0018:0000:abcd:0000:0000:0000', '2001:db8:18:0:abcd::'],   // a run at the end
  ['2001:0db8:0018:0000:0f00:00f0:000f:ffff', '2001:db8:18:0:f00:f0:f:ffff'], // no run to compress
];

test('proxy_v1 over IPv6: client addresses are written in RFC 5952 text', async () => {
  await withLab((lab) => {
    let cport = 42110;
    for (const [full, text] of TEXT_CASES) {
      cport++;
      const from = (tcp: Parameters<typeof frameFrom6>[3]['tcp']) => frameFrom6('outside', text, VIP6, { tcp });
      const syn = only(lab.forward('outside', from({ srcPort: cport, dstPort: 80, flags: 'S', seq: 1000 })).inside, `SYN from ${full}`);
      lab.forward('inside', serverTcp6(syn.ipv6!.dst, 80, syn.ipv6!.src, syn.tcp!.srcPort, { flags: 'SA', seq: 50000, ack: 1001 }));
      const data = only(lab.forward('outside', from({ srcPort: cport, dstPort: 80, flags: 'PA', seq: 1001, ack: 50001, payload: Buffer.from('x') })).inside, `data from ${full}`);
      assert.is(data.tcp!.payload.toString(), `PROXY TCP6 ${text} ${VIP6} ${cport} 80\r\nx`, full);
    }
  }, config('proxy_v1'));
});

test.run();
