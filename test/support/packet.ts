// A small packet codec for tests: builds and decodes Ethernet / ARP / IPv4 / IPv6 (extension
// headers) / TCP / UDP / ICMP / ICMPv6 (echo, neighbour discovery, errors).
// It is what proves the data plane right, so it is deliberately plain: no clever tricks, every
// field visible, every checksum computed the RFC 1071 way. Builders fill sane defaults and compute
// lengths and checksums unless the caller passes an explicit (possibly wrong) value; decoders
// never throw on bad input, they return what they could read plus an `error` and `checksumOk` flags.

// ---------------------------------------------------------------- addresses

/** '02:00:00:00:00:01' -> 6-byte Buffer. Throws on a malformed string (test bug, not input). */
export function mac(text: string): Buffer {
  const parts = text.split(':');
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{1,2}$/.test(p))) {
    throw new Error(`mac: expected "xx:xx:xx:xx:xx:xx", got "${text}"`);
  }
  return Buffer.from(parts.map((p) => parseInt(p, 16)));
}

/** 6 bytes -> '02:00:00:00:00:01' (lower case, two digits each). */
export function macToString(bytes: Uint8Array): string {
  return Array.from(bytes.subarray(0, 6), (b) => b.toString(16).padStart(2, '0')).join(':');
}

/** '1.2.3.4' -> 0x01020304 (unsigned). Throws on a malformed string. */
export function ip(text: string): number {
  const parts = text.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) {
    throw new Error(`ip: expected dotted quad, got "${text}"`);
  }
  return parts.reduce((acc, p) => acc * 256 + Number(p), 0);
}

/** 0x01020304 -> '1.2.3.4'. */
export function ipToString(value: number): string {
  return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join('.');
}

/** True for IPv6 text ('2001:db8::1'), false for a dotted quad. */
export function isIpv6(text: string): boolean {
  return text.includes(':');
}

/** '2001:db8::1' -> 16 bytes. Accepts '::' compression and a trailing dotted quad. Throws on malformed text. */
export function ip6(text: string): Buffer {
  const fail = (): never => { throw new Error(`ip6: expected an IPv6 address, got "${text}"`); };
  const lastColon = text.lastIndexOf(':');
  if (text.slice(lastColon + 1).includes('.')) {  // ::ffff:198.18.0.1
    const v = ip(text.slice(lastColon + 1));
    return ip6(`${text.slice(0, lastColon + 1)}${(v >>> 16).toString(16)}:${(v & 0xffff).toString(16)}`);
  }
  const halves = text.split('::');
  if (halves.length > 2) fail();
  const words = (part: string): number[] => (part === '' ? [] : part.split(':').map((w) => {
    if (!/^[0-9a-fA-F]{1,4}$/.test(w)) fail();
    return parseInt(w, 16);
  }));
  const left = words(halves[0]!);
  const right = halves.length === 2 ? words(halves[1]!) : [];
  const all = halves.length === 2 ? [...left, ...Array<number>(Math.max(0, 8 - left.length - right.length)).fill(0), ...right] : left;
  if (all.length !== 8 || (halves.length === 2 && left.length + right.length > 7)) fail();
  const b = Buffer.alloc(16);
  all.forEach((w, i) => b.writeUInt16BE(w, 2 * i));
  return b;
}

/** 16 bytes -> RFC 5952 text (lower case, longest run of two or more zero words as '::'). */
export function ip6ToString(bytes: Uint8Array): string {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, 16);
  const words = Array.from({ length: 8 }, (_, i) => b.readUInt16BE(2 * i));
  let bestAt = -1, bestLength = 1;
  for (let i = 0; i < 8;) {
    if (words[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLength) { bestAt = i; bestLength = j - i; }
    i = j;
  }
  const hex = (ws: number[]) => ws.map((w) => w.toString(16)).join(':');
  if (bestAt < 0) return hex(words);
  return `${hex(words.slice(0, bestAt))}::${hex(words.slice(bestAt + bestLength))}`;
}

/**
 * A MAC derived from a host address, one fixed MAC per host: IPv4 02:aa + the four address
 * bytes; IPv6 02 + the address's sixth byte (the lab's /64s differ there: 18 outside, 19
 * inside) + its last four bytes.
 */
export function hostMac(address: string): string {
  if (isIpv6(address)) {
    const a = ip6(address);
    return macToString(Buffer.from([0x02, a[5]!, a[12]!, a[13]!, a[14]!, a[15]!]));
  }
  const v = ip(address);
  return macToString(Buffer.from([0x02, 0xaa, v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255]));
}

/** ff02::1:ffXX:XXXX, the solicited-node group of an IPv6 address (RFC 4291 2.7.1). */
export function solicitedNode(address: string): string {
  const a = ip6(address);
  const g = ip6('ff02::1:ff00:0');
  a.copy(g, 13, 13, 16);
  return ip6ToString(g);
}

/** 33:33 + the low 32 bits of an IPv6 multicast group (RFC 2464 7). */
export function multicastMac(group: string): string {
  const g = ip6(group);
  return macToString(Buffer.from([0x33, 0x33, g[12]!, g[13]!, g[14]!, g[15]!]));
}

export const BROADCAST_MAC = 'ff:ff:ff:ff:ff:ff';

// ---------------------------------------------------------------- checksums

/** Sum of 16-bit big-endian words (odd trailing byte padded with zero), not folded. */
function sumWords(data: Uint8Array, initial = 0): number {
  let sum = initial;
  const even = data.length & ~1;
  for (let i = 0; i < even; i += 2) sum += (data[i]! << 8) | data[i + 1]!;
  if (data.length & 1) sum += data[data.length - 1]! << 8;
  return sum;
}

function fold(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return sum;
}

/** RFC 1071 Internet checksum: one's complement of the one's complement sum. */
export function internetChecksum(data: Uint8Array, initialSum = 0): number {
  return ~fold(sumWords(data, initialSum)) & 0xffff;
}

/** Unfolded sum of the IPv4 pseudo-header (src, dst, zero, protocol, L4 length). */
export function pseudoHeaderSum(src: number, dst: number, protocol: number, l4Length: number): number {
  return (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + protocol + l4Length;
}

/**
 * Unfolded sum of the IPv6 pseudo-header (RFC 8200 8.1): source, destination, 32-bit
 * upper-layer length, three zero bytes, the upper-layer protocol.
 */
export function pseudoHeaderSum6(src: string, dst: string, protocol: number, upperLength: number): number {
  return sumWords(ip6(src)) + sumWords(ip6(dst)) + Math.floor(upperLength / 0x10000) + (upperLength & 0xffff) + protocol;
}

/** The pseudo-header sum of the family the addresses are written in. */
export function l4PseudoSum(src: string, dst: string, protocol: number, l4Length: number): number {
  return isIpv6(src) ? pseudoHeaderSum6(src, dst, protocol, l4Length) : pseudoHeaderSum(ip(src), ip(dst), protocol, l4Length);
}

// ---------------------------------------------------------------- constants

export const ETHERTYPE = { IPV4: 0x0800, ARP: 0x0806, IPV6: 0x86dd, VLAN: 0x8100 } as const;
export const IPPROTO = { ICMP: 1, TCP: 6, UDP: 17, ICMPV6: 58 } as const;
/** IPv6 next-header values of the extension headers (and the ones that end a walk). */
export const IPV6_NEXT = { HOP_BY_HOP: 0, ROUTING: 43, FRAGMENT: 44, ESP: 50, AH: 51, NONE: 59, DEST_OPTIONS: 60 } as const;
export const ICMP6_TYPE = {
  DEST_UNREACH: 1, PACKET_TOO_BIG: 2, TIME_EXCEEDED: 3, PARAM_PROBLEM: 4, ECHO_REQUEST: 128, ECHO_REPLY: 129,
  ROUTER_SOLICITATION: 133, ROUTER_ADVERTISEMENT: 134, NEIGHBOR_SOLICITATION: 135, NEIGHBOR_ADVERTISEMENT: 136, REDIRECT: 137,
} as const;
/** Neighbour-advertisement flags (first byte after the checksum). */
export const NA_FLAG = { ROUTER: 0x80, SOLICITED: 0x40, OVERRIDE: 0x20 } as const;
/** ND option types (RFC 4861 4.6). */
export const ND_OPT = { SOURCE_LL: 1, TARGET_LL: 2, PREFIX_INFO: 3, REDIRECTED: 4, MTU: 5 } as const;
export const ARP_OP = { REQUEST: 1, REPLY: 2 } as const;
export const ICMP_TYPE = { ECHO_REPLY: 0, DEST_UNREACH: 3, ECHO_REQUEST: 8, TIME_EXCEEDED: 11 } as const;
export const TCP_FLAG = { FIN: 0x01, SYN: 0x02, RST: 0x04, PSH: 0x08, ACK: 0x10, URG: 0x20, ECE: 0x40, CWR: 0x80 } as const;
export const TCP_OPT = { EOL: 0, NOP: 1, MSS: 2, WS: 3, SACK_PERMITTED: 4, SACK: 5, TIMESTAMP: 8, TOA: 254 } as const;

// Flag letters in bit order, as tcpdump prints them (F S R P . U E W) but with A for ACK.
const FLAG_LETTERS: [string, number][] = [
  ['F', TCP_FLAG.FIN], ['S', TCP_FLAG.SYN], ['R', TCP_FLAG.RST], ['P', TCP_FLAG.PSH],
  ['A', TCP_FLAG.ACK], ['U', TCP_FLAG.URG], ['E', TCP_FLAG.ECE], ['C', TCP_FLAG.CWR],
];

/** 'SA' -> SYN|ACK. Accepts a number unchanged. Letters: F S R P A U E C. */
export function tcpFlags(flags: string | number): number {
  if (typeof flags === 'number') return flags;
  let value = 0;
  for (const letter of flags) {
    const entry = FLAG_LETTERS.find(([l]) => l === letter.toUpperCase());
    if (!entry) throw new Error(`tcpFlags: unknown flag letter "${letter}" in "${flags}"`);
    value |= entry[1];
  }
  return value;
}

/** SYN|ACK -> 'SA' (always in F S R P A U E C order). */
export function tcpFlagsToString(flags: number): string {
  return FLAG_LETTERS.filter(([, bit]) => flags & bit).map(([l]) => l).join('');
}

// ---------------------------------------------------------------- TCP options

export type TcpOption =
  | { kind: 'eol' }
  | { kind: 'nop' }
  | { kind: 'mss'; value: number }
  | { kind: 'ws'; shift: number }
  | { kind: 'sackPermitted' }
  | { kind: 'sack'; blocks: [number, number][] }
  | { kind: 'timestamp'; value: number; echo: number }
  | { kind: 'toa'; port: number; address: string } // kind 254, length 8 (IPv4 address) or 20 (IPv6): LVS/DPVS TOA
  | { kind: 'raw'; type: number; data: Buffer };   // any other kind; length = data.length + 2

export function encodeTcpOptions(options: TcpOption[]): Buffer {
  const parts: Buffer[] = [];
  for (const o of options) {
    switch (o.kind) {
      case 'eol': parts.push(Buffer.from([TCP_OPT.EOL])); break;
      case 'nop': parts.push(Buffer.from([TCP_OPT.NOP])); break;
      case 'mss': parts.push(Buffer.from([TCP_OPT.MSS, 4, o.value >> 8, o.value & 255])); break;
      case 'ws': parts.push(Buffer.from([TCP_OPT.WS, 3, o.shift])); break;
      case 'sackPermitted': parts.push(Buffer.from([TCP_OPT.SACK_PERMITTED, 2])); break;
      case 'sack': {
        const b = Buffer.alloc(2 + 8 * o.blocks.length);
        b[0] = TCP_OPT.SACK; b[1] = b.length;
        o.blocks.forEach(([left, right], i) => { b.writeUInt32BE(left >>> 0, 2 + 8 * i); b.writeUInt32BE(right >>> 0, 6 + 8 * i); });
        parts.push(b); break;
      }
      case 'timestamp': {
        const b = Buffer.alloc(10);
        b[0] = TCP_OPT.TIMESTAMP; b[1] = 10; b.writeUInt32BE(o.value >>> 0, 2); b.writeUInt32BE(o.echo >>> 0, 6);
        parts.push(b); break;
      }
      case 'toa': {
        const address = isIpv6(o.address) ? ip6(o.address) : null;
        const b = Buffer.alloc(address ? 20 : 8);
        b[0] = TCP_OPT.TOA; b[1] = b.length; b.writeUInt16BE(o.port, 2);
        if (address) address.copy(b, 4); else b.writeUInt32BE(ip(o.address), 4);
        parts.push(b); break;
      }
      case 'raw': parts.push(Buffer.concat([Buffer.from([o.type, o.data.length + 2]), o.data])); break;
    }
  }
  const raw = Buffer.concat(parts);
  // Pad with EOL (zero) bytes to a 32-bit boundary, as the data offset counts words.
  return Buffer.concat([raw, Buffer.alloc((4 - (raw.length % 4)) % 4)]);
}

/**
 * Decodes an option area. Stops at EOL (trailing zero padding is not reported). A length byte
 * that is < 2 or runs past the area ends decoding with `error` set; what was read is kept.
 */
export function decodeTcpOptions(area: Uint8Array): { options: TcpOption[]; error?: string } {
  const options: TcpOption[] = [];
  const b = Buffer.from(area.buffer, area.byteOffset, area.length);
  let i = 0;
  while (i < b.length) {
    const type = b[i]!;
    if (type === TCP_OPT.EOL) { options.push({ kind: 'eol' }); break; }
    if (type === TCP_OPT.NOP) { options.push({ kind: 'nop' }); i++; continue; }
    if (i + 1 >= b.length) return { options, error: `option ${type} at ${i}: no length byte` };
    const len = b[i + 1]!;
    if (len < 2 || i + len > b.length) return { options, error: `option ${type} at ${i}: bad length ${len}` };
    const body = b.subarray(i + 2, i + len);
    if (type === TCP_OPT.MSS && len === 4) options.push({ kind: 'mss', value: body.readUInt16BE(0) });
    else if (type === TCP_OPT.WS && len === 3) options.push({ kind: 'ws', shift: body[0]! });
    else if (type === TCP_OPT.SACK_PERMITTED && len === 2) options.push({ kind: 'sackPermitted' });
    else if (type === TCP_OPT.SACK && (len - 2) % 8 === 0 && len > 2) {
      const blocks: [number, number][] = [];
      for (let j = 0; j < body.length; j += 8) blocks.push([body.readUInt32BE(j), body.readUInt32BE(j + 4)]);
      options.push({ kind: 'sack', blocks });
    } else if (type === TCP_OPT.TIMESTAMP && len === 10) {
      options.push({ kind: 'timestamp', value: body.readUInt32BE(0), echo: body.readUInt32BE(4) });
    } else if (type === TCP_OPT.TOA && len === 8) {
      options.push({ kind: 'toa', port: body.readUInt16BE(0), address: ipToString(body.readUInt32BE(2)) });
    } else if (type === TCP_OPT.TOA && len === 20) {
      options.push({ kind: 'toa', port: body.readUInt16BE(0), address: ip6ToString(body.subarray(2, 18)) });
    } else options.push({ kind: 'raw', type, data: Buffer.from(body) });
    i += len;
  }
  return { options };
}

// ---------------------------------------------------------------- L4 specs

export interface TcpSpec {
  srcPort: number;
  dstPort: number;
  seq?: number;             // default 0
  ack?: number;             // default 0
  flags?: string | number;  // default 'S'; letters F S R P A U E C
  window?: number;          // default 65535
  urgent?: number;          // default 0
  options?: TcpOption[] | Buffer; // Buffer = raw option bytes, used as is (no padding)
  payload?: Buffer;
  dataOffset?: number;      // words; default computed. Explicit value for negative tests
  checksum?: number;        // default computed over the pseudo-header
}

export interface UdpSpec {
  srcPort: number;
  dstPort: number;
  payload?: Buffer;
  length?: number;    // default 8 + payload
  checksum?: number;  // default computed (0 result sent as 0xffff); pass 0 for "no checksum"
}

export interface IcmpSpec {
  type: number;
  code?: number;
  /** Echo request/reply identifier and sequence (bytes 4..7). */
  id?: number;
  sequence?: number;
  /** Bytes 4..7 for non-echo types (e.g. unused + next-hop MTU for "fragmentation needed"). */
  rest?: number;
  /** Echo data, or for errors the quoted inner IP header + 8 bytes (use buildIpv4 for it). */
  payload?: Buffer;
  checksum?: number;
}

export function buildTcp(spec: TcpSpec, src: string, dst: string): Buffer {
  const options = Buffer.isBuffer(spec.options) ? spec.options : encodeTcpOptions(spec.options ?? []);
  const payload = spec.payload ?? Buffer.alloc(0);
  const headerLength = 20 + options.length;
  const b = Buffer.alloc(headerLength + payload.length);
  b.writeUInt16BE(spec.srcPort, 0);
  b.writeUInt16BE(spec.dstPort, 2);
  b.writeUInt32BE((spec.seq ?? 0) >>> 0, 4);
  b.writeUInt32BE((spec.ack ?? 0) >>> 0, 8);
  b[12] = ((spec.dataOffset ?? Math.ceil(headerLength / 4)) & 0xf) << 4;
  b[13] = tcpFlags(spec.flags ?? 'S');
  b.writeUInt16BE(spec.window ?? 65535, 14);
  b.writeUInt16BE(spec.urgent ?? 0, 18);
  options.copy(b, 20);
  payload.copy(b, headerLength);
  const sum = internetChecksum(b, l4PseudoSum(src, dst, IPPROTO.TCP, b.length));
  b.writeUInt16BE(spec.checksum ?? sum, 16);
  return b;
}

export function buildUdp(spec: UdpSpec, src: string, dst: string): Buffer {
  const payload = spec.payload ?? Buffer.alloc(0);
  const b = Buffer.alloc(8 + payload.length);
  b.writeUInt16BE(spec.srcPort, 0);
  b.writeUInt16BE(spec.dstPort, 2);
  b.writeUInt16BE(spec.length ?? b.length, 4);
  payload.copy(b, 8);
  let sum = internetChecksum(b, l4PseudoSum(src, dst, IPPROTO.UDP, b.length));
  if (sum === 0) sum = 0xffff; // RFC 768: a computed zero is sent as all ones; zero means "none"
  b.writeUInt16BE(spec.checksum ?? sum, 6);
  return b;
}

export function buildIcmp(spec: IcmpSpec): Buffer {
  const payload = spec.payload ?? Buffer.alloc(0);
  const b = Buffer.alloc(8 + payload.length);
  b[0] = spec.type;
  b[1] = spec.code ?? 0;
  if (spec.rest !== undefined) b.writeUInt32BE(spec.rest >>> 0, 4);
  else { b.writeUInt16BE(spec.id ?? 0, 4); b.writeUInt16BE(spec.sequence ?? 0, 6); }
  payload.copy(b, 8);
  b.writeUInt16BE(spec.checksum ?? internetChecksum(b), 2);
  return b;
}

// ---------------------------------------------------------------- IPv4

export interface Ipv4Spec {
  src: string;
  dst: string;
  protocol?: number;     // default from the L4 part given to buildFrame, else 0
  ttl?: number;          // default 64
  tos?: number;          // default 0
  id?: number;           // default 0
  dontFragment?: boolean; // default false
  moreFragments?: boolean;
  fragmentOffset?: number; // in 8-byte units
  options?: Buffer;      // raw IP options (caller pads to 4 bytes, or sets ihl)
  version?: number;      // default 4
  ihl?: number;          // words; default computed
  totalLength?: number;  // default header + payload
  checksum?: number;     // default computed
}

export function buildIpv4(spec: Ipv4Spec, payload: Buffer): Buffer {
  const options = spec.options ?? Buffer.alloc(0);
  const headerLength = 20 + options.length;
  const b = Buffer.alloc(headerLength + payload.length);
  b[0] = ((spec.version ?? 4) << 4) | ((spec.ihl ?? Math.ceil(headerLength / 4)) & 0xf);
  b[1] = spec.tos ?? 0;
  b.writeUInt16BE(spec.totalLength ?? b.length, 2);
  b.writeUInt16BE(spec.id ?? 0, 4);
  const flags = (spec.dontFragment ? 0x4000 : 0) | (spec.moreFragments ? 0x2000 : 0);
  b.writeUInt16BE(flags | ((spec.fragmentOffset ?? 0) & 0x1fff), 6);
  b[8] = spec.ttl ?? 64;
  b[9] = spec.protocol ?? 0;
  b.writeUInt32BE(ip(spec.src), 12);
  b.writeUInt32BE(ip(spec.dst), 16);
  options.copy(b, 20);
  b.writeUInt16BE(spec.checksum ?? internetChecksum(b.subarray(0, headerLength)), 10);
  payload.copy(b, headerLength);
  return b;
}

// ---------------------------------------------------------------- IPv6

/** One extension header, in chain order. Next-header and length fields are filled in. */
export type Ipv6Extension =
  /** Options TLVs (raw, without the 2-byte header); padded with PadN to a multiple of 8 bytes. */
  | { type: 'hopByHop' | 'destOptions'; options?: Buffer }
  | { type: 'routing'; routingType?: number; segmentsLeft: number; data?: Buffer }
  /** offset in 8-byte units. */
  | { type: 'fragment'; offset?: number; more?: boolean; id?: number }
  /** Any header, bytes given whole (byte 0 is overwritten with the next header). */
  | { type: 'raw'; nextHeader: number; bytes: Buffer };

export interface Ipv6Spec {
  src: string;
  dst: string;
  /** The upper-layer protocol; default from the L4 part given to buildFrame, else 59 (none). */
  protocol?: number;
  hopLimit?: number;     // default 64
  trafficClass?: number;
  flowLabel?: number;
  extensions?: Ipv6Extension[];
  version?: number;       // default 6
  payloadLength?: number; // default extensions + upper layer
  /** Overrides the fixed header's next-header field (default: the first extension's, else protocol). */
  nextHeader?: number;
}

function extensionCode(e: Ipv6Extension): number {
  switch (e.type) {
    case 'hopByHop': return IPV6_NEXT.HOP_BY_HOP;
    case 'destOptions': return IPV6_NEXT.DEST_OPTIONS;
    case 'routing': return IPV6_NEXT.ROUTING;
    case 'fragment': return IPV6_NEXT.FRAGMENT;
    case 'raw': return e.nextHeader;
  }
}

function encodeExtension(e: Ipv6Extension, next: number): Buffer {
  let b: Buffer;
  switch (e.type) {
    case 'hopByHop':
    case 'destOptions': {
      const options = e.options ?? Buffer.alloc(0);
      const length = Math.ceil((2 + options.length) / 8) * 8;
      b = Buffer.alloc(length);
      options.copy(b, 2);
      const pad = length - 2 - options.length;
      if (pad === 1) b[2 + options.length] = 0;                                      // Pad1
      else if (pad >= 2) { b[2 + options.length] = 1; b[3 + options.length] = pad - 2; } // PadN
      b[1] = length / 8 - 1;
      break;
    }
    case 'routing': {
      const data = e.data ?? Buffer.alloc(4);
      const length = Math.ceil((4 + data.length) / 8) * 8;
      b = Buffer.alloc(length);
      b[1] = length / 8 - 1; b[2] = e.routingType ?? 4; b[3] = e.segmentsLeft;
      data.copy(b, 4);
      break;
    }
    case 'fragment':
      b = Buffer.alloc(8);
      b.writeUInt16BE((((e.offset ?? 0) & 0x1fff) << 3) | (e.more ? 1 : 0), 2);
      b.writeUInt32BE((e.id ?? 0) >>> 0, 4);
      break;
    case 'raw':
      b = Buffer.from(e.bytes);
      break;
  }
  b[0] = next;
  return b;
}

export function buildIpv6(spec: Ipv6Spec, payload: Buffer): Buffer {
  const extensions = spec.extensions ?? [];
  const protocol = spec.protocol ?? IPV6_NEXT.NONE;
  const chain = extensions.map((e, i) => encodeExtension(e, i + 1 < extensions.length ? extensionCode(extensions[i + 1]!) : protocol));
  const body = Buffer.concat([...chain, payload]);
  const b = Buffer.alloc(40);
  b.writeUInt32BE((((spec.version ?? 6) & 0xf) << 28 | ((spec.trafficClass ?? 0) & 0xff) << 20 | ((spec.flowLabel ?? 0) & 0xfffff)) >>> 0, 0);
  b.writeUInt16BE(spec.payloadLength ?? body.length, 4);
  b[6] = spec.nextHeader ?? (extensions.length ? extensionCode(extensions[0]!) : protocol);
  b[7] = spec.hopLimit ?? 64;
  ip6(spec.src).copy(b, 8);
  ip6(spec.dst).copy(b, 24);
  return Buffer.concat([b, body]);
}

/** ICMPv6: type, code, checksum over the IPv6 pseudo-header; `rest` = bytes 4..7 (or id/sequence). */
export interface Icmp6Spec {
  type: number;
  code?: number;
  id?: number;
  sequence?: number;
  rest?: number;
  payload?: Buffer;  // after the first 8 bytes
  checksum?: number; // default computed
}

export function buildIcmp6(spec: Icmp6Spec, src: string, dst: string): Buffer {
  const payload = spec.payload ?? Buffer.alloc(0);
  const b = Buffer.alloc(8 + payload.length);
  b[0] = spec.type;
  b[1] = spec.code ?? 0;
  if (spec.rest !== undefined) b.writeUInt32BE(spec.rest >>> 0, 4);
  else { b.writeUInt16BE(spec.id ?? 0, 4); b.writeUInt16BE(spec.sequence ?? 0, 6); }
  payload.copy(b, 8);
  b.writeUInt16BE(spec.checksum ?? internetChecksum(b, pseudoHeaderSum6(src, dst, IPPROTO.ICMPV6, b.length)), 2);
  return b;
}

/** A link-layer address option (source 1, target 2), or any option given raw ({ type, data }). */
export type NdOption = { type: 1 | 2; mac: string } | { type: number; data: Buffer };

export function encodeNdOptions(options: NdOption[]): Buffer {
  return Buffer.concat(options.map((o) => {
    const data = 'mac' in o ? mac(o.mac) : o.data;
    const length = Math.ceil((2 + data.length) / 8) * 8;
    const b = Buffer.alloc(length);
    b[0] = o.type; b[1] = length / 8;
    data.copy(b, 2);
    return b;
  }));
}

/** Neighbour solicitation (RFC 4861 4.3): target + options (default: none). */
export function neighborSolicitation(target: string, options: NdOption[] = []): Icmp6Spec {
  return { type: ICMP6_TYPE.NEIGHBOR_SOLICITATION, rest: 0, payload: Buffer.concat([ip6(target), encodeNdOptions(options)]) };
}

/** Neighbour advertisement (RFC 4861 4.4): flags (NA_FLAG bits), target + options. */
export function neighborAdvertisement(target: string, flags: number, options: NdOption[] = []): Icmp6Spec {
  return { type: ICMP6_TYPE.NEIGHBOR_ADVERTISEMENT, rest: (flags & 0xff) * 0x1000000, payload: Buffer.concat([ip6(target), encodeNdOptions(options)]) };
}

/** A router advertisement (RFC 4861 4.2) with hop limit 64, lifetime 1800 s and a source link-layer option. */
export function routerAdvertisement(routerMac: string): Icmp6Spec {
  const body = Buffer.alloc(8); // reachable time, retrans timer
  return { type: ICMP6_TYPE.ROUTER_ADVERTISEMENT, rest: (64 * 0x1000000 + 1800) >>> 0,
    payload: Buffer.concat([body, encodeNdOptions([{ type: ND_OPT.SOURCE_LL, mac: routerMac }])]) };
}

/** Packet Too Big (RFC 4443 3.2): the MTU and as much of the offending packet as given. */
export function packetTooBig(mtu: number, quoted: Buffer): Icmp6Spec {
  return { type: ICMP6_TYPE.PACKET_TOO_BIG, rest: mtu >>> 0, payload: quoted };
}

// ---------------------------------------------------------------- ARP and Ethernet

export interface ArpSpec {
  op: number;            // ARP_OP.REQUEST / REPLY
  senderMac: string;
  senderIp: string;
  targetMac?: string;    // default 00:00:00:00:00:00
  targetIp: string;
}

export function buildArp(spec: ArpSpec): Buffer {
  const b = Buffer.alloc(28);
  b.writeUInt16BE(1, 0);               // hardware type Ethernet
  b.writeUInt16BE(ETHERTYPE.IPV4, 2);  // protocol type IPv4
  b[4] = 6; b[5] = 4;
  b.writeUInt16BE(spec.op, 6);
  mac(spec.senderMac).copy(b, 8);
  b.writeUInt32BE(ip(spec.senderIp), 14);
  mac(spec.targetMac ?? '00:00:00:00:00:00').copy(b, 18);
  b.writeUInt32BE(ip(spec.targetIp), 24);
  return b;
}

export interface EthernetSpec {
  dst: string;
  src: string;
  type?: number;  // default from the layer given to buildFrame
}

export function buildEthernet(spec: EthernetSpec, payload: Buffer): Buffer {
  const b = Buffer.alloc(14 + payload.length);
  mac(spec.dst).copy(b, 0);
  mac(spec.src).copy(b, 6);
  b.writeUInt16BE(spec.type ?? 0, 12);
  payload.copy(b, 14);
  return b;
}

/**
 * One frame from layer specs: eth + (arp | ipv4 + (tcp | udp | icmp | payload) |
 * ipv6 + (tcp | udp | icmp6 | payload) | payload).
 */
export interface FrameSpec {
  eth: EthernetSpec;
  arp?: ArpSpec;
  ipv4?: Ipv4Spec;
  ipv6?: Ipv6Spec;
  tcp?: TcpSpec;
  udp?: UdpSpec;
  icmp?: IcmpSpec;
  icmp6?: Icmp6Spec;
  /** Raw bytes after the last given header (L3 payload without L4, or L2 payload). */
  payload?: Buffer;
  /** Zero bytes appended after everything (Ethernet padding, or "frame longer than IP"). */
  trailer?: number;
}

export function buildFrame(spec: FrameSpec): Buffer {
  let l2payload: Buffer;
  let type = spec.eth.type;
  if (spec.arp) {
    l2payload = buildArp(spec.arp);
    type ??= ETHERTYPE.ARP;
  } else if (spec.ipv4) {
    const { src, dst } = spec.ipv4;
    let l4: Buffer;
    let protocol: number;
    if (spec.tcp) { l4 = buildTcp(spec.tcp, src, dst); protocol = IPPROTO.TCP; }
    else if (spec.udp) { l4 = buildUdp(spec.udp, src, dst); protocol = IPPROTO.UDP; }
    else if (spec.icmp) { l4 = buildIcmp(spec.icmp); protocol = IPPROTO.ICMP; }
    else { l4 = spec.payload ?? Buffer.alloc(0); protocol = 0; }
    l2payload = buildIpv4({ ...spec.ipv4, protocol: spec.ipv4.protocol ?? protocol }, l4);
    type ??= ETHERTYPE.IPV4;
  } else if (spec.ipv6) {
    const { src, dst } = spec.ipv6;
    let l4: Buffer;
    let protocol: number;
    if (spec.tcp) { l4 = buildTcp(spec.tcp, src, dst); protocol = IPPROTO.TCP; }
    else if (spec.udp) { l4 = buildUdp(spec.udp, src, dst); protocol = IPPROTO.UDP; }
    else if (spec.icmp6) { l4 = buildIcmp6(spec.icmp6, src, dst); protocol = IPPROTO.ICMPV6; }
    else { l4 = spec.payload ?? Buffer.alloc(0); protocol = IPV6_NEXT.NONE; }
    l2payload = buildIpv6({ ...spec.ipv6, protocol: spec.ipv6.protocol ?? protocol }, l4);
    type ??= ETHERTYPE.IPV6;
  } else {
    l2payload = spec.payload ?? Buffer.alloc(0);
  }
  const frame = buildEthernet({ ...spec.eth, type: type ?? 0 }, l2payload);
  return spec.trailer ? Buffer.concat([frame, Buffer.alloc(spec.trailer)]) : frame;
}

// ---------------------------------------------------------------- decoding

export interface DecodedArp {
  hardwareType: number; protocolType: number; hardwareLength: number; protocolLength: number;
  op: number; senderMac: string; senderIp: string; targetMac: string; targetIp: string;
}

export interface DecodedIpv4 {
  version: number; ihl: number; tos: number; totalLength: number; id: number;
  dontFragment: boolean; moreFragments: boolean; fragmentOffset: number;
  ttl: number; protocol: number; checksum: number; src: string; dst: string;
  options: Buffer;
  /** Header checksum verifies. */
  checksumOk: boolean;
  /** Bytes after the header up to totalLength (or to the end of the buffer if shorter). */
  payload: Buffer;
}

export interface DecodedTcp {
  srcPort: number; dstPort: number; seq: number; ack: number; dataOffset: number;
  flags: number; flagNames: string; window: number; checksum: number; urgent: number;
  optionBytes: Buffer; options: TcpOption[]; payload: Buffer;
  /** Pseudo-header checksum verifies (false also when the segment was cut short). */
  checksumOk: boolean;
}

export interface DecodedUdp {
  srcPort: number; dstPort: number; length: number; checksum: number; payload: Buffer;
  /** True when the checksum verifies or is 0 (= not computed, RFC 768). */
  checksumOk: boolean;
}

export interface DecodedIcmp {
  type: number; code: number; checksum: number;
  id: number; sequence: number; rest: number;
  payload: Buffer;
  checksumOk: boolean;
  /** For error types (3, 4, 5, 11, 12): the quoted IP header and the first 8 bytes after it. */
  inner?: { ipv4: DecodedIpv4; srcPort?: number; dstPort?: number };
}

export interface DecodedIpv6Extension {
  /** Its next-header code (0 hop-by-hop, 43 routing, 44 fragment, 60 destination options). */
  code: number;
  length: number;
  bytes: Buffer;
}

export interface DecodedIpv6 {
  version: number; trafficClass: number; flowLabel: number; payloadLength: number;
  /** The fixed header's next-header field. */
  nextHeader: number;
  hopLimit: number; src: string; dst: string;
  extensions: DecodedIpv6Extension[];
  /** The upper-layer protocol after the extension headers (59: none). */
  protocol: number;
  fragment?: { offset: number; more: boolean; id: number };
  /** Upper-layer bytes (after every extension header) up to payloadLength. */
  payload: Buffer;
}

export interface DecodedIcmp6 {
  type: number; code: number; checksum: number;
  id: number; sequence: number; rest: number;
  /** Bytes after the first 8. */
  payload: Buffer;
  /** Checksum over the IPv6 pseudo-header + message verifies. */
  checksumOk: boolean;
  /** NS/NA/redirect: the target; NA: the flags byte; every ND message: its options. */
  nd?: { target?: string; flags: number; options: { type: number; length: number; mac?: string }[] };
}

export interface DecodedFrame {
  /** The exact bytes decoded. */
  raw: Buffer;
  eth: { dst: string; src: string; type: number };
  arp?: DecodedArp;
  ipv4?: DecodedIpv4;
  ipv6?: DecodedIpv6;
  tcp?: DecodedTcp;
  udp?: DecodedUdp;
  icmp?: DecodedIcmp;
  icmp6?: DecodedIcmp6;
  /** First problem found; decoding stops at the layer that has it. */
  error?: string;
}

const ICMP_ERROR_TYPES = new Set([3, 4, 5, 11, 12]);

export function decodeArp(b: Buffer): DecodedArp | undefined {
  if (b.length < 28) return undefined;
  return {
    hardwareType: b.readUInt16BE(0), protocolType: b.readUInt16BE(2),
    hardwareLength: b[4]!, protocolLength: b[5]!, op: b.readUInt16BE(6),
    senderMac: macToString(b.subarray(8, 14)), senderIp: ipToString(b.readUInt32BE(14)),
    targetMac: macToString(b.subarray(18, 24)), targetIp: ipToString(b.readUInt32BE(24)),
  };
}

/**
 * Decodes an IPv4 header. With `quoted` (ICMP error bodies) a totalLength larger than the bytes
 * present is expected and not an error.
 */
export function decodeIpv4(b: Buffer, quoted = false): { ipv4?: DecodedIpv4; error?: string } {
  if (b.length < 20) return { error: `ipv4: ${b.length} bytes, need 20` };
  const version = b[0]! >> 4;
  const ihl = b[0]! & 0xf;
  if (version !== 4) return { error: `ipv4: version ${version}` };
  if (ihl < 5) return { error: `ipv4: ihl ${ihl} < 5` };
  const headerLength = ihl * 4;
  if (b.length < headerLength) return { error: `ipv4: ihl ${ihl} beyond ${b.length} bytes` };
  const totalLength = b.readUInt16BE(2);
  const fragment = b.readUInt16BE(6);
  const ipv4: DecodedIpv4 = {
    version, ihl, tos: b[1]!, totalLength, id: b.readUInt16BE(4),
    dontFragment: (fragment & 0x4000) !== 0, moreFragments: (fragment & 0x2000) !== 0,
    fragmentOffset: fragment & 0x1fff, ttl: b[8]!, protocol: b[9]!, checksum: b.readUInt16BE(10),
    src: ipToString(b.readUInt32BE(12)), dst: ipToString(b.readUInt32BE(16)),
    options: Buffer.from(b.subarray(20, headerLength)),
    checksumOk: internetChecksum(b.subarray(0, headerLength)) === 0,
    payload: Buffer.from(b.subarray(headerLength, Math.max(headerLength, Math.min(totalLength, b.length)))),
  };
  if (totalLength < headerLength) return { ipv4, error: `ipv4: total length ${totalLength} < header ${headerLength}` };
  if (!quoted && totalLength > b.length) return { ipv4, error: `ipv4: total length ${totalLength} > ${b.length} bytes` };
  return { ipv4 };
}

export function decodeTcp(b: Buffer, src: string, dst: string): { tcp?: DecodedTcp; error?: string } {
  if (b.length < 20) return { error: `tcp: ${b.length} bytes, need 20` };
  const dataOffset = b[12]! >> 4;
  const headerLength = dataOffset * 4;
  if (dataOffset < 5) return { error: `tcp: data offset ${dataOffset} < 5` };
  if (headerLength > b.length) return { error: `tcp: data offset ${dataOffset} beyond ${b.length} bytes` };
  const optionBytes = Buffer.from(b.subarray(20, headerLength));
  const decodedOptions = decodeTcpOptions(optionBytes);
  const flags = b[13]!;
  const tcp: DecodedTcp = {
    srcPort: b.readUInt16BE(0), dstPort: b.readUInt16BE(2), seq: b.readUInt32BE(4), ack: b.readUInt32BE(8),
    dataOffset, flags, flagNames: tcpFlagsToString(flags), window: b.readUInt16BE(14),
    checksum: b.readUInt16BE(16), urgent: b.readUInt16BE(18),
    optionBytes, options: decodedOptions.options, payload: Buffer.from(b.subarray(headerLength)),
    checksumOk: internetChecksum(b, l4PseudoSum(src, dst, IPPROTO.TCP, b.length)) === 0,
  };
  return decodedOptions.error ? { tcp, error: `tcp options: ${decodedOptions.error}` } : { tcp };
}

export function decodeUdp(b: Buffer, src: string, dst: string): { udp?: DecodedUdp; error?: string } {
  if (b.length < 8) return { error: `udp: ${b.length} bytes, need 8` };
  const length = b.readUInt16BE(4);
  const checksum = b.readUInt16BE(6);
  const covered = b.subarray(0, Math.min(Math.max(length, 8), b.length));
  const udp: DecodedUdp = {
    srcPort: b.readUInt16BE(0), dstPort: b.readUInt16BE(2), length, checksum,
    payload: Buffer.from(covered.subarray(8)),
    checksumOk: checksum === 0 ||
      (length <= b.length && internetChecksum(covered, l4PseudoSum(src, dst, IPPROTO.UDP, length)) === 0),
  };
  if (length < 8 || length > b.length) return { udp, error: `udp: length ${length} vs ${b.length} bytes` };
  return { udp };
}

export function decodeIcmp(b: Buffer): { icmp?: DecodedIcmp; error?: string } {
  if (b.length < 8) return { error: `icmp: ${b.length} bytes, need 8` };
  const icmp: DecodedIcmp = {
    type: b[0]!, code: b[1]!, checksum: b.readUInt16BE(2),
    id: b.readUInt16BE(4), sequence: b.readUInt16BE(6), rest: b.readUInt32BE(4),
    payload: Buffer.from(b.subarray(8)),
    checksumOk: internetChecksum(b) === 0,
  };
  if (ICMP_ERROR_TYPES.has(icmp.type)) {
    const inner = decodeIpv4(icmp.payload, true);
    if (inner.ipv4) {
      const after = icmp.payload.subarray(inner.ipv4.ihl * 4);
      const hasPorts = after.length >= 4 && (inner.ipv4.protocol === IPPROTO.TCP || inner.ipv4.protocol === IPPROTO.UDP);
      icmp.inner = hasPorts
        ? { ipv4: inner.ipv4, srcPort: after.readUInt16BE(0), dstPort: after.readUInt16BE(2) }
        : { ipv4: inner.ipv4 };
    }
  }
  return { icmp };
}

const IPV6_EXTENSION_CODES = new Set<number>([IPV6_NEXT.HOP_BY_HOP, IPV6_NEXT.ROUTING, IPV6_NEXT.FRAGMENT, IPV6_NEXT.DEST_OPTIONS]);

/** Decodes an IPv6 header and walks its extension headers (at most 16). */
export function decodeIpv6(b: Buffer, quoted = false): { ipv6?: DecodedIpv6; error?: string } {
  if (b.length < 40) return { error: `ipv6: ${b.length} bytes, need 40` };
  const first = b.readUInt32BE(0);
  const version = first >>> 28;
  if (version !== 6) return { error: `ipv6: version ${version}` };
  const payloadLength = b.readUInt16BE(4);
  const end = Math.min(b.length, 40 + payloadLength);
  const ipv6: DecodedIpv6 = {
    version, trafficClass: (first >>> 20) & 0xff, flowLabel: first & 0xfffff, payloadLength,
    nextHeader: b[6]!, hopLimit: b[7]!, src: ip6ToString(b.subarray(8, 24)), dst: ip6ToString(b.subarray(24, 40)),
    extensions: [], protocol: b[6]!, payload: Buffer.alloc(0),
  };
  let at = 40;
  let next = b[6]!;
  while (IPV6_EXTENSION_CODES.has(next) && ipv6.extensions.length < 16) {
    if (at + 8 > end) return { ipv6, error: `ipv6: extension header ${next} past the payload` };
    const length = next === IPV6_NEXT.FRAGMENT ? 8 : (b[at + 1]! + 1) * 8;
    if (at + length > end) return { ipv6, error: `ipv6: extension header ${next} (${length} bytes) past the payload` };
    ipv6.extensions.push({ code: next, length, bytes: Buffer.from(b.subarray(at, at + length)) });
    if (next === IPV6_NEXT.FRAGMENT) {
      const field = b.readUInt16BE(at + 2);
      ipv6.fragment = { offset: field >> 3, more: (field & 1) === 1, id: b.readUInt32BE(at + 4) };
    }
    next = b[at]!;
    at += length;
    if (ipv6.fragment && ipv6.fragment.offset !== 0) break;
  }
  ipv6.protocol = next;
  ipv6.payload = Buffer.from(b.subarray(at, Math.max(at, end)));
  if (!quoted && 40 + payloadLength > b.length) return { ipv6, error: `ipv6: payload length ${payloadLength} > ${b.length - 40} bytes` };
  return { ipv6 };
}

export function decodeIcmp6(b: Buffer, src: string, dst: string): { icmp6?: DecodedIcmp6; error?: string } {
  if (b.length < 8) return { error: `icmp6: ${b.length} bytes, need 8` };
  const type = b[0]!;
  const icmp6: DecodedIcmp6 = {
    type, code: b[1]!, checksum: b.readUInt16BE(2), id: b.readUInt16BE(4), sequence: b.readUInt16BE(6),
    rest: b.readUInt32BE(4), payload: Buffer.from(b.subarray(8)),
    checksumOk: internetChecksum(b, pseudoHeaderSum6(src, dst, IPPROTO.ICMPV6, b.length)) === 0,
  };
  const optionsAt: Partial<Record<number, number>> = { 133: 8, 134: 16, 135: 24, 136: 24, 137: 40 };
  const start = optionsAt[type];
  if (start !== undefined && b.length >= start) {
    const nd: NonNullable<DecodedIcmp6['nd']> = { flags: b[4]!, options: [] };
    if (type >= 135) nd.target = ip6ToString(b.subarray(8, 24));
    for (let at = start; at + 2 <= b.length;) {
      const length = b[at + 1]! * 8;
      if (length === 0 || at + length > b.length) return { icmp6: { ...icmp6, nd }, error: `icmp6: ND option at ${at} of length ${length}` };
      const option: { type: number; length: number; mac?: string } = { type: b[at]!, length };
      if ((option.type === ND_OPT.SOURCE_LL || option.type === ND_OPT.TARGET_LL) && length === 8) option.mac = macToString(b.subarray(at + 2, at + 8));
      nd.options.push(option);
      at += length;
    }
    icmp6.nd = nd;
  }
  return { icmp6 };
}

/** Decodes a whole Ethernet frame. Never throws; see `error`. */
export function decodeFrame(frame: Buffer): DecodedFrame {
  const raw = Buffer.from(frame);
  if (raw.length < 14) {
    return { raw, eth: { dst: '', src: '', type: 0 }, error: `ethernet: ${raw.length} bytes, need 14` };
  }
  const out: DecodedFrame = {
    raw,
    eth: { dst: macToString(raw.subarray(0, 6)), src: macToString(raw.subarray(6, 12)), type: raw.readUInt16BE(12) },
  };
  const l3 = raw.subarray(14);
  if (out.eth.type === ETHERTYPE.ARP) {
    const arp = decodeArp(l3);
    if (arp) out.arp = arp; else out.error = `arp: ${l3.length} bytes, need 28`;
    return out;
  }
  if (out.eth.type === ETHERTYPE.IPV6) {
    const { ipv6, error } = decodeIpv6(l3);
    if (ipv6) out.ipv6 = ipv6;
    if (error || !ipv6) { out.error = error; return out; }
    if (ipv6.fragment && ipv6.fragment.offset !== 0) return out;
    const l4 = ipv6.payload;
    const result =
      ipv6.protocol === IPPROTO.TCP ? decodeTcp(l4, ipv6.src, ipv6.dst)
      : ipv6.protocol === IPPROTO.UDP ? decodeUdp(l4, ipv6.src, ipv6.dst)
      : ipv6.protocol === IPPROTO.ICMPV6 ? decodeIcmp6(l4, ipv6.src, ipv6.dst)
      : {};
    Object.assign(out, result);
    return out;
  }
  if (out.eth.type !== ETHERTYPE.IPV4) return out;
  const { ipv4, error } = decodeIpv4(l3);
  if (ipv4) out.ipv4 = ipv4;
  if (error || !ipv4) { out.error = error; return out; }
  // L4 is decoded only for first fragments; later fragments carry no L4 header.
  if (ipv4.fragmentOffset !== 0) return out;
  const l4 = ipv4.payload;
  const result =
    ipv4.protocol === IPPROTO.TCP ? decodeTcp(l4, ipv4.src, ipv4.dst)
    : ipv4.protocol === IPPROTO.UDP ? decodeUdp(l4, ipv4.src, ipv4.dst)
    : ipv4.protocol === IPPROTO.ICMP ? decodeIcmp(l4)
    : {};
  Object.assign(out, result);
  return out;
}

/** One line per frame, tcpdump-like, for assertion messages. */
export function describeFrame(f: DecodedFrame): string {
  const l2 = `${f.eth.src} > ${f.eth.dst}`;
  if (f.arp) {
    const what = f.arp.op === ARP_OP.REQUEST ? `who-has ${f.arp.targetIp} tell ${f.arp.senderIp}`
      : `${f.arp.senderIp} is-at ${f.arp.senderMac}`;
    return `${l2} ARP ${what}`;
  }
  if (f.ipv6) return `${l2} ${describeIpv6(f)}`;
  if (!f.ipv4) return `${l2} type 0x${f.eth.type.toString(16)} len ${f.raw.length}${f.error ? ` (${f.error})` : ''}`;
  const i = f.ipv4;
  const bad = (ok: boolean) => (ok ? '' : ' BAD-CSUM');
  let l4 = `proto ${i.protocol}`;
  if (f.tcp) {
    const t = f.tcp;
    l4 = `${i.src}:${t.srcPort} > ${i.dst}:${t.dstPort} TCP [${t.flagNames}] seq ${t.seq} ack ${t.ack} len ${t.payload.length}${bad(t.checksumOk)}`;
  } else if (f.udp) {
    l4 = `${i.src}:${f.udp.srcPort} > ${i.dst}:${f.udp.dstPort} UDP len ${f.udp.payload.length} csum 0x${f.udp.checksum.toString(16)}${bad(f.udp.checksumOk)}`;
  } else if (f.icmp) {
    l4 = `${i.src} > ${i.dst} ICMP type ${f.icmp.type} code ${f.icmp.code} id ${f.icmp.id} seq ${f.icmp.sequence}${bad(f.icmp.checksumOk)}`;
  } else {
    l4 = `${i.src} > ${i.dst} ${l4}`;
  }
  return `${l2} ttl ${i.ttl}${bad(i.checksumOk)} ${l4}${f.error ? ` (${f.error})` : ''}`;
}

function describeIpv6(f: DecodedFrame): string {
  const i = f.ipv6!;
  const bad = (ok: boolean) => (ok ? '' : ' BAD-CSUM');
  const ext = i.extensions.length ? ` ext [${i.extensions.map((e) => e.code).join(',')}]` : '';
  let l4: string;
  if (f.tcp) {
    const t = f.tcp;
    l4 = `[${i.src}]:${t.srcPort} > [${i.dst}]:${t.dstPort} TCP [${t.flagNames}] seq ${t.seq} ack ${t.ack} len ${t.payload.length}${bad(t.checksumOk)}`;
  } else if (f.udp) {
    l4 = `[${i.src}]:${f.udp.srcPort} > [${i.dst}]:${f.udp.dstPort} UDP len ${f.udp.payload.length}${bad(f.udp.checksumOk)}`;
  } else if (f.icmp6) {
    const c = f.icmp6;
    const target = c.nd?.target ? ` target ${c.nd.target}` : '';
    const lladdr = c.nd?.options.find((o) => o.mac)?.mac;
    l4 = `${i.src} > ${i.dst} ICMPv6 type ${c.type} code ${c.code}${target}${lladdr ? ` lladdr ${lladdr}` : ''} id ${c.id} seq ${c.sequence}${bad(c.checksumOk)}`;
  } else {
    l4 = `${i.src} > ${i.dst} next ${i.protocol}`;
  }
  return `IPv6 hlim ${i.hopLimit}${ext} ${l4}${f.error ? ` (${f.error})` : ''}`;
}
