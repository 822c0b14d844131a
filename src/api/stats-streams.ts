// The observability RPCs of portcullis.v1.Stats beyond GetStats: WatchStats (server
// stream), ListConnections (paged live connection table) and ZeroStats (ipvsadm -Z).
import type * as grpc from '@grpc/grpc-js';
import { addonErrorToModel, type Controller } from '../daemon/controller.js';
import type { StatsHub, StatsSource } from '../metrics/stats-hub.js';
import { findService, invalid } from '../model/index.js';
import { keyFromProto } from './convert.js';
import type { GetStatsResponse } from './generated/portcullis/v1/GetStatsResponse.js';
import type { ListConnectionsRequest__Output } from './generated/portcullis/v1/ListConnectionsRequest.js';
import type { ListConnectionsResponse } from './generated/portcullis/v1/ListConnectionsResponse.js';
import type { WatchStatsRequest__Output } from './generated/portcullis/v1/WatchStatsRequest.js';
import type { ZeroStatsRequest__Output } from './generated/portcullis/v1/ZeroStatsRequest.js';
import { toServiceError } from './status.js';

export const WATCH_DEFAULT_INTERVAL_MS = 1000;
export const WATCH_MIN_INTERVAL_MS = 100;
export const LIST_DEFAULT_LIMIT = 4096;
export const LIST_MAX_LIMIT = 65536;

/** Sends a stats message now and every interval until the client cancels or the server shuts down. */
export function watchStats(
  build: () => GetStatsResponse,
): grpc.handleServerStreamingCall<WatchStatsRequest__Output, GetStatsResponse> {
  return (call) => {
    const requested = call.request.intervalMs;
    // A server stream ends with a status by emitting 'error' with {code, details}.
    const fail = (error: unknown) => call.emit('error', toServiceError(error));
    if (requested !== 0 && requested < WATCH_MIN_INTERVAL_MS) {
      fail(invalid('interval_ms', `0 (default ${WATCH_DEFAULT_INTERVAL_MS}) or at least ${WATCH_MIN_INTERVAL_MS}`, requested));
      return;
    }
    const interval = requested || WATCH_DEFAULT_INTERVAL_MS;
    let timer: NodeJS.Timeout | undefined;
    const stop = () => { if (timer) clearInterval(timer); timer = undefined; };
    const send = () => {
      try {
        call.write(build());
      } catch (error) {
        stop();
        fail(error);
      }
    };
    call.on('cancelled', stop);
    call.on('close', stop);
    send();
    timer = setInterval(send, interval);
  };
}

export function connectionsPage(source: StatsSource, request: ListConnectionsRequest__Output): ListConnectionsResponse {
  const limit = request.limit || LIST_DEFAULT_LIMIT;
  if (limit > LIST_MAX_LIMIT) throw invalid('limit', `0 (default ${LIST_DEFAULT_LIMIT}) or 1..${LIST_MAX_LIMIT}`, limit);
  let connections;
  try {
    connections = source.connections(request.cursor, limit);
  } catch (error) {
    throw addonErrorToModel(error);  // e.g. ESTATE: a worker did not answer in time
  }
  return {
    connections: connections.map((c) => ({
      protocol: c.protocol === 'tcp' ? 'TCP' : 'UDP',
      client: c.client, clientPort: c.clientPort,
      virtual: c.virtual, virtualPort: c.virtualPort,
      local: c.local, localPort: c.localPort,
      server: c.server, serverPort: c.serverPort,
      state: c.state,
      expiresInMs: c.expiresInMs,
    })),
    // A full page may have more behind it; a short page is the last.
    nextCursor: connections.length === limit ? request.cursor + connections.length : 0,
  };
}

export function zeroStats(controller: Controller, hub: StatsHub, request: ZeroStatsRequest__Output): Record<string, never> {
  const services = request.key
    ? [findService(controller.state, keyFromProto(request.key, 'key'), 'key')]
    : controller.state.services;
  hub.zero(services.map((s) => s.id), services.flatMap((s) => s.servers.map((r) => r.id)));
  return {};
}
