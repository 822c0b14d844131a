// The observability RPCs of portcullis.v1.Stats beyond GetStats: WatchStats (server
// stream), ListConnections (paged live connection table) and ZeroStats (ipvsadm -Z).
import type * as grpc from '@grpc/grpc-js';
import { addonErrorToModel, type Controller } from '../daemon/controller.js';
import type { StatsHub, StatsSource } from '../metrics/stats-hub.js';
import { findService, invalid, ModelError } from '../model/index.js';
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

/** Largest cursor the data plane can hand out (worker < 2^16, record < 2^32); all of them are exact doubles. */
const MAX_CURSOR = 2 ** 48 - 1;

/** The request's cursor (a decimal string: uint64 with longs as strings) as a number, or INVALID_ARGUMENT. */
function readCursor(cursor: string | number): number {
  const text = String(cursor);
  const value = /^\d{1,15}$/.test(text) ? Number(text) : Number.NaN;
  if (!(value <= MAX_CURSOR)) throw invalid('cursor', '0 or the next_cursor of the previous page', text);
  return value;
}

/** One page of the live connection tables. next_cursor 0 = done; a short page may have more behind it. */
export function connectionsPage(source: StatsSource, request: ListConnectionsRequest__Output): ListConnectionsResponse {
  const limit = request.limit || LIST_DEFAULT_LIMIT;
  if (limit > LIST_MAX_LIMIT) throw invalid('limit', `0 (default ${LIST_DEFAULT_LIMIT}) or 1..${LIST_MAX_LIMIT}`, limit);
  const cursor = readCursor(request.cursor);
  let page;
  try {
    page = source.connections(cursor, limit);
  } catch (error) {
    // EINVAL names the cursor (one this data plane did not hand out); ESTATE: a worker did not answer in time.
    if ((error as { code?: unknown }).code === 'EINVAL') {
      throw new ModelError('INVALID_ARGUMENT', '', (error as Error).message.replace(/^connections: /, ''));
    }
    throw addonErrorToModel(error);
  }
  return {
    connections: page.connections.map((c) => ({
      protocol: c.protocol === 'tcp' ? 'TCP' : 'UDP',
      client: c.client, clientPort: c.clientPort,
      virtual: c.virtual, virtualPort: c.virtualPort,
      local: c.local, localPort: c.localPort,
      server: c.server, serverPort: c.serverPort,
      state: c.state,
      expiresInMs: c.expiresInMs,
    })),
    nextCursor: page.nextCursor,
  };
}

export function zeroStats(controller: Controller, hub: StatsHub, request: ZeroStatsRequest__Output): Record<string, never> {
  const services = request.key
    ? [findService(controller.state, keyFromProto(request.key, 'key'), 'key')]
    : controller.state.services;
  hub.zero(services.map((s) => s.id), services.flatMap((s) => s.servers.map((r) => r.id)));
  return {};
}
