// `portcullis trace --service VIP:PORT/PROTO [--for 10s]`: turns the data plane's
// opt-in packet trace on for one service (or port), prints one line per packet
// as the records are read, and turns it off again.
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import type { StartTraceRequest } from '../api/generated/portcullis/v1/StartTraceRequest.js';
import type { ReadTraceResponse__Output } from '../api/generated/portcullis/v1/ReadTraceResponse.js';
import type { TraceClient } from '../api/generated/portcullis/v1/Trace.js';
import type { TraceRecord__Output } from '../api/generated/portcullis/v1/TraceRecord.js';
import { loadPortcullisProto } from '../api/proto.js';
import { addressPort, invalid, ModelError, parseDuration } from '../model/index.js';
import { rpc } from './client.js';
import { describeCallError, ENDPOINT_OPTIONS, resolveEndpoint, type Endpoint } from './endpoint.js';
import { parseServiceArgument } from './defend.js';

export const TRACE_USAGE = `  portcullis trace (--service VIP:PORT/PROTO | --port NAME) [--for 10s] [--interval MS]
                    [--max-records N] [CONNECTION]
                                 one line per packet: time, in tuple -> out tuple, verdict`;

const DEFAULT_DURATION = '10s';
const DEFAULT_INTERVAL_MS = 500;

/** "12.345678 w0 outside tcp 198.18.0.1:40000 > 198.18.0.10:80 => 198.19.0.200:1025 > 198.19.0.1:80 forwarded SYN_RECV" */
export function formatTraceRecord(r: TraceRecord__Output): string {
  const seconds = (Number(r.timeUs) / 1e6).toFixed(6);
  // No connection: 0.0.0.0 (or :: for an IPv6 packet).
  const out = r.outSource === '0.0.0.0' || r.outSource === '::' ? '-'
    : `${addressPort(r.outSource, r.outSourcePort)} > ${addressPort(r.outDestination, r.outDestinationPort)}`;
  const verdict = r.verdict === 'dropped' ? `dropped ${r.dropReason}` : r.verdict;
  return `${seconds} w${r.worker} ${r.port} ${r.protocol.toLowerCase()} ${addressPort(r.inSource, r.inSourcePort)} > ` +
    `${addressPort(r.inDestination, r.inDestinationPort)} => ${out} ${verdict}${r.state ? ` ${r.state}` : ''}`;
}

interface TraceArgs { request: StartTraceRequest; durationMs: number; intervalMs: number; endpoint: Endpoint }

export function parseTraceArgs(args: string[]): TraceArgs {
  let values;
  try {
    ({ values } = parseArgs({
      args, strict: true, allowPositionals: false,
      options: {
        service: { type: 'string' }, port: { type: 'string' }, for: { type: 'string' },
        interval: { type: 'string' }, 'max-records': { type: 'string' }, ...ENDPOINT_OPTIONS,
      },
    }));
  } catch (error) {
    throw invalid('arguments', 'the options of portcullis trace', (error as Error).message);
  }
  if (!values.service && !values.port) throw invalid('--service', 'VIP:PORT/PROTO (or --port NAME)', undefined);
  const request: StartTraceRequest = { enabled: true };
  if (values.service) request.service = parseServiceArgument(values.service);
  if (values.port) request.port = values.port;
  if (values['max-records'] !== undefined) {
    const n = Number(values['max-records']);
    if (!Number.isInteger(n) || n < 1 || n > 4096) throw invalid('--max-records', 'an integer 1..4096', values['max-records']);
    request.maxRecords = n;
  }
  const intervalMs = Number(values.interval ?? DEFAULT_INTERVAL_MS);
  if (!Number.isInteger(intervalMs) || intervalMs < 50) throw invalid('--interval', 'milliseconds >= 50', values.interval);
  return { request, durationMs: parseDuration(values.for ?? DEFAULT_DURATION, '--for'), intervalMs, endpoint: resolveEndpoint(values) };
}

export async function runTrace(options: TraceArgs, write: (text: string) => void): Promise<number> {
  const { grpcObject } = loadPortcullisProto();
  const client: TraceClient = new grpcObject.portcullis.v1.Trace(options.endpoint.target, options.endpoint.credentials, options.endpoint.options);
  const start = rpc<StartTraceRequest, unknown>(client, 'startTrace');
  const read = rpc<Record<string, never>, ReadTraceResponse__Output>(client, 'readTrace');
  const print = (response: ReadTraceResponse__Output) => {
    for (const r of response.records) write(`${formatTraceRecord(r)}\n`);
    if (Number(response.lost) > 0) write(`(${response.lost} records overwritten before they were read)\n`);
  };
  let stopped = false;
  const stop = () => { stopped = true; };
  process.once('SIGINT', stop);
  try {
    await start(options.request);
    const until = Date.now() + options.durationMs;
    while (!stopped && Date.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, Math.min(options.intervalMs, Math.max(0, until - Date.now()))));
      print(await read({}));
    }
    await start({ enabled: false });  // also empties the rings: read what is left first
    return 0;
  } finally {
    process.removeListener('SIGINT', stop);
    client.close();
  }
}

export async function commandTrace(args: string[]): Promise<number> {
  let options: TraceArgs;
  try {
    options = parseTraceArgs(args);
  } catch (error) {
    if (!(error instanceof ModelError)) throw error;
    process.stderr.write(`portcullis trace: ${error.message}\n${TRACE_USAGE}\n`);
    return 2;
  }
  try {
    return await runTrace(options, (text) => process.stdout.write(text));
  } catch (error) {
    const e = error as grpc.ServiceError;
    process.stderr.write(`portcullis trace: ${describeCallError(e, options.endpoint.target)}\n`);
    return 1;
  }
}
