// WatchStats and ListConnections bounded for every caller (issue 14.2, 14.3) against the REAL
// daemon (live mode, ring ports): the watch interval has a range, a stream whose client never
// reads holds at most 2 messages (ticks are skipped and counted instead), a caller may hold 8
// streams (the unix socket is one caller, each TCP identity another), and the listing cursor is a
// record position that refuses what the daemon did not hand out.
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import * as http2 from 'node:http2';
import { connect as netConnect } from 'node:net';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import type { GetStatsResponse__Output } from '../../src/api/generated/portcullis/v1/GetStatsResponse.js';
import { connect } from '../../src/cli/client.js';
import { resolveEndpoint } from '../../src/cli/endpoint.js';
import { makeCa, makeLeaf } from './certificates.js';
import { WEB_SEED, testConfig, withDaemon, type Daemon } from './daemon.js';
import { expectGrpcError } from '../support/expected-errors.js';

const STREAMS_PER_CALLER = 8;   // src/api/stats-streams.ts WATCH_MAX_STREAMS_PER_CALLER
const QUEUED_PER_STREAM = 2;    // WATCH_MAX_QUEUED_MESSAGES
const VIEWER_TOKEN = 'ro-0123456789abcdef0123456789';

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

const withMetrics = (dir: string) => `${testConfig(dir, WEB_SEED)}metrics: { listen: "127.0.0.1:0" }\n`;

function metric(daemon: Daemon, name: string): Promise<number> {
  const url = /serving Prometheus metrics on (http:\/\/\S+)/.exec(daemon.output())?.[1];
  if (!url) throw new Error('no metrics address in the daemon output');
  return new Promise((resolve, reject) => {
    request(url, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => { body += d.toString(); });
      res.on('end', () => {
        const value = new RegExp(`^${name} (\\S+)$`, 'm').exec(body)?.[1];
        if (value === undefined) reject(new Error(`${name} not in /metrics`));
        else resolve(Number(value));
      });
    }).on('error', reject).end();
  });
}

function rssKiB(pid: number): number {
  return Number(/^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
}

/** How a WatchStats call ended (or that it delivered a first message). */
function firstOutcome(call: grpc.ClientReadableStream<GetStatsResponse__Output>): Promise<{ code: number; details: string }> {
  return new Promise((resolve) => {
    call.once('data', () => resolve({ code: 0, details: 'streaming' }));
    call.once('error', (e: grpc.ServiceError) => resolve({ code: e.code, details: e.details }));
  });
}

/** A gRPC frame of WatchStatsRequest { interval_ms } built by hand (field 1, varint). */
function watchRequestFrame(intervalMs: number): Buffer {
  const varint: number[] = [];
  for (let v = intervalMs; ; v = Math.floor(v / 128)) {
    if (v < 128) { varint.push(v); break; }
    varint.push((v % 128) | 128);
  }
  const message = Buffer.from([0x08, ...varint]);
  const header = Buffer.alloc(5);
  header.writeUInt32BE(message.length, 1);
  return Buffer.concat([header, message]);
}

/**
 * A client that never reads: raw HTTP/2 over the unix socket with a receive window of 0, so not
 * one byte of a message can reach it. Resolves with the session once every stream has its headers.
 */
async function neverReading(socket: string, streams: number, intervalMs: number): Promise<http2.ClientHttp2Session> {
  const session = http2.connect('http://localhost', { createConnection: () => netConnect(socket), settings: { initialWindowSize: 0 } });
  session.on('error', () => undefined);  // the test closes it; a reset is expected
  const answered = [];
  for (let i = 0; i < streams; i++) {
    const stream = session.request({
      ':method': 'POST', ':path': '/portcullis.v1.Stats/WatchStats', 'content-type': 'application/grpc', te: 'trailers',
    });
    stream.on('error', () => undefined);
    stream.end(watchRequestFrame(intervalMs));
    answered.push(new Promise<void>((resolve, reject) => {
      stream.once('response', (headers) => {
        if (headers['grpc-status'] !== undefined) reject(new Error(`stream ${i} refused: ${headers['grpc-status']} ${headers['grpc-message']}`));
        else resolve();
      });
    }));
  }
  await Promise.all(answered);
  return session;
}

test('WatchStats interval_ms: 2^31 and 3600001 are INVALID_ARGUMENT naming the field and range; 3600000 streams', async () => {
  await withDaemon({ config: (dir) => testConfig(dir, WEB_SEED) }, async ({ clients }) => {
    for (const intervalMs of [2 ** 31, 3_600_001, 2 ** 32 - 1]) {
      const outcome = await firstOutcome(clients.stats.watchStats({ intervalMs }));
      assert.is(outcome.code, grpc.status.INVALID_ARGUMENT, `interval ${intervalMs}: ${outcome.details}`);
      assert.is(outcome.details, `interval_ms: expected 0 (default 1000) or 100..3600000, got ${intervalMs}`);
    }
    const call = clients.stats.watchStats({ intervalMs: 3_600_000 });
    assert.equal(await firstOutcome(call), { code: 0, details: 'streaming' }, 'the first message comes at once');
    call.cancel();
  });
});

test('a client that never reads: each stream holds at most 2 messages, skipped ticks are counted, daemon memory stays flat', async () => {
  await withDaemon({ config: withMetrics }, async ({ daemon, socket }) => {
    const session = await neverReading(socket, STREAMS_PER_CALLER, 100);
    try {
      assert.is(await metric(daemon, 'portcullis_watch_streams'), STREAMS_PER_CALLER);
      await sleep(1000);
      const rssBefore = rssKiB(daemon.pid);
      const skippedBefore = await metric(daemon, 'portcullis_watch_skipped_ticks_total');
      const queued: number[] = [];
      for (let i = 0; i < 5; i++) {
        await sleep(1000);
        queued.push(await metric(daemon, 'portcullis_watch_queued_messages'));
      }
      const skipped = await metric(daemon, 'portcullis_watch_skipped_ticks_total') - skippedBefore;
      const rssAfter = rssKiB(daemon.pid);
      console.log(`  ${STREAMS_PER_CALLER} unread streams at 100 ms for 5 s: queued messages ${queued.join(', ')}; ` +
        `${skipped} ticks skipped; daemon RSS ${rssBefore} -> ${rssAfter} KiB`);
      assert.ok(queued.every((q) => q <= STREAMS_PER_CALLER * QUEUED_PER_STREAM), `queued messages ${queued.join(', ')}`);
      // 8 streams x ~10 ticks/s x 5 s, every one skipped (timer jitter on a shared box: allow a fifth less).
      assert.ok(skipped >= STREAMS_PER_CALLER * 40, `${skipped} ticks skipped`);
    } finally {
      session.destroy();
    }
    // A reset client gives its places back.
    for (let i = 0; i < 50 && await metric(daemon, 'portcullis_watch_streams') > 0; i++) await sleep(100);
    assert.is(await metric(daemon, 'portcullis_watch_streams'), 0, 'streams released after the reset');
    assert.is(await metric(daemon, 'portcullis_watch_queued_messages'), 0);
  });
});

test('the 9th concurrent WatchStats of one caller is RESOURCE_EXHAUSTED; a cancelled one makes room; each TCP identity has its own 8', async () => {
  const config = (dir: string) => {
    const ca = makeCa(dir, 'ca');
    makeLeaf(dir, ca, 'server', 'localhost', 'DNS:localhost,IP:127.0.0.1');
    writeFileSync(join(dir, 'viewer.token'), `${VIEWER_TOKEN}\n`, { mode: 0o600 });
    const api = `api: { socket: ${join(dir, 'api.sock')}, listen: "127.0.0.1:0",
  tls: { cert: ${join(dir, 'server.crt')}, key: ${join(dir, 'server.key')} },
  tokens: [{ name: grafana, role: read-only, file: ${join(dir, 'viewer.token')} }] }`;
    return `${testConfig(dir, WEB_SEED).replace(/^api: \{ socket: .* \}$/m, api)}metrics: { listen: "127.0.0.1:0" }\n`;
  };
  await withDaemon({ config }, async ({ daemon, dir, clients: unix }) => {
    const port = /serving gRPC on .*127\.0\.0\.1:(\d+)/.exec(daemon.output())?.[1];
    assert.ok(port, 'TCP listener address in the log');
    const tcp = connect(resolveEndpoint({ server: `127.0.0.1:${port}`, 'tls-ca': join(dir, 'ca.crt'), 'token-file': join(dir, 'viewer.token') }, {}));
    const calls: grpc.ClientReadableStream<GetStatsResponse__Output>[] = [];
    const open = async (client: typeof unix) => {
      const call = client.stats.watchStats({ intervalMs: 100 });
      call.on('error', () => undefined);
      calls.push(call);
      return firstOutcome(call);
    };
    try {
      for (let i = 0; i < STREAMS_PER_CALLER; i++) assert.is((await open(unix)).code, 0, `unix stream ${i + 1}`);
      const ninth = await open(unix);
      assert.is(ninth.code, grpc.status.RESOURCE_EXHAUSTED, ninth.details);
      assert.is(ninth.details, 'WatchStats: the unix socket already has 8 streams open (the most per caller); cancel one first');
      // Another identity is not held back by the unix socket's streams, and has its own limit.
      for (let i = 0; i < STREAMS_PER_CALLER; i++) assert.is((await open(tcp)).code, 0, `TCP stream ${i + 1}`);
      const tcpNinth = await open(tcp);
      assert.is(tcpNinth.code, grpc.status.RESOURCE_EXHAUSTED, tcpNinth.details);
      assert.match(tcpNinth.details, /^WatchStats: TCP identity "grafana" already has 8 streams open/);
      assert.is(await metric(daemon, 'portcullis_watch_refused_streams_total'), 2);
      // Cancelling gives the place back (the server hears of it asynchronously).
      calls[0]!.cancel();
      let again = { code: -1, details: '' };
      for (let i = 0; i < 50 && again.code !== 0; i++) {
        await sleep(100);
        again = await open(unix);
      }
      assert.is(again.code, 0, `after a cancel: ${again.details}`);
      assert.is(await metric(daemon, 'portcullis_watch_streams'), 2 * STREAMS_PER_CALLER);
    } finally {
      for (const call of calls) call.cancel();
      tcp.close();
    }
  });
});


test('ListConnections: garbage, huge and stale cursors are INVALID_ARGUMENT naming the cursor; an empty sparse table pages to 0 in short pages', async () => {
  // 524288 records: a call reads at most 262144, so even an empty table takes two calls.
  const config = (dir: string) => testConfig(dir, WEB_SEED).replace('memory_mb: 256', 'memory_mb: 512').replace('conn_capacity: 4096', 'conn_capacity: 524288');
  await withDaemon({ config }, async ({ api, pcadm }) => {
    await expectGrpcError(api.listConnections({ cursor: '18446744073709551615' }), grpc.status.INVALID_ARGUMENT,
      /^cursor: expected 0 or the next_cursor of the previous page, got "18446744073709551615"$/);
    await expectGrpcError(api.listConnections({ cursor: 2 ** 32 }), grpc.status.INVALID_ARGUMENT,
      /^cursor: expected 0 or a next cursor of this data plane \(worker < 1, record <= 524288\), got 4294967296 \(worker 1, record 0\)$/);
    await expectGrpcError(api.listConnections({ cursor: 524289 }), grpc.status.INVALID_ARGUMENT, /^cursor: .*\(worker 0, record 524289\)$/);
    await expectGrpcError(api.listConnections({ limit: 65537 }), grpc.status.INVALID_ARGUMENT, /^limit: /);
    const first = await api.listConnections({ cursor: 0, limit: 10 });
    assert.equal([first.connections.length, first.nextCursor], [0, '262144'], 'an empty page is not the end');
    const second = await api.listConnections({ cursor: first.nextCursor, limit: 10 });
    assert.equal([second.connections.length, second.nextCursor], [0, '0'], 'next_cursor 0: done');
    // The live worker read the table in 512 scans of 1024 records, one per loop iteration.
    const load = (await api.getStats({})).workers[0]!;
    assert.equal([load.listingScans, load.listingMaxRecords], ['512', '1024']);
    // pcadm pages to the end by the cursor, not by the page size.
    const listed = await pcadm('-Lnc');
    assert.is(listed.code, 0, listed.err);
    assert.is(listed.out + listed.err, 'IPVS connection entries\npro expire state       source             virtual            destination\n');
  });
});

test.run();
