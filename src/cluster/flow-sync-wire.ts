// The ownership-sync message (docs/cluster.md), big-endian:
//   magic "PCFS" (4) | version 1 (1) | sender name length n (1) | sender name (n, ASCII)
//   | sequence (8) | timestamp ms since the epoch (8) | record count c (2) | c × 40-byte records
//   | HMAC-SHA256 over everything before it (32)
// A record is the data plane's ownership record as it comes out of ownershipDrain.
import { createHmac, timingSafeEqual } from 'node:crypto';

export const MAGIC = Buffer.from('PCFS', 'ascii');
export const WIRE_VERSION = 1;
export const RECORD_BYTES = 40;
export const MAC_BYTES = 32;
export const MAX_NAME_BYTES = 32;
/** Records per message: the datagram stays ≤ 1400 bytes, so it crosses a 1500-byte link unfragmented. */
export const RECORDS_PER_MESSAGE = 32;

export interface SyncMessage {
  sender: string;
  sequence: bigint;
  timestampMs: number;
  /** count × RECORD_BYTES */
  records: Buffer;
}

function headerLength(nameBytes: number): number {
  return 4 + 1 + 1 + nameBytes + 8 + 8 + 2;
}

export function encodeSyncMessage(message: SyncMessage, key: Buffer): Buffer {
  const name = Buffer.from(message.sender, 'ascii');
  if (name.length === 0 || name.length > MAX_NAME_BYTES) throw new Error(`sender name: 1..${MAX_NAME_BYTES} bytes`);
  if (message.records.length % RECORD_BYTES !== 0) throw new Error(`records: a multiple of ${RECORD_BYTES} bytes`);
  const count = message.records.length / RECORD_BYTES;
  if (count > 0xffff) throw new Error('records: at most 65535 per message');
  const header = Buffer.alloc(headerLength(name.length));
  let at = MAGIC.copy(header, 0);
  at = header.writeUInt8(WIRE_VERSION, at);
  at = header.writeUInt8(name.length, at);
  at += name.copy(header, at);
  at = header.writeBigUInt64BE(message.sequence, at);
  at = header.writeBigUInt64BE(BigInt(Math.trunc(message.timestampMs)), at);
  header.writeUInt16BE(count, at);
  const body = Buffer.concat([header, message.records]);
  return Buffer.concat([body, createHmac('sha256', key).update(body).digest()]);
}

export type DecodeResult = { ok: true; message: SyncMessage } | { ok: false; reason: 'malformed' | 'bad_mac' };

/** Structure first (lengths, magic, version), then the MAC over the whole body, compared in constant time. */
export function decodeSyncMessage(datagram: Buffer, key: Buffer): DecodeResult {
  const malformed = { ok: false, reason: 'malformed' } as const;
  if (datagram.length < headerLength(1) + MAC_BYTES) return malformed;
  if (!datagram.subarray(0, 4).equals(MAGIC) || datagram.readUInt8(4) !== WIRE_VERSION) return malformed;
  const nameLength = datagram.readUInt8(5);
  if (nameLength === 0 || nameLength > MAX_NAME_BYTES) return malformed;
  const recordsAt = headerLength(nameLength);
  if (datagram.length < recordsAt + MAC_BYTES) return malformed;
  const count = datagram.readUInt16BE(recordsAt - 2);
  if (datagram.length !== recordsAt + count * RECORD_BYTES + MAC_BYTES) return malformed;
  const bodyEnd = datagram.length - MAC_BYTES;
  const expected = createHmac('sha256', key).update(datagram.subarray(0, bodyEnd)).digest();
  if (!timingSafeEqual(expected, datagram.subarray(bodyEnd))) return { ok: false, reason: 'bad_mac' };
  return {
    ok: true,
    message: {
      sender: datagram.subarray(6, 6 + nameLength).toString('ascii'),
      sequence: datagram.readBigUInt64BE(6 + nameLength),
      timestampMs: Number(datagram.readBigUInt64BE(6 + nameLength + 8)),
      records: Buffer.from(datagram.subarray(recordsAt, bodyEnd)),
    },
  };
}
