// E2E harness for the cluster lab (src/lab/cluster-lab.ts): what the edge router sees (BIRD's
// sessions, the kernel's multipath route to the VIP), traffic from the cluster client, which
// gateway served a connection, and the cluster's start and stop for a suite.

import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { birdc, clusterLabDown, clusterLabUp } from '../../src/lab/cluster-lab.js';
import { startClusterNodes, stopClusterNodes, type ClusterNodeProcess, type StartClusterNodesOptions } from '../../src/lab/cluster-nodes.js';
import {
  CLUSTER_CLIENT, CLUSTER_VIP, EDGE, gatewayOfPeer,
} from '../../src/lab/cluster-topology.js';
import { portcullisCliPath } from '../../src/lab/daemon-process.js';
import { plainNodeToolArgv } from './plain-node-tool.js';
import { connectPortcullis } from './e2e-grpc.js';
import { requireLab, requireTool, runInNamespace, withTimeout } from './e2e-lab.js';
import { removeConnRegionFiles } from '../../src/config/conn-region.js';

/** The commands the cluster lab runs besides the lab's, with their Debian packages (scripts/setup.sh installs them). */
export const CLUSTER_LAB_TOOLS = { bird: 'bird2', birdc: 'bird2', gobgpd: 'gobgpd', gobgp: 'gobgpd' } as const;

/** For the `before` hook of a cluster lab suite: root, the lab's tools and BIRD/GoBGP; throws naming what is missing. */
export function requireClusterLab(): void {
  requireLab();
  for (const [command, debianPackage] of Object.entries(CLUSTER_LAB_TOOLS)) requireTool(command, debianPackage);
}

/** Polls `probe` every `everyMs` until it returns a value other than undefined; throws with `what` at the deadline. */
export async function waitFor<T>(probe: () => Promise<T | undefined>, timeoutMs: number, what: string | (() => Promise<string>), everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${typeof what === 'string' ? what : await what()}`);
    await sleep(everyMs);
  }
}

// ---------------------------------------------------------------- the edge router

/** The next hops of the edge's kernel route to `prefix` (sorted), [] when it has none. */
export async function edgeNextHops(prefix = CLUSTER_VIP): Promise<string[]> {
  const result = await runInNamespace(EDGE.namespace, ['ip', '-j', 'route', 'show', prefix], 5_000);
  if (result.code !== 0) throw new Error(`ip route in ${EDGE.namespace} failed: ${result.stderr}`);
  const routes = JSON.parse(result.stdout || '[]') as { gateway?: string; nexthops?: { gateway: string }[] }[];
  const hops = routes.flatMap((route) => route.nexthops ? route.nexthops.map((hop) => hop.gateway) : route.gateway ? [route.gateway] : []);
  return hops.sort();
}

/** `ip route show <prefix>` in pc-edge as text, for messages. */
export async function edgeRouteText(prefix = CLUSTER_VIP): Promise<string> {
  const result = await runInNamespace(EDGE.namespace, ['ip', 'route', 'show', prefix], 5_000);
  return result.stdout.trim() || '(no route)';
}

/** BIRD's BGP session state per gateway name ("Established", "Active", …) from `birdc show protocols`. */
export async function birdSessions(): Promise<Record<string, string>> {
  const text = await birdc('show', 'protocols');
  const sessions: Record<string, string> = {};
  for (const line of text.split('\n')) {
    // name proto table state since info: "gw1        BGP        ---        up     00:10:00.123  Established"
    const fields = line.trim().split(/\s+/);
    if (fields[1] === 'BGP') sessions[fields[0]!] = fields.slice(5).join(' ') || fields[3]!;
  }
  return sessions;
}

// ---------------------------------------------------------------- traffic from the client

export interface Reply { ok: boolean; status?: number; body?: string; bytes?: number; sha256?: string; error?: string; ms: number }

/** Runs test/support/e2e-netns-client.ts inside the cluster client namespace (commands: see that file). */
export async function clusterClient<T>(args: (string | number)[], timeoutMs: number): Promise<T> {
  const argv = [...plainNodeToolArgv(import.meta.url, 'e2e-netns-client'), ...args.map(String)];
  const result = await runInNamespace(CLUSTER_CLIENT.namespace, argv, timeoutMs + 5_000);
  const line = result.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as T;
  } catch {
    throw new Error(`cluster client ${args[0]} gave no answer (exit ${result.code}): ${result.stdout.slice(-2000)} ${result.stderr.slice(-2000)}`);
  }
}

/** The gateway a reply came through, from the LIP the real server saw (its JSON "peer"). */
export function gatewayOfReply(reply: Reply): string {
  if (!reply.ok) throw new Error(`request failed: ${reply.error ?? `status ${reply.status}`}`);
  const peer = (JSON.parse(reply.body ?? '{}') as { peer?: string }).peer ?? '';
  const gateway = gatewayOfPeer(peer);
  if (!gateway) throw new Error(`the server saw peer ${peer}, a LIP of no gateway`);
  return gateway.name;
}

/** How many of `replies` each gateway served, e.g. { gw1: 31, gw2: 29 }; throws on a failed reply. */
export function spreadOf(replies: Reply[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const reply of replies) {
    const name = gatewayOfReply(reply);
    counts[name] = (counts[name] ?? 0) + 1;
  }
  return counts;
}

// ---------------------------------------------------------------- one cluster per suite

export interface RunningCluster {
  nodes: ClusterNodeProcess[];
  workDir: string;
}

export type SharedClusterOptions = StartClusterNodesOptions;

/**
 * The cluster lab plus both gateway daemons, shared by the tests of a suite that run in order
 * (the first calls start(), the `after` hook stop()). stop() kills every process of the lab's
 * namespaces and removes them, whatever state a failed test left.
 */
export function sharedCluster(options: SharedClusterOptions = {}): { start(): Promise<RunningCluster>; running(): RunningCluster; stop(): Promise<void> } {
  let cluster: RunningCluster | undefined;
  let failure: Error | undefined;
  let workDir: string | undefined;
  return {
    async start() {
      try {
        workDir = await mkdtemp(join(tmpdir(), 'portcullis-cluster-e2e-'));
        await withTimeout(clusterLabUp({ quiet: true }), 90_000, 'cluster lab up');
        const nodes = await startClusterNodes(workDir, { ...options, withCluster: true });
        cluster = { nodes, workDir };
        return cluster;
      } catch (error) {
        failure = error as Error;
        throw error;
      }
    },
    running() {
      if (!cluster) throw new Error(`the cluster did not start: ${failure?.message ?? 'start() was not called'}`);
      return cluster;
    },
    async stop() {
      try {
        if (cluster) await withTimeout(stopClusterNodes(cluster.nodes), 30_000, 'gateways stop').catch(() => undefined);
      } finally {
        await withTimeout(clusterLabDown(), 30_000, 'cluster lab down').catch(() => undefined);
        for (const node of cluster?.nodes ?? []) await removeConnRegionFiles(node.paths.stateFile);
        if (workDir) await rm(workDir, { recursive: true, force: true });
      }
    },
  };
}

// ---------------------------------------------------------------- operating the nodes

/** Runs the built `portcullis` CLI with `args` as an operator would; never rejects. */
export function portcullisCli(args: string[], timeoutMs = 20_000): Promise<{ code: number | string; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [portcullisCliPath(), ...args], { timeout: timeoutMs, killSignal: 'SIGKILL' }, (error, stdout, stderr) => {
      const code = error === null ? 0 : (typeof error.code === 'number' ? error.code : (error.signal ?? 'error'));
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/** Like portcullisCli, but a non-zero exit is an error carrying the output. */
export async function mustPortcullis(args: string[], timeoutMs?: number): Promise<string> {
  const result = await portcullisCli(args, timeoutMs);
  if (result.code !== 0) throw new Error(`portcullis ${args.join(' ')} exited ${result.code}: ${result.stderr || result.stdout}`);
  return result.stdout;
}

/** The established connections of a node's services (GetStats over its socket: the services' active_conns). */
export async function nodeEstablished(node: ClusterNodeProcess): Promise<number> {
  const api = connectPortcullis(node.paths.socket);
  try {
    const stats = await api.call('Stats', 'GetStats', {}) as { services: { counters: { activeConns: string } }[] };
    return stats.services.reduce((sum, service) => sum + Number(service.counters.activeConns), 0);
  } finally {
    api.close();
  }
}
