// IPv6 parse (RFC 8200): the fixed header against the frame, addresses that must never reach a
// stage (a forged IPv6 packet must not alias an IPv4 flow), the extension-header walk with its
// bounds, and fragments meeting the default fragment policy (drop; the policies are fragments6.test.ts).
// Every case is one frame in, nothing out, exactly one named drop.
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import type { DropReason } from '../../src/dataplane/types.js';
import {
  CLIENT6, INSIDE_ADDRESS6, OUTSIDE_ADDRESS6, SERVERS6, VIP6, dualStackConfig, echoRequest6, expectDrops,
  frameFrom6, show, withLab, type PortName,
} from '../support/golden.js';
import {
  ICMP6_TYPE, IPPROTO, IPV6_NEXT, buildFrame, hostMac, packetTooBig, type Ipv6Extension, type Ipv6Spec,
} from '../support/packet.js';

const SYN = { srcPort: 45000, dstPort: 80, flags: 'S' as const, seq: 1 };
const echo = (extensions: Ipv6Extension[] = [], extra: Partial<Ipv6Spec> = {}) =>
  echoRequest6(OUTSIDE_ADDRESS6, 1, 1, Buffer.from('x'), CLIENT6, { extensions, ...extra });
/** PadN-free options: count bytes of an option type with the given top bits. */
const option = (type: number, length: number) => Buffer.concat([Buffer.from([type, length]), Buffer.alloc(length)]);
const destOptions = (options?: Buffer): Ipv6Extension => ({ type: 'destOptions', options });

function withPayloadLength(frame: Buffer, length: number): Buffer {
  const b = Buffer.from(frame);
  b.writeUInt16BE(length, 14 + 4);
  return b;
}

const cases: { name: string; port?: PortName; frame: () => Buffer; expectDrops: Partial<Record<DropReason, number>> }[] = [
  // ---- the fixed header
  { name: 'shorter than the 40-byte header', frame: () => echo().subarray(0, 14 + 39), expectDrops: { ipv6_malformed: 1 } },
  { name: 'version 4 under ethertype 0x86dd', frame: () => echo([], { version: 4 }), expectDrops: { ipv6_malformed: 1 } },
  { name: 'payload length beyond the frame', frame: () => withPayloadLength(echo(), 200), expectDrops: { ipv6_malformed: 1 } },
  { name: 'payload length 0 (jumbogram)', frame: () => withPayloadLength(echo(), 0), expectDrops: { ipv6_malformed: 1 } },
  // ---- addresses
  { name: 'multicast source', frame: () => frameFrom6('outside', 'ff02::1', OUTSIDE_ADDRESS6, { tcp: SYN }), expectDrops: { ipv6_bad_address: 1 } },
  { name: 'IPv4-mapped source (would alias 198.18.0.1)', frame: () => frameFrom6('outside', '::ffff:198.18.0.1', OUTSIDE_ADDRESS6, { tcp: SYN }), expectDrops: { ipv6_bad_address: 1 } },
  { name: 'IPv4-mapped destination (would alias the IPv4 VIP)', frame: () => frameFrom6('outside', CLIENT6, '::ffff:198.18.0.10', { tcp: SYN }), expectDrops: { ipv6_bad_address: 1 } },
  { name: 'loopback source', frame: () => frameFrom6('outside', '::1', OUTSIDE_ADDRESS6, { tcp: SYN }), expectDrops: { ipv6_bad_address: 1 } },
  { name: 'unspecified source on TCP', frame: () => frameFrom6('outside', '::', OUTSIDE_ADDRESS6, { tcp: SYN }), expectDrops: { ipv6_bad_address: 1 } },
  { name: 'unspecified source on an ICMPv6 echo', frame: () => echoRequest6(OUTSIDE_ADDRESS6, 1, 1, Buffer.alloc(4), '::'), expectDrops: { ipv6_bad_address: 1 } },
  { name: 'unspecified destination', frame: () => frameFrom6('outside', CLIENT6, '::', { tcp: SYN }), expectDrops: { ipv6_bad_address: 1 } },
  // ---- extension headers
  { name: 'hop-by-hop after a destination-options header', frame: () => echo([destOptions(), { type: 'hopByHop' }]), expectDrops: { ipv6_ext_header_malformed: 1 } },
  { name: 'extension header running past the payload', frame: () => echo([{ type: 'raw', nextHeader: IPV6_NEXT.DEST_OPTIONS, bytes: Buffer.from([0, 200, 1, 4, 0, 0, 0, 0]) }]), expectDrops: { ipv6_ext_header_malformed: 1 } },
  { name: 'option TLV running past its header', frame: () => echo([{ type: 'raw', nextHeader: IPV6_NEXT.DEST_OPTIONS, bytes: Buffer.from([0, 0, 1, 9, 0, 0, 0, 0]) }]), expectDrops: { ipv6_ext_header_malformed: 1 } },
  { name: 'nine extension headers (bound 8)', frame: () => echo(Array.from({ length: 9 }, () => destOptions())), expectDrops: { ipv6_ext_header_malformed: 1 } },
  { name: 'more than 512 bytes of extension headers', frame: () => echo([destOptions(option(1, 255)), destOptions(option(1, 255)), destOptions(option(1, 10))]), expectDrops: { ipv6_ext_header_malformed: 1 } },
  { name: 'two fragment headers', frame: () => echo([{ type: 'fragment' }, { type: 'fragment' }]), expectDrops: { ipv6_ext_header_malformed: 1 } },
  { name: 'unknown destination option whose type says discard (01xxxxxx)', frame: () => echo([destOptions(option(0x5e, 2))]), expectDrops: { ipv6_option_unrecognized: 1 } },
  { name: 'unknown hop-by-hop option whose type says discard + ICMP (10xxxxxx)', frame: () => echo([{ type: 'hopByHop', options: option(0x9e, 2) }]), expectDrops: { ipv6_option_unrecognized: 1 } },
  { name: 'routing header with segments left 1', frame: () => echo([{ type: 'routing', routingType: 4, segmentsLeft: 1 }]), expectDrops: { ipv6_routing_header: 1 } },
  { name: 'type 0 routing header with segments left 2', frame: () => echo([{ type: 'routing', routingType: 0, segmentsLeft: 2, data: Buffer.alloc(36) }]), expectDrops: { ipv6_routing_header: 1 } },
  { name: 'ESP', frame: () => frameFrom6('outside', CLIENT6, OUTSIDE_ADDRESS6, { payload: Buffer.alloc(40) }, { protocol: IPV6_NEXT.ESP }), expectDrops: { ipv6_unsupported_next_header: 1 } },
  { name: 'AH after a destination-options header', frame: () => frameFrom6('outside', CLIENT6, OUTSIDE_ADDRESS6, { payload: Buffer.alloc(24) }, { protocol: IPV6_NEXT.AH, extensions: [destOptions()] }), expectDrops: { ipv6_unsupported_next_header: 1 } },
  { name: 'No Next Header (59)', frame: () => frameFrom6('outside', CLIENT6, OUTSIDE_ADDRESS6, { payload: Buffer.alloc(8) }), expectDrops: { ipv6_unsupported_next_header: 1 } },
  // ---- upper layer
  { name: 'SCTP to an owned address', frame: () => frameFrom6('outside', CLIENT6, OUTSIDE_ADDRESS6, { payload: Buffer.alloc(16) }, { protocol: 132 }), expectDrops: { unsupported_l4: 1 } },
  { name: 'ICMP (IPv4 protocol 1) under IPv6', frame: () => frameFrom6('outside', CLIENT6, OUTSIDE_ADDRESS6, { payload: Buffer.alloc(16) }, { protocol: 1 }), expectDrops: { unsupported_l4: 1 } },
  { name: 'TCP header cut short', frame: () => frameFrom6('outside', CLIENT6, OUTSIDE_ADDRESS6, { payload: Buffer.alloc(12) }, { protocol: 6 }), expectDrops: { malformed_l4: 1 } },
  { name: 'ICMPv6 echo with a wrong checksum', frame: () => echoRequest6(OUTSIDE_ADDRESS6, 1, 1, Buffer.alloc(4), CLIENT6).fill(0x77, 14 + 40 + 2, 14 + 40 + 3), expectDrops: { icmp6_bad_checksum: 1 } },
  // Errors about connections are relayed (icmp6-relay.test.ts); 48 zero bytes quote no IPv6 packet.
  { name: 'ICMPv6 Packet Too Big to an owned address quoting no IPv6 packet', frame: () => frameFrom6('outside', CLIENT6, OUTSIDE_ADDRESS6, { icmp6: packetTooBig(1280, Buffer.alloc(48)) }), expectDrops: { malformed_l4: 1 } },
  { name: 'ICMPv6 echo to the all-nodes group', frame: () => frameFrom6('outside', CLIENT6, 'ff02::1', { icmp6: { type: ICMP6_TYPE.ECHO_REQUEST, id: 1, sequence: 1 } }, {}, '33:33:00:00:00:01'), expectDrops: { not_for_us: 1 } },
  { name: 'TCP to the all-nodes group', frame: () => frameFrom6('outside', CLIENT6, 'ff02::1', { tcp: SYN }, {}, '33:33:00:00:00:01'), expectDrops: { not_for_us: 1 } },
  { name: 'IPv4 frame to a 33:33 multicast MAC', frame: () => buildFrame({ eth: { dst: '33:33:00:00:00:01', src: hostMac('198.18.0.1') }, ipv4: { src: '198.18.0.1', dst: '198.18.0.254' }, tcp: SYN }), expectDrops: { not_for_us: 1 } },
  { name: 'TCP to an IPv6 address we do not own', frame: () => frameFrom6('outside', CLIENT6, '2001:db8:18::77', { tcp: SYN }), expectDrops: { not_for_us: 1 } },
  // TCP/UDP reach the connection stage as IPv4 does: to a port address that is no VIP, no service.
  { name: 'TCP SYN to the outside port address', frame: () => frameFrom6('outside', CLIENT6, OUTSIDE_ADDRESS6, { tcp: SYN }), expectDrops: { no_service: 1 } },
  { name: 'UDP to the inside port address', port: 'inside', frame: () => frameFrom6('inside', SERVERS6[0]!, INSIDE_ADDRESS6, { udp: { srcPort: 7, dstPort: 7, payload: Buffer.from('hi') } }), expectDrops: { no_service: 1 } },
  // ---- fragments: the default policy drop (fragments6.test.ts has the others)
  { name: 'first fragment of an echo', frame: () => echo([{ type: 'fragment', offset: 0, more: true, id: 7 }]), expectDrops: { frag_dropped: 1 } },
  { name: 'later fragment (no L4 header in it)', frame: () => frameFrom6('outside', CLIENT6, OUTSIDE_ADDRESS6, { payload: Buffer.alloc(16, 0xee) }, { protocol: IPPROTO.ICMPV6, extensions: [{ type: 'fragment', offset: 10, id: 7 }] }), expectDrops: { frag_dropped: 1 } },
];

for (const c of cases) {
  test(`IPv6 ${c.name} -> ${Object.keys(c.expectDrops).join(', ')}`, async () => {
    await withLab((lab) => {
      const port = c.port ?? 'outside';
      const d = lab.counterDelta(() => lab.send(port, c.frame()));
      const out = [...lab.recv('outside'), ...lab.recv('inside')];
      assert.is(out.length, 0, `nothing sent: ${show(out)}`);
      expectDrops(d, c.expectDrops);
    }, dualStackConfig());
  });
}

test('without IPv6 port addresses every IPv6 packet is not_for_us (nothing is ours), never unsupported_l3', async () => {
  await withLab((lab) => {
    const d = lab.counterDelta(() => lab.send('outside', echo(), frameFrom6('outside', CLIENT6, VIP6, { tcp: SYN })));
    expectDrops(d, { not_for_us: 2 });
  });
});

test.run();
