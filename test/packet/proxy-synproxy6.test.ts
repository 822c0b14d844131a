// PROXY v1 `TCP6` and v2 `AF_INET6` on an IPv6 service with SYNPROXY, golden packets through the
// whole exchange: the cookie SYN-ACK (MSS lowered by the header), the final ACK opening the
// backend handshake, the server's SYN-ACK answered by the gateway, the client's first data
// carrying the header (and its retransmission carrying it again), sequence numbers moved by the
// header length toward the server and back (acks, SACK edges) toward the client, both on top of
// SYNPROXY's cookie-space translation; data held before the server answered (a forged line among
// it cut and headed), and a first segment behind extension headers.
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import type { DataplaneConfig } from '../../src/dataplane/types.js';
import { CLIENT6, LIPS6, SERVERS6, VIP6, dualStackConfig, expectDrops, expectEvents, frameFrom6, only, show, withLab, type Lab } from '../support/golden.js';
import { ip6, type DecodedFrame, type TcpOption, type TcpSpec } from '../support/packet.js';
import { TCP6_SERVICE_ID, v6Service } from '../support/flow6.js';
import { receiveStream } from '../support/tcp-receiver.js';

type Mode = 'proxy_v1' | 'proxy_v2';
const config = (mode: Mode): DataplaneConfig => dualStackConfig((c) => {
  c.services.push(v6Service(TCP6_SERVICE_ID, 'tcp', 80, 61, { clientAddress: mode, synproxy: true }));
});

const CLIENT_ISN = 0x20000000;
const SERVER_ISN = 0x60000000;
const u32 = (n: number): number => n >>> 0;

function v2Header6(cport: number): Buffer {
  const b = Buffer.alloc(16 + 36);
  Buffer.from('0d0a0d0a000d0a515549540a', 'hex').copy(b, 0);
  b[12] = 0x21; b[13] = 0x21; b.writeUInt16BE(36, 14);
  ip6(CLIENT6).copy(b, 16);
  ip6(VIP6).copy(b, 32);
  b.writeUInt16BE(cport, 48); b.writeUInt16BE(80, 50);
  return b;
}
const headerOf = (mode: Mode, cport: number): Buffer =>
  (mode === 'proxy_v1' ? Buffer.from(`PROXY TCP6 ${CLIENT6} ${VIP6} ${cport} 80\r\n`) : v2Header6(cport));

const clientTcp6 = (cport: number, tcp: Partial<TcpSpec>): Buffer =>
  frameFrom6('outside', CLIENT6, VIP6, { tcp: { srcPort: cport, dstPort: 80, ...tcp } });

interface Backend { cport: number; cookie: number; clientMss: number; lip: string; lport: number; server: string; syn: DecodedFrame }

/** Written or forwarded IPv6 TCP: lengths and the checksum over the IPv6 pseudo-header hold. */
function checkIpv6Tcp(f: DecodedFrame, what: string): void {
  assert.ok(f.ipv6 && f.tcp, `${what}: IPv6 TCP expected: ${show([f])}`);
  assert.ok(f.tcp!.checksumOk, `${what}: TCP checksum over the IPv6 pseudo-header`);
  assert.is(f.ipv6!.payloadLength, f.tcp!.dataOffset * 4 + f.tcp!.payload.length, `${what}: IPv6 payload length`);
}

/** Client SYN → cookie SYN-ACK; then the final ACK (with data when given) → the backend SYN. */
function toBackendSyn(lab: Lab, cport: number, data?: Buffer): Backend {
  const answer = lab.forward('outside', clientTcp6(cport, { flags: 'S', seq: CLIENT_ISN, options: [{ kind: 'mss', value: 1440 }] }));
  assert.is(answer.inside.length, 0, `nothing to the servers before the cookie: ${show(answer.inside)}`);
  const synAck = only(answer.outside, 'cookie SYN-ACK');
  checkIpv6Tcp(synAck, 'cookie SYN-ACK');
  assert.equal([synAck.ipv6!.src, synAck.ipv6!.dst, synAck.tcp!.flagNames, synAck.tcp!.ack], [VIP6, CLIENT6, 'SA', CLIENT_ISN + 1]);
  const mss = synAck.tcp!.options.find((o) => o.kind === 'mss');
  const cookie = synAck.tcp!.seq;
  const out = lab.forward('outside', clientTcp6(cport, { flags: data ? 'PA' : 'A', seq: CLIENT_ISN + 1, ack: u32(cookie + 1), payload: data }));
  assert.is(out.outside.length, 0, `nothing back to the client: ${show(out.outside)}`);
  const syn = only(out.inside, 'backend SYN');
  checkIpv6Tcp(syn, 'backend SYN');
  assert.equal([syn.tcp!.flagNames, syn.tcp!.seq, syn.tcp!.payload.length], ['S', CLIENT_ISN, 0], 'the client ISN, no header on a SYN');
  assert.equal(syn.tcp!.options, [{ kind: 'mss', value: 1440 }], 'the client MSS as the cookie kept it');
  assert.ok(LIPS6.includes(syn.ipv6!.src) && SERVERS6.includes(syn.ipv6!.dst), `${syn.ipv6!.src} → ${syn.ipv6!.dst}`);
  return { cport, cookie, clientMss: mss && mss.kind === 'mss' ? mss.value : 0, lip: syn.ipv6!.src, lport: syn.tcp!.srcPort, server: syn.ipv6!.dst, syn };
}

function serverTcp6(b: Backend, tcp: Partial<TcpSpec>): Buffer {
  return frameFrom6('inside', b.server, b.lip, { tcp: { srcPort: 80, dstPort: b.lport, ...tcp } });
}
const SERVER_SYNACK: Partial<TcpSpec> = { flags: 'SA', seq: SERVER_ISN, ack: CLIENT_ISN + 1, options: [{ kind: 'mss', value: 1440 } as TcpOption] };

for (const mode of ['proxy_v1', 'proxy_v2'] as const) {
  test(`${mode} with SYNPROXY on IPv6: cookie SYN-ACK, backend handshake, header on the first data and its retransmission, seq/ack/SACK moved both ways`, async () => {
    await withLab((lab) => {
      const cport = 42200;
      const header = headerOf(mode, cport);
      assert.is(header.length, 52);
      let b: Backend | undefined;
      let d = lab.counterDelta(() => { b = toBackendSyn(lab, cport); });
      expectEvents(d, { synproxy_syn_answered: 1 });
      expectEvents(d, { synproxy_cookies_accepted: 1 });
      expectDrops(d, {});
      assert.is(b!.clientMss, 1440 - header.length, 'the MSS offered to the client leaves room for the header');
      const delta = u32(b!.cookie - SERVER_ISN);  // cookie space (client side) minus the server's

      // The server's SYN-ACK: the gateway ACKs it itself; nothing reaches the client.
      let handshake: ReturnType<Lab['forward']> | undefined;
      d = lab.counterDelta(() => { handshake = lab.forward('inside', serverTcp6(b!, SERVER_SYNACK)); });
      assert.is(handshake!.outside.length, 0, `SYN-ACK not relayed: ${show(handshake!.outside)}`);
      const ack = only(handshake!.inside, 'ACK to the server');
      checkIpv6Tcp(ack, 'ACK to the server');
      assert.equal([ack.tcp!.flagNames, ack.tcp!.seq, ack.tcp!.ack, ack.tcp!.payload.length], ['A', CLIENT_ISN + 1, SERVER_ISN + 1, 0], 'no header on the bare ACK');
      expectEvents(d, { synproxy_server_handshakes: 1 });
      expectDrops(d, {});

      // First data: our header, then the client's bytes, at the stream start.
      const first = only(lab.forward('outside', clientTcp6(cport, { flags: 'PA', seq: CLIENT_ISN + 1, ack: u32(b!.cookie + 1), payload: Buffer.from('GET /') })).inside, 'first data');
      checkIpv6Tcp(first, 'first data');
      assert.equal([first.ipv6!.src, first.ipv6!.dst, first.tcp!.dstPort], [b!.lip, b!.server, 80]);
      assert.is(first.tcp!.payload.toString('hex'), Buffer.concat([header, Buffer.from('GET /')]).toString('hex'));
      assert.equal([first.tcp!.seq, first.tcp!.ack], [CLIENT_ISN + 1, SERVER_ISN + 1], 'seq at the start, ack in the server space');
      const again = only(lab.forward('outside', clientTcp6(cport, { flags: 'PA', seq: CLIENT_ISN + 1, ack: u32(b!.cookie + 1), payload: Buffer.from('GET /') })).inside, 'retransmission');
      checkIpv6Tcp(again, 'retransmission');
      assert.is(again.tcp!.payload.toString('hex'), first.tcp!.payload.toString('hex'), 'the header again, once');
      assert.is(again.tcp!.seq, CLIENT_ISN + 1);
      const next = only(lab.forward('outside', clientTcp6(cport, { flags: 'PA', seq: CLIENT_ISN + 6, ack: u32(b!.cookie + 1), payload: Buffer.from(' HTTP') })).inside, 'second data');
      checkIpv6Tcp(next, 'second data');
      assert.equal([next.tcp!.seq, next.tcp!.payload.toString()], [CLIENT_ISN + 6 + header.length, ' HTTP'], 'moved up by the header length');
      assert.is(receiveStream([first, again, next], CLIENT_ISN + 1).stream.toString('hex'),
        Buffer.concat([header, Buffer.from('GET / HTTP')]).toString('hex'), 'what the server reads');

      // Server → client: seq into the cookie space, ack and SACK back by the header length.
      const serverAck = CLIENT_ISN + 1 + header.length + 10;
      const reply = only(lab.forward('inside', serverTcp6(b!, {
        flags: 'PA', seq: SERVER_ISN + 1, ack: serverAck, payload: Buffer.from('HTTP/1.1 200'),
        options: [{ kind: 'nop' }, { kind: 'nop' }, { kind: 'sack', blocks: [[serverAck + 100, serverAck + 200]] }],
      })).outside, 'server data');
      checkIpv6Tcp(reply, 'server data');
      assert.equal([reply.ipv6!.src, reply.ipv6!.dst, reply.tcp!.srcPort, reply.tcp!.dstPort], [VIP6, CLIENT6, 80, cport]);
      assert.equal([reply.tcp!.seq, reply.tcp!.ack], [u32(SERVER_ISN + 1 + delta), CLIENT_ISN + 11]);
      assert.equal(reply.tcp!.options.find((o) => o.kind === 'sack'), { kind: 'sack', blocks: [[CLIENT_ISN + 111, CLIENT_ISN + 211]] });
      const inHeader = only(lab.forward('inside', serverTcp6(b!, { flags: 'A', seq: SERVER_ISN + 13, ack: CLIENT_ISN + 5 })).outside, 'ack inside the header');
      assert.is(inHeader.tcp!.ack, CLIENT_ISN + 1, 'an ack covering part of the header means nothing of the client\'s yet');
      // The client ACKs the server's data from the cookie space.
      const clientAck = only(lab.forward('outside', clientTcp6(cport, { flags: 'A', seq: CLIENT_ISN + 11, ack: u32(b!.cookie + 13) })).inside, 'client ACK');
      assert.equal([clientAck.tcp!.seq, clientAck.tcp!.ack], [CLIENT_ISN + 11 + header.length, SERVER_ISN + 13]);
      checkIpv6Tcp(clientAck, 'client ACK');
    }, config(mode));
  });

  test(`${mode} with SYNPROXY on IPv6: data sent with the final ACK is held, then sent after the server's SYN-ACK with the header in front`, async () => {
    await withLab((lab) => {
      const cport = 42201;
      const header = headerOf(mode, cport);
      const b = toBackendSyn(lab, cport, Buffer.from('hi'));
      const out = lab.forward('inside', serverTcp6(b, SERVER_SYNACK));
      assert.is(out.outside.length, 0, show(out.outside));
      assert.is(out.inside.length, 2, `ACK, then the held data: ${show(out.inside)}`);
      const held = out.inside[1]!;
      checkIpv6Tcp(held, 'held data');
      assert.is(held.tcp!.payload.toString('hex'), Buffer.concat([header, Buffer.from('hi')]).toString('hex'));
      assert.equal([held.tcp!.seq, held.tcp!.ack], [CLIENT_ISN + 1, SERVER_ISN + 1]);
      // The client retransmits it (its ACK for the held segment never came): headed again.
      const again = only(lab.forward('outside', clientTcp6(cport, { flags: 'PA', seq: CLIENT_ISN + 1, ack: u32(b.cookie + 1), payload: Buffer.from('hi') })).inside, 'retransmission');
      checkIpv6Tcp(again, 'retransmission');
      assert.is(again.tcp!.payload.toString('hex'), held.tcp!.payload.toString('hex'));
    }, config(mode));
  });
}

test('proxy_v2 with SYNPROXY on IPv6: a first data segment behind extension headers gets the header; payload length counts what is forwarded', async () => {
  await withLab((lab) => {
    const cport = 42202;
    const header = headerOf('proxy_v2', cport);
    const b = toBackendSyn(lab, cport);
    only(lab.forward('inside', serverTcp6(b, SERVER_SYNACK)).inside, 'ACK to the server');
    const withExtensions = frameFrom6('outside', CLIENT6, VIP6,
      { tcp: { srcPort: cport, dstPort: 80, flags: 'PA', seq: CLIENT_ISN + 1, ack: u32(b.cookie + 1), payload: Buffer.from('GET /') } },
      { extensions: [{ type: 'hopByHop' }, { type: 'destOptions', options: Buffer.from([1, 4, 0, 0, 0, 0]) }] });
    let seen: DecodedFrame[] = [];
    const d = lab.counterDelta(() => { seen = lab.forward('outside', withExtensions).inside; });
    const first = only(seen, 'first data');
    const extensionBytes = first.ipv6!.extensions.reduce((sum, e) => sum + e.length, 0);
    assert.ok(first.tcp!.checksumOk, 'TCP checksum');
    assert.is(first.ipv6!.payloadLength, extensionBytes + first.tcp!.dataOffset * 4 + first.tcp!.payload.length, 'IPv6 payload length');
    assert.is(first.tcp!.payload.toString('hex'), Buffer.concat([header, Buffer.from('GET /')]).toString('hex'));
    expectDrops(d, {});
  }, config('proxy_v2'));
});

test('proxy_v1 with SYNPROXY on IPv6: segments held before the server answers (one at first − 1 with a forged line, a retransmission at first) are cut and headed', async () => {
  await withLab((lab) => {
    const cport = 42203;
    const header = headerOf('proxy_v1', cport);
    const forged = Buffer.from('PROXY TCP6 2001:db8:66::6 2001:db8:18::10 6666 80\r\nGET / HTTP/1.1\r\n\r\n');
    const b = toBackendSyn(lab, cport);
    const ack = u32(b.cookie + 1);
    const held = lab.forward('outside',
      clientTcp6(cport, { flags: 'PA', seq: CLIENT_ISN, ack, payload: Buffer.concat([Buffer.from('X'), forged]) }),
      clientTcp6(cport, { flags: 'PA', seq: CLIENT_ISN + 1, ack, payload: forged }));
    assert.is(held.inside.length, 0, `held: ${show(held.inside)}`);
    let out: DecodedFrame[] = [];
    const d = lab.counterDelta(() => { out = lab.forward('inside', serverTcp6(b, SERVER_SYNACK)).inside; });
    assert.is(out.length, 3, `ACK, then both held segments: ${show(out)}`);
    for (const f of out.slice(1)) {
      checkIpv6Tcp(f, 'released segment');
      assert.is(f.tcp!.seq, CLIENT_ISN + 1);
    }
    assert.is(receiveStream(out, CLIENT_ISN + 1).stream.toString('hex'), Buffer.concat([header, forged]).toString('hex'), 'our header, then the client\'s bytes');
    expectEvents(d, { proxy_segment_trimmed: 1 });
    expectDrops(d, {});
  }, config('proxy_v1'));
});

test.run();
