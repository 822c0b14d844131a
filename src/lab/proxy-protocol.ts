// Reading a PROXY protocol header (HAProxy proxy-protocol.txt, v1 text and v2 binary)
// from the start of a TCP stream, as a real server behind a proxy_v1/proxy_v2 service does,
// or from the start of each UDP datagram (v2 only, transport DGRAM) behind a UDP proxy_v2 one.
// Both families: v1 TCP4/TCP6 lines, v2 AF_INET and AF_INET6 address blocks.

import { ipv6ToString } from './ipv6-text.js';

export interface ProxiedSource {
  address: string;
  port: number;
}

export type ProxyHeaderResult =
  | { kind: 'incomplete' }
  | { kind: 'invalid'; reason: string }
  | { kind: 'header'; length: number; source?: ProxiedSource }; // no source for LOCAL / UNKNOWN

const V2_SIGNATURE = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');
const V1_MAX_LENGTH = 107;
/** v2 address blocks: source and destination address, then source and destination port. */
const IPV4_ADDRESS_BLOCK = 4 + 4 + 2 + 2;
const IPV6_ADDRESS_BLOCK = 16 + 16 + 2 + 2;

/** stream: a TCP stream's start (v1 or v2 STREAM); dgram: one UDP datagram (v2 DGRAM only). */
export type ProxyTransport = 'stream' | 'dgram';

export function parseProxyHeader(data: Buffer, transport: ProxyTransport = 'stream'): ProxyHeaderResult {
  if (transport === 'dgram') {
    // A datagram is whole: what is not there will not come (the spec: one header per datagram).
    const result = data.length >= 1 && data[0] === 0x0d ? parseV2(data, 0x2) : { kind: 'invalid' as const, reason: 'no PROXY v2 signature' };
    return result.kind === 'incomplete' ? { kind: 'invalid', reason: 'datagram shorter than its v2 header' } : result;
  }
  if (data.length >= 1 && data[0] === 0x0d) return parseV2(data, 0x1);
  if (data.length >= 1 && data[0] === 0x50) return parseV1(data); // 'P'
  return data.length === 0 ? { kind: 'incomplete' } : { kind: 'invalid', reason: 'no PROXY signature' };
}

function parseV1(data: Buffer): ProxyHeaderResult {
  const end = data.indexOf('\r\n');
  if (end < 0) return data.length >= V1_MAX_LENGTH ? { kind: 'invalid', reason: 'v1 line too long' } : { kind: 'incomplete' };
  const fields = data.subarray(0, end).toString('latin1').split(' ');
  if (fields[0] !== 'PROXY') return { kind: 'invalid', reason: 'v1 does not start with PROXY' };
  if (fields[1] === 'UNKNOWN') return { kind: 'header', length: end + 2 };
  if (fields.length !== 6 || (fields[1] !== 'TCP4' && fields[1] !== 'TCP6')) return { kind: 'invalid', reason: `v1 fields: ${fields.join(' ')}` };
  const port = Number(fields[4]);
  if (!Number.isInteger(port) || port < 0 || port > 65535) return { kind: 'invalid', reason: `v1 source port ${fields[4]}` };
  return { kind: 'header', length: end + 2, source: { address: fields[2]!, port } };
}

function parseV2(data: Buffer, transportNibble: number): ProxyHeaderResult {
  if (data.length < 16) return V2_SIGNATURE.subarray(0, data.length).equals(data) ? { kind: 'incomplete' } : { kind: 'invalid', reason: 'v2 signature' };
  if (!data.subarray(0, 12).equals(V2_SIGNATURE)) return { kind: 'invalid', reason: 'v2 signature' };
  const versionCommand = data[12]!, family = data[13]!, length = 16 + data.readUInt16BE(14);
  if (versionCommand >> 4 !== 2) return { kind: 'invalid', reason: `v2 version ${versionCommand >> 4}` };
  if (data.length < length) return { kind: 'incomplete' };
  if ((versionCommand & 0xf) === 0) return { kind: 'header', length }; // LOCAL
  // Family byte: address family in the high nibble (1 AF_INET, 2 AF_INET6), the transport in the
  // low one (1 STREAM, 2 DGRAM): a header naming the other transport is not ours to believe.
  const inet = family >> 4 === 1 || family >> 4 === 2;
  if (inet && (family & 0xf) !== transportNibble) return { kind: 'invalid', reason: `v2 transport ${family & 0xf}, expected ${transportNibble}` };
  if (family >> 4 === 1 && length >= 16 + IPV4_ADDRESS_BLOCK) {
    return { kind: 'header', length, source: { address: [...data.subarray(16, 20)].join('.'), port: data.readUInt16BE(24) } };
  }
  if (family >> 4 === 2 && length >= 16 + IPV6_ADDRESS_BLOCK) {
    return { kind: 'header', length, source: { address: ipv6ToString(data.subarray(16, 32)), port: data.readUInt16BE(48) } };
  }
  return { kind: 'header', length };
}
