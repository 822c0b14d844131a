// The gRPC API: VirtualServices + Routes + Config + Cluster + Stats + Defense + Trace + Capture + Takeover + grpc.health.v1 + reflection (so
// grpcurl works without the .proto). Two grpc.Server instances serve the same handlers: one on the
// unix socket (always), one on TCP (only when configured). Each has its own interceptor, so a
// call's transport is known by which server received it — never inferred from its peer address
// (src/api/auth.ts) — and the TCP one carries the listener's limits (src/api/tcp-listener.ts).
import { rm } from 'node:fs/promises';
import * as grpc from '@grpc/grpc-js';
import type { PackageDefinition } from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation } from 'grpc-health-check';
import type { Controller } from '../daemon/controller.js';
import type { Mitigations } from '../defense/mitigations.js';
import { DEFAULT_API_LIMITS, type ApiClient, type ApiLimits, type ApiTls, type ApiToken } from '../config/types.js';
import type { StatsHub } from '../metrics/stats-hub.js';
import { loadTokens, tcpInterceptor, unixSocketInterceptor, type TcpCredentials } from './auth.js';
import { defenseHandlers } from './defense.js';
import { startHealthReporter, type ForwardingInputs, type HealthReporter } from './health-status.js';
import { loadPortcullisProto } from './proto.js';
import { statsHandlers, type DaemonInfo } from './stats.js';
import { listenTcp, tcpServerOptions, type TcpListener } from './tcp-listener.js';
import { tlsServerCredentials } from './tls-credentials.js';
import { traceHandlers, type TraceSource } from './trace.js';
import { captureHandlers, type CaptureSource } from './capture.js';
import { bindUnixSocket } from './unix-socket.js';
import { routesHandlers } from './routes.js';
import { clusterHandlers } from './cluster.js';
import { configHandlers } from './config.js';
import type { ClusterNode } from '../cluster/node.js';
import { virtualServicesHandlers } from './virtual-services.js';
import { takeoverHandlers, type HandOverHost } from './takeover.js';

export interface TcpSecurity { tls: ApiTls; tokens: ApiToken[]; clients?: ApiClient[] }

/** The TCP listener's settings with every file it trusts already read and checked. */
export interface PreparedTcp {
  listen: string;
  credentials: TcpCredentials;
  tls: grpc.ServerCredentials;
  limits: ApiLimits;
}

/**
 * Reads the token files, the TLS key and the client CA (refusing exposed ones, naming the field)
 * so that a daemon can do it before it starts anything. undefined when there is no TCP listener.
 */
export async function prepareTcp(listen: string | undefined, security: TcpSecurity | undefined,
  limits: ApiLimits = DEFAULT_API_LIMITS): Promise<PreparedTcp | undefined> {
  if (!listen) return undefined;
  if (!security) throw new Error('api.listen: TCP needs api.tls and api.tokens or api.clients (never plaintext)');
  return {
    listen,
    credentials: { tokens: await loadTokens(security.tokens), clients: security.clients ?? [] },
    tls: await tlsServerCredentials(security.tls, limits.handshakeTimeoutMs),
    limits,
  };
}

export interface ApiServerOptions {
  socket: string;
  /** Optional "host:port" for TCP: TLS only, every call with a bearer token or a client certificate (src/api/auth.ts). */
  listen?: string;
  /** Required with listen. */
  tcpSecurity?: TcpSecurity;
  /** Bounds of the TCP listener; default DEFAULT_API_LIMITS. */
  limits?: ApiLimits;
  /** Instead of listen/tcpSecurity/limits: what prepareTcp returned. */
  preparedTcp?: PreparedTcp;
  /** Group (name or gid) that owns the socket; absent = the daemon's group. */
  socketGroup?: string;
  controller: Controller;
  /** Counters, rates and connection listing of the running data plane. */
  stats: StatsHub;
  info: DaemonInfo;
  /** What grpc.health.v1 reports: SERVING only while these say the data plane forwards. */
  forwarding: () => ForwardingInputs;
  /** Flood-defence mitigations (portcullis.v1.Defense). */
  mitigations?: Mitigations;
  /** Opt-in packet trace of the running data plane (portcullis.v1.Trace). */
  trace?: TraceSource;
  /** Opt-in packet capture of the running data plane (portcullis.v1.Capture). */
  capture?: CaptureSource;
  /** This node's cluster membership; absent = standalone (portcullis.v1.Cluster answers FAILED_PRECONDITION). */
  cluster?: ClusterNode;
  /** The old daemon's side of `portcullis run --takeover`; absent = HandOver answers FAILED_PRECONDITION. */
  takeover?: HandOverHost;
}

export interface ApiServer {
  /** Addresses actually bound ("unix:/run/…", "127.0.0.1:50051"). */
  addresses: string[];
  health: HealthImplementation;
  /** Re-evaluates the health status now. */
  healthReporter: HealthReporter;
  close(): Promise<void>;
}

const SERVICE_NAMES = ['portcullis.v1.VirtualServices', 'portcullis.v1.Config', 'portcullis.v1.Stats', 'portcullis.v1.Defense', 'portcullis.v1.Trace', 'portcullis.v1.Capture', 'portcullis.v1.Routes', 'portcullis.v1.Cluster', 'portcullis.v1.Takeover'];
const SHUTDOWN_GRACE_MS = 2000;

/** Every service on one server; both servers get the same handlers and the same health state. */
function addServices(server: grpc.Server, options: ApiServerOptions, health: HealthImplementation, definition: PackageDefinition): void {
  const { grpcObject } = loadPortcullisProto();
  server.addService(grpcObject.portcullis.v1.VirtualServices.service, virtualServicesHandlers(options.controller));
  server.addService(grpcObject.portcullis.v1.Routes.service, routesHandlers(options.controller));
  server.addService(grpcObject.portcullis.v1.Config.service, configHandlers(options.controller));
  server.addService(grpcObject.portcullis.v1.Cluster.service, clusterHandlers(options.cluster));
  server.addService(grpcObject.portcullis.v1.Stats.service, statsHandlers(options.controller, options.stats, options.info));
  if (options.mitigations) server.addService(grpcObject.portcullis.v1.Defense.service, defenseHandlers(options.mitigations));
  if (options.trace) server.addService(grpcObject.portcullis.v1.Trace.service, traceHandlers(options.controller, options.trace));
  if (options.capture) server.addService(grpcObject.portcullis.v1.Capture.service, captureHandlers(options.controller, options.capture));
  server.addService(grpcObject.portcullis.v1.Takeover.service, takeoverHandlers(options.takeover));
  health.addToServer(server);
  new ReflectionService(definition).addToServer(server);
}

/** Lets in-flight calls finish for a moment, then cuts them off: shutdown must not hang. */
function shutdown(server: grpc.Server): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => { server.forceShutdown(); resolve(); }, SHUTDOWN_GRACE_MS);
    server.tryShutdown(() => { clearTimeout(timer); resolve(); });
  });
}

export async function startApiServer(options: ApiServerOptions): Promise<ApiServer> {
  const { definition } = loadPortcullisProto();
  // Every file the TCP side trusts is read (and its mode checked) before anything listens.
  const tcp = options.preparedTcp ?? await prepareTcp(options.listen, options.tcpSecurity, options.limits);

  const health = new HealthImplementation(Object.fromEntries(['', ...SERVICE_NAMES].map((n) => [n, 'NOT_SERVING' as const])));
  const unixServer = new grpc.Server({ interceptors: [unixSocketInterceptor()] });
  addServices(unixServer, options, health, definition);
  const tcpServer = tcp ? new grpc.Server({ interceptors: [tcpInterceptor(tcp.credentials)], ...tcpServerOptions(tcp.limits) }) : undefined;
  if (tcpServer) addServices(tcpServer, options, health, definition);

  const addresses: string[] = [];
  let socketPlaced = false;
  let listener: TcpListener | undefined;
  try {
    await bindUnixSocket(unixServer, options.socket, grpc.ServerCredentials.createInsecure(), options.socketGroup);
    socketPlaced = true;
    addresses.push(`unix:${options.socket}`);
    if (tcp && tcpServer) {
      listener = await listenTcp(tcpServer, tcp.tls, tcp.listen, tcp.limits);
      addresses.push(listener.address);
    }
  } catch (error) {
    unixServer.forceShutdown();
    tcpServer?.forceShutdown();
    listener?.destroy();
    if (socketPlaced) await rm(options.socket, { force: true });
    throw error;
  }
  const healthReporter = startHealthReporter(health, SERVICE_NAMES, options.forwarding);

  let closed = false;
  return {
    addresses,
    health,
    healthReporter,
    async close() {
      if (closed) return;
      closed = true;
      healthReporter.stop();
      listener?.stopAccepting();
      await Promise.all([shutdown(unixServer), ...(tcpServer ? [shutdown(tcpServer)] : [])]);
      listener?.destroy();
      await rm(options.socket, { force: true });
    },
  };
}
