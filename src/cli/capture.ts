// `portcullis capture (--service VIP:PORT/PROTO | --port NAME) -w FILE.pcap [--count N]
// [--for 10s] [--snaplen B]`: the daemon's packet capture (portcullis.v1.Capture) into a pcap
// file, each matched packet as received and as sent. Ctrl-C stops it cleanly: the daemon sends
// what it copied so far and the totals, and the file stays valid.
import { unlinkSync } from 'node:fs';
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import type { CaptureClient } from '../api/generated/portcullis/v1/Capture.js';
import type { CapturePacketsRequest } from '../api/generated/portcullis/v1/CapturePacketsRequest.js';
import type { CapturePacketsResponse__Output } from '../api/generated/portcullis/v1/CapturePacketsResponse.js';
import type { CaptureSummary__Output } from '../api/generated/portcullis/v1/CaptureSummary.js';
import { loadPortcullisProto } from '../api/proto.js';
import { invalid, ModelError, parseDuration } from '../model/index.js';
import { parseServiceArgument } from './defend.js';
import { describeCallError, ENDPOINT_OPTIONS, resolveEndpoint, type Endpoint } from './endpoint.js';
import { PcapWriter } from './pcap-file.js';

export const CAPTURE_USAGE = `  portcullis capture (--service VIP:PORT/PROTO | --port NAME) -w FILE.pcap [--count N]
                    [--for 10s] [--snaplen BYTES] [CONNECTION]
                                 matching packets as received and as sent, to a pcap file
                                 (count 1..1000000, for at most 10m, snaplen 1..2048); Ctrl-C stops`;

const MAX_COUNT = 1_000_000;
const MAX_DURATION_MS = 600_000;
const MAX_SNAPLEN = 2048;
/** The call's deadline beyond the capture's own: a daemon that stops answering cannot hang us. */
const DEADLINE_SLACK_MS = 30_000;

export interface CaptureArgs { request: CapturePacketsRequest; file: string; snaplen: number; durationMs: number; endpoint: Endpoint }

function integerFlag(text: string | undefined, flag: string, max: number): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < 1 || n > max) throw invalid(flag, `an integer 1..${max}`, text);
  return n;
}

export function parseCaptureArgs(args: string[]): CaptureArgs {
  let values;
  try {
    ({ values } = parseArgs({
      args, strict: true, allowPositionals: false,
      options: {
        service: { type: 'string' }, port: { type: 'string' }, count: { type: 'string', short: 'c' },
        for: { type: 'string' }, snaplen: { type: 'string', short: 's' }, write: { type: 'string', short: 'w' },
        ...ENDPOINT_OPTIONS,
      },
    }));
  } catch (error) {
    throw invalid('arguments', 'the options of portcullis capture', (error as Error).message);
  }
  if (values.service && values.port) throw invalid('--port', 'either --service or --port, not both', values.port);
  if (!values.service && !values.port) throw invalid('--service', 'VIP:PORT/PROTO (or --port NAME)', undefined);
  if (!values.write) throw invalid('-w', 'the pcap file to write', undefined);
  const request: CapturePacketsRequest = {};
  if (values.service) request.service = parseServiceArgument(values.service);
  if (values.port) request.port = values.port;
  const count = integerFlag(values.count, '--count', MAX_COUNT);
  if (count !== undefined) request.maxPackets = count;
  const snaplen = integerFlag(values.snaplen, '--snaplen', MAX_SNAPLEN) ?? MAX_SNAPLEN;
  request.snaplen = snaplen;
  const durationMs = parseDuration(values.for ?? '10s', '--for');
  if (durationMs > MAX_DURATION_MS) throw invalid('--for', 'a duration from 1s to 10m', values.for);
  request.durationMs = durationMs;
  return { request, file: values.write, snaplen, durationMs, endpoint: resolveEndpoint(values) };
}

export interface CaptureOutcome { written: number; summary: CaptureSummary__Output | undefined }

/**
 * Runs one capture into options.file. stop(): call it to end the capture early (Ctrl-C); the
 * daemon then sends the tail and the totals. Rejects with the call's ServiceError.
 */
export function runCapture(options: CaptureArgs, onStopSignal: (stop: () => void) => void): Promise<CaptureOutcome> {
  const writer = new PcapWriter(options.file, options.snaplen);  // before the call: a bad path fails first
  const { grpcObject } = loadPortcullisProto();
  const client: CaptureClient = new grpcObject.portcullis.v1.Capture(options.endpoint.target, options.endpoint.credentials, options.endpoint.options);
  const call = client.capturePackets({ deadline: Date.now() + options.durationMs + DEADLINE_SLACK_MS });
  let written = 0;
  let summary: CaptureSummary__Output | undefined;
  let stopping = false;
  onStopSignal(() => {
    if (stopping) return call.cancel();  // a second Ctrl-C: do not wait for the tail
    stopping = true;
    call.end();  // half-close: the daemon stops, sends what it has, then the totals
  });
  return new Promise<CaptureOutcome>((resolve, reject) => {
    call.on('data', (response: CapturePacketsResponse__Output) => {
      writer.append(response.packets.map((p) => ({ timeUs: Number(p.timeUs), wireLength: p.wireLength, data: p.data })));
      written += response.packets.length;
      if (response.summary) summary = response.summary;
    });
    call.on('error', (error: grpc.ServiceError) => {
      writer.close();
      if (written === 0 && error.code !== grpc.status.CANCELLED) unlinkSync(options.file);  // nothing worth keeping
      client.close();
      if (error.code === grpc.status.CANCELLED && stopping) resolve({ written, summary });
      else reject(error);
    });
    call.on('end', () => {
      writer.close();
      client.close();
      resolve({ written, summary });
    });
    call.write(options.request);
  });
}

export async function commandCapture(args: string[]): Promise<number> {
  let options: CaptureArgs;
  try {
    options = parseCaptureArgs(args);
  } catch (error) {
    if (!(error instanceof ModelError)) throw error;
    process.stderr.write(`portcullis capture: ${error.message}\n${CAPTURE_USAGE}\n`);
    return 2;
  }
  let stop: (() => void) | undefined;
  const onSignal = () => stop?.();
  process.on('SIGINT', onSignal);
  try {
    process.stderr.write(`portcullis capture: writing ${options.file} (Ctrl-C stops)\n`);
    const { written, summary } = await runCapture(options, (fn) => { stop = fn; });
    const lost = summary ? Number(summary.lost) : undefined;
    const lostText = lost === undefined ? 'losses unknown (stopped before the totals came)' : `${lost} lost`;
    process.stdout.write(`${written} packets captured, ${lostText}${summary ? ` (ended by ${summary.endedBy})` : ''}\n`);
    return 0;
  } catch (error) {
    const e = error as grpc.ServiceError;
    if (typeof e.code !== 'number') {
      process.stderr.write(`portcullis capture: ${(error as Error).message}\n`);  // e.g. the file cannot be written
      return 1;
    }
    process.stderr.write(`portcullis capture: ${describeCallError(e, options.endpoint.target)}\n`);
    const input = [grpc.status.INVALID_ARGUMENT, grpc.status.NOT_FOUND].includes(e.code);
    return input ? 2 : 1;
  } finally {
    process.removeListener('SIGINT', onSignal);
  }
}
