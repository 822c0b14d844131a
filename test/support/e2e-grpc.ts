// A gRPC client for the daemon's public API, loaded at run time from the
// proto file with the options the brief fixes (camelCase fields, longs and
// enums as strings, defaults, oneofs) — what any user's client would see.

import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { fileURLToPath } from 'node:url';

const PROTO_ROOT = fileURLToPath(new URL('../../proto', import.meta.url));
const DEFAULT_DEADLINE_MS = 5_000;

// Messages are plain objects whose shape is the proto's; the generated types
// live with the control engineer's code, so tests keep to loose records.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Message = Record<string, any>;

export interface PortcullisClient {
  /** Calls `<service>.<method>` with a deadline; rejects with the gRPC error (code, details). */
  call(service: 'VirtualServices' | 'Stats' | 'Defense', method: string, request: Message, deadlineMs?: number): Promise<Message>;
  close(): void;
}

export function connectPortcullis(socketPath: string): PortcullisClient {
  const definition = protoLoader.loadSync(['portcullis/v1/portcullis.proto', 'portcullis/v1/defense.proto'], {
    includeDirs: [PROTO_ROOT], keepCase: false, longs: String, enums: String, defaults: true, oneofs: true,
  });
  const loaded = grpc.loadPackageDefinition(definition) as unknown as {
    portcullis: { v1: Record<string, grpc.ServiceClientConstructor> };
  };
  const address = `unix:${socketPath}`;
  const credentials = grpc.credentials.createInsecure();
  const clients = {
    VirtualServices: new loaded.portcullis.v1.VirtualServices!(address, credentials),
    Stats: new loaded.portcullis.v1.Stats!(address, credentials),
    Defense: new loaded.portcullis.v1.Defense!(address, credentials),
  };
  return {
    call(service, method, request, deadlineMs = DEFAULT_DEADLINE_MS) {
      const client = clients[service];
      // grpc-js client methods are attached dynamically from the proto.
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      const fn = (client as any)[method] as Function | undefined;
      if (typeof fn !== 'function') return Promise.reject(new Error(`no method ${service}.${method}`));
      return new Promise((resolve, reject) => {
        fn.call(client, request, { deadline: Date.now() + deadlineMs }, (error: grpc.ServiceError | null, reply: Message) => {
          if (error) reject(error);
          else resolve(reply);
        });
      });
    },
    close() {
      clients.VirtualServices.close();
      clients.Stats.close();
      clients.Defense.close();
    },
  };
}
