// Issue 14 item 4: the TCP listener's limits against the REAL daemon, each from the side of a peer
// that abuses it — connections beyond api.limits.max_connections, a peer that connects and never
// finishes TLS (silent, or trickling a real ClientHello), a connection left idle after a call, and
// more open calls on one connection than api.limits.max_concurrent_streams. The unix socket is a
// separate server: a full TCP listener never locks the local operator out.
import { readFile, rm } from 'node:fs/promises';
import { connect as tcpConnect, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { loadPortcullisProto } from '../../src/api/proto.js';
import { withDaemonOutput } from './daemon.js';
import {
  callFrames, connectionStart, connectRaw, ERROR_REFUSED_STREAM, FRAME, isEndOfStream, messageFrame, serializeRequest,
  SETTINGS_MAX_CONCURRENT_STREAMS, settingsAck, type Frame,
} from './raw-http2.js';
import { makeLab, startSecured, VIEWER_TOKEN, type Lab } from './secured.js';

const LIST_PATH = '/portcullis.v1.VirtualServices/ListVirtualServices';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Watched { socket: Socket; closedAt: Promise<number> }

/** A plain TCP connection to the listener that says nothing; closedAt resolves with Date.now() at close. */
function silentConnection(port: number): Promise<Watched> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect({ host: '127.0.0.1', port });
    socket.on('error', () => undefined);
    socket.resume();  // read (nothing is expected) so the daemon's end of the connection is seen
    const closedAt = new Promise<number>((done) => socket.once('close', () => done(Date.now())));
    socket.once('connect', () => resolve({ socket, closedAt }));
    socket.once('error', reject);
  });
}

/** Resolves with Date.now() at close, or 'open' if still open after ms. */
function closedWithin(watched: Watched, ms: number): Promise<number | 'open'> {
  return Promise.race([watched.closedAt, sleep(ms).then(() => 'open' as const)]);
}

async function listOverUnix(lab: Lab): Promise<number> {
  const { grpcObject } = loadPortcullisProto();
  const client = new grpcObject.portcullis.v1.VirtualServices(`unix:${join(lab.dir, 'api.sock')}`, grpc.credentials.createInsecure());
  try {
    return await new Promise((resolve) => client.listVirtualServices({}, { deadline: Date.now() + 5000 }, (error) => resolve(error?.code ?? 0)));
  } finally {
    client.close();
  }
}

async function listOverTcp(lab: Lab, port: number): Promise<number> {
  const { grpcObject } = loadPortcullisProto();
  const client = new grpcObject.portcullis.v1.VirtualServices(`127.0.0.1:${port}`, grpc.credentials.createSsl(await readFile(lab.ca.cert)),
    { 'grpc.ssl_target_name_override': 'localhost', 'grpc.default_authority': 'localhost' });
  const metadata = new grpc.Metadata();
  metadata.set('authorization', `Bearer ${VIEWER_TOKEN}`);
  try {
    return await new Promise((resolve) => client.listVirtualServices({}, metadata, { deadline: Date.now() + 3000 }, (error) => resolve(error?.code ?? 0)));
  } finally {
    client.close();
  }
}

test('max_connections: 3 open (handshaking) connections fill the listener; the 4th is closed on accept; a slot frees when one closes; the unix socket is unaffected', async () => {
  const lab = await makeLab('pc-limits-');
  const { daemon, port } = await startSecured(lab, { limits: '{ max_connections: 3, handshake_timeout_ms: 20000 }' });
  const held: Watched[] = [];
  try {
    for (let i = 0; i < 3; i++) held.push(await silentConnection(port));
    const extra = await silentConnection(port);
    const extraClosed = await closedWithin(extra, 2000);
    assert.type(extraClosed, 'number', 'the connection over the limit was closed');
    for (const h of held) assert.is(await closedWithin(h, 0), 'open', 'the three within the limit stay open');
    assert.is(await listOverTcp(lab, port), grpc.status.UNAVAILABLE, 'a real client cannot get in while the listener is full');
    assert.is(await listOverUnix(lab), grpc.status.OK, 'the unix socket still answers');

    held.shift()!.socket.destroy();
    await sleep(200);
    const next = await silentConnection(port);
    assert.is(await closedWithin(next, 500), 'open', 'a freed slot is usable again');
    next.socket.destroy();
    await sleep(200);
    for (const h of held.splice(0)) h.socket.destroy();
    await sleep(200);
    assert.is(await listOverTcp(lab, port), grpc.status.OK, 'and a real client works once there is room');
    assert.match(daemon.output(), /api\.limits\.max_connections \(3\) reached on 127\.0\.0\.1:\d+: \d+ connection\(s\) refused/);
  } catch (error) {
    throw withDaemonOutput(error, daemon);
  } finally {
    for (const h of held) h.socket.destroy();
    await daemon.stop();
    await rm(lab.dir, { recursive: true, force: true });
  }
});

/** The first bytes a real TLS client sends (its ClientHello), captured from node:tls. */
function captureClientHello(): Promise<Buffer> {
  return new Promise((resolve) => {
    const capture = createServer((socket) => socket.once('data', (hello: Buffer) => { socket.destroy(); capture.close(); resolve(hello); }));
    capture.listen(0, '127.0.0.1', () => {
      const address = capture.address();
      const client = tlsConnect({ host: '127.0.0.1', port: typeof address === 'object' && address ? address.port : 0, rejectUnauthorized: false, ALPNProtocols: ['h2'] });
      client.on('error', () => undefined);
    });
  });
}

test('handshake_timeout_ms: a peer that never speaks, and one that trickles a real ClientHello a byte at a time, are closed at the timeout; so is a TLS peer that never chose HTTP/2', async () => {
  const lab = await makeLab('pc-limits-');
  const timeoutMs = 600;
  const { daemon, port } = await startSecured(lab, { limits: `{ handshake_timeout_ms: ${timeoutMs} }` });
  const hello = await captureClientHello();
  let trickle: NodeJS.Timeout | undefined;
  try {
    const startedAt = Date.now();
    const silent = await silentConnection(port);
    const trickler = await silentConnection(port);
    let sent = 0;
    trickle = setInterval(() => { if (sent < hello.length) trickler.socket.write(hello.subarray(sent, ++sent)); }, 50);
    const silentClosed = await closedWithin(silent, 5000);
    const tricklerClosed = await closedWithin(trickler, 5000);
    assert.type(silentClosed, 'number', 'the silent peer was closed');
    assert.type(tricklerClosed, 'number', 'the trickling peer was closed');
    for (const [who, at] of [['silent', silentClosed], ['trickling', tricklerClosed]] as const) {
      const after = (at as number) - startedAt;
      assert.ok(after >= timeoutMs - 50 && after <= timeoutMs + 1000, `${who} peer closed ${after} ms after connecting (timeout ${timeoutMs} ms)`);
    }
    assert.ok(sent < hello.length, `the ClientHello (${hello.length} bytes) was still incomplete (${sent} sent): the timeout is not refreshed by bytes`);
    // TLS completes, but without ALPN "h2" the connection is no HTTP/2 session: it does not stay.
    const noAlpn = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', ca: await readFile(lab.ca.cert) });
    noAlpn.on('error', () => undefined);
    noAlpn.resume();  // read what the daemon says (an HTTP/1.0 403), so its end is seen
    const noAlpnSince = Date.now();
    const noAlpnClosed = await Promise.race([new Promise<number>((done) => noAlpn.once('close', () => done(Date.now()))), sleep(5000).then(() => 'open' as const)]);
    assert.type(noAlpnClosed, 'number', 'the TLS peer without HTTP/2 was closed');
    assert.ok((noAlpnClosed as number) - noAlpnSince <= timeoutMs + 1000, `closed ${(noAlpnClosed as number) - noAlpnSince} ms after connecting`);
    assert.is(await listOverTcp(lab, port), grpc.status.OK, 'a real client completes its handshake within the timeout');
  } catch (error) {
    throw withDaemonOutput(error, daemon);
  } finally {
    clearInterval(trickle);
    await daemon.stop();
    await rm(lab.dir, { recursive: true, force: true });
  }
});

test('idle_timeout_ms: an authenticated connection left idle after its call gets GOAWAY and is closed; so are one that finished TLS but never spoke HTTP/2, and one that leaves refused and unknown calls half-open', async () => {
  const lab = await makeLab('pc-limits-');
  const idleMs = 1000;
  const { daemon, port } = await startSecured(lab, { limits: `{ idle_timeout_ms: ${idleMs} }` });
  const ca = await readFile(lab.ca.cert);
  const connections: Awaited<ReturnType<typeof connectRaw>>[] = [];
  try {
    const mute = await connectRaw({ port, ca });
    const halfOpen = await connectRaw({ port, ca });
    connections.push(mute, halfOpen);
    const muteSince = Date.now();
    // Two calls answered at once (no credentials: UNAUTHENTICATED; no such method: UNIMPLEMENTED) whose
    // request side this peer never ends: the daemon resets both (NO_ERROR), so they stop counting as open.
    await halfOpen.write(Buffer.concat([connectionStart(), callFrames({ stream: 1, path: LIST_PATH }), callFrames({ stream: 3, path: '/no.Such/Method', metadata: [['authorization', `Bearer ${VIEWER_TOKEN}`]] })]));
    const caller = await connectRaw({ port, ca });
    connections.push(caller);
    await caller.write(Buffer.concat([connectionStart(), settingsAck(),
      callFrames({ stream: 1, path: LIST_PATH, message: serializeRequest('VirtualServices', 'ListVirtualServices', {}), metadata: [['authorization', `Bearer ${VIEWER_TOKEN}`]] })]));
    await caller.waitFor((f) => isEndOfStream(f, 1), 5000, 'the answer to ListVirtualServices');
    const idleSince = Date.now();
    for (const stream of [1, 3]) {
      const reset = await halfOpen.waitFor((f) => f.type === FRAME.RST_STREAM && f.stream === stream, 5000, `the reset of answered stream ${stream}`);
      assert.is(reset.payload.readUInt32BE(0), 0, 'RST_STREAM NO_ERROR');
      assert.ok(halfOpen.frames.some((f) => isEndOfStream(f, stream)), `stream ${stream} was answered first`);
    }
    const halfOpenSince = Date.now();
    await caller.waitFor((f) => f.type === FRAME.GOAWAY, 4 * idleMs, 'GOAWAY on the idle connection');
    const closedAt = async (c: typeof caller, what: string) => {
      const at = await Promise.race([c.closed, sleep(4 * idleMs).then(() => undefined)]);
      assert.ok(at !== undefined, `${what} is closed`);
      return at!;
    };
    const callerAfter = (await closedAt(caller, 'the idle connection')) - idleSince;
    assert.ok(callerAfter >= idleMs - 50 && callerAfter <= 2 * idleMs + 1000, `closed ${callerAfter} ms after its call ended (idle timeout ${idleMs} ms: between one and two periods)`);
    const muteAfter = (await closedAt(mute, 'the TLS-only peer')) - muteSince;
    assert.ok(muteAfter <= 2 * idleMs + 1000, `the TLS-only peer closed ${muteAfter} ms after connecting`);
    const halfOpenAfter = (await closedAt(halfOpen, 'the peer with answered calls left half-open')) - halfOpenSince;
    assert.ok(halfOpenAfter <= 2 * idleMs + 1000, `closed ${halfOpenAfter} ms after its calls were reset`);
  } catch (error) {
    throw withDaemonOutput(error, daemon);
  } finally {
    for (const c of connections) c.tls.destroy();
    await daemon.stop();
    await rm(lab.dir, { recursive: true, force: true });
  }
});

test('max_concurrent_streams: the daemon advertises the limit; a 5th open call on one connection is refused, the 4 others are served; exceeding an acknowledged limit costs the connection', async () => {
  const lab = await makeLab('pc-limits-');
  const { daemon, port } = await startSecured(lab, { limits: '{ max_concurrent_streams: 4 }' });
  const connection = await connectRaw({ port, ca: await readFile(lab.ca.cert) });
  try {
    const auth: [string, string][] = [['authorization', `Bearer ${VIEWER_TOKEN}`]];
    await connection.write(connectionStart());
    const settings = await connection.waitFor((f) => f.type === FRAME.SETTINGS && (f.flags & 1) === 0, 5000, 'the daemon\'s SETTINGS');
    const advertised = new Map<number, number>();
    for (let i = 0; i + 6 <= settings.payload.length; i += 6) advertised.set(settings.payload.readUInt16BE(i), settings.payload.readUInt32BE(i + 2));
    assert.is(advertised.get(SETTINGS_MAX_CONCURRENT_STREAMS), 4, 'SETTINGS_MAX_CONCURRENT_STREAMS');
    // Five calls whose request message never comes: each holds its stream open.
    const streams = [1, 3, 5, 7, 9];
    await connection.write(Buffer.concat(streams.map((stream) => callFrames({ stream, path: LIST_PATH, metadata: auth }))));
    const refused = await connection.waitFor((f) => (f.type === FRAME.RST_STREAM && f.stream === 9) || f.type === FRAME.GOAWAY, 5000, 'the refusal of the 5th stream');
    assert.is(refused.type, FRAME.RST_STREAM, `refused with RST_STREAM, got frame type ${refused.type}`);
    assert.is(refused.payload.readUInt32BE(0), ERROR_REFUSED_STREAM, 'REFUSED_STREAM');
    const others = (f: Frame) => f.stream !== 0 && f.stream !== 9;
    assert.equal(connection.frames.filter(others).map((f) => f.type), [], 'the 4 calls within the limit are still open');
    // Their messages now arrive: all 4 are answered.
    const request = serializeRequest('VirtualServices', 'ListVirtualServices', {});
    await connection.write(Buffer.concat([1, 3, 5, 7].map((stream) => messageFrame(stream, request))));
    for (const stream of [1, 3, 5, 7]) await connection.waitFor((f) => isEndOfStream(f, stream), 5000, `the answer on stream ${stream}`);

    // A peer that acknowledged the limit and still exceeds it commits a protocol error: its whole
    // connection is torn down, and the daemon carries on.
    const eager = await connectRaw({ port, ca: await readFile(lab.ca.cert) });
    try {
      await eager.write(connectionStart());
      await eager.waitFor((f) => f.type === FRAME.SETTINGS && (f.flags & 1) === 0, 5000, 'the daemon\'s SETTINGS');
      await eager.write(settingsAck());
      await eager.waitFor((f) => f.type === FRAME.SETTINGS && (f.flags & 1) === 1, 5000, 'the ACK of our SETTINGS');
      await sleep(100);
      await eager.write(Buffer.concat(streams.map((stream) => callFrames({ stream, path: LIST_PATH, metadata: auth }))));
      await Promise.race([eager.closed, sleep(5000)]);
      assert.ok(eager.tls.destroyed, 'the connection that exceeded an acknowledged limit was closed');
    } finally {
      eager.tls.destroy();
    }
    assert.is(await listOverTcp(lab, port), grpc.status.OK, 'the daemon still serves');
  } catch (error) {
    throw withDaemonOutput(error, daemon);
  } finally {
    connection.tls.destroy();
    await daemon.stop();
    await rm(lab.dir, { recursive: true, force: true });
  }
});

test.run();
