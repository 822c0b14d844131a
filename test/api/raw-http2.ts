// A hostile gRPC client for the api tests: raw TCP, then TLS (node:tls), then HTTP/2 frames built
// by hand, so a test controls exactly what reaches the daemon and when — the whole request in one
// write followed by a TCP reset, streams left open, settings never acknowledged. Only what the
// tests need: HPACK "literal without indexing" headers on the way out, and frame headers (type,
// flags, stream, payload) on the way in; the daemon's compressed response headers are not decoded.
import { connect as tcpConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { loadPortcullisProto } from '../../src/api/proto.js';

export const FRAME = { DATA: 0x0, HEADERS: 0x1, RST_STREAM: 0x3, SETTINGS: 0x4, PING: 0x6, GOAWAY: 0x7, WINDOW_UPDATE: 0x8 } as const;
const FLAG_END_STREAM = 0x1;
const FLAG_ACK = 0x1;
const FLAG_END_HEADERS = 0x4;
export const SETTINGS_MAX_CONCURRENT_STREAMS = 0x3;
export const ERROR_REFUSED_STREAM = 0x7;
const CLIENT_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

export interface Frame { type: number; flags: number; stream: number; payload: Buffer }

export function frame(type: number, flags: number, stream: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const header = Buffer.alloc(9);
  header.writeUIntBE(payload.length, 0, 3);
  header[3] = type;
  header[4] = flags;
  header.writeUInt32BE(stream & 0x7fffffff, 5);
  return Buffer.concat([header, payload]);
}

/** HPACK integer with an N-bit prefix (RFC 7541 §5.1). */
function hpackInteger(value: number, prefixBits: number, firstByteFlags = 0): Buffer {
  const max = (1 << prefixBits) - 1;
  if (value < max) return Buffer.from([firstByteFlags | value]);
  const bytes = [firstByteFlags | max];
  let rest = value - max;
  while (rest >= 128) { bytes.push((rest % 128) + 128); rest = Math.floor(rest / 128); }
  bytes.push(rest);
  return Buffer.from(bytes);
}

function hpackString(text: string): Buffer {
  const bytes = Buffer.from(text, 'latin1');
  return Buffer.concat([hpackInteger(bytes.length, 7), bytes]);
}

/** Header block of "literal header field without indexing — new name" entries (RFC 7541 §6.2.2). */
export function headerBlock(headers: [string, string][]): Buffer {
  return Buffer.concat(headers.flatMap(([name, value]) => [Buffer.from([0x00]), hpackString(name), hpackString(value)]));
}

/** The client preface and an empty SETTINGS frame: what every HTTP/2 connection starts with. */
export function connectionStart(): Buffer {
  return Buffer.concat([CLIENT_PREFACE, frame(FRAME.SETTINGS, 0, 0)]);
}

export function settingsAck(): Buffer {
  return frame(FRAME.SETTINGS, FLAG_ACK, 0);
}

/** One gRPC message: compressed flag 0, 4-byte length, the protobuf bytes. */
export function grpcMessage(message: Buffer): Buffer {
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(message.length, 1);
  return Buffer.concat([prefix, message]);
}

export interface CallFrames {
  stream: number;
  /** "/portcullis.v1.VirtualServices/DeleteVirtualService" */
  path: string;
  /** Extra metadata, e.g. [['authorization', 'Bearer …']]. */
  metadata?: [string, string][];
  /** The request message; absent = HEADERS only, the stream stays open (the server waits for it). */
  message?: Buffer;
}

/** The request message of a call whose HEADERS went earlier: DATA with END_STREAM. */
export function messageFrame(stream: number, message: Buffer): Buffer {
  return frame(FRAME.DATA, FLAG_END_STREAM, stream, grpcMessage(message));
}

/** HEADERS (and, with a message, DATA with END_STREAM) of one gRPC call. */
export function callFrames(call: CallFrames): Buffer {
  const block = headerBlock([
    [':method', 'POST'], [':scheme', 'https'], [':path', call.path], [':authority', 'localhost'],
    ['content-type', 'application/grpc'], ['te', 'trailers'], ...(call.metadata ?? []),
  ]);
  const headers = frame(FRAME.HEADERS, FLAG_END_HEADERS, call.stream, block);
  if (!call.message) return headers;
  return Buffer.concat([headers, messageFrame(call.stream, call.message)]);
}

/** A request message serialized with the daemon's own proto definition. */
export function serializeRequest(service: string, method: string, request: object): Buffer {
  const { definition } = loadPortcullisProto();
  const methods = definition[`portcullis.v1.${service}`] as unknown as Record<string, { requestSerialize(value: object): Buffer }>;
  return methods[method]!.requestSerialize(request);
}

export interface RawConnection {
  /** The TCP socket under TLS: resetAndDestroy() on it sends a RST (SO_LINGER 0). */
  tcp: Socket;
  tls: TLSSocket;
  /** Every complete frame received so far. */
  frames: Frame[];
  /** Resolves with Date.now() when the connection is closed (by either side). */
  closed: Promise<number>;
  /** Resolves with the first received frame matching, or rejects after timeoutMs. */
  waitFor(match: (f: Frame) => boolean, timeoutMs: number, what: string): Promise<Frame>;
  /** Writes and resolves once the bytes were handed to the kernel. */
  write(bytes: Buffer): Promise<void>;
}

export interface RawTlsOptions {
  port: number;
  ca: Buffer;
  /** Client certificate and key (mTLS); absent = none. */
  cert?: Buffer;
  key?: Buffer;
  timeoutMs?: number;
}

/** Raw TCP to 127.0.0.1:port, TLS on top (ALPN h2, name "localhost"), frames parsed as they come. */
export function connectRaw(options: RawTlsOptions): Promise<RawConnection> {
  return new Promise((resolve, reject) => {
    const tcp = tcpConnect({ host: '127.0.0.1', port: options.port });
    tcp.on('error', () => undefined);
    const tls = tlsConnect({
      socket: tcp, servername: 'localhost', ALPNProtocols: ['h2'], ca: options.ca,
      ...(options.cert && options.key ? { cert: options.cert, key: options.key } : {}),
    });
    const frames: Frame[] = [];
    const waiters = new Set<() => void>();
    let pending = Buffer.alloc(0);
    tls.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 9) {
        const length = pending.readUIntBE(0, 3);
        if (pending.length < 9 + length) break;
        frames.push({ type: pending[3]!, flags: pending[4]!, stream: pending.readUInt32BE(5) & 0x7fffffff, payload: pending.subarray(9, 9 + length) });
        pending = pending.subarray(9 + length);
      }
      for (const wake of [...waiters]) wake();
    });
    const closed = new Promise<number>((done) => tls.once('close', () => { const at = Date.now(); for (const wake of [...waiters]) wake(); done(at); }));
    const timer = setTimeout(() => { tls.destroy(); reject(new Error(`TLS handshake with 127.0.0.1:${options.port} timed out`)); }, options.timeoutMs ?? 5000);
    tls.once('error', (error) => { clearTimeout(timer); reject(error); });
    tls.once('secureConnect', () => {
      clearTimeout(timer);
      tls.removeAllListeners('error');
      tls.on('error', () => undefined);
      resolve({
        tcp, tls, frames, closed,
        write: (bytes) => new Promise((done, fail) => tls.write(bytes, (error) => (error ? fail(error) : done()))),
        waitFor: (match, timeoutMs, what) => new Promise((done, fail) => {
          const check = (): boolean => {
            const found = frames.find(match);
            if (found) { finish(); done(found); return true; }
            if (tls.destroyed) { finish(); fail(new Error(`connection closed before ${what}`)); return true; }
            return false;
          };
          const deadline = setTimeout(() => { finish(); fail(new Error(`no ${what} within ${timeoutMs} ms`)); }, timeoutMs);
          const finish = (): void => { clearTimeout(deadline); waiters.delete(wake); };
          const wake = (): void => { check(); };
          if (!check()) waiters.add(wake);
        }),
      });
    });
  });
}

/** True for the frame that ends the daemon's side of `stream` (its trailers, or a final DATA). */
export function isEndOfStream(f: Frame, stream: number): boolean {
  return f.stream === stream && (f.flags & FLAG_END_STREAM) !== 0 && (f.type === FRAME.HEADERS || f.type === FRAME.DATA);
}
