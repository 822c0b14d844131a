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
//   one and two periods after the last call ended).
// - max_concurrent_streams: grpc-js's grpc.max_concurrent_streams (HTTP/2 SETTINGS; a stream
//   over it is refused by nghttp2).
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
  const injector = server.createConnectionInjector(credentials);
  const open = new Set<Socket>();
  let refused = 0;
  let refusedLogged = 0;
  let lastLog = 0;
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
    log.warn(`api.limits.max_connections (${limits.maxConnections}) reached on ${listen}: ${refused - refusedLogged} connection(s) refused since the last note`);
    refusedLogged = refused;
  });
  await new Promise<void>((resolve, reject) => {
    net.once('error', reject);
    net.listen({ host, port }, () => { net.off('error', reject); resolve(); });
  });
  net.on('error', (error) => log.error(`api.listen ${listen}: ${error.message}`));
  const bound = net.address();
  // As configured, with the port actually bound (api.listen may say :0).
  const address = bound && typeof bound === 'object' ? listen.replace(/:\d+$/, `:${bound.port}`) : listen;
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
