// The gRPC server: VirtualServices + Stats + grpc.health.v1 + reflection (so
// grpcurl works without the .proto). Unix socket always; TCP only when configured.
import { chmod, chown, mkdir, rm, stat } from 'node:fs/promises';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation } from 'grpc-health-check';
import type { Controller } from '../daemon/controller.js';
import type { Mitigations } from '../defense/mitigations.js';
import { defenseHandlers } from './defense.js';
import { traceHandlers, type TraceSource } from './trace.js';
import type { ApiClient, ApiTls, ApiToken } from '../config/types.js';
import { authInterceptor, loadTokens, type TcpCredentials } from './auth.js';
import { tlsServerCredentials } from './tls-credentials.js';
import { loadPortcullisProto } from './proto.js';
import { resolveGroupId } from './socket-group.js';
import type { StatsHub } from '../metrics/stats-hub.js';
import { statsHandlers, type DaemonInfo } from './stats.js';
import { virtualServicesHandlers } from './virtual-services.js';

export interface ApiServerOptions {
  socket: string;
  /** Optional "host:port" for TCP: TLS only, every call with a bearer token or a client certificate (src/api/auth.ts). */
  listen?: string;
  /** Required with listen. */
  tcpSecurity?: { tls: ApiTls; tokens: ApiToken[]; clients?: ApiClient[] };
  /** Group (name or gid) that owns the socket; absent = the daemon's group. */
  socketGroup?: string;
  controller: Controller;
  /** Counters, rates and connection listing of the running data plane. */
  stats: StatsHub;
  info: DaemonInfo;
  /** Flood-defence mitigations (portcullis.v1.Defense). */
  mitigations?: Mitigations;
  /** Opt-in packet trace of the running data plane (portcullis.v1.Trace). */
  trace?: TraceSource;
}

export interface ApiServer {
  /** Addresses actually bound ("unix:/run/…", "127.0.0.1:50051"). */
  addresses: string[];
  health: HealthImplementation;
  close(): Promise<void>;
}

const SERVICE_NAMES = ['portcullis.v1.VirtualServices', 'portcullis.v1.Stats', 'portcullis.v1.Defense', 'portcullis.v1.Trace'];

function bind(server: grpc.Server, address: string, credentials = grpc.ServerCredentials.createInsecure()): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(address, credentials, (error, port) => (error ? reject(error) : resolve(port)));
  });
}

/** True when something accepts connections on the socket (another daemon). */
function socketInUse(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = connect(path);
    probe.once('connect', () => { probe.destroy(); resolve(true); });
    probe.once('error', () => resolve(false));
  });
}

/** Removes a stale socket file left by a crashed daemon; refuses to steal a live one. */
async function prepareSocket(path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o750 });
  const existing = await stat(path).catch(() => undefined);
  if (!existing) return;
  if (!existing.isSocket()) throw new Error(`${path} exists and is not a socket; refusing to replace it`);
  if (await socketInUse(path)) throw new Error(`${path} is in use by another process (is a daemon already running?)`);
  await rm(path, { force: true });
}

export async function startApiServer(options: ApiServerOptions): Promise<ApiServer> {
  const { definition, grpcObject } = loadPortcullisProto();
  if (options.listen && !options.tcpSecurity) throw new Error('api.listen: TCP needs api.tls and api.tokens or api.clients (never plaintext)');
  const credentials: TcpCredentials | undefined = options.tcpSecurity
    ? { tokens: await loadTokens(options.tcpSecurity.tokens), clients: options.tcpSecurity.clients ?? [] }
    : undefined;
  // Always intercepted: the interceptor also owns the caller metadata the Defense audit reads.
  const server = new grpc.Server({ interceptors: [authInterceptor(credentials)] });
  server.addService(grpcObject.portcullis.v1.VirtualServices.service, virtualServicesHandlers(options.controller));
  server.addService(grpcObject.portcullis.v1.Stats.service, statsHandlers(options.controller, options.stats, options.info));
  if (options.mitigations) server.addService(grpcObject.portcullis.v1.Defense.service, defenseHandlers(options.mitigations));
  if (options.trace) server.addService(grpcObject.portcullis.v1.Trace.service, traceHandlers(options.controller, options.trace));

  const health = new HealthImplementation({ '': 'SERVING', ...Object.fromEntries(SERVICE_NAMES.map((n) => [n, 'SERVING' as const])) });
  health.addToServer(server);
  new ReflectionService(definition).addToServer(server);

  await prepareSocket(options.socket);
  const addresses: string[] = [];
  try {
    const unixAddress = `unix:${options.socket}`;
    await bind(server, unixAddress);
    addresses.push(unixAddress);
    await chmod(options.socket, 0o660);
    if (options.socketGroup !== undefined) await chown(options.socket, -1, await resolveGroupId(options.socketGroup));
    if (options.listen && options.tcpSecurity) {
      const port = await bind(server, options.listen, await tlsServerCredentials(options.tcpSecurity.tls));
      addresses.push(options.listen.replace(/:\d+$/, `:${port}`));
    }
  } catch (error) {
    server.forceShutdown();
    await rm(options.socket, { force: true });
    throw error;
  }

  let closed = false;
  return {
    addresses,
    health,
    async close() {
      if (closed) return;
      closed = true;
      for (const name of ['', ...SERVICE_NAMES]) health.setStatus(name, 'NOT_SERVING');
      await new Promise<void>((resolve) => {
        // Give in-flight calls a moment, then cut them off: shutdown must not hang.
        const timer = setTimeout(() => { server.forceShutdown(); resolve(); }, 2000);
        server.tryShutdown(() => { clearTimeout(timer); resolve(); });
      });
      await rm(options.socket, { force: true });
    },
  };
}
