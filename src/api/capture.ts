// portcullis.v1.Capture (issue 21): a packet capture over the addon's packetCaptureSet/
// packetCaptureRead, streamed to the caller in bounded messages. Bounded for every caller
// (docs/grpc-api.md, "Capture"): one capture per daemon, a maximum duration, packet count and
// byte count, and a caller that does not read holds at most one drained batch: the data plane
// is not read again until the stream drains, so its rings fill and count the losses instead.
import type * as grpc from '@grpc/grpc-js';
import { addonErrorToModel, type Controller } from '../daemon/controller.js';
import type { CapturedPacket as AddonPacket, DataplaneAddon, PacketCaptureOptions } from '../dataplane/types.js';
import { invalid, ModelError } from '../model/index.js';
import { packetMatch } from './trace.js';
import type { CaptureHandlers } from './generated/portcullis/v1/Capture.js';
import type { CapturedPacket } from './generated/portcullis/v1/CapturedPacket.js';
import type { CapturePacketsRequest__Output } from './generated/portcullis/v1/CapturePacketsRequest.js';
import type { CapturePacketsResponse } from './generated/portcullis/v1/CapturePacketsResponse.js';
import { streamCallerOrEnd } from './stats-streams.js';
import { toServiceError } from './status.js';

export type CaptureSource = Pick<DataplaneAddon, 'packetCaptureSet' | 'packetCaptureRead'>;

export const CAPTURE_MAX_PACKETS = 1_000_000;
export const CAPTURE_DEFAULT_DURATION_MS = 10_000;
export const CAPTURE_MAX_DURATION_MS = 600_000;
export const CAPTURE_MAX_SNAPLEN = 2048;
export const CAPTURE_MAX_BYTES = 64 * 1024 * 1024;
/** How often the data plane's rings are drained (each holds 2048 copies per worker). */
export const CAPTURE_POLL_MS = 100;
/** Packet bytes per response message at most (well under grpc-js's 4 MiB receive limit). */
export const CAPTURE_MESSAGE_BYTES = 1024 * 1024;
/**
 * The rings are not drained while the stream holds this many messages its client has not taken
 * (as WatchStats skips ticks): a stream holds at most this many messages plus one drained batch.
 */
export const CAPTURE_MAX_QUEUED_MESSAGES = 2;

export type CaptureEnd = 'count' | 'duration' | 'bytes' | 'stopped';

export interface CapturePlan {
  options: PacketCaptureOptions;
  maxPackets: number;
  durationMs: number;
  maxBytes: number;
}

/** The request checked against the running configuration and the bounds; errors name the field. */
export function capturePlan(controller: Controller, request: CapturePacketsRequest__Output): CapturePlan {
  if (request.service && request.port) throw invalid('port', 'either service or port, not both', request.port);
  if (!request.service && !request.port) throw invalid('service', 'a service key (or a port name)', undefined);
  const options: PacketCaptureOptions = { enabled: true, ...packetMatch(controller, request) };
  const bounded = (value: number, field: string, defaultValue: number, max: number): number => {
    if (value > max) throw invalid(field, `0 (default ${defaultValue}) or 1..${max}`, value);
    return value || defaultValue;
  };
  const maxPackets = bounded(request.maxPackets, 'max_packets', CAPTURE_MAX_PACKETS, CAPTURE_MAX_PACKETS);
  const durationMs = bounded(request.durationMs, 'duration_ms', CAPTURE_DEFAULT_DURATION_MS, CAPTURE_MAX_DURATION_MS);
  options.snaplen = bounded(request.snaplen, 'snaplen', CAPTURE_MAX_SNAPLEN, CAPTURE_MAX_SNAPLEN);
  // uint64 arrives as a decimal string (longs: String).
  const bytes = /^\d{1,16}$/.test(String(request.maxBytes)) ? Number(request.maxBytes) : Number.NaN;
  if (Number.isNaN(bytes)) throw invalid('max_bytes', `0 (default ${CAPTURE_MAX_BYTES}) or 1..${CAPTURE_MAX_BYTES}`, request.maxBytes);
  const maxBytes = bounded(bytes, 'max_bytes', CAPTURE_MAX_BYTES, CAPTURE_MAX_BYTES);
  return { options, maxPackets, durationMs, maxBytes };
}

function toProto(p: AddonPacket, clockOffsetUs: number): CapturedPacket {
  return { timeUs: p.timeUs + clockOffsetUs, worker: p.worker, port: p.port, direction: p.direction, wireLength: p.wireLength, data: p.data };
}

/**
 * Whether a capture runs, per data plane: it has one capture filter, and the unix-socket and TCP
 * servers each build their own handlers over the same data plane.
 */
const runningOn = new WeakSet<CaptureSource>();

export function captureHandlers(controller: Controller, source: CaptureSource): CaptureHandlers {
  return {
    CapturePackets: (call: grpc.ServerDuplexStream<CapturePacketsRequest__Output, CapturePacketsResponse>) => {
      const fail = (error: unknown) => call.emit('error', toServiceError(error));
      let begun = false;   // the first request message arrived (later ones are ignored)
      let owner = false;   // this call holds the daemon's capture
      let finished = false;
      let mustDrain = false;  // write() said the stream's buffer is full: no data-plane read until 'drain'
      // writableLength: messages written and not yet taken by HTTP/2 (which waits for the client's window).
      const backlogged = () => mustDrain || call.writableLength >= CAPTURE_MAX_QUEUED_MESSAGES;
      let captured = 0, bytes = 0, lost = 0;
      let plan: CapturePlan | undefined;
      let poller: NodeJS.Timeout | undefined;
      let deadline: NodeJS.Timeout | undefined;

      // Turns the data plane's capture off (its rings freed) and gives the daemon's place back.
      const release = () => {
        if (poller) clearInterval(poller);
        if (deadline) clearTimeout(deadline);
        poller = deadline = undefined;
        if (!owner) return;
        owner = false;
        runningOn.delete(source);
        try {
          source.packetCaptureSet({ enabled: false });
        } catch {
          // Not started any more (daemon stopping): there is no capture to turn off.
        }
      };
      // Reads what the workers copied and sends it; returns why the capture must end, if it must.
      const drain = (): CaptureEnd | undefined => {
        const batch = source.packetCaptureRead();
        lost += batch.lost;
        let message: CapturedPacket[] = [];
        let messageBytes = 0;
        let ended: CaptureEnd | undefined;
        for (const p of batch.packets) {
          if (captured >= plan!.maxPackets) { ended = 'count'; break; }
          if (bytes + p.data.length > plan!.maxBytes) { ended = 'bytes'; break; }
          if (messageBytes + p.data.length > CAPTURE_MESSAGE_BYTES) {
            if (!call.write({ packets: message })) mustDrain = true;
            message = [];
            messageBytes = 0;
          }
          message.push(toProto(p, batch.clockOffsetUs));
          messageBytes += p.data.length;
          captured++;
          bytes += p.data.length;
        }
        if (message.length && !call.write({ packets: message })) mustDrain = true;
        if (captured >= plan!.maxPackets) ended = 'count';
        return ended;
      };
      const finish = (endedBy: CaptureEnd) => {
        if (finished) return;
        finished = true;
        try {
          // The tail copied since the last poll (unless a limit already ended it, or the caller is not reading).
          const ended = endedBy === 'count' || endedBy === 'bytes' || backlogged() ? undefined : drain();
          release();
          call.write({ packets: [], summary: { captured, lost, endedBy: ended ?? endedBy } });
          call.end();
        } catch (error) {
          release();
          fail(addonErrorToModel(error));
        }
      };
      const poll = () => {
        if (finished || backlogged()) return;
        if (call.cancelled || call.destroyed) return abort();
        try {
          const ended = drain();
          if (ended) finish(ended);
        } catch (error) {
          finished = true;
          release();
          fail(addonErrorToModel(error));  // e.g. ESTATE: a worker did not answer in time
        }
      };
      const abort = () => {
        finished = true;
        release();
      };
      const begin = (request: CapturePacketsRequest__Output) => {
        if (streamCallerOrEnd(call as unknown as grpc.ServerWritableStream<unknown, unknown>) === undefined) {
          finished = true;
          return;
        }
        try {
          plan = capturePlan(controller, request);
          if (runningOn.has(source)) throw new ModelError('RESOURCE_EXHAUSTED', '', 'CapturePackets: a capture is already running on this daemon (one at a time); wait for it to end');
          runningOn.add(source);
          owner = true;
          source.packetCaptureSet(plan.options);
        } catch (error) {
          finished = true;
          release();
          fail(error instanceof ModelError ? error : addonErrorToModel(error));
          return;
        }
        poller = setInterval(poll, CAPTURE_POLL_MS);
        deadline = setTimeout(() => finish('duration'), plan.durationMs);
      };

      call.on('data', (request: CapturePacketsRequest__Output) => {
        if (begun || finished) return;
        begun = true;
        begin(request);
      });
      call.on('drain', () => { mustDrain = false; });
      // The caller half-closed: stop now, the tail and the summary still go out.
      call.on('end', () => {
        if (!begun) {
          finished = true;
          fail(invalid('request', 'one CapturePacketsRequest before the end of the request stream', undefined));
        } else if (owner) finish('stopped');
      });
      // Every other way a stream ends gives the capture back: cancel or reset, error, shutdown.
      call.on('cancelled', abort);
      call.on('close', abort);
      call.on('error', abort);
    },
  };
}
