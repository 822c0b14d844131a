// The load the lab bench offers, always from the client namespace and bounded in time:
// wrk for new connections/s (every request says `Connection: close`) and kept-alive
// requests/s, curl for one large download's MB/s.
import { runTool } from '../../src/lab/run.js';

export interface LoadSettings {
  seconds: number;
  /** wrk connections kept open (each one reconnects after every reply with close). */
  connections: number;
  threads: number;
}

export interface WrkResult {
  requestsPerSecond: number;
  requests: number;
  /** Socket errors (connect/read/write/timeout) and non-2xx replies: should stay 0. */
  errors: number;
}

export interface DownloadResult {
  megabytesPerSecond: number;
  bytes: number;
}

/** Reads wrk's summary: "Requests/sec: 12345.67", "N requests in …", "Socket errors: connect 0, read 1, write 0, timeout 0". */
export function parseWrk(text: string): WrkResult {
  const rate = text.match(/^Requests\/sec:\s*([0-9.]+)/m);
  const total = text.match(/^\s*([0-9]+) requests in /m);
  if (!rate || !total) throw new Error(`lab bench: cannot read wrk's output:\n${text}`);
  const socket = text.match(/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/);
  const non2xx = text.match(/Non-2xx or 3xx responses: (\d+)/);
  const errors = (socket ? socket.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0) + (non2xx ? Number(non2xx[1]) : 0);
  return { requestsPerSecond: Number(rate[1]), requests: Number(total[1]), errors };
}

export async function runWrk(namespace: string, url: string, settings: LoadSettings, close: boolean): Promise<WrkResult> {
  const args = ['netns', 'exec', namespace, 'wrk', '-t', String(settings.threads), '-c', String(settings.connections),
    '-d', `${settings.seconds}s`, '--timeout', '2s', ...(close ? ['-H', 'Connection: close'] : []), url];
  const result = await runTool('ip', args, (settings.seconds + 30) * 1000);
  if (!result.ok) throw new Error(`lab bench: wrk ${url} failed: ${result.stderr.trim()}`);
  return parseWrk(result.stdout);
}

/** One curl of `url` to /dev/null, stopped after `seconds`; the average rate of what arrived. */
export async function runDownload(namespace: string, url: string, seconds: number): Promise<DownloadResult> {
  const result = await runTool('ip', ['netns', 'exec', namespace, 'curl', '-sS', '-o', '/dev/null', '--max-time', String(seconds),
    '-w', '%{http_code} %{size_download} %{speed_download}', url], (seconds + 30) * 1000);
  // Exit 28 = stopped by --max-time: the rate so far is still the figure.
  const [code, size, speed] = result.stdout.trim().split(' ').map(Number);
  if (code !== 200 || !(size! > 0)) throw new Error(`lab bench: download ${url} failed: ${result.stdout.trim()} ${result.stderr.trim()}`);
  return { megabytesPerSecond: speed! / 1e6, bytes: size! };
}

/** A few plain requests until one answers 200: the path works and ARP caches are warm. */
export async function waitForPath(namespace: string, url: string, what: string): Promise<void> {
  let last = '';
  for (let attempt = 0; attempt < 20; attempt++) {
    const result = await runTool('ip', ['netns', 'exec', namespace, 'curl', '-sS', '-o', '/dev/null', '--max-time', '2',
      '-w', '%{http_code}', url], 10_000);
    if (result.stdout.trim() === '200') return;
    last = `${result.stdout.trim()} ${result.stderr.trim()}`;
  }
  throw new Error(`lab bench: ${what}: ${url} does not answer from ${namespace} (last: ${last})`);
}
