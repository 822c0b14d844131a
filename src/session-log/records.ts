// The data plane's session records (dataplane/pipeline/conn/session_log.h, SessionEvent):
// 128 bytes each, as sessionLogDrain() hands them over, decoded into what the exporters need.
// Times stay on the workers' clock here; toWallClock() places them on the epoch.
import type { ForwardMethod } from '../model/types.js';

export const SESSION_RECORD_BYTES = 128;

/** ConnState names as ipvsadm prints them (dataplane/pipeline/conn/tcp_state.cpp). */
const STATE_NAMES = ['NONE', 'ESTABLISHED', 'SYN_SENT', 'SYN_RECV', 'FIN_WAIT', 'TIME_WAIT', 'CLOSE', 'CLOSE_WAIT',
  'LAST_ACK', 'LISTEN', 'SYNACK', 'UDP', 'UDP', 'UDP'] as const;

/** ConnFlag bits (dataplane/pipeline/conn/conn.h) that name the forwarding method. */
const CONN_NAT = 8, CONN_DR = 16, CONN_TUN = 32, CONN_NAT64 = 64;

export type SessionEventKind = 'create' | 'end';
/** How a connection ended: its timer ran out (idle, or the short timeout after FIN/RST), or a one-packet UDP reply. */
export type SessionEndCause = 'expired' | 'answered';

export interface SessionAddress {
  /** 4 or 16 bytes, network order. */
  bytes: Buffer;
  text: string;
}

export interface SessionRecord {
  kind: SessionEventKind;
  /** Set on end records. */
  cause?: SessionEndCause;
  protocol: number;
  client: SessionAddress; clientPort: number;
  vip: SessionAddress; vipPort: number;
  /** FullNAT's LIP (NAT: the client itself; DR/TUN: all zero). */
  local: SessionAddress; localPort: number;
  server: SessionAddress; serverPort: number;
  method: ForwardMethod;
  /** FullNAT across families: IPv6 client side, IPv4 server side. */
  nat64: boolean;
  /** Workers' clock, µs; undefined when the connection predates logging (adopted from an earlier process). */
  startUs?: number;
  timeUs: number;
  packetsIn: number; packetsOut: number;
  bytesIn: number; bytesOut: number;
  serviceId: number; serverId: number;
  /** IPVS state name at the event (an end: the state it ended in). */
  state: string;
}

const V4_MAPPED_PREFIX = Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]);

function address(raw: Buffer): SessionAddress {
  if (raw.subarray(0, 12).equals(V4_MAPPED_PREFIX)) {
    const bytes = Buffer.from(raw.subarray(12, 16));
    return { bytes, text: `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}` };
  }
  const bytes = Buffer.from(raw);
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16));
  return { bytes, text: compressIpv6(groups) };
}

/** RFC 5952 text: the longest run (≥ 2) of zero groups becomes "::". */
function compressIpv6(groups: string[]): string {
  let bestAt = -1, bestLength = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== '0') { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLength) { bestAt = i; bestLength = j - i; }
    i = j;
  }
  if (bestAt < 0) return groups.join(':');
  return `${groups.slice(0, bestAt).join(':')}::${groups.slice(bestAt + bestLength).join(':')}`;
}

function method(flags: number): ForwardMethod {
  if (flags & CONN_NAT) return 'nat';
  if (flags & CONN_DR) return 'dr';
  if (flags & CONN_TUN) return 'tun';
  return 'fullnat';
}

function u64(buf: Buffer, at: number): number {
  return Number(buf.readBigUInt64LE(at));  // exact below 2^53: ~9 PB per connection
}

/** Decodes a drained buffer; throws when its length is not a whole number of records. */
export function decodeSessionRecords(buffer: Buffer): SessionRecord[] {
  if (buffer.length % SESSION_RECORD_BYTES !== 0) {
    throw new Error(`session records: ${buffer.length} bytes is not a multiple of ${SESSION_RECORD_BYTES}`);
  }
  const records: SessionRecord[] = [];
  for (let at = 0; at < buffer.length; at += SESSION_RECORD_BYTES) {
    const r = buffer.subarray(at, at + SESSION_RECORD_BYTES);
    const kindByte = r[125]!;
    const flags = r[127]!;
    const startUs = u64(r, 72);
    const record: SessionRecord = {
      kind: kindByte === 1 ? 'create' : 'end',
      protocol: r[124]!,
      client: address(r.subarray(0, 16)), clientPort: r.readUInt16BE(64),
      vip: address(r.subarray(16, 32)), vipPort: r.readUInt16BE(66),
      local: address(r.subarray(32, 48)), localPort: r.readUInt16BE(68),
      server: address(r.subarray(48, 64)), serverPort: r.readUInt16BE(70),
      method: method(flags),
      nat64: (flags & CONN_NAT64) !== 0,
      timeUs: u64(r, 80),
      packetsIn: u64(r, 88), packetsOut: u64(r, 96),
      bytesIn: u64(r, 104), bytesOut: u64(r, 112),
      serviceId: r.readUInt16LE(120), serverId: r.readUInt16LE(122),
      state: STATE_NAMES[r[126]!] ?? `STATE_${r[126]}`,
    };
    if (startUs !== 0) record.startUs = startUs;
    if (kindByte !== 1) record.cause = kindByte === 3 ? 'answered' : 'expired';
    records.push(record);
  }
  return records;
}

/** A worker-clock time (µs) as ms since the epoch, given the drain's clock pair. */
export function toWallClockMs(us: number, clock: { nowUs: number; wallMs: number }): number {
  return Math.round(clock.wallMs - (clock.nowUs - us) / 1000);
}
