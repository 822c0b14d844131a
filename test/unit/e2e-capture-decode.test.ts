// The decoding capture's packet decoder (test/support/e2e_capture_decode.py), fed frames built
// here byte by byte: IPv6 with extension headers, TOA of both lengths, ICMPv6 errors and
// neighbour discovery, fragments, and checksums that must be caught when wrong. The lab e2e
// tests trust what it reports about the gateway's IPv6 rewrites, so it is checked on its own.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import type { CapturedPacket } from '../support/e2e-capture.js';
import { internetChecksum } from '../support/packet.js';

const SUPPORT_DIR = fileURLToPath(new URL('../support/', import.meta.url));
const DRIVER = 'import json, sys\nfrom e2e_capture_decode import decode_frame\n'
  + 'print(json.dumps([decode_frame(bytes.fromhex(h)) for h in sys.argv[1:]]))';

function decode(...frames: Buffer[]): (CapturedPacket | null)[] {
  const out = execFileSync('python3', ['-c', DRIVER, ...frames.map((f) => f.toString('hex'))], { cwd: SUPPORT_DIR, env: { ...process.env, PYTHONPATH: SUPPORT_DIR } });
  return JSON.parse(String(out)) as (CapturedPacket | null)[];
}

const MACS = Buffer.from('020000000002' + '020000000001', 'hex');
const v6 = (text: string): Buffer => {
  const [head, tail] = text.split('::') as [string, string | undefined];
  const groups = (part: string | undefined) => (part ? part.split(':').map((g) => parseInt(g, 16)) : []);
  const front = groups(head), back = groups(tail);
  const all = [...front, ...Array<number>(8 - front.length - back.length).fill(0), ...back];
  const b = Buffer.alloc(16);
  all.forEach((g, i) => b.writeUInt16BE(g, i * 2));
  return b;
};
const v4 = (text: string): Buffer => Buffer.from(text.split('.').map(Number));

/** Checksum over an L4 message with the IPv6 pseudo-header (RFC 8200 §8.1). */
function withChecksum6(src: Buffer, dst: Buffer, nextHeader: number, l4: Buffer, at: number): Buffer {
  const pseudo = Buffer.alloc(40);
  src.copy(pseudo, 0); dst.copy(pseudo, 16); pseudo.writeUInt32BE(l4.length, 32); pseudo[39] = nextHeader;
  l4.writeUInt16BE(0, at);
  l4.writeUInt16BE(internetChecksum(Buffer.concat([pseudo, l4])), at);
  return l4;
}

function frame6(src: string, dst: string, nextHeader: number, payload: Buffer, hopLimit = 64): Buffer {
  const header = Buffer.alloc(40);
  header.writeUInt32BE(0x60000000, 0); header.writeUInt16BE(payload.length, 4); header[6] = nextHeader; header[7] = hopLimit;
  v6(src).copy(header, 8); v6(dst).copy(header, 24);
  return Buffer.concat([MACS, Buffer.from([0x86, 0xdd]), header, payload]);
}

function tcp(srcPort: number, dstPort: number, flags: number, options: Buffer, payload = Buffer.alloc(0)): Buffer {
  const header = Buffer.alloc(20);
  header.writeUInt16BE(srcPort, 0); header.writeUInt16BE(dstPort, 2); header.writeUInt32BE(1000, 4);
  header[12] = ((20 + options.length) / 4) << 4; header[13] = flags; header.writeUInt16BE(64240, 14);
  return Buffer.concat([header, options, payload]);
}

const TOA_V6 = Buffer.concat([Buffer.from([254, 20, 0xa0, 0x28]), v6('2001:db8:18::1')]);
const OPTIONS = Buffer.concat([Buffer.from([2, 4, 0x05, 0xa0, 1, 1]), TOA_V6, Buffer.from([1, 1])]);  // MSS 1440, NOP NOP, TOA, NOP NOP
const [LIP, RS] = ['2001:db8:19::200', '2001:db8:19::1'];

test('IPv6 TCP behind a hop-by-hop header: ports, flags, MSS, TOA (kind 254, length 20), checksum', () => {
  const segment = withChecksum6(v6(LIP), v6(RS), 6, tcp(41000, 80, 0x02, OPTIONS), 16);
  const hopByHop = Buffer.from([6, 0, 1, 4, 0, 0, 0, 0]);  // next TCP, length 8, PadN
  const [p] = decode(frame6(LIP, RS, 0, Buffer.concat([hopByHop, segment]), 63));
  assert.ok(p);
  assert.equal([p.family, p.src, p.dst, p.hopLimit, p.protocol, p.extensions, p.fragment], [6, LIP, RS, 63, 6, [0], null]);
  assert.equal([p.tcp?.srcPort, p.tcp?.dstPort, p.tcp?.flagNames, p.tcp?.mss, p.tcp?.checksumOk], [41000, 80, 'S', 1440, true]);
  assert.equal(p.tcp?.toa, { address: '2001:db8:18::1', port: 41000 });
  assert.equal(p.tcp?.options.map((o) => [o.kind, o.length]), [[2, 4], [1, 1], [1, 1], [254, 20], [1, 1], [1, 1]]);
  assert.equal([p.srcMac, p.dstMac], ['02:00:00:00:00:01', '02:00:00:00:00:02']);
  // One bit wrong anywhere the checksum covers (here the TOA address) is caught.
  const bad = Buffer.from(segment);
  bad[30] = bad[30]! ^ 1;
  assert.is(decode(frame6(LIP, RS, 6, bad))[0]?.tcp?.checksumOk, false);
});

test('IPv4 TCP carrying an IPv6 client in TOA (NAT64): toa is the IPv6 address; IPv4 header checksum checked', () => {
  const segment = tcp(41000, 80, 0x10, Buffer.concat([TOA_V6, Buffer.from([1, 1, 1, 1])]), Buffer.from('GET'));
  const header = Buffer.alloc(20);
  header[0] = 0x45; header.writeUInt16BE(20 + segment.length, 2); header.writeUInt16BE(0x4000, 6); header[8] = 63; header[9] = 6;
  v4('198.19.0.200').copy(header, 12); v4('198.19.0.1').copy(header, 16);
  header.writeUInt16BE(internetChecksum(header), 10);
  const pseudo = Buffer.concat([header.subarray(12, 20), Buffer.from([0, 6]), Buffer.from([segment.length >> 8, segment.length & 0xff])]);
  segment.writeUInt16BE(internetChecksum(Buffer.concat([pseudo, segment])), 16);
  const frame = Buffer.concat([MACS, Buffer.from([0x08, 0x00]), header, segment, Buffer.alloc(6)]);  // Ethernet padding
  const [p] = decode(frame);
  assert.equal([p?.family, p?.src, p?.ipChecksumOk, p?.dontFragment, p?.tcp?.flagNames, p?.tcp?.payloadLength], [4, '198.19.0.200', true, true, 'A', 3]);
  assert.equal(p?.tcp?.toa, { address: '2001:db8:18::1', port: 41000 });
  assert.is(p?.tcp?.checksumOk, true, 'the Ethernet padding is not part of the segment');
  const badHeader = Buffer.from(frame);
  badHeader[14 + 8] = 64;  // TTL changed without fixing the header checksum
  assert.is(decode(badHeader)[0]?.ipChecksumOk, false);
});

test('ICMPv6: Packet Too Big with its MTU and the quoted packet; neighbour solicitation target; echo', () => {
  const quoted = Buffer.concat([frame6('2001:db8:18::10', '2001:db8:18::1', 6, tcp(80, 41000, 0x10, Buffer.alloc(0))).subarray(14)]);
  const tooBig = withChecksum6(v6('2001:db8:19::1'), v6(LIP), 58, Buffer.concat([Buffer.from([2, 0, 0, 0, 0, 0, 0x05, 0x00]), quoted]), 2);
  const solicit = withChecksum6(v6('2001:db8:18::1'), v6('ff02::1:ff00:254'), 58,
    Buffer.concat([Buffer.from([135, 0, 0, 0, 0, 0, 0, 0]), v6('2001:db8:18::254')]), 2);
  const echo = withChecksum6(v6('2001:db8:18::1'), v6('2001:db8:18::10'), 58, Buffer.from([128, 0, 0, 0, 0x12, 0x34, 0, 7, 1, 2]), 2);
  const [big, ns, ping] = decode(frame6('2001:db8:19::1', LIP, 58, tooBig), frame6('2001:db8:18::1', 'ff02::1:ff00:254', 58, solicit, 255),
    frame6('2001:db8:18::1', '2001:db8:18::10', 58, echo));
  assert.equal([big?.icmp?.type, big?.icmp?.mtu, big?.icmp?.checksumOk], [2, 1280, true]);
  assert.equal(big?.icmp?.quoted, { family: 6, src: '2001:db8:18::10', dst: '2001:db8:18::1', protocol: 6, srcPort: 80, dstPort: 41000 });
  assert.equal([ns?.icmp?.type, ns?.icmp?.target, ns?.hopLimit, ns?.icmp?.checksumOk], [135, '2001:db8:18::254', 255, true]);
  assert.equal([ping?.icmp?.type, ping?.icmp?.id, ping?.icmp?.seq], [128, 0x1234, 7]);
  // ICMPv6's checksum covers the pseudo-header: the same message to another address is wrong.
  assert.is(decode(frame6('2001:db8:18::1', '2001:db8:18::11', 58, echo))[0]?.icmp?.checksumOk, false);
});

test('IPv6 UDP: checksum required (0 is wrong), fragments reported, a later fragment has no UDP header', () => {
  const datagram = withChecksum6(v6('2001:db8:18::66'), v6('2001:db8:18::10'), 17, Buffer.concat([Buffer.from([0x30, 0x39, 0, 7, 0, 13, 0, 0]), Buffer.from('hello')]), 6);
  const zero = Buffer.from(datagram);
  zero.writeUInt16BE(0, 6);
  const first = Buffer.concat([Buffer.from([17, 0, 0, 1, 0, 0, 0, 9]), datagram]);  // offset 0, more, id 9
  const later = Buffer.concat([Buffer.from([17, 0, 0x05, 0xa8, 0, 0, 0, 9]), Buffer.from('rest')]);  // offset 1448, last
  const [whole, noChecksum, head, tail] = decode(frame6('2001:db8:18::66', '2001:db8:18::10', 17, datagram),
    frame6('2001:db8:18::66', '2001:db8:18::10', 17, zero), frame6('2001:db8:18::66', '2001:db8:18::10', 44, first),
    frame6('2001:db8:18::66', '2001:db8:18::10', 44, later));
  assert.equal([whole?.udp?.srcPort, whole?.udp?.dstPort, whole?.udp?.payloadLength, whole?.udp?.checksumOk], [12345, 7, 5, true]);
  assert.is(noChecksum?.udp?.checksumOk, false);
  assert.equal([head?.extensions, head?.fragment, head?.udp?.dstPort, head?.udp?.checksumOk], [[44], { offset: 0, more: true, id: 9 }, 7, null]);
  assert.equal([tail?.fragment, tail?.protocol, tail?.udp], [{ offset: 1448, more: false, id: 9 }, 17, undefined]);
});

test('a header chain that does not fit is reported truncated, and non-IP frames are skipped', () => {
  const [cut, arp] = decode(frame6(LIP, RS, 60, Buffer.from([6, 4, 0, 0, 0, 0, 0, 0])),  // destination options claiming 40 bytes
    Buffer.concat([MACS, Buffer.from([0x08, 0x06]), Buffer.alloc(28)]));
  assert.equal([cut?.truncated, cut?.tcp], [true, undefined]);
  assert.is(arp, null);
});

test.run();
