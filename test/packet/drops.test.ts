// Every frame the data plane does not forward is dropped under exactly one named reason
// (DESIGN.md §3 "Drops are data"), and no input crashes it.
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import type { DropReason } from '../../src/dataplane/types.js';
import {
  CLIENT, LIPS, PORT_MAC, SERVERS, UDP_SERVICE_ID, VIP, clientSegment, clientTcp, clientUdp, expectDrops, frameFrom, labConfig, only, openTcp,
  seededRandom, serverSegment, show, sumOf, withLab, type Lab, type PortName,
} from '../support/golden.js';
import {
  ICMP_TYPE, buildFrame, hostMac, internetChecksum, type FrameSpec, type Ipv4Spec, type TcpSpec,
} from '../support/packet.js';

const CLIENT_MAC = hostMac(CLIENT);
const SYN: TcpSpec = { srcPort: 45000, dstPort: 80, flags: 'S', seq: 1, options: [{ kind: 'mss', value: 1460 }] };
const validSyn = (cport = 45000) => clientTcp(cport, { ...SYN, srcPort: cport });

/** A frame to VIP from the client with the given IPv4 overrides and L4 part. */
function toVip(ipv4: Partial<Ipv4Spec>, l4: Pick<FrameSpec, 'tcp' | 'udp' | 'icmp' | 'payload'>, trailer = 0): Buffer {
  return buildFrame({ eth: { dst: PORT_MAC.outside, src: CLIENT_MAC }, ipv4: { src: CLIENT, dst: VIP, ...ipv4 }, ...l4, trailer });
}

/** Sends one frame, answers ARP, returns what came out (both ports) and the counter delta. */
function run(lab: Lab, port: PortName, frame: Buffer) {
  let out = 0;
  let frames: string = '';
  const delta = lab.counterDelta(() => {
    const o = lab.forward(port, frame);
    out = o.outside.length + o.inside.length;
    frames = show([...o.outside, ...o.inside]);
  });
  return { out, frames, delta };
}

function setByte(frame: Buffer, offset: number, value: number): Buffer {
  const b = Buffer.from(frame);
  b[offset] = value;
  return b;
}

const IP = 14; // IPv4 header offset in a frame

const dropCases: { name: string; port?: PortName; frame: () => Buffer; expectDrops: Partial<Record<DropReason, number>> }[] = [
  { name: 'runt frame (10 bytes)', frame: () => validSyn().subarray(0, 10), expectDrops: { malformed_l2: 1 } },
  { name: 'Ethernet header only', frame: () => validSyn().subarray(0, 14), expectDrops: { malformed_l3: 1 } },
  { name: 'truncated IPv4 header (10 bytes)', frame: () => validSyn().subarray(0, IP + 10), expectDrops: { malformed_l3: 1 } },
  { name: 'IPv4 version 6 in an IPv4 ethertype', frame: () => toVip({ version: 6 }, { tcp: SYN }), expectDrops: { malformed_l3: 1 } },
  { name: 'bad IHL (4)', frame: () => toVip({ ihl: 4 }, { tcp: SYN }), expectDrops: { malformed_l3: 1 } },
  { name: 'IHL 15 beyond the packet', frame: () => toVip({ ihl: 15 }, { payload: Buffer.alloc(8) }), expectDrops: { malformed_l3: 1 } },
  { name: 'total length > frame', frame: () => toVip({ totalLength: 200 }, { tcp: SYN }), expectDrops: { malformed_l3: 1 } },
  { name: 'total length < header', frame: () => toVip({ totalLength: 12 }, { tcp: SYN }), expectDrops: { malformed_l3: 1 } },
  { name: 'bad IP checksum', frame: () => toVip({ checksum: 0x1234 }, { tcp: SYN }), expectDrops: { malformed_l3: 1 } },
  { name: 'truncated TCP header (10 bytes)', frame: () => toVip({ protocol: 6 }, { payload: Buffer.alloc(10, 0x50) }), expectDrops: { malformed_l4: 1 } },
  { name: 'truncated UDP header (4 bytes)', frame: () => toVip({ protocol: 17 }, { payload: Buffer.from([0x13, 0x88, 0, 7]) }), expectDrops: { malformed_l4: 1 } },
  { name: 'truncated ICMP header (4 bytes)', frame: () => toVip({ protocol: 1 }, { payload: Buffer.from([8, 0, 0, 0]) }), expectDrops: { malformed_l4: 1 } },
  { name: 'TCP data offset 4 (< 5)', frame: () => toVip({}, { tcp: { ...SYN, dataOffset: 4 } }), expectDrops: { malformed_l4: 1 } },
  { name: 'TCP data offset 15 beyond the packet', frame: () => toVip({}, { tcp: { ...SYN, dataOffset: 15 } }), expectDrops: { malformed_l4: 1 } },
  { name: 'IPv4 first fragment (MF)', frame: () => toVip({ moreFragments: true }, { tcp: SYN }), expectDrops: { frag_dropped: 1 } },
  { name: 'IPv4 later fragment (offset 185)', frame: () => toVip({ protocol: 6, fragmentOffset: 185 }, { payload: Buffer.alloc(64) }), expectDrops: { frag_dropped: 1 } },
  { name: 'unknown ethertype 0x88b5', frame: () => buildFrame({ eth: { dst: PORT_MAC.outside, src: CLIENT_MAC, type: 0x88b5 }, payload: Buffer.alloc(46) }), expectDrops: { unsupported_l3: 1 } },
  { name: 'IP protocol 47 (GRE) to the VIP', frame: () => toVip({ protocol: 47 }, { payload: Buffer.alloc(24) }), expectDrops: { unsupported_l4: 1 } },
  { name: 'unicast to another MAC', frame: () => buildFrame({ eth: { dst: '02:00:00:00:00:99', src: CLIENT_MAC }, ipv4: { src: CLIENT, dst: VIP }, tcp: SYN }), expectDrops: { not_for_us: 1 } },
  { name: 'IPv4 to an address we do not own', frame: () => toVip({ dst: '198.18.0.77' }, { tcp: SYN }), expectDrops: { not_for_us: 1 } },
  { name: 'truncated ARP', frame: () => buildFrame({ eth: { dst: 'ff:ff:ff:ff:ff:ff', src: CLIENT_MAC, type: 0x0806 }, payload: Buffer.from('0001080006040001', 'hex') }), expectDrops: { malformed_arp: 1 } },
  { name: 'TTL 1 SYN to the VIP', frame: () => toVip({ ttl: 1 }, { tcp: SYN }), expectDrops: { ttl_exceeded: 1 } },
  { name: 'TTL 0 SYN to the VIP', frame: () => toVip({ ttl: 0 }, { tcp: SYN }), expectDrops: { ttl_exceeded: 1 } },
  { name: 'SYN to an unknown VIP port (81)', frame: () => clientTcp(45001, { flags: 'S' }, VIP, 81), expectDrops: { no_service: 1 } },
  { name: 'UDP to an unknown VIP port (8)', frame: () => clientUdp(45002, Buffer.from('x'), {}, 8), expectDrops: { no_service: 1 } },
  { name: 'TCP ACK without a connection', frame: () => clientTcp(45003, { flags: 'A', seq: 2, ack: 2 }), expectDrops: { no_conn: 1 } },
  { name: 'TCP data without a connection', frame: () => clientTcp(45004, { flags: 'PA', seq: 2, ack: 2, payload: Buffer.from('x') }), expectDrops: { no_conn: 1 } },
  { name: 'server reply to a LIP:lport with no connection', port: 'inside',
    frame: () => frameFrom('inside', SERVERS[0]!, LIPS[0]!, { tcp: { srcPort: 80, dstPort: 3000, flags: 'SA' } }), expectDrops: { no_conn: 1 } },
];

for (const c of dropCases) {
  test(`${c.name} -> dropped ${Object.keys(c.expectDrops).join(', ')}, then a valid SYN still forwards`, async () => {
    await withLab((lab) => {
      const r = run(lab, c.port ?? 'outside', c.frame());
      assert.is(r.out, 0, `nothing forwarded, got ${r.frames}`);
      expectDrops(r.delta, c.expectDrops);
      only(lab.forward('outside', validSyn(45999)).inside, 'valid SYN afterwards');
    });
  });
}

test('Ethernet padding after a valid SYN is not an error', async () => {
  await withLab((lab) => {
    const r = run(lab, 'outside', toVip({}, { tcp: SYN }, 16));
    assert.is(r.out, 1, r.frames);
    expectDrops(r.delta, {});
  });
});

test('IPv4 options are accepted on a SYN', async () => {
  await withLab((lab) => {
    const r = run(lab, 'outside', toVip({ options: Buffer.from('01010100', 'hex') }, { tcp: SYN }));
    assert.is(r.out, 1, r.frames);
    expectDrops(r.delta, {});
  });
});

/** Random bytes of the given family; every family is reproducible from the seed. */
function randomFrames(seed: number, count: number): { port: PortName; frame: Buffer }[] {
  const rand = seededRandom(seed);
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(rand() * 256)));
  const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  const frames: { port: PortName; frame: Buffer }[] = [];
  for (let i = 0; i < count; i++) {
    const port: PortName = i % 2 ? 'inside' : 'outside';
    const family = i % 3;
    let frame: Buffer;
    if (family === 0) {
      frame = bytes(int(1, 200)); // anything at all
    } else if (family === 1) {
      // a well-formed Ethernet header for this port, then garbage IPv4
      frame = Buffer.concat([buildFrame({ eth: { dst: PORT_MAC[port], src: CLIENT_MAC, type: 0x0800 } }), bytes(int(0, 120))]);
    } else {
      // a valid IPv4 header to an owned address with random L4 bytes
      const dst = port === 'outside' ? VIP : LIPS[int(0, 3)]!;
      const src = port === 'outside' ? CLIENT : SERVERS[int(0, 2)]!;
      frame = buildFrame({
        eth: { dst: PORT_MAC[port], src: hostMac(src) },
        ipv4: { src, dst, protocol: [1, 6, 17][int(0, 2)]!, ttl: int(1, 255) },
        payload: bytes(int(0, 80)),
      });
    }
    frames.push({ port, frame });
  }
  return frames;
}

function mutatedSyns(seed: number, count: number): { port: PortName; frame: Buffer }[] {
  const rand = seededRandom(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  const base = validSyn(46000);
  return Array.from({ length: count }, () => {
    let frame: Buffer = Buffer.from(base);
    for (let k = int(1, 3); k > 0; k--) frame = setByte(frame, int(0, frame.length - 1), int(0, 255));
    if (rand() < 0.25) frame = frame.subarray(0, int(1, frame.length));
    return { port: 'outside' as PortName, frame };
  });
}

for (const [name, frames] of [
  ['300 seeded random frames', randomFrames(0xc0ffee, 300)],
  ['300 random mutations of a valid SYN', mutatedSyns(0x5eed, 300)],
] as const) {
  test(`${name}: each one forwarded once or dropped under one reason; a valid SYN still forwards`, async () => {
    await withLab((lab) => {
      let forwarded = 0;
      let dropped = 0;
      frames.forEach(({ port, frame }, i) => {
        const r = run(lab, port, frame);
        const drops = sumOf(r.delta.drops);
        assert.is(r.out + drops, 1,
          `frame ${i} on ${port} (${frame.toString('hex')}): out ${r.out} [${r.frames}], drops ${JSON.stringify(r.delta.drops)}`);
        forwarded += r.out;
        dropped += drops;
      });
      assert.is(forwarded + dropped, frames.length);
      const syn = only(lab.forward('outside', validSyn(46999)).inside, 'valid SYN after the storm');
      assert.ok(syn.tcp!.checksumOk && syn.ipv4!.checksumOk);
    });
  });
}

test('TTL 1 on an established flow is dropped ttl_exceeded both ways', async () => {
  await withLab((lab) => {
    const flow = openTcp(lab, 45500);
    const inbound = Buffer.from(clientSegment(flow, { payload: Buffer.from('x') }));
    const outbound = Buffer.from(serverSegment(flow, { payload: Buffer.from('y') }));
    // TTL 1 with a valid header checksum (TTL is not in the TCP pseudo-header)
    const withTtl1 = (frame: Buffer) => {
      const b = Buffer.from(frame);
      b[IP + 8] = 1;
      b.writeUInt16BE(0, IP + 10);
      b.writeUInt16BE(internetChecksum(b.subarray(IP, IP + 20)), IP + 10);
      return b;
    };
    const a = run(lab, 'outside', withTtl1(inbound));
    assert.is(a.out, 0, a.frames);
    expectDrops(a.delta, { ttl_exceeded: 1 });
    const b = run(lab, 'inside', withTtl1(outbound));
    assert.is(b.out, 0, b.frames);
    expectDrops(b.delta, { ttl_exceeded: 1 });
  });
});

test('ICMP types we do not answer to an owned address -> icmp_unsupported', async () => {
  await withLab((lab) => {
    const r = run(lab, 'outside', toVip({}, { icmp: { type: ICMP_TYPE.ECHO_REPLY, id: 1, sequence: 1 } }));
    assert.is(r.out, 0, r.frames);
    expectDrops(r.delta, { icmp_unsupported: 1 });
  });
});

test('a FullNAT service without local addresses: its new flows are dropped no_local_address, other services unaffected', async () => {
  // The model accepts it with a warning (src/model/check-forwarding.ts): servers may be added before the LIPs.
  const config = labConfig((c) => { c.services.find((s) => s.id === UDP_SERVICE_ID)!.localAddresses = []; });
  await withLab((lab) => {
    const udp = run(lab, 'outside', clientUdp(45600, Buffer.from('no LIP')));
    assert.is(udp.out, 0, udp.frames);
    expectDrops(udp.delta, { no_local_address: 1 });
    assert.is(lab.stats().connections, 0, 'no half-made connection');
    const tcp = run(lab, 'outside', validSyn(45601));
    assert.is(tcp.out, 1, `the TCP service still forwards: ${tcp.frames}`);
    expectDrops(tcp.delta, {});
  }, config);
});

test.run();
