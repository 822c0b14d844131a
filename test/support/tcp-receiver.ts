// What a real server makes of the client segments the data plane sends it: the byte stream a
// Linux receiver would hand the application, and the address a TOA kernel module would read.
// Client-address tests judge the data plane by these, not by single frames, because a forged
// address only matters if the server's TCP would actually deliver it.
import { ip6ToString, ipToString, TCP_FLAG, TCP_OPT, type DecodedFrame } from './packet.js';

const MOD = 2 ** 32;
/** a - b as a signed 32-bit distance (TCP sequence arithmetic, RFC 793/1982). */
function seqDiff(a: number, b: number): number {
  const d = (((a - b) % MOD) + MOD) % MOD;
  return d >= MOD / 2 ? d - MOD : d;
}

export interface ReceivedStream {
  /** Bytes in the order the application reads them (urgent bytes taken out, as without SO_OOBINLINE). */
  stream: Buffer;
  /** Sequence numbers whose byte the receiver took out of the stream as urgent data. */
  urgent: number[];
  /** The receiver's rcv_nxt at the end. */
  rcvNxt: number;
}

/**
 * Reassembles the server-side stream that starts at sequence number `start` (the server's
 * rcv_nxt right after the SYN it accepted) from frames in arrival order, as Linux does:
 * frames with a bad IP or TCP checksum are dropped; RSTs queue nothing; a SYN's payload is
 * taken as TCP Fast Open data when it starts exactly at `start` (the worst case: a server with
 * TFO on); otherwise bytes before rcv_nxt are trimmed off the front, bytes beyond it wait until
 * the hole fills, and an urgent pointer at or past rcv_nxt takes its byte out of the stream
 * (BSD semantics: seq + urp - 1, or seq when urp is 0 — tcp_check_urg()).
 */
export function receiveStream(frames: DecodedFrame[], start: number): ReceivedStream {
  let rcvNxt = start >>> 0;
  const pending: { seq: number; data: Buffer }[] = [];
  const urgent = new Set<number>();
  const delivered: { seq: number; byte: number }[] = [];

  const drain = (): void => {
    for (let progress = true; progress;) {
      progress = false;
      for (let i = 0; i < pending.length; i++) {
        const { seq, data } = pending[i]!;
        const skip = seqDiff(rcvNxt, seq);
        if (skip < 0) continue;  // starts beyond rcv_nxt: still a hole in front
        pending.splice(i, 1);
        i--;
        if (skip >= data.length) continue;  // all old
        for (let k = skip; k < data.length; k++) delivered.push({ seq: (seq + k) >>> 0, byte: data[k]! });
        rcvNxt = (seq + data.length) >>> 0;
        progress = true;
      }
    }
  };

  for (const f of frames) {
    const t = f.tcp;
    if (!t || !(f.ipv4 ? f.ipv4.checksumOk : f.ipv6 !== undefined) || !t.checksumOk) continue;
    if (t.flags & TCP_FLAG.RST) continue;
    if (t.flags & TCP_FLAG.SYN) {
      if (t.payload.length && ((t.seq + 1) >>> 0) === (start >>> 0)) pending.push({ seq: (t.seq + 1) >>> 0, data: t.payload });
      drain();
      continue;
    }
    if (t.flags & TCP_FLAG.URG) {
      const pointer = (t.seq + (t.urgent ? t.urgent - 1 : 0)) >>> 0;
      if (seqDiff(pointer, rcvNxt) >= 0) urgent.add(pointer);
    }
    if (t.payload.length) pending.push({ seq: t.seq, data: t.payload });
    drain();
  }
  const kept = delivered.filter((d) => !urgent.has(d.seq));
  return { stream: Buffer.from(kept.map((d) => d.byte)), urgent: [...urgent], rcvNxt };
}

/** TOA kinds a server-side module may read: 254 (LVS/DPVS) and 253 (Alibaba LVS IPv6). */
const TOA_KINDS = new Set<number>([TCP_OPT.TOA, 253]);

/**
 * The first kind-254 option of length 8 (IPv4) or 20 (IPv6) a TOA module finds in a frame's
 * options, walking them the way the DPVS and LVS modules do (stop at end-of-list or at a
 * malformed length), as "address:port"; undefined when there is none.
 */
export function toaOptionOf(frame: DecodedFrame): string | undefined {
  const b = frame.tcp?.optionBytes ?? Buffer.alloc(0);
  for (let i = 0; i < b.length;) {
    const kind = b[i]!;
    if (kind === TCP_OPT.EOL) return undefined;
    if (kind === TCP_OPT.NOP) { i++; continue; }
    const len = b[i + 1];
    if (len === undefined || len < 2 || i + len > b.length) return undefined;
    if (kind === TCP_OPT.TOA && len === 8) return `${ipToString(b.readUInt32BE(i + 4))}:${b.readUInt16BE(i + 2)}`;
    if (kind === TCP_OPT.TOA && len === 20) return `${ip6ToString(b.subarray(i + 4, i + 20))}:${b.readUInt16BE(i + 2)}`;
    i += len;
  }
  return undefined;
}

/**
 * What the server's TOA module reports for the connection: it reads the ACK that completes the
 * server's handshake — the first frame the server accepts (good checksums) that has ACK and
 * neither SYN nor RST. Undefined when that frame has no TOA option (the module then reports the
 * LIP, i.e. nothing forged) or when no such frame arrived.
 */
export function toaModuleReads(frames: DecodedFrame[]): { frame?: DecodedFrame; address?: string } {
  const frame = frames.find((f) => f.tcp && (f.ipv4 ? f.ipv4.checksumOk : f.ipv6 !== undefined) && f.tcp.checksumOk &&
    (f.tcp.flags & TCP_FLAG.ACK) && !(f.tcp.flags & (TCP_FLAG.SYN | TCP_FLAG.RST)));
  return frame ? { frame, address: toaOptionOf(frame) } : {};
}

/**
 * Offsets in a frame's option area of bytes of a TOA kind (253/254), skipping the `allowed`
 * option at the front (the gateway's own, 8 or 20 bytes at offset 0). Any byte counts — inside other
 * options, after end-of-list, in a malformed tail — so a lenient parser cannot find one either.
 * Tests keep their own option data free of 0xfd/0xfe bytes so a hit is always a leftover.
 */
export function toaKindBytes(frame: DecodedFrame, allowed?: { address: string; port: number }): number[] {
  const b = frame.tcp?.optionBytes ?? Buffer.alloc(0);
  let from = 0;
  if (allowed && b.length >= 8 && toaOptionOf(frame) === `${allowed.address}:${allowed.port}` && b[0] === TCP_OPT.TOA) from = b[1]!;
  const hits: number[] = [];
  for (let i = from; i < b.length; i++) if (TOA_KINDS.has(b[i]!)) hits.push(i);
  return hits;
}

/**
 * Where a TOA kind (253/254) could be read from a frame's option area by any parser that honours
 * option lengths: the kind byte of each option of such a kind (walking as Linux does), and every
 * such byte in the part a conforming walk never reaches (after end-of-list, or from a malformed
 * option on). Bytes inside well-formed options' data are not counted (random data may hold 0xfe).
 * The gateway's own option (kind 254, length 8 or 20 at offset 0 naming `allowed`) is skipped.
 */
export function toaKindPositions(frame: DecodedFrame, allowed?: { address: string; port: number }): number[] {
  const b = frame.tcp?.optionBytes ?? Buffer.alloc(0);
  let i = 0;
  if (allowed && toaOptionOf(frame) === `${allowed.address}:${allowed.port}` && b[0] === TCP_OPT.TOA) i = b[1]!;
  const hits: number[] = [];
  const tail = (from: number): number[] => {
    for (let k = from; k < b.length; k++) if (TOA_KINDS.has(b[k]!)) hits.push(k);
    return hits;
  };
  while (i < b.length) {
    const kind = b[i]!;
    if (kind === TCP_OPT.EOL) return tail(i + 1);
    if (kind === TCP_OPT.NOP) { i++; continue; }
    const len = b[i + 1];
    if (len === undefined || len < 2 || i + len > b.length) return tail(i);
    if (TOA_KINDS.has(kind)) hits.push(i);
    i += len;
  }
  return hits;
}
