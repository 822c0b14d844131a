// Typed gRPC clients for a daemon at a unix socket path, or at an Endpoint (TCP + TLS + token,
// see endpoint.ts).
import * as grpc from '@grpc/grpc-js';
import { DEFAULT_SOCKET, grpcTarget, type Endpoint } from './endpoint.js';
import { loadPortcullisProto } from '../api/proto.js';
import type { StatsClient } from '../api/generated/portcullis/v1/Stats.js';
import type { VirtualServicesClient } from '../api/generated/portcullis/v1/VirtualServices.js';
import type { RoutesClient } from '../api/generated/portcullis/v1/Routes.js';
import type { AddRouteRequest } from '../api/generated/portcullis/v1/AddRouteRequest.js';
import type { DeleteRouteRequest } from '../api/generated/portcullis/v1/DeleteRouteRequest.js';
import type { DeleteRouteResponse__Output } from '../api/generated/portcullis/v1/DeleteRouteResponse.js';
import type { ListRoutesRequest } from '../api/generated/portcullis/v1/ListRoutesRequest.js';
import type { ListRoutesResponse__Output } from '../api/generated/portcullis/v1/ListRoutesResponse.js';
import type { Route__Output } from '../api/generated/portcullis/v1/Route.js';
import type { AddRealServerRequest } from '../api/generated/portcullis/v1/AddRealServerRequest.js';
import type { CreateVirtualServiceRequest } from '../api/generated/portcullis/v1/CreateVirtualServiceRequest.js';
import type { DeleteVirtualServiceRequest } from '../api/generated/portcullis/v1/DeleteVirtualServiceRequest.js';
import type { DeleteVirtualServiceResponse__Output } from '../api/generated/portcullis/v1/DeleteVirtualServiceResponse.js';
import type { GetStatsRequest } from '../api/generated/portcullis/v1/GetStatsRequest.js';
import type { GetStatsResponse__Output } from '../api/generated/portcullis/v1/GetStatsResponse.js';
import type { GetStatusRequest } from '../api/generated/portcullis/v1/GetStatusRequest.js';
import type { GetStatusResponse__Output } from '../api/generated/portcullis/v1/GetStatusResponse.js';
import type { GetVirtualServiceRequest } from '../api/generated/portcullis/v1/GetVirtualServiceRequest.js';
import type { ListVirtualServicesRequest } from '../api/generated/portcullis/v1/ListVirtualServicesRequest.js';
import type { ListVirtualServicesResponse__Output } from '../api/generated/portcullis/v1/ListVirtualServicesResponse.js';
import type { RemoveRealServerRequest } from '../api/generated/portcullis/v1/RemoveRealServerRequest.js';
import type { UpdateRealServerRequest } from '../api/generated/portcullis/v1/UpdateRealServerRequest.js';
import type { UpdateVirtualServiceRequest } from '../api/generated/portcullis/v1/UpdateVirtualServiceRequest.js';
import type { VirtualService__Output } from '../api/generated/portcullis/v1/VirtualService.js';
import type { ListConnectionsRequest } from '../api/generated/portcullis/v1/ListConnectionsRequest.js';
import type { ListConnectionsResponse__Output } from '../api/generated/portcullis/v1/ListConnectionsResponse.js';
import type { ZeroStatsRequest } from '../api/generated/portcullis/v1/ZeroStatsRequest.js';
import type { ZeroStatsResponse__Output } from '../api/generated/portcullis/v1/ZeroStatsResponse.js';
import type { ApplyStateRequest } from '../api/generated/portcullis/v1/ApplyStateRequest.js';
import type { ApplyStateResponse__Output } from '../api/generated/portcullis/v1/ApplyStateResponse.js';
import type { ConfigClient } from '../api/generated/portcullis/v1/Config.js';

export { DEFAULT_SOCKET, grpcTarget };

export interface PortcullisClients {
  target: string;
  virtualServices: VirtualServicesClient;
  routes: RoutesClient;
  stats: StatsClient;
  /** portcullis.v1.Config: ApplyState, WatchConfig. */
  config: ConfigClient;
  close(): void;
}

/** A socket path (or "unix:…") means the unix socket without credentials. */
export function toEndpoint(address: string | Endpoint): Endpoint {
  return typeof address === 'string' ? { target: grpcTarget(address), credentials: grpc.credentials.createInsecure(), options: {} } : address;
}

export function createClients(address: string | Endpoint = DEFAULT_SOCKET): PortcullisClients {
  const { grpcObject } = loadPortcullisProto();
  const { target, credentials, options } = toEndpoint(address);
  const v1 = grpcObject.portcullis.v1;
  const virtualServices = new v1.VirtualServices(target, credentials, options);
  const routes = new v1.Routes(target, credentials, options);
  const stats = new v1.Stats(target, credentials, options);
  const config = new v1.Config(target, credentials, options);
  return {
    target,
    virtualServices,
    routes,
    stats,
    config,
    close() {
      virtualServices.close();
      routes.close();
      stats.close();
      config.close();
    },
  };
}

/** Promise form of one unary RPC, with a deadline (default 5 s). Rejects with the grpc ServiceError. */
export type Rpc<Req, Res> = (request: Req, timeoutMs?: number) => Promise<Res>;

export function rpc<Req, Res>(client: grpc.Client, method: string): Rpc<Req, Res> {
  return (request, timeoutMs = 5000) => new Promise<Res>((resolve, reject) => {
    // Generated clients expose every method by name; the indexed call is typed by the Rpc signature above.
    const invoke = (client as unknown as Record<string, (r: Req, o: grpc.CallOptions, cb: grpc.requestCallback<Res>) => grpc.ClientUnaryCall>)[method]!;
    invoke.call(client, request, { deadline: Date.now() + timeoutMs }, (error, response) => {
      if (error) reject(error);
      else resolve(response as Res);
    });
  });
}

/** Every RPC of the API as a promise-returning function. */
export interface PortcullisApi {
  createVirtualService: Rpc<CreateVirtualServiceRequest, VirtualService__Output>;
  getVirtualService: Rpc<GetVirtualServiceRequest, VirtualService__Output>;
  listVirtualServices: Rpc<ListVirtualServicesRequest, ListVirtualServicesResponse__Output>;
  updateVirtualService: Rpc<UpdateVirtualServiceRequest, VirtualService__Output>;
  deleteVirtualService: Rpc<DeleteVirtualServiceRequest, DeleteVirtualServiceResponse__Output>;
  addRealServer: Rpc<AddRealServerRequest, VirtualService__Output>;
  updateRealServer: Rpc<UpdateRealServerRequest, VirtualService__Output>;
  removeRealServer: Rpc<RemoveRealServerRequest, VirtualService__Output>;
  listRoutes: Rpc<ListRoutesRequest, ListRoutesResponse__Output>;
  addRoute: Rpc<AddRouteRequest, Route__Output>;
  deleteRoute: Rpc<DeleteRouteRequest, DeleteRouteResponse__Output>;
  getStats: Rpc<GetStatsRequest, GetStatsResponse__Output>;
  getStatus: Rpc<GetStatusRequest, GetStatusResponse__Output>;
  listConnections: Rpc<ListConnectionsRequest, ListConnectionsResponse__Output>;
  zeroStats: Rpc<ZeroStatsRequest, ZeroStatsResponse__Output>;
  applyState: Rpc<ApplyStateRequest, ApplyStateResponse__Output>;
}

export function promiseApi(clients: PortcullisClients): PortcullisApi {
  const vs = clients.virtualServices;
  const st = clients.stats;
  return {
    createVirtualService: rpc(vs, 'createVirtualService'),
    getVirtualService: rpc(vs, 'getVirtualService'),
    listVirtualServices: rpc(vs, 'listVirtualServices'),
    updateVirtualService: rpc(vs, 'updateVirtualService'),
    deleteVirtualService: rpc(vs, 'deleteVirtualService'),
    addRealServer: rpc(vs, 'addRealServer'),
    updateRealServer: rpc(vs, 'updateRealServer'),
    removeRealServer: rpc(vs, 'removeRealServer'),
    listRoutes: rpc(clients.routes, 'listRoutes'),
    addRoute: rpc(clients.routes, 'addRoute'),
    deleteRoute: rpc(clients.routes, 'deleteRoute'),
    getStats: rpc(st, 'getStats'),
    getStatus: rpc(st, 'getStatus'),
    listConnections: rpc(st, 'listConnections'),
    zeroStats: rpc(st, 'zeroStats'),
    applyState: rpc(clients.config, 'applyState'),
  };
}

/** Clients plus the promise API in one object: `const c = connect(sock); await c.api.getStats({}); c.close()`. */
export function connect(address: string | Endpoint = DEFAULT_SOCKET): PortcullisClients & { api: PortcullisApi } {
  const clients = createClients(address);
  return { ...clients, api: promiseApi(clients) };
}
