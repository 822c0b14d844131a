// The few DNS bytes a dns health check needs (RFC 1035 §4.1): one query out, and the header and
// question of the answer read back with every length checked against the bytes that arrived, so a
// short, truncated or looping reply is a clear "malformed" and never a throw or an endless loop.

export const DNS_CLASS_IN = 1;
const HEADER_BYTES = 12;
const FLAG_QR = 0x8000;
const FLAG_RD = 0x0100;
const OPCODE_MASK = 0x7800;
const RCODE_MASK = 0x000f;
/** A name on the wire is at most 255 bytes (§2.3.4); following pointers can never need more hops than that. */
const MAX_NAME_WIRE = 255;
const MAX_POINTER_HOPS = 127;

export const RCODE_NAMES: Readonly<Record<number, string>> = {
  0: 'NOERROR', 1: 'FORMERR', 2: 'SERVFAIL', 3: 'NXDOMAIN', 4: 'NOTIMP', 5: 'REFUSED',
};

export function rcodeName(rcode: number): string {
  return RCODE_NAMES[rcode] ?? `rcode ${rcode}`;
}

export interface DnsQuestion {
  /** Dotted, without the trailing dot; "" is the root. Compared case-insensitively (§2.3.3). */
  name: string;
  type: number;
  class: number;
}

/** A standard query (opcode 0) for one question, recursion desired as dig and resolvers send it. */
export function encodeQuery(id: number, question: DnsQuestion): Buffer {
  const labels = question.name === '' ? [] : question.name.split('.');
  const nameBytes = labels.reduce((sum, label) => sum + 1 + Buffer.byteLength(label, 'ascii'), 1);
  if (nameBytes > MAX_NAME_WIRE) throw new RangeError(`DNS name ${JSON.stringify(question.name)} is ${nameBytes} bytes on the wire; at most ${MAX_NAME_WIRE}`);
  const message = Buffer.alloc(HEADER_BYTES + nameBytes + 4);
  message.writeUInt16BE(id & 0xffff, 0);
  message.writeUInt16BE(FLAG_RD, 2);
  message.writeUInt16BE(1, 4); // QDCOUNT; AN/NS/AR counts stay 0
  let offset = HEADER_BYTES;
  for (const label of labels) {
    if (label.length < 1 || label.length > 63) throw new RangeError(`DNS label ${JSON.stringify(label)} must be 1 to 63 bytes`);
    message[offset++] = label.length;
    offset += message.write(label, offset, 'ascii');
  }
  message[offset++] = 0;
  message.writeUInt16BE(question.type, offset);
  message.writeUInt16BE(question.class, offset + 2);
  return message;
}

export interface DnsAnswerHeader {
  id: number;
  rcode: number;
  truncated: boolean;
  question?: DnsQuestion;
}

export type DecodeResult = { ok: true; answer: DnsAnswerHeader } | { ok: false; reason: string };

/** Reads a reply's header and (when QDCOUNT is 1) its question. Anything that does not fit is `ok: false`. */
export function decodeAnswer(message: Uint8Array): DecodeResult {
  if (message.length < HEADER_BYTES) return { ok: false, reason: `${message.length} bytes, shorter than the 12-byte header` };
  const view = Buffer.from(message.buffer, message.byteOffset, message.length);
  const id = view.readUInt16BE(0);
  const flags = view.readUInt16BE(2);
  if (!(flags & FLAG_QR)) return { ok: false, reason: 'QR bit clear: a query, not a response' };
  if (flags & OPCODE_MASK) return { ok: false, reason: `opcode ${(flags & OPCODE_MASK) >> 11}, not a standard query's answer` };
  const questions = view.readUInt16BE(4);
  const answer: DnsAnswerHeader = { id, rcode: flags & RCODE_MASK, truncated: (flags & 0x0200) !== 0 };
  // Some servers leave the question out of error answers (FORMERR, NOTIMP): no question to match then.
  if (questions === 0) return { ok: true, answer };
  if (questions !== 1) return { ok: false, reason: `${questions} questions; the query asked one` };
  const name = readName(view, HEADER_BYTES);
  if (!name.ok) return name;
  if (name.next + 4 > view.length) return { ok: false, reason: 'question cut short before its type and class' };
  answer.question = { name: name.name, type: view.readUInt16BE(name.next), class: view.readUInt16BE(name.next + 2) };
  return { ok: true, answer };
}

type NameResult = { ok: true; name: string; next: number } | { ok: false; reason: string };

/** A (possibly compressed, §4.1.4) name at `start`; `next` is the offset after it in the message. */
function readName(view: Buffer, start: number): NameResult {
  const labels: string[] = [];
  let offset = start;
  let next = -1;
  let wire = 1;
  for (let hops = 0; ; ) {
    if (offset >= view.length) return { ok: false, reason: `name runs past the end at offset ${offset}` };
    const length = view[offset]!;
    if (length === 0) {
      if (next < 0) next = offset + 1;
      return { ok: true, name: labels.join('.'), next };
    }
    const tag = length & 0xc0;
    if (tag === 0xc0) {
      if (offset + 2 > view.length) return { ok: false, reason: `compression pointer cut short at offset ${offset}` };
      if (++hops > MAX_POINTER_HOPS) return { ok: false, reason: 'compression pointers loop' };
      if (next < 0) next = offset + 2;
      const target = view.readUInt16BE(offset) & 0x3fff;
      // Pointers go back to earlier bytes only (a forward or self pointer is how loops are built).
      if (target >= offset) return { ok: false, reason: `compression pointer at offset ${offset} points forward to ${target}` };
      offset = target;
      continue;
    }
    if (tag !== 0) return { ok: false, reason: `label type 0x${tag.toString(16)} at offset ${offset} is not a plain label or a pointer` };
    if (offset + 1 + length > view.length) return { ok: false, reason: `label at offset ${offset} runs past the end` };
    wire += 1 + length;
    if (wire > MAX_NAME_WIRE) return { ok: false, reason: `name longer than ${MAX_NAME_WIRE} bytes` };
    labels.push(view.toString('latin1', offset + 1, offset + 1 + length));
    offset += 1 + length;
  }
}

/** Whether the answer's question is the one asked (names compared case-insensitively, §2.3.3). */
export function sameQuestion(asked: DnsQuestion, answered: DnsQuestion): boolean {
  return asked.type === answered.type && asked.class === answered.class && asked.name.toLowerCase() === answered.name.toLowerCase();
}
