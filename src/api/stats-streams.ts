// The observability RPCs of portcullis.v1.Stats beyond GetStats: WatchStats (server
// stream), ListConnections (paged live connection table) and ZeroStats (ipvsadm -Z).
// Both are bounded for every caller (docs/grpc-api.md, "Limits on streams and listings").
import type * as grpc from '@grpc/grpc-js';
import { addonErrorToModel, type Controller } from '../daemon/controller.js';
import type { StatsHub, StatsSource, WatchStreams } from '../metrics/stats-hub.js';
import { callerName } from './auth.js';
import { displayIp, findService, invalid, ModelError } from '../model/index.js';
import { keyFromProto } from './convert.js';
import type { GetStatsResponse } from './generated/portcullis/v1/GetStatsResponse.js';
import type { ListConnectionsRequest__Output } from './generated/portcullis/v1/ListConnectionsRequest.js';
import type { ListConnectionsResponse } from './generated/portcullis/v1/ListConnectionsResponse.js';
import type { WatchStatsRequest__Output } from './generated/portcullis/v1/WatchStatsRequest.js';
import type { ZeroStatsRequest__Output } from './generated/portcullis/v1/ZeroStatsRequest.js';
import { toServiceError } from './status.js';

export const WATCH_DEFAULT_INTERVAL_MS = 1000;
export const WATCH_MIN_INTERVAL_MS = 100;
/** One hour. Also keeps setInterval honest: it turns anything >= 2^31 ms into 1 ms. */
export const WATCH_MAX_INTERVAL_MS = 3_600_000;
/** Concurrent WatchStats streams per caller (streamCaller); the next one is RESOURCE_EXHAUSTED. */
export const WATCH_MAX_STREAMS_PER_CALLER = 8;
/**
 * A tick is skipped while this many of the stream's messages are still waiting for the transport
 * (the client is not reading, or reads slower than the interval): a stream holds at most this many
 * messages, whoever is on the other end.
 */
export const WATCH_MAX_QUEUED_MESSAGES = 2;
export const LIST_DEFAULT_LIMIT = 4096;
export const LIST_MAX_LIMIT = 65536;

/**
 * Who a stream counts against: the authenticated TCP identity (src/api/auth.ts), or the unix
 * socket as one caller (its clients are not told apart). The only place that knows how.
 */
export function streamCaller(metadata: grpc.Metadata): string {
  const name = callerName(metadata);
  return name === undefined ? 'the unix socket' : `TCP identity "${name}"`;
}

/**
 * A server stream's caller, or undefined after ending the stream with the error: fail closed, a
 * call no interceptor marked is refused. (A server stream ends with a status by emitting 'error'.)
 */
export function streamCallerOrEnd(call: grpc.ServerWritableStream<unknown, unknown>): string | undefined {
  try {
    return streamCaller(call.metadata);
  } catch (error) {
    call.emit('error', toServiceError(error));
    return undefined;
  }
}

/**
 * Sends a stats message now and every interval until the client cancels or the server shuts down.
 * Bounded for every caller: the interval (100 ms..1 h), the streams a caller may hold open, and
 * the messages a stream may hold for a client that does not read (ticks are skipped, and counted
 * in streams.skippedTicks, until it catches up).
 */
export function watchStats(
  build: () => GetStatsResponse,
  streams: WatchStreams,
): grpc.handleServerStreamingCall<WatchStatsRequest__Output, GetStatsResponse> {
  return (call) => {
    const requested = call.request.intervalMs;
    // A server stream ends with a status by emitting 'error' with {code, details}.
    const fail = (error: unknown) => call.emit('error', toServiceError(error));
    const caller = streamCallerOrEnd(call);
    if (caller === undefined) return;
    if (requested !== 0 && (requested < WATCH_MIN_INTERVAL_MS || requested > WATCH_MAX_INTERVAL_MS)) {
      fail(invalid('interval_ms', `0 (default ${WATCH_DEFAULT_INTERVAL_MS}) or ${WATCH_MIN_INTERVAL_MS}..${WATCH_MAX_INTERVAL_MS}`, requested));
      return;
    }
    // writableLength: messages written and not yet taken by HTTP/2 (which waits for the client's window).
    const release = streams.admit(caller, WATCH_MAX_STREAMS_PER_CALLER, { queued: () => call.writableLength });
    if (!release) {
      fail(new ModelError('RESOURCE_EXHAUSTED', '',
        `WatchStats: ${caller} already has ${WATCH_MAX_STREAMS_PER_CALLER} streams open (the most per caller); cancel one first`));
      return;
    }
    const interval = requested || WATCH_DEFAULT_INTERVAL_MS;
    let timer: NodeJS.Timeout | undefined;
    let mustDrain = false;  // write() said the stream's buffer is full: nothing more until 'drain'
    const stop = () => {
      if (timer) clearInterval(timer);
      timer = undefined;
      release();
    };
    const send = () => {
      if (call.cancelled || call.destroyed) {  // ended without an event we saw: give the place back
        stop();
        return;
      }
      if (mustDrain || call.writableLength >= WATCH_MAX_QUEUED_MESSAGES) {
        streams.skippedTicks++;
        return;
      }
      try {
        if (!call.write(build())) mustDrain = true;
      } catch (error) {
        stop();
        fail(error);
      }
    };
    call.on('drain', () => { mustDrain = false; });
    // Every way a stream ends releases its place: client cancel or reset, error, end, shutdown.
    call.on('cancelled', stop);
    call.on('close', stop);
    call.on('finish', stop);
    call.on('error', stop);
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
      // Canonical text (RFC 5952 for IPv6) whatever spelling the data plane used.
      client: displayIp(c.client), clientPort: c.clientPort,
      virtual: displayIp(c.virtual), virtualPort: c.virtualPort,
      local: displayIp(c.local), localPort: c.localPort,
      server: displayIp(c.server), serverPort: c.serverPort,
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
