// What test/e2e/restart.test.ts needs beside the lab harness (e2e-lab.ts): the long-lived client
// traffic of restart-traffic.ts driven from the test, the conn counts of `pcadm -Ln` and the rows
// of `pcadm -Lnc` read into numbers, `portcullis status` text, and the connection region's files
// (which outlive the daemon by design, so the test removes them itself).

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { runPcadm } from '../../src/cli/pcadm/main.js';
import { portcullisCliPath } from '../../src/lab/daemon-process.js';
import { CLIENT } from '../../src/lab/topology.js';
import { plainNodeToolArgv } from './plain-node-tool.js';
import type { TrafficEvent, TrafficOptions } from './restart-traffic.js';

type Ready = Extract<TrafficEvent, { event: 'ready' }>;
type Done = Extract<TrafficEvent, { event: 'done' }>;

/** restart-traffic.ts running in pc-client: ready() once its connections are up mid-download. */
export interface Traffic {
  ready: Promise<Ready>;
  /** Sends "check": one more request per kept-alive connection, then the end of the download. */
  check(timeoutMs: number): Promise<Done>;
  /** Lets the client close its connections gracefully and exit (bounded), then kills it if needed. */
  close(): Promise<void>;
  output(): string;
}

export function startTraffic(options: TrafficOptions, readyTimeoutMs: number): Traffic {
  const argv = ['netns', 'exec', CLIENT.namespace, ...plainNodeToolArgv(import.meta.url, 'restart-traffic'), JSON.stringify(options)];
  const child: ChildProcess = spawn('ip', argv, { stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  child.stderr!.on('data', (chunk: Buffer) => { output = (output + chunk.toString()).slice(-8_000); });
  const exited = new Promise<void>((resolvePromise) => child.once('exit', () => resolvePromise()));
  const waiting = new Map<string, (event: TrafficEvent) => void>();
  const events: TrafficEvent[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    output = (output + `${line}\n`).slice(-8_000);
    let event: TrafficEvent;
    try {
      event = JSON.parse(line) as TrafficEvent;
    } catch {
      return;
    }
    events.push(event);
    for (const [name, deliver] of waiting) if (event.event === name || event.event === 'error') deliver(event);
  });
  const next = <T extends TrafficEvent>(name: T['event'], timeoutMs: number): Promise<T> => new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`traffic client: no "${name}" within ${timeoutMs} ms; its output:\n${output}`)), timeoutMs);
    const deliver = (event: TrafficEvent): void => {
      clearTimeout(timer);
      waiting.delete(name);
      if (event.event === 'error') reject(new Error(`traffic client: ${event.error}`));
      else resolvePromise(event as T);
    };
    const seen = events.find((event) => event.event === name || event.event === 'error');
    if (seen) deliver(seen);
    else waiting.set(name, deliver);
    void exited.then(() => setTimeout(() => deliver({ event: 'error', error: `exited before "${name}"; its output:\n${output}` }), 100));
  });
  const ready = next<Ready>('ready', readyTimeoutMs);
  ready.catch(() => undefined); // read by the test; an early rejection must not go unhandled
  return {
    ready,
    check: (timeoutMs) => {
      child.stdin!.write('check\n');
      return next<Done>('done', timeoutMs);
    },
    async close() {
      if (child.exitCode === null && child.signalCode === null) {
        child.stdin!.end();
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      }
    },
    output: () => output,
  };
}

/** `pcadm <args>` against the daemon's socket; throws with its stderr when it fails. */
export async function pcadm(socketPath: string, args: string): Promise<string> {
  let out = '';
  let err = '';
  const code = await runPcadm(['--socket', socketPath, ...args.split(' ')], {
    stdout: (text) => { out += text; }, stderr: (text) => { err += text; }, stdin: async () => '',
  });
  if (code !== 0) throw new Error(`pcadm ${args} exited ${code}: ${err}`);
  return out;
}

/** ActiveConn and InActConn of one real server of one virtual service, as `pcadm -Ln` prints them. */
export interface ServerConns { service: string; server: string; active: number; inactive: number }

/** `pcadm -Ln` read into rows; service is "TCP  198.18.0.10:8081" without the scheduler. */
export function parseConnCounts(listing: string): ServerConns[] {
  const rows: ServerConns[] = [];
  let service = '';
  for (const line of listing.split('\n')) {
    const head = /^(TCP|UDP) +(\S+)/.exec(line);
    if (head) { service = `${head[1]} ${head[2]}`; continue; }
    const server = /^ +-> +(\S+) +\S+ +\d+ +(\d+) +(\d+)\s*$/.exec(line);
    if (server && service) rows.push({ service, server: server[1]!, active: Number(server[2]), inactive: Number(server[3]) });
  }
  return rows;
}

/** One row of `pcadm -Lnc`. */
export interface ListedConn { state: string; source: string; virtual: string; destination: string }

export function parseConnListing(listing: string): ListedConn[] {
  return listing.split('\n').flatMap((line) => {
    const match = /^(?:TCP|UDP) +\d\d:\d\d +([A-Z_]+) +(\S+) +(\S+) +(\S+)$/.exec(line);
    return match ? [{ state: match[1]!, source: match[2]!, virtual: match[3]!, destination: match[4]! }] : [];
  });
}

/** `portcullis status` against the socket: its text, or its error output. */
export function portcullisStatus(socketPath: string, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolvePromise) => {
    execFile(process.execPath, [portcullisCliPath(), 'status', '--socket', socketPath], { timeout: timeoutMs },
      (error, stdout, stderr) => resolvePromise(error ? `status failed (${error.message}): ${stderr}` : String(stdout)));
  });
}

/** The connections `portcullis status` says were adopted ("  51 connection(s) adopted in 830 us; …"), if it says. */
export function adoptedFromStatus(status: string): number | undefined {
  const match = /(\d+) connection\(s\) adopted/.exec(status);
  return match ? Number(match[1]) : undefined;
}

export { removeConnRegionFiles } from '../../src/config/conn-region.js';
