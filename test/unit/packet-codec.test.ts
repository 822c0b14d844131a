// The codec proves the data plane right, so it is checked against bytes computed by hand
// (each checksum below is worked out in its comment, word by word) rather than against itself.
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import {
  ARP_OP, ICMP_TYPE, buildFrame, buildIpv4, buildTcp, decodeFrame, decodeTcpOptions, describeFrame,
  encodeTcpOptions, hostMac, internetChecksum, ip, ipToString, mac, macToString, tcpFlags,
  tcpFlagsToString, type TcpOption,
} from '../support/packet.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

test('address helpers round-trip and reject junk', () => {
  assert.equal(ip('198.18.0.10'), 0xc612000a);
  assert.equal(ip('255.255.255.255'), 0xffffffff);
  assert.is(ipToString(0xc612000a), '198.18.0.10');
  assert.is(ipToString(ip('0.0.0.0')), '0.0.0.0');
  assert.equal([...mac('02:00:00:00:00:0A')], [2, 0, 0, 0, 0, 10]);
  assert.is(macToString(mac('02:AB:cd:00:00:01')), '02:ab:cd:00:00:01');
  assert.is(hostMac('198.19.0.1'), '02:aa:c6:13:00:01');
  assert.throws(() => ip('1.2.3'));
  assert.throws(() => ip('1.2.3.256'));
  assert.throws(() => mac('02:00:00:00:00'));
  assert.is(tcpFlags('SA'), 0x12);
  assert.is(tcpFlagsToString(0x19), 'FPA');
});

test('RFC 1071 example: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2, checksum 220d', () => {
  // 0001 + f203 + f4f5 + f6f7 = 2ddf0 -> fold 0xddf0 + 2 = ddf2 -> ~ = 220d
  assert.is(internetChecksum(hex('0001f203f4f5f6f7')), 0x220d);
  // odd length pads a zero byte: 0102 + 0300 = 0402 -> ~ = fbfd
  assert.is(internetChecksum(hex('010203')), 0xfbfd);
  // a buffer that already carries its checksum verifies to zero
  assert.is(internetChecksum(hex('0001f203f4f5f6f7 220d')), 0);
});

test('well-known IPv4 header: 4500 0073 0000 4000 4011 [b861] c0a8 0001 c0a8 00c7', () => {
  const built = buildIpv4(
    { src: '192.168.0.1', dst: '192.168.0.199', protocol: 17, ttl: 64, dontFragment: true, totalLength: 0x73 },
    Buffer.alloc(0),
  );
  assert.is(built.toString('hex'), '450000730000400040' + '11b861c0a80001c0a800c7');
});

// A TCP SYN with MSS 1460, built by hand:
//   eth  02:00:00:00:00:01 <- 02:aa:c6:12:00:01, type 0800
//   ipv4 45 00 002c 0001 4000 40 06 [csum] c6120001 c612000a
//        4500+002c+0001+4000+4006+c612+0001+c612+000a = 25162 -> 5162+2 = 5164 -> ~ = ae9b
//   tcp  3039 0050 00000001 00000000 60 02 ffff [csum] 0000 | 02 04 05b4
//        pseudo c612+0001+c612+000a+0006+0018 = 18c4d
//        header 3039+0050+0001+6002+ffff+0204+05b4 = 19843
//        18c4d + 19843 = 32490 -> 2490+3 = 2493 -> ~ = db6c
const SYN_BYTES = hex(`
  020000000001 02aac6120001 0800
  4500002c 0001 4000 4006 ae9b c6120001 c612000a
  30390050 00000001 00000000 6002ffff db6c 0000 020405b4`);

test('TCP SYN frame matches the hand-computed bytes', () => {
  const built = buildFrame({
    eth: { dst: '02:00:00:00:00:01', src: '02:aa:c6:12:00:01' },
    ipv4: { src: '198.18.0.1', dst: '198.18.0.10', id: 1, dontFragment: true },
    tcp: { srcPort: 12345, dstPort: 80, seq: 1, flags: 'S', options: [{ kind: 'mss', value: 1460 }] },
  });
  assert.is(built.toString('hex'), SYN_BYTES.toString('hex'));
});

test('decoding the hand-built SYN gives every field and good checksums', () => {
  const d = decodeFrame(SYN_BYTES);
  assert.is(d.error, undefined);
  assert.equal(d.eth, { dst: '02:00:00:00:00:01', src: '02:aa:c6:12:00:01', type: 0x0800 });
  const i = d.ipv4!;
  assert.is(i.ihl, 5); assert.is(i.totalLength, 44); assert.is(i.id, 1); assert.ok(i.dontFragment);
  assert.is(i.ttl, 64); assert.is(i.protocol, 6); assert.is(i.checksum, 0xae9b); assert.ok(i.checksumOk);
  assert.is(i.src, '198.18.0.1'); assert.is(i.dst, '198.18.0.10');
  const t = d.tcp!;
  assert.is(t.srcPort, 12345); assert.is(t.dstPort, 80); assert.is(t.seq, 1); assert.is(t.ack, 0);
  assert.is(t.dataOffset, 6); assert.is(t.flagNames, 'S'); assert.is(t.window, 0xffff);
  assert.is(t.checksum, 0xdb6c); assert.ok(t.checksumOk);
  assert.equal(t.options, [{ kind: 'mss', value: 1460 }]);
  assert.is(t.payload.length, 0);
  assert.match(describeFrame(d), '198.18.0.1:12345 > 198.18.0.10:80 TCP [S]');
});

test('a flipped bit fails the IP and TCP checksums', () => {
  const badIp = Buffer.from(SYN_BYTES); badIp[14 + 8] = 63; // TTL changed, checksum not
  assert.not.ok(decodeFrame(badIp).ipv4!.checksumOk);
  assert.ok(decodeFrame(badIp).tcp!.checksumOk); // TTL is not in the pseudo-header
  const badTcp = Buffer.from(SYN_BYTES); badTcp[badTcp.length - 1] = 0xb5; // MSS 1461
  assert.ok(decodeFrame(badTcp).ipv4!.checksumOk);
  assert.not.ok(decodeFrame(badTcp).tcp!.checksumOk);
});

// UDP 198.18.0.1:1000 -> 198.18.0.10:7, payload 6fbb, chosen so the sum is exactly ffff:
//   pseudo c612+0001+c612+000a+0011+000a = 18c4a; header 03e8+0007+000a = 03f9;
//   18c4a + 03f9 = 19043 -> 9043+1 = 9044; 9044 + 6fbb = ffff -> ~ = 0 -> sent as ffff (RFC 768)
test('UDP: computed zero is sent as ffff, explicit zero means no checksum', () => {
  const spec = {
    eth: { dst: '02:00:00:00:00:01', src: '02:aa:c6:12:00:01' },
    ipv4: { src: '198.18.0.1', dst: '198.18.0.10' },
    udp: { srcPort: 1000, dstPort: 7, payload: hex('6fbb') },
  };
  const d = decodeFrame(buildFrame(spec));
  assert.is(d.udp!.length, 10);
  assert.is(d.udp!.checksum, 0xffff);
  assert.ok(d.udp!.checksumOk);
  const none = decodeFrame(buildFrame({ ...spec, udp: { ...spec.udp, checksum: 0 } }));
  assert.is(none.udp!.checksum, 0);
  assert.ok(none.udp!.checksumOk);
  const wrong = decodeFrame(buildFrame({ ...spec, udp: { ...spec.udp, checksum: 0x1234 } }));
  assert.not.ok(wrong.udp!.checksumOk);
});

// ICMP echo id 1234 seq 1 data "abcd": 0800+1234+0001+6162+6364 = defb -> ~ = 2104
test('ICMP echo request matches the hand-computed checksum', () => {
  const frame = buildFrame({
    eth: { dst: '02:00:00:00:00:01', src: '02:aa:c6:12:00:01' },
    ipv4: { src: '198.18.0.1', dst: '198.18.0.254' },
    icmp: { type: ICMP_TYPE.ECHO_REQUEST, id: 0x1234, sequence: 1, payload: Buffer.from('abcd') },
  });
  assert.is(frame.subarray(34).toString('hex'), '08002104123400016162' + '6364');
  const d = decodeFrame(frame);
  assert.equal([d.icmp!.type, d.icmp!.id, d.icmp!.sequence], [8, 0x1234, 1]);
  assert.ok(d.icmp!.checksumOk);
  assert.is(d.icmp!.payload.toString(), 'abcd');
});

test('ICMP error quotes an inner IP header and its ports', () => {
  const quoted = SYN_BYTES.subarray(14, 14 + 20 + 8); // inner IP header + first 8 bytes of TCP
  const d = decodeFrame(buildFrame({
    eth: { dst: '02:00:00:00:00:01', src: '02:aa:c6:13:00:01' },
    ipv4: { src: '198.19.0.1', dst: '198.19.0.200' },
    icmp: { type: ICMP_TYPE.DEST_UNREACH, code: 4, rest: 1400, payload: Buffer.from(quoted) },
  }));
  assert.ok(d.icmp!.checksumOk);
  assert.is(d.icmp!.rest, 1400);
  assert.is(d.icmp!.inner!.ipv4.src, '198.18.0.1');
  assert.is(d.icmp!.inner!.ipv4.dst, '198.18.0.10');
  assert.ok(d.icmp!.inner!.ipv4.checksumOk);
  assert.is(d.icmp!.inner!.srcPort, 12345);
  assert.is(d.icmp!.inner!.dstPort, 80);
});

test('ARP request matches the RFC 826 layout', () => {
  const frame = buildFrame({
    eth: { dst: 'ff:ff:ff:ff:ff:ff', src: '02:aa:c6:12:00:01' },
    arp: { op: ARP_OP.REQUEST, senderMac: '02:aa:c6:12:00:01', senderIp: '198.18.0.1', targetIp: '198.18.0.10' },
  });
  assert.is(frame.toString('hex'),
    'ffffffffffff02aac61200010806' + '0001080006040001' + '02aac6120001c6120001' + '000000000000c612000a');
  const d = decodeFrame(frame);
  assert.equal(d.arp, {
    hardwareType: 1, protocolType: 0x0800, hardwareLength: 6, protocolLength: 4, op: 1,
    senderMac: '02:aa:c6:12:00:01', senderIp: '198.18.0.1', targetMac: '00:00:00:00:00:00', targetIp: '198.18.0.10',
  });
});

test('TCP options: every kind encodes to known bytes and decodes back', () => {
  const options: TcpOption[] = [
    { kind: 'mss', value: 1460 }, { kind: 'nop' }, { kind: 'ws', shift: 7 }, { kind: 'sackPermitted' },
    { kind: 'timestamp', value: 0x01020304, echo: 0xa0b0c0d0 }, { kind: 'nop' }, { kind: 'nop' },
    { kind: 'sack', blocks: [[1000, 2000], [0xfffffff0, 0x10]] },
    { kind: 'toa', port: 12345, address: '198.18.0.1' },
    { kind: 'raw', type: 253, data: hex('beef') },
  ];
  const bytes = encodeTcpOptions(options);
  assert.is(bytes.toString('hex'),
    '020405b4' + '01' + '030307' + '0402' + '080a01020304a0b0c0d0' + '0101' +
    '0512000003e8000007d0fffffff000000010' + 'fe083039c6120001' + 'fd04beef'); // 52 bytes: no padding
  assert.is(bytes.length % 4, 0);
  const decoded = decodeTcpOptions(bytes);
  assert.is(decoded.error, undefined);
  assert.equal(decoded.options, options);
  // padding: MSS + WS = 7 bytes -> one EOL byte appended, decoded as a single EOL
  assert.is(encodeTcpOptions([{ kind: 'mss', value: 536 }, { kind: 'ws', shift: 0 }]).toString('hex'), '0204021803030000');
  assert.equal(decodeTcpOptions(hex('0204021803030000')).options,
    [{ kind: 'mss', value: 536 }, { kind: 'ws', shift: 0 }, { kind: 'eol' }]);
  // kind 254 with a length other than 8 is kept raw, not misread as TOA
  assert.equal(decodeTcpOptions(hex('fe04abcd')).options, [{ kind: 'raw', type: 254, data: hex('abcd') }]);
});

test('TCP options: bad lengths stop decoding with an error, never throw', () => {
  assert.match(decodeTcpOptions(hex('0201')).error ?? '', 'bad length 1');
  assert.match(decodeTcpOptions(hex('020a05b4')).error ?? '', 'bad length 10');
  assert.match(decodeTcpOptions(hex('0101 02')).error ?? '', 'no length byte');
  assert.equal(decodeTcpOptions(hex('0101 02')).options, [{ kind: 'nop' }, { kind: 'nop' }]);
});

test('TCP with options, payload and an explicit data offset', () => {
  const t = buildTcp({ srcPort: 1, dstPort: 2, flags: 'PA', options: [{ kind: 'nop' }], payload: Buffer.from('hi') },
    '10.0.0.1', '10.0.0.2');
  assert.is(t[12]! >> 4, 6);        // 20 + 4 (NOP + 3 EOL pad)
  assert.is(t.length, 26);
  const short = buildTcp({ srcPort: 1, dstPort: 2, dataOffset: 4 }, '10.0.0.1', '10.0.0.2');
  assert.is(short[12]! >> 4, 4);
});

test('decoder reports malformed frames without throwing', () => {
  const cases: [string, Buffer, RegExp][] = [
    ['runt', Buffer.alloc(10), /ethernet: 10 bytes/],
    ['truncated ipv4', Buffer.concat([SYN_BYTES.subarray(0, 14), Buffer.alloc(10)]), /need 20/],
    ['bad ihl', (() => { const b = Buffer.from(SYN_BYTES); b[14] = 0x44; return b; })(), /ihl 4/],
    ['version 6', (() => { const b = Buffer.from(SYN_BYTES); b[14] = 0x65; return b; })(), /version 6/],
    ['total length > frame', (() => { const b = Buffer.from(SYN_BYTES); b.writeUInt16BE(200, 16); return b; })(), /total length 200/],
    ['tcp data offset 4', (() => { const b = Buffer.from(SYN_BYTES); b[14 + 20 + 12] = 0x40; return b; })(), /data offset 4 < 5/],
    ['tcp data offset 15', (() => { const b = Buffer.from(SYN_BYTES); b[14 + 20 + 12] = 0xf0; return b; })(), /beyond/],
    ['arp short', hex('ffffffffffff 02aac6120001 0806 0001'), /arp/],
  ];
  for (const [name, frame, pattern] of cases) {
    const d = decodeFrame(frame);
    assert.ok(d.error, `${name}: expected an error`);
    assert.match(d.error!, pattern, name);
  }
});

test('fragments: later fragments have no L4 decode, first fragment keeps flags', () => {
  const frag = decodeFrame(buildFrame({
    eth: { dst: '02:00:00:00:00:01', src: '02:aa:c6:12:00:01' },
    ipv4: { src: '198.18.0.1', dst: '198.18.0.10', protocol: 6, fragmentOffset: 10 },
    payload: Buffer.alloc(16),
  }));
  assert.is(frag.ipv4!.fragmentOffset, 10);
  assert.is(frag.tcp, undefined);
  const first = decodeFrame(buildFrame({
    eth: { dst: '02:00:00:00:00:01', src: '02:aa:c6:12:00:01' },
    ipv4: { src: '198.18.0.1', dst: '198.18.0.10', moreFragments: true },
    udp: { srcPort: 5, dstPort: 7, payload: Buffer.alloc(8) },
  }));
  assert.ok(first.ipv4!.moreFragments);
  assert.ok(first.udp);
});

test('IPv4 options are carried and covered by the header checksum', () => {
  const d = decodeFrame(buildFrame({
    eth: { dst: '02:00:00:00:00:01', src: '02:aa:c6:12:00:01' },
    ipv4: { src: '198.18.0.1', dst: '198.18.0.10', options: hex('01010100') }, // NOP NOP NOP EOL
    udp: { srcPort: 5, dstPort: 7, payload: Buffer.from('x') },
  }));
  assert.is(d.ipv4!.ihl, 6);
  assert.is(d.ipv4!.options.toString('hex'), '01010100');
  assert.ok(d.ipv4!.checksumOk);
  assert.ok(d.udp!.checksumOk);
  assert.is(d.udp!.payload.toString(), 'x');
});

test('Ethernet padding after the IP packet is ignored by L4 checksums', () => {
  const d = decodeFrame(buildFrame({
    eth: { dst: '02:00:00:00:00:01', src: '02:aa:c6:12:00:01' },
    ipv4: { src: '198.18.0.1', dst: '198.18.0.10' },
    tcp: { srcPort: 1, dstPort: 80, flags: 'A' },
    trailer: 6,
  }));
  assert.is(d.raw.length, 60);
  assert.ok(d.tcp!.checksumOk);
  assert.is(d.tcp!.payload.length, 0);
});

test.run();
