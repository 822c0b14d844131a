// IPFIX (RFC 7011) messages for NAT session records, with RFC 8158's NAT information
// elements. One encoder per transport session (collector): RFC 7011 §3.1 counts the sequence
// number per observation domain and session. Three templates cover every connection:
// IPv4 on both sides, IPv6 on both sides, and NAT64 (IPv6 client side, IPv4 server side).
import type { SessionRecord } from './records.js';

export const IPFIX_VERSION = 10;
export const MESSAGE_HEADER_BYTES = 16;
export const SET_HEADER_BYTES = 4;
export const TEMPLATE_SET_ID = 2;
export const TEMPLATE_V4 = 256;
export const TEMPLATE_V6 = 257;
export const TEMPLATE_NAT64 = 258;

/** IANA "IPFIX Information Elements" ids used here (name: id). */
export const IE = {
  octetDeltaCount: 1,
  packetDeltaCount: 2,
  protocolIdentifier: 4,
  sourceTransportPort: 7,
  sourceIPv4Address: 8,
  destinationTransportPort: 11,
  destinationIPv4Address: 12,
  sourceIPv6Address: 27,
  destinationIPv6Address: 28,
  flowStartMilliseconds: 152,
  flowEndMilliseconds: 153,
  postNATSourceIPv4Address: 225,
  postNATDestinationIPv4Address: 226,
  postNAPTSourceTransportPort: 227,
  postNAPTDestinationTransportPort: 228,
  natEvent: 230,
  initiatorOctets: 231,
  responderOctets: 232,
  postNATSourceIPv6Address: 281,
  postNATDestinationIPv6Address: 282,
  natPoolId: 283,
} as const;

/** RFC 5103 bidirectional flows: the reverse direction's counters are the same elements under this enterprise number. */
export const REVERSE_PEN = 29305;
const ENTERPRISE_BIT = 0x8000;

/** natEvent values (IANA "NAT Event Type", RFC 8158 §4.1): no NAT66 value exists, IPv6 FullNAT uses NAT44's. */
export const NAT_EVENT = { nat44Create: 4, nat44Delete: 5, nat64Create: 6, nat64Delete: 7 } as const;

interface Field { id: number; length: number; enterprise?: number }

function template(client: 4 | 16, server: 4 | 16): Field[] {
  const src = client === 4 ? IE.sourceIPv4Address : IE.sourceIPv6Address;
  const dst = client === 4 ? IE.destinationIPv4Address : IE.destinationIPv6Address;
  const postSrc = server === 4 ? IE.postNATSourceIPv4Address : IE.postNATSourceIPv6Address;
  const postDst = server === 4 ? IE.postNATDestinationIPv4Address : IE.postNATDestinationIPv6Address;
  return [
    { id: IE.flowStartMilliseconds, length: 8 },
    { id: IE.flowEndMilliseconds, length: 8 },
    { id: src, length: client },                  // client (CIP)
    { id: dst, length: client },                  // VIP
    { id: IE.sourceTransportPort, length: 2 },
    { id: IE.destinationTransportPort, length: 2 },
    { id: postSrc, length: server },              // LIP
    { id: postDst, length: server },              // real server (RIP)
    { id: IE.postNAPTSourceTransportPort, length: 2 },
    { id: IE.postNAPTDestinationTransportPort, length: 2 },
    { id: IE.protocolIdentifier, length: 1 },
    { id: IE.natEvent, length: 1 },
    { id: IE.natPoolId, length: 4 },              // the service's id: its LIPs are the pool
    // The flow's direction (client -> VIP) and, RFC 5103, the reverse one: IP packets and
    // bytes (headers included) as received, since the connection was made.
    { id: IE.packetDeltaCount, length: 8 },
    { id: IE.octetDeltaCount, length: 8 },
    { id: IE.packetDeltaCount, length: 8, enterprise: REVERSE_PEN },
    { id: IE.octetDeltaCount, length: 8, enterprise: REVERSE_PEN },
  ];
}

export const TEMPLATES: ReadonlyMap<number, Field[]> = new Map([
  [TEMPLATE_V4, template(4, 4)],
  [TEMPLATE_V6, template(16, 16)],
  [TEMPLATE_NAT64, template(16, 4)],
]);

function recordLength(fields: Field[]): number {
  return fields.reduce((sum, f) => sum + f.length, 0);
}

/** The template a record is exported under. */
export function templateOf(record: SessionRecord): number {
  if (record.nat64) return TEMPLATE_NAT64;
  return record.client.bytes.length === 4 ? TEMPLATE_V4 : TEMPLATE_V6;
}

/** A record's times as the exporter knows them: ms since the epoch. */
export interface TimedRecord {
  record: SessionRecord;
  startMs: number;
  timeMs: number;
}

function natEvent(r: SessionRecord): number {
  if (r.nat64) return r.kind === 'create' ? NAT_EVENT.nat64Create : NAT_EVENT.nat64Delete;
  return r.kind === 'create' ? NAT_EVENT.nat44Create : NAT_EVENT.nat44Delete;
}

function putAddress(out: Buffer, at: number, bytes: Buffer, length: number): void {
  // DR/TUN records carry an all-zero local address of 16 bytes whatever the family.
  if (bytes.length === length) bytes.copy(out, at);
  else out.fill(0, at, at + length);
}

function writeRecord(out: Buffer, at: number, t: TimedRecord, length: 4 | 16, serverLength: 4 | 16): number {
  const r = t.record;
  out.writeBigUInt64BE(BigInt(t.startMs), at); at += 8;
  out.writeBigUInt64BE(BigInt(t.timeMs), at); at += 8;
  putAddress(out, at, r.client.bytes, length); at += length;
  putAddress(out, at, r.vip.bytes, length); at += length;
  out.writeUInt16BE(r.clientPort, at); at += 2;
  out.writeUInt16BE(r.vipPort, at); at += 2;
  putAddress(out, at, r.local.bytes, serverLength); at += serverLength;
  putAddress(out, at, r.server.bytes, serverLength); at += serverLength;
  out.writeUInt16BE(r.localPort, at); at += 2;
  out.writeUInt16BE(r.serverPort, at); at += 2;
  out.writeUInt8(r.protocol, at); at += 1;
  out.writeUInt8(natEvent(r), at); at += 1;
  out.writeUInt32BE(r.serviceId, at); at += 4;
  out.writeBigUInt64BE(BigInt(r.packetsIn), at); at += 8;
  out.writeBigUInt64BE(BigInt(r.bytesIn), at); at += 8;
  out.writeBigUInt64BE(BigInt(r.packetsOut), at); at += 8;
  out.writeBigUInt64BE(BigInt(r.bytesOut), at); at += 8;
  return at;
}

const LENGTHS: Record<number, [4 | 16, 4 | 16]> = {
  [TEMPLATE_V4]: [4, 4], [TEMPLATE_V6]: [16, 16], [TEMPLATE_NAT64]: [16, 4],
};

/** Smallest message the encoder can work with: the header, the whole template set, or one set of the largest record. */
export function minimumMessageBytes(): number {
  const templates = templateSetBytes();
  const largest = Math.max(...[...TEMPLATES.values()].map(recordLength));
  return MESSAGE_HEADER_BYTES + Math.max(templates, SET_HEADER_BYTES + largest);
}

function templateSetBytes(): number {
  let n = SET_HEADER_BYTES;
  for (const fields of TEMPLATES.values()) n += 4 + fields.reduce((sum, f) => sum + (f.enterprise === undefined ? 4 : 8), 0);
  return n;
}

export class IpfixEncoder {
  /** Data records sent so far in this session, modulo 2^32 (RFC 7011 §3.1 "Sequence Number"). */
  private sequence = 0;

  /** maxMessageBytes: the path MTU less the IP and UDP headers. */
  constructor(readonly observationDomain: number, readonly maxMessageBytes: number) {
    if (maxMessageBytes < minimumMessageBytes() || maxMessageBytes > 65535) {
      throw new RangeError(`IPFIX message size: expected ${minimumMessageBytes()}..65535 bytes, got ${maxMessageBytes}`);
    }
  }

  get sequenceNumber(): number {
    return this.sequence;
  }

  /** One message holding the template set (all three templates). */
  templateMessage(exportTimeS: number): Buffer {
    const body = Buffer.alloc(templateSetBytes());
    body.writeUInt16BE(TEMPLATE_SET_ID, 0);
    body.writeUInt16BE(body.length, 2);
    let at = SET_HEADER_BYTES;
    for (const [id, fields] of TEMPLATES) {
      body.writeUInt16BE(id, at);
      body.writeUInt16BE(fields.length, at + 2);
      at += 4;
      for (const f of fields) {
        body.writeUInt16BE(f.enterprise === undefined ? f.id : f.id | ENTERPRISE_BIT, at);
        body.writeUInt16BE(f.length, at + 2);
        at += 4;
        if (f.enterprise !== undefined) {
          body.writeUInt32BE(f.enterprise, at);
          at += 4;
        }
      }
    }
    return this.message([body], exportTimeS, 0);
  }

  /** The records as data messages, each at most maxMessageBytes; consecutive records of one template share a set. */
  dataMessages(records: TimedRecord[], exportTimeS: number): Buffer[] {
    const messages: Buffer[] = [];
    let sets: Buffer[] = [];
    let used = MESSAGE_HEADER_BYTES;
    let inMessage = 0;
    let set: { id: number; buffer: Buffer; at: number } | undefined;
    const closeSet = (): void => {
      if (!set) return;
      set.buffer.writeUInt16BE(set.at, 2);
      sets.push(set.buffer.subarray(0, set.at));
      set = undefined;
    };
    const closeMessage = (): void => {
      closeSet();
      if (inMessage === 0) return;
      messages.push(this.message(sets, exportTimeS, inMessage));
      sets = [];
      used = MESSAGE_HEADER_BYTES;
      inMessage = 0;
    };
    for (const t of records) {
      const id = templateOf(t.record);
      const [length, serverLength] = LENGTHS[id]!;
      const size = recordLength(TEMPLATES.get(id)!);
      if (set?.id !== id) {
        closeSet();
        if (used + SET_HEADER_BYTES + size > this.maxMessageBytes) closeMessage();
        set = { id, buffer: Buffer.alloc(this.maxMessageBytes), at: SET_HEADER_BYTES };
        set.buffer.writeUInt16BE(id, 0);
        used += SET_HEADER_BYTES;
      } else if (used + size > this.maxMessageBytes) {
        closeMessage();
        set = { id, buffer: Buffer.alloc(this.maxMessageBytes), at: SET_HEADER_BYTES };
        set.buffer.writeUInt16BE(id, 0);
        used += SET_HEADER_BYTES;
      }
      set!.at = writeRecord(set!.buffer, set!.at, t, length, serverLength);
      used += size;
      inMessage++;
    }
    closeMessage();
    return messages;
  }

  /** Header + sets; the header carries the sequence before these records, then it moves on by them. */
  private message(sets: Buffer[], exportTimeS: number, dataRecords: number): Buffer {
    const length = MESSAGE_HEADER_BYTES + sets.reduce((n, s) => n + s.length, 0);
    const header = Buffer.alloc(MESSAGE_HEADER_BYTES);
    header.writeUInt16BE(IPFIX_VERSION, 0);
    header.writeUInt16BE(length, 2);
    header.writeUInt32BE(exportTimeS >>> 0, 4);
    header.writeUInt32BE(this.sequence, 8);
    header.writeUInt32BE(this.observationDomain >>> 0, 12);
    this.sequence = (this.sequence + dataRecords) % 0x1_0000_0000;
    return Buffer.concat([header, ...sets], length);
  }
}
