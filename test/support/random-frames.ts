// Seeded generator of malformed and random frames for robustness runs (issue 8): valid lab
// traffic as a starting point (TCP/UDP to the VIP, server replies to LIPs, ICMP, ARP, fragments,
// raw bytes), then mutations: truncation, bad IPv4/TCP/UDP lengths, junk TCP options, TCP flag
// nonsense, flipped bytes. The IPv4 header checksum is usually repaired after mutating, so frames
// get past parse_ipv4 and exercise the later stages. IPv6: echo, neighbour discovery (NS/NA/RA,
// DAD), TCP/UDP, random and junk extension-header chains, fragments, forged addresses; the ICMPv6
// checksum is usually repaired after mutating. Also: the frame accounting identity.
import type { DataplaneStats } from '../../src/dataplane/types.js';
import {
  CLIENT, CLIENTS6, INSIDE_ADDRESS6, LIPS, LIPS6, OUTSIDE_ADDRESS, OUTSIDE_ADDRESS6, INSIDE_ADDRESS, PORT_MAC, SERVERS, SERVERS6,
  VIP, VIP6, type PortName, frameFrom, frameFrom6,
} from './golden.js';
import {
  ARP_OP, BROADCAST_MAC, ETHERTYPE, ICMP6_TYPE, ICMP_TYPE, IPPROTO, IPV6_NEXT, NA_FLAG, ND_OPT, buildFrame, buildIpv4, buildTcp,
  hostMac, internetChecksum, multicastMac, neighborAdvertisement, neighborSolicitation, pseudoHeaderSum6, routerAdvertisement,
  solicitedNode, ip6ToString, type Icmp6Spec, type Ipv6Extension,
} from './packet.js';

type Random = () => number;

const ETH_HEADER_BYTES = 14;
const CLIENTS = [CLIENT, '198.18.0.2', '198.18.0.3', '198.18.0.77'];

function pick<T>(rnd: Random, items: readonly T[]): T { return items[Math.floor(rnd() * items.length)]!; }
function int(rnd: Random, below: number): number { return Math.floor(rnd() * below); }
function bytes(rnd: Random, length: number): Buffer {
  const b = Buffer.alloc(length);
  for (let i = 0; i < length; i++) b[i] = int(rnd, 256);
  return b;
}

/** Option area bytes that are sometimes well-formed and often not (length 0/1, overrunning, odd kinds). */
function junkOptions(rnd: Random): Buffer {
  const words = int(rnd, 11); // 0..40 bytes, the whole option space
  const area = bytes(rnd, words * 4);
  const wellFormed = [[2, 4, 5, 180], [1, 1, 3, 3, 7], [4, 2, 1, 1], [254, 8, 0, 80, 198, 18, 0, 1]];
  if (area.length >= 8 && rnd() < 0.5) Buffer.from(pick(rnd, wellFormed)).copy(area, 0);
  if (area.length >= 2 && rnd() < 0.3) area[1] = pick(rnd, [0, 1, 2, 255, area.length + 1]);
  return area;
}

function randomFlags(rnd: Random): number {
  // Mostly the combinations a stack sends; often nonsense (SYN+FIN, SYN+RST, nothing, all).
  return rnd() < 0.4 ? pick(rnd, [0x02, 0x12, 0x10, 0x18, 0x11, 0x04, 0x14]) : int(rnd, 256);
}

function tcpToService(rnd: Random): { port: PortName; frame: Buffer } {
  const tcp = {
    srcPort: 1024 + int(rnd, 64), dstPort: rnd() < 0.9 ? 80 : int(rnd, 65536), flags: randomFlags(rnd),
    seq: int(rnd, 2 ** 32), ack: int(rnd, 2 ** 32), options: rnd() < 0.5 ? junkOptions(rnd) : Buffer.alloc(0),
    payload: bytes(rnd, int(rnd, 4) === 0 ? int(rnd, 1400) : int(rnd, 64)),
  };
  return { port: 'outside', frame: frameFrom('outside', pick(rnd, CLIENTS), rnd() < 0.9 ? VIP : OUTSIDE_ADDRESS, { tcp }) };
}

/** A connection the data plane opened towards a server, seen on the inside port (to aim replies at). */
export interface SeenFlow { server: string; sport: number; lip: string; lport: number }

function tcpFromServer(rnd: Random, seen: readonly SeenFlow[]): { port: PortName; frame: Buffer } {
  const known = seen.length > 0 && rnd() < 0.7 ? pick(rnd, seen) : undefined;
  const tcp = {
    srcPort: known?.sport ?? 80, dstPort: known?.lport ?? int(rnd, 65536), flags: randomFlags(rnd),
    seq: int(rnd, 2 ** 32), ack: int(rnd, 2 ** 32),
    options: rnd() < 0.3 ? junkOptions(rnd) : Buffer.alloc(0), payload: bytes(rnd, int(rnd, 64)),
  };
  return { port: 'inside', frame: frameFrom('inside', known?.server ?? pick(rnd, SERVERS), known?.lip ?? pick(rnd, LIPS), { tcp }) };
}

/** Records the TCP flow of a frame the data plane sent on the inside port (bounded list, newest kept). */
export function noteInsideFrame(frame: Buffer, seen: SeenFlow[], max = 64): void {
  if (frame.length < 14 + 20 + 20 || frame.readUInt16BE(12) !== ETHERTYPE.IPV4 || frame[14 + 9] !== 6) return;
  const l4 = 14 + (frame[14]! & 0x0f) * 4;
  if (frame.length < l4 + 4) return;
  const address = (at: number) => `${frame[at]}.${frame[at + 1]}.${frame[at + 2]}.${frame[at + 3]}`;
  seen.push({ lip: address(14 + 12), server: address(14 + 16), lport: frame.readUInt16BE(l4), sport: frame.readUInt16BE(l4 + 2) });
  if (seen.length > max) seen.splice(0, seen.length - max);
}

function udpToService(rnd: Random): { port: PortName; frame: Buffer } {
  const payload = bytes(rnd, int(rnd, 128));
  const udp = { srcPort: 1024 + int(rnd, 64), dstPort: rnd() < 0.8 ? 7 : int(rnd, 65536), payload,
    length: rnd() < 0.3 ? int(rnd, 65536) : undefined };
  return rnd() < 0.7
    ? { port: 'outside', frame: frameFrom('outside', pick(rnd, CLIENTS), VIP, { udp }) }
    : { port: 'inside', frame: frameFrom('inside', pick(rnd, SERVERS), pick(rnd, LIPS), { udp: { ...udp, srcPort: 7, dstPort: int(rnd, 65536) } }) };
}

function icmp(rnd: Random): { port: PortName; frame: Buffer } {
  const type = rnd() < 0.5 ? ICMP_TYPE.ECHO_REQUEST : pick(rnd, [0, 3, 4, 5, 11, 12, 13, int(rnd, 256)]);
  // Errors quote an IP header + 8 bytes; quote a plausible (or truncated) TCP one.
  const quoted = buildIpv4({ src: pick(rnd, LIPS), dst: pick(rnd, SERVERS), protocol: 6 },
    buildTcp({ srcPort: int(rnd, 65536), dstPort: 80 }, LIPS[0]!, SERVERS[0]!)).subarray(0, int(rnd, 48));
  const spec = { type, code: int(rnd, 16), id: int(rnd, 65536), sequence: int(rnd, 65536),
    payload: type === ICMP_TYPE.ECHO_REQUEST ? bytes(rnd, int(rnd, 256)) : Buffer.from(quoted) };
  return rnd() < 0.6
    ? { port: 'outside', frame: frameFrom('outside', pick(rnd, CLIENTS), pick(rnd, [VIP, OUTSIDE_ADDRESS]), { icmp: spec }) }
    : { port: 'inside', frame: frameFrom('inside', pick(rnd, SERVERS), pick(rnd, [...LIPS, INSIDE_ADDRESS]), { icmp: spec }) };
}

function arp(rnd: Random): { port: PortName; frame: Buffer } {
  const port: PortName = rnd() < 0.5 ? 'outside' : 'inside';
  const hosts = port === 'outside' ? CLIENTS : SERVERS;
  const sender = rnd() < 0.9 ? pick(rnd, hosts) : `10.0.${int(rnd, 256)}.${int(rnd, 256)}`;
  const target = pick(rnd, port === 'outside' ? [VIP, OUTSIDE_ADDRESS, '198.18.0.99'] : [...LIPS, INSIDE_ADDRESS, '198.19.0.99']);
  const frame = buildFrame({
    eth: { dst: rnd() < 0.5 ? BROADCAST_MAC : PORT_MAC[port], src: hostMac(sender) },
    arp: { op: rnd() < 0.8 ? pick(rnd, [ARP_OP.REQUEST, ARP_OP.REPLY]) : int(rnd, 65536), senderMac: hostMac(sender),
      senderIp: sender, targetMac: PORT_MAC[port], targetIp: target },
  });
  if (rnd() < 0.2) frame[ETH_HEADER_BYTES + int(rnd, 6)] = int(rnd, 256); // hardware/protocol type, sizes
  return { port, frame };
}

function fragment(rnd: Random): { port: PortName; frame: Buffer } {
  const tcp = buildTcp({ srcPort: 1024 + int(rnd, 64), dstPort: 80, flags: 'S' }, CLIENT, VIP);
  const payload = rnd() < 0.5 ? tcp.subarray(0, int(rnd, tcp.length + 1)) : bytes(rnd, int(rnd, 64));
  const frame = frameFrom('outside', pick(rnd, CLIENTS), VIP, { payload }, {
    protocol: pick(rnd, [6, 17, 1]), moreFragments: rnd() < 0.6, fragmentOffset: rnd() < 0.5 ? int(rnd, 8192) : int(rnd, 4),
    id: int(rnd, 65536), dontFragment: rnd() < 0.1,
  });
  return { port: 'outside', frame };
}

function raw(rnd: Random): { port: PortName; frame: Buffer } {
  const port: PortName = rnd() < 0.5 ? 'outside' : 'inside';
  const frame = bytes(rnd, int(rnd, 200));
  // Keep the destination MAC (and often the ethertype) so the bytes get past L2.
  if (frame.length >= 6 && rnd() < 0.8) Buffer.from(PORT_MAC[port].split(':').map((h) => parseInt(h, 16))).copy(frame, 0);
  if (frame.length >= 14 && rnd() < 0.7) frame.writeUInt16BE(pick(rnd, [ETHERTYPE.IPV4, ETHERTYPE.ARP, ETHERTYPE.VLAN, ETHERTYPE.IPV6]), 12);
  if (frame.length >= 15 && rnd() < 0.5) frame[14] = 0x40 | int(rnd, 16);
  return { port, frame };
}

function randomExtensions(rnd: Random): Ipv6Extension[] {
  if (rnd() < 0.6) return [];
  const options = () => (rnd() < 0.5 ? undefined : Buffer.concat([Buffer.from([pick(rnd, [1, 5, 0x1e, 0x5e, 0x9e, 0xc2, int(rnd, 256)]), int(rnd, 6)]), bytes(rnd, int(rnd, 6))]));
  return Array.from({ length: 1 + int(rnd, rnd() < 0.1 ? 12 : 3) }, (): Ipv6Extension => {
    switch (int(rnd, 5)) {
      case 0: return { type: 'hopByHop', options: options() };
      case 1: return { type: 'destOptions', options: options() };
      case 2: return { type: 'routing', routingType: pick(rnd, [0, 2, 3, 4]), segmentsLeft: rnd() < 0.6 ? 0 : int(rnd, 4) };
      case 3: return { type: 'fragment', offset: rnd() < 0.5 ? 0 : int(rnd, 8192), more: rnd() < 0.5, id: int(rnd, 2 ** 32) };
      default: return { type: 'raw', nextHeader: pick(rnd, [0, 43, 44, 60, 50, 51, 59]), bytes: bytes(rnd, 8 * (1 + int(rnd, 3))) };
    }
  });
}

function ipv6(rnd: Random): { port: PortName; frame: Buffer } {
  const port: PortName = rnd() < 0.7 ? 'outside' : 'inside';
  const ours = port === 'outside' ? OUTSIDE_ADDRESS6 : INSIDE_ADDRESS6;
  const hosts = port === 'outside' ? CLIENTS6 : SERVERS6;
  const src = rnd() < 0.85 ? pick(rnd, hosts)
    : pick(rnd, ['::', '::1', 'ff02::1', '::ffff:198.18.0.1', '2001:db8:77::5', 'fe80::1']);
  const hopLimit = rnd() < 0.6 ? 255 : pick(rnd, [64, 254, 1, 0]);
  const extensions = randomExtensions(rnd);
  const to = (dst: string, l4: Parameters<typeof frameFrom6>[3], ethDst?: string) =>
    ({ port, frame: frameFrom6(port, src, dst, l4, { hopLimit, extensions }, ethDst ?? (dst.startsWith('ff') ? multicastMac(dst) : PORT_MAC[port])) });
  const target = rnd() < 0.7 ? ours : pick(rnd, [...hosts, VIP6, ...LIPS6, 'ff02::1', '2001:db8:18::77']);
  const lladdr = (type: 1 | 2) => (rnd() < 0.8 ? [{ type, mac: hostMac(src === '::' ? ours : src) }] : []);
  switch (int(rnd, 8)) {
    case 0: return to(rnd() < 0.7 ? ours : pick(rnd, ['ff02::1', VIP6]), { icmp6: { type: ICMP6_TYPE.ECHO_REQUEST, id: int(rnd, 65536), sequence: int(rnd, 65536), payload: bytes(rnd, int(rnd, 200)) } });
    case 1: return to(rnd() < 0.7 ? solicitedNode(target) : target, { icmp6: neighborSolicitation(target, lladdr(ND_OPT.SOURCE_LL)) });
    case 2: return to(rnd() < 0.5 ? ours : 'ff02::1', { icmp6: neighborAdvertisement(src === '::' ? ours : src, pick(rnd, [0, NA_FLAG.SOLICITED | NA_FLAG.OVERRIDE, NA_FLAG.OVERRIDE]), lladdr(ND_OPT.TARGET_LL)) });
    case 3: return to('ff02::1', { icmp6: routerAdvertisement(hostMac(pick(rnd, hosts))) });
    case 4: return to(rnd() < 0.8 ? ours : VIP6, { tcp: { srcPort: 1024 + int(rnd, 64), dstPort: 80, flags: randomFlags(rnd), payload: bytes(rnd, int(rnd, 64)) } });
    case 5: return to(rnd() < 0.8 ? ours : pick(rnd, LIPS6), { udp: { srcPort: 1024 + int(rnd, 64), dstPort: 7, payload: bytes(rnd, int(rnd, 64)) } });
    case 6: {
      const spec: Icmp6Spec = { type: pick(rnd, [1, 2, 3, 4, 130, 137, int(rnd, 256)]), code: int(rnd, 4), rest: int(rnd, 2 ** 32), payload: bytes(rnd, int(rnd, 96)) };
      return to(rnd() < 0.8 ? ours : 'ff02::1', { icmp6: spec });
    }
    default: return to(ours, { payload: bytes(rnd, int(rnd, 80)) }, rnd() < 0.2 ? multicastMac(solicitedNode(ours)) : undefined);
  }
}

const SHAPES: ((rnd: Random, seen: readonly SeenFlow[]) => { port: PortName; frame: Buffer })[] =
  [tcpToService, tcpToService, tcpFromServer, tcpFromServer, udpToService, icmp, arp, fragment, raw, ipv6, ipv6];

/** The ICMPv6 checksum recomputed in place when the frame is IPv6 with ICMPv6 right after the fixed header. */
function repairIcmp6Checksum(frame: Buffer): void {
  const ip = ETH_HEADER_BYTES;
  if (frame.length < ip + 48 || frame.readUInt16BE(12) !== ETHERTYPE.IPV6 || frame[ip + 6] !== IPPROTO.ICMPV6) return;
  const end = Math.min(frame.length, ip + 40 + frame.readUInt16BE(ip + 4));
  if (end < ip + 48) return;
  const l4 = frame.subarray(ip + 40, end);
  l4.writeUInt16BE(0, 2);
  const src = ip6ToString(frame.subarray(ip + 8, ip + 24));
  const dst = ip6ToString(frame.subarray(ip + 24, ip + 40));
  l4.writeUInt16BE(internetChecksum(l4, pseudoHeaderSum6(src, dst, IPPROTO.ICMPV6, l4.length)), 2);
}

/** IPv6 mutations: payload length, version, next header, hop limit, extension-header bytes. */
function mutate6(rnd: Random, input: Buffer): Buffer {
  const frame = input;
  const ip = ETH_HEADER_BYTES;
  if (frame.length < ip + 40) return frame;
  switch (int(rnd, 5)) {
    case 0: frame.writeUInt16BE(int(rnd, 2) ? int(rnd, 65536) : Math.max(0, frame.length - ip - 40 + int(rnd, 9) - 4), ip + 4); break;
    case 1: frame[ip] = (int(rnd, 16) << 4) | (frame[ip]! & 0xf); break;
    case 2: frame[ip + 6] = pick(rnd, [IPV6_NEXT.HOP_BY_HOP, IPV6_NEXT.ROUTING, IPV6_NEXT.FRAGMENT, IPV6_NEXT.DEST_OPTIONS, IPV6_NEXT.NONE, 6, 17, 58, int(rnd, 256)]); break;
    case 3: frame[ip + 7] = int(rnd, 256); break;
    default: for (let n = 1 + int(rnd, 4); n > 0 && frame.length > ip + 40; n--) frame[ip + 40 + int(rnd, Math.min(frame.length - ip - 40, 64))] = int(rnd, 256); break;
  }
  return frame;
}

/** IPv4 header checksum recomputed in place (when the header fits), so later stages see the frame. */
function repairIpv4Checksum(frame: Buffer): void {
  if (frame.length < ETH_HEADER_BYTES + 20 || frame.readUInt16BE(12) !== ETHERTYPE.IPV4) return;
  const ihlBytes = (frame[ETH_HEADER_BYTES]! & 0x0f) * 4;
  if (ihlBytes < 20 || ETH_HEADER_BYTES + ihlBytes > frame.length) return;
  frame.writeUInt16BE(0, ETH_HEADER_BYTES + 10);
  frame.writeUInt16BE(internetChecksum(frame.subarray(ETH_HEADER_BYTES, ETH_HEADER_BYTES + ihlBytes)), ETH_HEADER_BYTES + 10);
}

function mutate(rnd: Random, input: Buffer): Buffer {
  let frame = input;
  const ip = ETH_HEADER_BYTES;
  const isIpv4 = frame.length >= ip + 20 && frame.readUInt16BE(12) === ETHERTYPE.IPV4;
  const l4 = isIpv4 ? ip + (frame[ip]! & 0x0f) * 4 : -1;
  switch (int(rnd, 8)) {
    case 0: frame = frame.subarray(0, int(rnd, frame.length + 1)); break;                  // truncated anywhere
    case 1: if (isIpv4) frame.writeUInt16BE(int(rnd, 2) ? int(rnd, 65536) : frame.length - ip + int(rnd, 9) - 4, ip + 2); break; // total length
    case 2: if (isIpv4) frame[ip] = (int(rnd, 2) ? 0x40 : int(rnd, 16) << 4) | int(rnd, 16); break; // version / ihl
    case 3: if (isIpv4 && frame[ip + 9] === 6 && frame.length > l4 + 13) frame[l4 + 12] = int(rnd, 256); break; // TCP data offset
    case 4: if (isIpv4 && frame[ip + 9] === 17 && frame.length > l4 + 5) frame.writeUInt16BE(int(rnd, 65536), l4 + 4); break; // UDP length
    case 5: for (let n = 1 + int(rnd, 4); n > 0 && frame.length; n--) frame[int(rnd, Math.min(frame.length, 80))] = int(rnd, 256); break;
    case 6: if (isIpv4) frame[ip + 8] = int(rnd, 3); break;                                 // TTL 0..2
    default: frame = Buffer.concat([frame, bytes(rnd, int(rnd, 64))]); break;               // trailing junk
  }
  if (frame.length >= ETH_HEADER_BYTES && frame.readUInt16BE(12) === ETHERTYPE.IPV6 && rnd() < 0.5) frame = mutate6(rnd, frame);
  if (rnd() < 0.8) repairIpv4Checksum(frame);
  if (rnd() < 0.8) repairIcmp6Checksum(frame);
  return frame;
}

/** One random frame and the ring port it enters; `seen` (noteInsideFrame) aims server replies at live lports. */
export function randomFrame(rnd: Random, seen: readonly SeenFlow[] = []): { port: PortName; frame: Buffer } {
  const { port, frame } = pick(rnd, SHAPES)(rnd, seen);
  return { port, frame: rnd() < 0.6 ? mutate(rnd, frame) : frame };
}

/**
 * Every received frame must end in exactly one place: transmitted, dropped with one reason, or
 * consumed (an ARP reply or NA learned, a router message or DAD probe ignored). Generated ARP
 * requests and neighbour solicitations add to tx. With nothing held awaiting
 * ARP (the caller ages the neighbour queue out first), both sides must be equal.
 */
export function frameAccounting(s: DataplaneStats): { arrived: number; accounted: number } {
  const drops = Object.values(s.drops).reduce((a, b) => a + b, 0);
  // A failed ARP request allocation is a drop of a frame that never arrived.
  const generatedDrops = s.drops.mbuf_alloc_failed;
  // Reassembly turns frag_joined fragments into frag_reassembled datagrams; re-fragmentation
  // turns frag_refragmented datagrams into frag_out_pieces fragments.
  return {
    // With several workers an ARP reply or neighbour advertisement is also copied to every other
    // worker (arp_replies_shared, nd_advertisements_shared).
    arrived: s.events.rx_packets + s.events.arp_requests_sent + s.events.arp_replies_shared +
      s.events.nd_advertisements_shared + s.events.frag_reassembled +
      s.events.frag_out_pieces + s.events.nd_solicitations_sent,
    accounted: s.events.tx_packets + drops - generatedDrops + s.events.arp_replies_learned + s.events.frag_joined +
      s.events.frag_refragmented + s.events.nd_advertisements_learned + s.events.nd_router_messages_ignored +
      s.events.nd_dad_probes_ignored,
  };
}
