// What e2e tests do over HTTP and UDP from inside the lab, for either address family: build
// the URL (an IPv6 literal goes in brackets), curl it from a namespace, read what the real
// server reports about the connection it saw (peer = the LIP, or for NAT64 an IPv4 LIP;
// client = what a PROXY header told it), download with a sha256 check, and echo over UDP.
import { isIPv6 } from 'node:net';
import { patternSha256 } from '../../src/lab/pattern.js';
import { HTTP_PORT } from '../../src/lab/topology.js';
import { clientTool, runInNamespace, type CommandResult } from './e2e-lab.js';

/** What a lab real server answers (src/lab/servers.ts); client only on the PROXY port. */
export interface ServerAnswer { server: string; peer: string; client?: string; path: string }

/** "http://198.18.0.10:8080/x" or "http://[2001:db8:18::10]:8080/x"; the port is left out when it is 80. */
export function httpUrl(address: string, port: number = HTTP_PORT, path = '/'): string {
  const host = isIPv6(address) ? `[${address}]` : address;
  return `http://${host}${port === HTTP_PORT ? '' : `:${port}`}${path.startsWith('/') ? path : `/${path}`}`;
}

/** Splits "198.19.0.200:41000" or "[2001:db8:19::200]:41000" (the servers' peer/client format). */
export function splitEndpoint(text: string): { address: string; port: number } {
  const match = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:]+):(\d+)$/.exec(text);
  if (!match) throw new Error(`not an address:port or [address]:port: ${JSON.stringify(text)}`);
  return { address: match[1]!, port: Number(match[2]) };
}

/** The address the server saw the connection come from: a LIP under FullNAT (an IPv4 one under NAT64). */
export function peerAddress(answer: ServerAnswer): string {
  return splitEndpoint(answer.peer).address;
}

export interface CurlOptions {
  /** curl's --max-time (default 5 s); the process is killed 5 s after it. */
  maxSeconds?: number;
  /** --interface: the source address to send from (one of the namespace's own). */
  source?: string;
  /** --local-port. */
  localPort?: number;
  /** More curl arguments, placed before the URL. */
  extra?: string[];
}

export interface CurlResult extends CommandResult {
  /** The body parsed as a server answer when it is one. */
  answer?: ServerAnswer;
}

/**
 * curl from a namespace. -g so the brackets of an IPv6 literal are not read as a glob; -sS so
 * a failure says why on stderr. Never rejects: code is curl's exit status (0 = a complete answer).
 */
export async function curlIn(namespace: string, url: string, options: CurlOptions = {}): Promise<CurlResult> {
  const maxSeconds = options.maxSeconds ?? 5;
  const argv = ['curl', '-gsS', '--max-time', String(maxSeconds),
    ...(options.source ? ['--interface', options.source] : []),
    ...(options.localPort ? ['--local-port', String(options.localPort)] : []),
    ...(options.extra ?? []), url];
  const result: CurlResult = await runInNamespace(namespace, argv, (maxSeconds + 5) * 1000);
  if (result.code === 0) {
    try {
      const parsed = JSON.parse(result.stdout) as Partial<ServerAnswer>;
      if (typeof parsed.server === 'string' && typeof parsed.peer === 'string') result.answer = parsed as ServerAnswer;
    } catch { /* not JSON: a download or an error page */ }
  }
  return result;
}

export interface CheckedDownload {
  ok: boolean;
  status?: number;
  bytes: number;
  sha256?: string;
  /** The digest the lab pattern of that size has (src/lab/pattern.ts). */
  expectedSha256: string;
  /** ok, every byte arrived, and the digest matches. */
  intact: boolean;
  error?: string;
  ms: number;
}

/**
 * GET /bytes/<bytes> from `host` (an IPv4 or IPv6 address) through pc-client, streamed and
 * hashed inside the namespace (e2e-netns-client.ts download); intact says it all arrived unchanged.
 */
export async function downloadChecked(host: string, port: number, bytes: number, timeoutMs: number): Promise<CheckedDownload> {
  const reply = await clientTool<{ ok: boolean; status?: number; bytes?: number; sha256?: string; error?: string; ms: number }>(
    ['download', httpUrl(host, port, `/bytes/${bytes}`), timeoutMs], timeoutMs);
  const expectedSha256 = patternSha256(bytes);
  const got = reply.bytes ?? 0;
  return { ...reply, bytes: got, expectedSha256, intact: reply.ok && got === bytes && reply.sha256 === expectedSha256 };
}

export interface UdpEchoResult {
  sent: number;
  /** Datagrams whose echo did not come back. */
  missing: string[];
  /** from: "[address]:port" for IPv6, "address:port" for IPv4. */
  echoes: { message: string; bytes: number; from: string }[];
}

/** Sends `count` datagrams (padded to `size` bytes) from pc-client to host:port, waits for the echoes. */
export function udpEcho(host: string, port: number, count: number, timeoutMs: number, size = 0): Promise<UdpEchoResult> {
  return clientTool<UdpEchoResult>(['udp', host, port, count, timeoutMs, size], timeoutMs);
}
