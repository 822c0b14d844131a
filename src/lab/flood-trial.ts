// One flood trial in the lab, shared by the e2e goodput test and bench/flood.ts: a
// bounded UDP flood from the attacker namespace while the legitimate client downloads
// over TCP through the gateway and exchanges UDP requests/responses with the echo
// service. Returns what each side got; the caller decides what is good enough.
// Needs the lab up and a gateway serving the demo config; runs only tools in lab
// namespaces, every one with a timeout.
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { runTool } from './run.js';
import { ATTACKER, CLIENT, HTTP_PORT, UDP_ECHO_PORT, VIP } from './topology.js';

const runningFromSource = import.meta.url.endsWith('.ts');
const REPO_ROOT = fileURLToPath(new URL(runningFromSource ? '../..' : '../../..', import.meta.url));
export const UDP_FLOOD_SCRIPT = `${REPO_ROOT}/test/support/udp-flood.py`;
export const UDP_ECHO_CHECK_SCRIPT = `${REPO_ROOT}/test/support/udp-echo-check.py`;

export interface FloodSpec {
  /** Datagrams per second per sender; 0 = as fast as each sender can. */
  pps: number;
  /** Parallel sender processes (the attacker has one address; they differ by source port). */
  senders: number;
  seconds: number;
  /** Bytes per datagram; above the MTU the attacker's kernel fragments them. */
  size: number;
}

/** sent/pps in datagrams; frames on the wire (a fragmented datagram is several). */
export interface FloodSent { sent: number; pps: number; frames: number }

export interface TrialResult {
  download: { bytes: number; seconds: number; mbytesPerSecond: number; ok: boolean };
  udp: { sent: number; answered: number; successPercent: number };
  /** Undefined when no flood ran. */
  flood?: FloodSent;
}

function inNamespace(namespace: string, argv: string[], timeoutMs: number) {
  return runTool('ip', ['netns', 'exec', namespace, ...argv], timeoutMs);
}

/** More than any lab download moves in a trial: the download is bounded by time, not size. */
const ENDLESS_BYTES = 4 * 1024 ** 3;  // the lab servers' MAX_DOWNLOAD_BYTES

/**
 * curl from the client: GET /bytes/<huge> through the VIP for `seconds`; goodput from curl's
 * own clock. rate (bytes/s, 0 = as fast as it goes) paces the server: a paced download is not
 * CPU-bound, so on a shared box its goodput shows what the gateway does to it, not what the
 * other processes on the box take.
 */
export async function download(seconds: number, rate = 0): Promise<TrialResult['download']> {
  const url = `http://${VIP}:${HTTP_PORT}/bytes/${ENDLESS_BYTES}${rate ? `?rate=${rate}` : ''}`;
  const r = await inNamespace(CLIENT.namespace, ['curl', '-sS', '-o', '/dev/null', '--max-time', String(seconds),
    '-w', '%{http_code} %{size_download} %{time_total}', url], (seconds + 10) * 1000);
  const [code, size, total] = r.stdout.trim().split(' ');
  const got = Number(size ?? 0), time = Number(total ?? 0);
  // curl ends with "operation timed out" (exit 28) by design here: what counts is that bytes flowed.
  return { bytes: got, seconds: time, mbytesPerSecond: time > 0 ? got / time / 1e6 : 0, ok: code === '200' && got > 0 };
}

/** UDP echo requests from the client at `pps`; how many came back. */
export async function udpExchange(count: number, pps: number): Promise<TrialResult['udp']> {
  const r = await inNamespace(CLIENT.namespace, ['python3', UDP_ECHO_CHECK_SCRIPT, VIP, String(UDP_ECHO_PORT), String(count), String(pps), '2'],
    (count / pps + 15) * 1000);
  const report = JSON.parse(r.stdout.trim().split('\n').pop() || '{}') as { sent?: number; answered?: number };
  if (!report.sent) throw new Error(`udp-echo-check sent nothing: ${r.stdout} ${r.stderr}`);
  return { sent: report.sent, answered: report.answered ?? 0, successPercent: ((report.answered ?? 0) / report.sent) * 100 };
}

/** Starts the flood senders; the promise settles when all have stopped (each bounds itself in time and count). */
export function startFlood(spec: FloodSpec, port = UDP_ECHO_PORT): Promise<FloodSent> {
  const maxPackets = Math.ceil(Math.max(1, (spec.pps || 500_000) * spec.seconds));
  const senders = Array.from({ length: spec.senders }, () => inNamespace(ATTACKER.namespace,
    ['python3', UDP_FLOOD_SCRIPT, VIP, String(port), String(spec.seconds), String(maxPackets), String(spec.pps), String(spec.size)],
    (spec.seconds + 20) * 1000));
  return Promise.all(senders).then((results) => {
    let sent = 0, pps = 0, frames = 0;
    for (const r of results) {
      const report = JSON.parse(r.stdout.trim().split('\n').pop() || '{}') as { sent?: number; pps?: number; frames?: number };
      sent += report.sent ?? 0;
      pps += report.pps ?? 0;
      frames += report.frames ?? report.sent ?? 0;
    }
    if (sent === 0) throw new Error(`the flood sent nothing: ${results.map((r) => r.stdout + r.stderr).join(' ')}`);
    return { sent, pps, frames };
  });
}

export interface TrialOptions {
  /** The download runs this long (the flood starts 0.5 s before and runs 1 s past it). */
  downloadSeconds: number;
  /** Server pacing in bytes/s; 0 = unpaced. */
  downloadRate?: number;
  udpRequests: number;
  udpPps: number;
  /** The flood; absent = no flood (a baseline window). seconds is derived from downloadSeconds. */
  flood?: Omit<FloodSpec, 'seconds'>;
}

/** The download and the UDP exchange at the same time, under the flood when one is given. */
export async function floodTrial(options: TrialOptions): Promise<TrialResult> {
  const flood = options.flood ? startFlood({ ...options.flood, seconds: options.downloadSeconds + 1.5 }) : undefined;
  flood?.catch(() => undefined);  // awaited below; a failure must not be an unhandled rejection meanwhile
  if (flood) await sleep(500);    // the senders are at full rate before the measurement starts
  const [downloaded, udp] = await Promise.all([
    download(options.downloadSeconds, options.downloadRate ?? 0),
    udpExchange(options.udpRequests, options.udpPps),
  ]);
  const sent = flood ? await flood : undefined;
  return { download: downloaded, udp, ...(sent ? { flood: sent } : {}) };
}

export interface Comparison {
  baseline: TrialResult[];
  flooded: TrialResult[];
  /** Medians over the rounds. */
  baselineMBps: number;
  floodedMBps: number;
  goodputRatio: number;
  /** Over all flooded rounds together. */
  udpSuccessPercent: number;
  baselineUdpSuccessPercent: number;
  floodSent: number;
  floodFrames: number;
  floodPps: number;
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/**
 * `rounds` pairs of windows, no flood then flood, back to back: the box's other load drifts
 * over seconds, so interleaved windows and medians compare like with like.
 */
export async function compareUnderFlood(options: TrialOptions & { flood: Omit<FloodSpec, 'seconds'>; rounds: number }): Promise<Comparison> {
  const baseline: TrialResult[] = [];
  const flooded: TrialResult[] = [];
  for (let i = 0; i < options.rounds; i++) {
    baseline.push(await floodTrial({ ...options, flood: undefined }));
    flooded.push(await floodTrial(options));
  }
  const udpPercent = (list: TrialResult[]) => {
    const sent = list.reduce((n, r) => n + r.udp.sent, 0);
    return sent ? (list.reduce((n, r) => n + r.udp.answered, 0) / sent) * 100 : 0;
  };
  const baselineMBps = median(baseline.map((r) => r.download.mbytesPerSecond));
  const floodedMBps = median(flooded.map((r) => r.download.mbytesPerSecond));
  return {
    baseline, flooded, baselineMBps, floodedMBps, goodputRatio: baselineMBps > 0 ? floodedMBps / baselineMBps : 0,
    udpSuccessPercent: udpPercent(flooded), baselineUdpSuccessPercent: udpPercent(baseline),
    floodSent: flooded.reduce((n, r) => n + (r.flood?.sent ?? 0), 0),
    floodFrames: flooded.reduce((n, r) => n + (r.flood?.frames ?? 0), 0),
    floodPps: median(flooded.map((r) => r.flood?.pps ?? 0)),
  };
}
