// The client side of test/e2e/restart.test.ts, run inside pc-client
// (`ip netns exec pc-client node … restart-traffic.ts <json options>`): long-lived TCP
// connections that must outlive a restart of the gateway between them and the servers.
//
//   1. opens `connections` kept-alive HTTP/1.1 connections, round robin over `ports` of `vip`,
//      and makes one request on each (the answer names the real server and the LIP:lport it saw);
//   2. starts one paced download (`downloadUrl`), hashing it as it arrives and timing the gaps
//      between arrivals;
//   3. once `readyAfterBytes` of it arrived, prints {"event":"ready",…} — the test restarts the
//      gateway now, mid-download;
//   4. on the line "check" on stdin, makes one more request on every kept-alive connection (each
//      bounded by requestTimeoutMs), waits for the download to end (bounded by downloadTimeoutMs
//      from then) and prints {"event":"done",…};
//   5. on the next line (or the end of stdin), closes every connection gracefully (FIN, so the
//      gateway's entries go to TIME_WAIT, not to the short CLOSE timeout) and exits.
// Every reset or unexpected close of a kept-alive socket is recorded with when it happened. The
// connections are plain sockets with hand-written requests, not an http.Agent, so "connection i"
// is one TCP connection from start to end and nothing reconnects behind the test's back.

import { createHash } from 'node:crypto';
import { get } from 'node:http';
import { connect, type Socket } from 'node:net';
import { createInterface } from 'node:readline';

export interface TrafficOptions {
  vip: string;
  ports: number[];
  connections: number;
  downloadUrl: string;
  readyAfterBytes: number;
  requestTimeoutMs: number;
  downloadTimeoutMs: number;
}

/** What a lab real server answers on a plain GET (src/lab/servers.ts). */
interface Answer { server: string; peer: string; path: string }

export interface KeptAliveReport {
  index: number;
  port: number;
  localPort: number;
  /** The first and the second (after the restart) answer; second is absent when it failed. */
  first?: Answer;
  second?: Answer;
  error?: string;
}

export interface SocketEnd {
  index: number;
  /** 'reset' (ECONNRESET), 'error: …', or 'closed' (the server or something between closed it). */
  how: string;
  atMs: number;
}

export interface DownloadReport {
  localPort: number;
  ok: boolean;
  status?: number;
  bytes: number;
  sha256: string;
  error?: string;
  ms: number;
  /** Largest time between two arrivals of data after the first: the client-side stall. */
  maxGapMs: number;
  /** When the largest gap ended, ms since the download started. */
  maxGapEndedAtMs: number;
}

export type TrafficEvent =
  | { event: 'ready'; connections: KeptAliveReport[]; download: { localPort: number; bytes: number; ms: number } }
  | { event: 'done'; connections: KeptAliveReport[]; ends: SocketEnd[]; download: DownloadReport }
  | { event: 'error'; error: string };

/** Bound on waiting for the server's FIN after ours. */
const CLOSE_WAIT_MS = 2_000;
const started = Date.now();
const since = (): number => Date.now() - started;

/** One kept-alive connection: requests go one at a time; the answer is read by content-length. */
class KeptAlive {
  private buffered = Buffer.alloc(0);
  private waiting: { resolve: (answer: Answer) => void; reject: (error: Error) => void } | undefined;
  ended: SocketEnd | undefined;

  private constructor(readonly index: number, readonly port: number, readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, chunk]);
      this.deliver();
    });
    socket.on('error', (error: NodeJS.ErrnoException) => this.end(error.code === 'ECONNRESET' ? 'reset' : `error: ${error.message}`));
    socket.on('close', () => this.end('closed'));
  }

  static open(index: number, host: string, port: number, timeoutMs: number): Promise<KeptAlive> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port });
      const timer = setTimeout(() => { socket.destroy(); reject(new Error(`connection ${index} to port ${port}: no connect within ${timeoutMs} ms`)); }, timeoutMs);
      socket.once('connect', () => { clearTimeout(timer); resolve(new KeptAlive(index, port, socket)); });
      socket.once('error', (error) => { clearTimeout(timer); reject(new Error(`connection ${index} to port ${port}: ${error.message}`)); });
    });
  }

  get localPort(): number { return this.socket.localPort ?? 0; }

  request(path: string, timeoutMs: number): Promise<Answer> {
    if (this.ended) return Promise.reject(new Error(`connection already ended (${this.ended.how} at ${this.ended.atMs} ms)`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { this.waiting = undefined; reject(new Error(`no answer within ${timeoutMs} ms`)); }, timeoutMs);
      this.waiting = {
        resolve: (answer) => { clearTimeout(timer); resolve(answer); },
        reject: (error) => { clearTimeout(timer); reject(error); },
      };
      this.socket.write(`GET ${path} HTTP/1.1\r\nHost: lab\r\nConnection: keep-alive\r\n\r\n`);
    });
  }

  private deliver(): void {
    const headEnd = this.buffered.indexOf('\r\n\r\n');
    if (headEnd < 0 || !this.waiting) return;
    const head = this.buffered.subarray(0, headEnd).toString('latin1');
    const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? NaN);
    if (!Number.isFinite(length)) {
      this.waiting.reject(new Error(`answer without content-length: ${head.slice(0, 200)}`));
      this.waiting = undefined;
      return;
    }
    if (this.buffered.length < headEnd + 4 + length) return;
    const body = this.buffered.subarray(headEnd + 4, headEnd + 4 + length).toString('utf8');
    this.buffered = this.buffered.subarray(headEnd + 4 + length);
    const waiting = this.waiting;
    this.waiting = undefined;
    try {
      waiting.resolve(JSON.parse(body) as Answer);
    } catch {
      waiting.reject(new Error(`not a lab server answer: ${body.slice(0, 200)}`));
    }
  }

  private end(how: string): void {
    if (this.ended) return;
    this.ended = { index: this.index, how, atMs: since() };
    this.waiting?.reject(new Error(`connection ${how}`));
    this.waiting = undefined;
  }

  /** FIN, then waits (bounded) for the server's FIN. */
  closeGracefully(timeoutMs: number): Promise<void> {
    this.ended ??= { index: this.index, how: 'closed by the client', atMs: since() };
    if (this.socket.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.socket.once('close', () => { clearTimeout(timer); resolve(); });
      this.socket.end();
    });
  }

  close(): void {
    this.ended ??= { index: this.index, how: 'closed by the client', atMs: since() };
    this.socket.destroy();
  }
}

interface Download {
  report: DownloadReport;
  done: Promise<DownloadReport>;
  destroy(reason: string): void;
}

function startDownload(url: string, onBytes: (bytes: number) => void): Download {
  const hash = createHash('sha256');
  const startedAt = Date.now();
  const report: DownloadReport = { localPort: 0, ok: false, bytes: 0, sha256: '', ms: 0, maxGapMs: 0, maxGapEndedAtMs: 0 };
  let lastArrival = 0;
  let finish: (report: DownloadReport) => void = () => undefined;
  const done = new Promise<DownloadReport>((resolve) => { finish = resolve; });
  const settle = (error?: string): void => {
    if (report.ms !== 0) return;
    const now = Date.now();
    report.ms = now - startedAt;
    // A download that hung: the stall lasted until it was given up.
    if (error !== undefined && lastArrival !== 0 && now - lastArrival > report.maxGapMs) {
      report.maxGapMs = now - lastArrival;
      report.maxGapEndedAtMs = report.ms;
    }
    if (error !== undefined) report.error = error;
    report.sha256 = hash.digest('hex');
    finish(report);
  };
  const request = get(url, { agent: false }, (response) => {
    report.status = response.statusCode;
    response.on('data', (chunk: Buffer) => {
      const now = Date.now();
      if (lastArrival !== 0 && now - lastArrival > report.maxGapMs) {
        report.maxGapMs = now - lastArrival;
        report.maxGapEndedAtMs = now - startedAt;
      }
      lastArrival = now;
      report.bytes += chunk.length;
      hash.update(chunk);
      onBytes(report.bytes);
    });
    response.on('end', () => {
      report.ok = response.statusCode === 200 && response.complete;
      settle();
    });
    response.on('error', (error: NodeJS.ErrnoException) => settle(error.code === 'ECONNRESET' ? 'reset' : error.message));
  });
  request.on('socket', (socket) => socket.on('connect', () => { report.localPort = socket.localPort ?? 0; }));
  request.on('error', (error: NodeJS.ErrnoException) => settle(error.code === 'ECONNRESET' ? 'reset' : error.message));
  return { report, done, destroy: (reason) => request.destroy(new Error(reason)) };
}

function emit(event: TrafficEvent): void {
  process.stdout.write(`${JSON.stringify(event)}\n`);
}

function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([promise, new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms); })])
    .finally(() => clearTimeout(timer));
}

async function main(options: TrafficOptions): Promise<void> {
  const keptAlive: KeptAlive[] = [];
  const reports: KeptAliveReport[] = [];
  try {
    for (let index = 0; index < options.connections; index++) {
      const port = options.ports[index % options.ports.length]!;
      const connection = await KeptAlive.open(index, options.vip, port, options.requestTimeoutMs);
      keptAlive.push(connection);
      const first = await connection.request(`/kept-alive/${index}/first`, options.requestTimeoutMs)
        .catch((error: Error) => { throw new Error(`connection ${index} (port ${port}), first request: ${error.message}`); });
      reports.push({ index, port, localPort: connection.localPort, first });
    }

    let reachedReady: () => void = () => undefined;
    const ready = new Promise<void>((resolve) => { reachedReady = resolve; });
    const download = startDownload(options.downloadUrl, (bytes) => { if (bytes >= options.readyAfterBytes) reachedReady(); });
    await withDeadline(Promise.race([ready, download.done.then((r) => {
      throw new Error(`the download ended before ${options.readyAfterBytes} bytes: ${JSON.stringify(r)}`);
    })]), options.downloadTimeoutMs, `first ${options.readyAfterBytes} bytes of the download`);
    emit({ event: 'ready', connections: reports, download: { localPort: download.report.localPort, bytes: download.report.bytes, ms: since() } });

    const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
    const nextLine = async (): Promise<string | undefined> => { const next = await lines.next(); return next.done ? undefined : String(next.value); };
    while (true) {
      const line = await nextLine();
      if (line === undefined) throw new Error('stdin ended before "check"');
      if (line.trim() === 'check') break;
    }

    await Promise.all(keptAlive.map(async (connection, index) => {
      try {
        reports[index]!.second = await connection.request(`/kept-alive/${index}/second`, options.requestTimeoutMs);
      } catch (error) {
        reports[index]!.error = (error as Error).message;
      }
    }));
    const finished = await withDeadline(download.done, options.downloadTimeoutMs, 'end of the download').catch((error: Error) => {
      download.destroy(error.message);
      return download.done;
    });
    const ends = keptAlive.flatMap((connection) => (connection.ended ? [connection.ended] : []));
    emit({ event: 'done', connections: reports, ends, download: finished });
    await nextLine(); // the test reads the gateway's tables while the connections are still open
    await Promise.all(keptAlive.map((connection) => connection.closeGracefully(CLOSE_WAIT_MS)));
  } finally {
    for (const connection of keptAlive) connection.close();
  }
}

main(JSON.parse(process.argv[2] ?? '{}') as TrafficOptions).then(
  () => process.exit(0),
  (error: unknown) => {
    emit({ event: 'error', error: error instanceof Error ? error.message : String(error) });
    process.exit(1);
  },
);
