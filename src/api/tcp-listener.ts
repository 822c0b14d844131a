// The TCP listener of the control API, bounded so that peers who never authenticate cannot
// exhaust the daemon's descriptors or memory (issue 14 item 4). grpc-js 1.14 enforces some
// bounds itself and not others, so this module owns the listening socket and hands each
// accepted connection to grpc-js through its public connection injector
// (Server.createConnectionInjector), where TLS, HTTP/2 and the interceptors happen as usual
// (client certificates included):
// - max_connections: net.Server.maxConnections. grpc-js never exposes the net.Server it listens
//   with, hence the injector. A connection over the limit is closed as soon as it is accepted,
//   handshaking ones count, and the unix socket (a separate server) is not affected.
// - handshake_timeout_ms: Node's TLS handshakeTimeout, passed through the credentials
//   (src/api/tls-credentials.ts); measured from accept, not refreshed by trickled bytes.
// - idle_timeout_ms: grpc-js's grpc.max_connection_idle_ms (GOAWAY, then close, once a
//   connection has had no open call that long; checked once per period, so it happens between
//   one and two periods after the last call ended). Streams answered while the peer keeps its side
//   open are reset a second later (closeWhenAnswered), or such a peer would never be idle.
// - max_concurrent_streams: grpc-js's grpc.max_concurrent_streams (HTTP/2 SETTINGS; a stream
//   over it is refused by nghttp2).
import { constants, type Http2SecureServer, type ServerHttp2Stream } from 'node:http2';
import { createServer, type Server as NetServer, type Socket } from 'node:net';
import type * as grpc from '@grpc/grpc-js';
import type { ApiLimits } from '../config/types.js';
import { log } from '../log.js';

/** A full listener logs at most this often (each refused peer would otherwise be a log line). */
const DROP_LOG_INTERVAL_MS = 10_000;

export interface TcpListener {
  /** "127.0.0.1:50051" with the port actually bound. */
  address: string;
  /** Connections refused because max_connections were open. */
  readonly refused: number;
  /** Stops accepting new connections; open ones carry on. */
  stopAccepting(): void;
  /** Destroys every connection still open (handshaking ones included) and stops accepting. */
  destroy(): void;
}

/**
 * grpc-js answers some calls before the peer has finished sending them — every call the
 * interceptor refuses, unknown methods (UNIMPLEMENTED), a wrong content-type — and then leaves the
 * stream half-open, waiting for the peer's END_STREAM. Such a stream counts as an open call, so a
 * peer that never ends it keeps its connection from ever being idle (and holds a slot of
 * max_concurrent_streams). A stream still open HALF_OPEN_GRACE_MS after our side finished is reset
 * with NO_ERROR, which RFC 9113 §8.1 provides for exactly this ("a server can send a complete
 * response prior to the client sending an entire request"). The grace (instead of resetting at
 * 'finish') lets a well-behaved peer's END_STREAM or a reset of the whole connection close the
 * stream the ordinary way: closing it from inside 'finish' left Node unable to release the
 * connection when the peer then reset it (a descriptor leaked per such connection).
 */
const HALF_OPEN_GRACE_MS = 1000;

function closeWhenAnswered(stream: ServerHttp2Stream): void {
  stream.once('finish', () => {
    const timer = setTimeout(() => {
      if (!stream.closed && !stream.destroyed && stream.session && !stream.session.destroyed) stream.close(constants.NGHTTP2_NO_ERROR);
    }, HALF_OPEN_GRACE_MS);
    timer.unref();
    stream.once('close', () => clearTimeout(timer));
  });
}

/**
 * The HTTP/2 servers grpc-js created for `server`. grpc-js 1.14 exposes neither them nor a per-stream
 * hook, so this reads its private map (the version is pinned in package.json; listenTcp refuses to
 * start when the map is not there, and test/api/tcp-limits.test.ts covers the behaviour).
 */
function http2ServersOf(server: grpc.Server): Map<Http2SecureServer, unknown> {
  const map = (server as unknown as { http2Servers?: unknown }).http2Servers;
  if (!(map instanceof Map)) throw new Error('api.listen: grpc-js has no http2Servers map any more; its internals changed');
  return map as Map<Http2SecureServer, unknown>;
}

/** "host:port" or "[v6]:port" → host and port. */
export function splitListen(listen: string): { host: string; port: number } {
  const match = /^\[([0-9a-fA-F:]+)\]:(\d{1,5})$/.exec(listen) ?? /^([^:]+):(\d{1,5})$/.exec(listen);
  if (!match) throw new Error(`api.listen: expected "host:port" like "127.0.0.1:50051", got ${JSON.stringify(listen)}`);
  return { host: match[1]!, port: Number(match[2]) };
}

/** The grpc.Server options that carry the limits grpc-js enforces itself. */
export function tcpServerOptions(limits: ApiLimits): grpc.ServerOptions {
  return {
    'grpc.max_concurrent_streams': limits.maxConcurrentStreams,
    'grpc.max_connection_idle_ms': limits.idleTimeoutMs,
  };
}

export async function listenTcp(server: grpc.Server, credentials: grpc.ServerCredentials, listen: string, limits: ApiLimits): Promise<TcpListener> {
  const { host, port } = splitListen(listen);
  const before = new Set(http2ServersOf(server).keys());
  const injector = server.createConnectionInjector(credentials);
  const created = [...http2ServersOf(server).keys()].filter((h) => !before.has(h));
  if (created.length !== 1) throw new Error(`api.listen: grpc-js did not create exactly one HTTP/2 server for the listener (${created.length}); its internals changed`);
  created[0]!.on('stream', closeWhenAnswered);
  const open = new Set<Socket>();
  let refused = 0;
  let refusedLogged = 0;
  let lastLog = 0;
  let address = listen;
  const net: NetServer = createServer({ noDelay: true }, (socket) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
    // Errors surface on the TLS socket grpc-js wraps around this one; never let one go unhandled.
    socket.on('error', () => undefined);
    injector.injectConnection(socket);
  });
  net.maxConnections = limits.maxConnections;
  net.on('drop', () => {
    refused++;
    const now = Date.now();
    if (now - lastLog < DROP_LOG_INTERVAL_MS) return;
    lastLog = now;
    log.warn(`api.limits.max_connections (${limits.maxConnections}) reached on ${address}: ${refused - refusedLogged} connection(s) refused since the last note`);
    refusedLogged = refused;
  });
  await new Promise<void>((resolve, reject) => {
    const failed = (error: Error) => reject(new Error(`api.listen: cannot listen on ${listen} (${error.message})`));
    net.once('error', failed);
    // A host name is resolved once (dns.lookup): the first address it gives is the one listened on.
    net.listen({ host, port }, () => { net.off('error', failed); resolve(); });
  });
  net.on('error', (error) => log.error(`api.listen ${address}: ${error.message}`));
  const bound = net.address();
  // As configured, with the port actually bound (api.listen may say :0).
  if (bound && typeof bound === 'object') address = listen.replace(/:\d+$/, `:${bound.port}`);
  return {
    address,
    get refused() { return refused; },
    stopAccepting() {
      if (net.listening) net.close();
    },
    destroy() {
      if (net.listening) net.close();
      injector.destroy();
      for (const socket of open) socket.destroy();
    },
  };
}
