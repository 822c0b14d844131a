// The gRPC server: VirtualServices + Stats + grpc.health.v1 + reflection (so
// grpcurl works without the .proto). Unix socket always; TCP only when configured.
import { chmod, mkdir, rm, stat } from 'node:fs/promises';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation } from 'grpc-health-check';
import type { Controller } from '../daemon/controller.js';
import { loadPortcullisProto } from './proto.js';
import { statsHandlers, type DaemonInfo, type StatsSource } from './stats.js';
import { virtualServicesHandlers } from './virtual-services.js';

export interface ApiServerOptions {
  socket: string;
  /** Optional "host:port" for plaintext TCP. */
  listen?: string;
  controller: Controller;
  dataplane: StatsSource;
  info: DaemonInfo;
}

export interface ApiServer {
  /** Addresses actually bound ("unix:/run/…", "127.0.0.1:50051"). */
  addresses: string[];
  health: HealthImplementation;
  close(): Promise<void>;
}

const SERVICE_NAMES = ['portcullis.v1.VirtualServices', 'portcullis.v1.Stats'];

function bind(server: grpc.Server, address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (error, port) => (error ? reject(error) : resolve(port)));
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
  const server = new grpc.Server();
  server.addService(grpcObject.portcullis.v1.VirtualServices.service, virtualServicesHandlers(options.controller));
  server.addService(grpcObject.portcullis.v1.Stats.service, statsHandlers(options.controller, options.dataplane, options.info));

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
    if (options.listen) {
      const port = await bind(server, options.listen);
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
