// `portcullis drain [--wait] [--timeout D]`, `portcullis undrain`, `portcullis cluster status`:
// the Cluster gRPC service from the command line (docs/operations.md).
import { parseArgs } from 'node:util';
import { table } from '../api/format.js';
import type { ClusterClient } from '../api/generated/portcullis/v1/Cluster.js';
import type { ClusterStatus__Output } from '../api/generated/portcullis/v1/ClusterStatus.js';
import { loadPortcullisProto } from '../api/proto.js';
import { ModelError, parseDuration } from '../model/index.js';
import { rpc } from './client.js';
import { commandFailureExit, ENDPOINT_OPTIONS, resolveEndpoint, type Endpoint } from './endpoint.js';
import { toEndpoint } from './client.js';

export const CLUSTER_USAGE = `  portcullis drain [--wait] [--timeout D] [--json]
                                 withdraw this node's VIPs (established connections keep being served);
                                 --wait: print the connections left every second, exit 0 at none,
                                 1 at the timeout (D like 90s, 10m; default 5m)
  portcullis undrain [--json]    announce the VIPs again
  portcullis cluster status [--json]
                                 BGP peers and sessions, announced prefixes, drain state, counters`;

const DEFAULT_WAIT = '5m';
const POLL_MS = 1_000;

class ClusterUsageError extends Error {}

function parse<T extends Record<string, { type: 'string' | 'boolean' }>>(args: string[], options: T) {
  try {
    return parseArgs({ args, options: { ...ENDPOINT_OPTIONS, ...options }, strict: true, allowPositionals: false });
  } catch (error) {
    throw new ClusterUsageError((error as Error).message);
  }
}

export function formatClusterStatus(status: ClusterStatus__Output): string {
  const lines = [
    `node ${status.node}: ${status.drained ? 'DRAINED (VIPs withdrawn)' : 'announcing'}; speaker ${status.speaker} ${status.speakerUp ? 'up' : 'DOWN'}; ${status.connections} connection(s) in use (${status.connectionsAll} in the tables)`,
    '',
    table(['PEER', 'ASN', 'STATE', 'UPTIME', 'MSG-IN', 'MSG-OUT', 'SENT', 'ANNOUNCED'],
      status.peers.map((p) => [p.address, String(p.asn), p.sessionState, `${p.uptimeSeconds}s`, p.messagesReceived, p.messagesSent,
        p.announce.join('+'), p.announced.join(' ') || '-']), 1),
  ];
  if (status.notAnnounced.length > 0) lines.push('', 'not announced:', ...status.notAnnounced.map((n) => `  ${n}`));
  const counters = Object.entries(status.counters).sort(([a], [b]) => a.localeCompare(b));
  if (counters.length > 0) lines.push('', counters.map(([k, v]) => `${k} ${v}`).join('  '));
  return lines.join('\n');
}

function clusterClient(endpoint: Endpoint): ClusterClient {
  const { grpcObject } = loadPortcullisProto();
  const { target, credentials, options } = toEndpoint(endpoint);
  return new grpcObject.portcullis.v1.Cluster(target, credentials, options);
}

async function run(command: 'drain' | 'undrain' | 'status', args: string[], write: (text: string) => void): Promise<number> {
  let endpoint: Endpoint | undefined;
  let client: ClusterClient | undefined;
  try {
    const { values } = parse(args, command === 'drain'
      ? { json: { type: 'boolean' }, wait: { type: 'boolean' }, timeout: { type: 'string' } }
      : { json: { type: 'boolean' } });
    const flags = values as Record<string, string | boolean | undefined>;
    if (flags.timeout !== undefined && !flags.wait) throw new ClusterUsageError('--timeout goes with --wait');
    const timeoutMs = parseDuration(String(flags.timeout ?? DEFAULT_WAIT), '--timeout');
    endpoint = resolveEndpoint(values);
    client = clusterClient(endpoint);
    const call = rpc<object, ClusterStatus__Output>(client, command === 'drain' ? 'drain' : command === 'undrain' ? 'undrain' : 'getClusterStatus');
    let status = await call({});
    const show = (s: ClusterStatus__Output) => write(flags.json ? `${JSON.stringify(s, null, 2)}\n` : `${formatClusterStatus(s)}\n`);
    if (!flags.wait) {
      show(status);
      return 0;
    }
    const deadline = Date.now() + timeoutMs;
    const status$ = rpc<object, ClusterStatus__Output>(client, 'getClusterStatus');
    for (;;) {
      write(`${new Date().toISOString()} drained, ${status.connections} connection(s) remaining (established TCP, live UDP)\n`);
      if (Number(status.connections) === 0) {
        write('no connections remain\n');
        return 0;
      }
      if (Date.now() >= deadline) {
        write(`timeout: ${status.connections} connection(s) still remain after ${flags.timeout ?? DEFAULT_WAIT}\n`);
        return 1;
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(POLL_MS, Math.max(0, deadline - Date.now()))));
      status = await status$({});
      if (!status.drained) {
        write('undrained meanwhile: not waiting any longer\n');
        return 1;
      }
    }
  } catch (error) {
    return commandFailureExit(command === 'status' ? 'cluster status' : command, error, { usageErrors: [ClusterUsageError, ModelError],
      usage: CLUSTER_USAGE, target: endpoint?.target ?? 'the daemon', inputCodes: [] });
  } finally {
    client?.close();
  }
}

export function commandDrain(args: string[]): Promise<number> {
  return run('drain', args, (text) => process.stdout.write(text));
}

export function commandUndrain(args: string[]): Promise<number> {
  return run('undrain', args, (text) => process.stdout.write(text));
}

export function commandCluster(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== 'status') {
    process.stderr.write(`portcullis cluster: expected "status"${sub ? `, got "${sub}"` : ''}\nusage:\n${CLUSTER_USAGE}\n`);
    return Promise.resolve(2);
  }
  return run('status', rest, (text) => process.stdout.write(text));
}
