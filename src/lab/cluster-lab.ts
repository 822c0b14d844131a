// `portcullis lab up --cluster` / `lab down`: builds and removes the cluster lab of
// src/lab/cluster-topology.ts (docs/cluster.md). The gateways' daemons are not started
// here (src/lab/cluster-demo.ts and the e2e tests do that): this builds the namespaces, the
// bridges, the edge router with BIRD 2 and the real servers.
//
// Gateway namespaces get their two veth ends (out0 on the node segment, in0 inside) with no
// address and IPv6 off: the daemon running there owns them through af_packet, and its
// exception-path interfaces (pcx-*) carry the port addresses for the kernel of that namespace,
// where its gobgpd and its health checks run.

import { spawn } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { birdConfig } from './bird-config.js';
import {
  BIRD_FILES, CLIENT_BRIDGE, CLIENT_SEGMENT_MTU, CLUSTER_BRIDGE_NAMESPACE, CLUSTER_CLIENT, CLUSTER_GATEWAYS, CLUSTER_INSIDE_BRIDGE,
  CLUSTER_INSIDE_MTU, CLUSTER_LAB_NAMESPACES, CLUSTER_LAB_STATE_DIR, CLUSTER_PREFIX_LENGTH, CLUSTER_REAL_SERVERS, EDGE,
  GATEWAY_INSIDE_IFACE_CLUSTER, GATEWAY_NODE_IFACE, NODE_BRIDGE, NODE_SEGMENT_MTU,
} from './cluster-topology.js';
import {
  disableIpv6In, enableIpv6In, isAlive, keepKernelOffRawPort, killAll, listNamespaces, namespacePids, parsePids, recordedServerPids,
  requireRoot, startRealServer,
} from './lab.js';
import { ipIn, mustRun, mustRunIn, runTool } from './run.js';

export * from './cluster-topology.js';

const BIRD_READY_TIMEOUT_MS = 10_000;
const NAMESPACE_GONE_TIMEOUT_MS = 5_000;

type Say = (line: string) => void;

export interface ClusterLabOptions {
  quiet?: boolean;
}

/**
 * Builds the cluster lab, starts BIRD in pc-edge and the real servers. Removes leftovers of a
 * previous cluster lab first; on failure removes what it built and rethrows.
 */
export async function clusterLabUp(options: ClusterLabOptions = {}): Promise<void> {
  const say: Say = options.quiet ? () => undefined : (line) => console.log(line);
  await requireRoot();
  await clusterLabDown();
  try {
    await mkdir(CLUSTER_LAB_STATE_DIR, { recursive: true });
    for (const namespace of CLUSTER_LAB_NAMESPACES) await mustRun('ip', ['netns', 'add', namespace]);
    await buildBridges();
    await buildEdge();
    await buildClient();
    for (const gateway of CLUSTER_GATEWAYS) await buildGatewayNamespace(gateway);
    for (const server of CLUSTER_REAL_SERVERS) await buildServer(server);
    await startBird();
    say(`cluster lab: namespaces ${CLUSTER_LAB_NAMESPACES.join(' ')} up; BIRD in ${EDGE.namespace} (socket ${BIRD_FILES.socket})`);
    await Promise.all(CLUSTER_REAL_SERVERS.map((server) => startRealServer(server, CLUSTER_LAB_STATE_DIR)));
    say(`cluster lab: real servers ${CLUSTER_REAL_SERVERS.map((s) => `${s.serverName}=${s.address}`).join(' ')} listening (http 80, udp echo 7)`);
  } catch (error) {
    await clusterLabDown();
    throw error;
  }
}

async function buildBridges(): Promise<void> {
  const namespace = CLUSTER_BRIDGE_NAMESPACE;
  await disableIpv6In(namespace);
  for (const family of ['iptables', 'ip6tables', 'arptables']) {
    // The keys exist only when br_netfilter is loaded.
    await runTool('ip', ['netns', 'exec', namespace, 'sysctl', '-q', '-w', `net.bridge.bridge-nf-call-${family}=0`]);
  }
  await ipIn(namespace, ['link', 'set', 'lo', 'up']);
  for (const bridge of [CLIENT_BRIDGE, NODE_BRIDGE, CLUSTER_INSIDE_BRIDGE]) {
    await ipIn(namespace, ['link', 'add', bridge, 'type', 'bridge', 'stp_state', '0', 'mcast_snooping', '0']);
    await ipIn(namespace, ['link', 'set', bridge, 'up']);
  }
}

/** A veth from the bridge namespace (port of `bridge`) into `namespace` as `iface`, both ends at `mtu`. */
async function plug(bridgePort: string, bridge: string, namespace: string, iface: string, mtu: number): Promise<void> {
  await ipIn(CLUSTER_BRIDGE_NAMESPACE, ['link', 'add', bridgePort, 'type', 'veth', 'peer', 'name', iface, 'netns', namespace]);
  await ipIn(CLUSTER_BRIDGE_NAMESPACE, ['link', 'set', bridgePort, 'mtu', String(mtu), 'master', bridge, 'up']);
  await ipIn(namespace, ['link', 'set', iface, 'mtu', String(mtu)]);
}

/** Quiet IPv6 (no RA, no DAD) so nothing but what a test sends crosses the segments. */
async function quietHost(namespace: string): Promise<void> {
  await enableIpv6In(namespace);
  await ipIn(namespace, ['link', 'set', 'lo', 'up']);
}

async function buildEdge(): Promise<void> {
  const namespace = EDGE.namespace;
  await quietHost(namespace);
  await plug('edge-cli', CLIENT_BRIDGE, namespace, EDGE.clientIface, CLIENT_SEGMENT_MTU);
  await plug('edge-node', NODE_BRIDGE, namespace, EDGE.nodeIface, NODE_SEGMENT_MTU);
  await ipIn(namespace, ['address', 'add', `${EDGE.clientAddress}/${CLUSTER_PREFIX_LENGTH}`, 'dev', EDGE.clientIface]);
  await ipIn(namespace, ['address', 'add', `${EDGE.nodeAddress}/${CLUSTER_PREFIX_LENGTH}`, 'dev', EDGE.nodeIface]);
  for (const iface of [EDGE.clientIface, EDGE.nodeIface]) {
    await ipIn(namespace, ['link', 'set', iface, 'up']);
    // STACK.md: af_packet on the gateways would see partial checksums otherwise.
    await mustRunIn(namespace, 'ethtool', ['-K', iface, 'tx', 'off']);
  }
  // A router: forwards, no reverse-path filter (replies from the VIP arrive from a gateway the
  // edge may not have chosen for that direction), and ECMP by layer-4 hash so the connections
  // of one client spread over the gateways (policy 0 would pin a client address to one).
  for (const key of ['net.ipv4.ip_forward=1', 'net.ipv4.conf.all.rp_filter=0', 'net.ipv4.conf.default.rp_filter=0',
    `net.ipv4.conf.${EDGE.clientIface}.rp_filter=0`, `net.ipv4.conf.${EDGE.nodeIface}.rp_filter=0`,
    'net.ipv4.fib_multipath_hash_policy=1', 'net.ipv6.conf.all.forwarding=1', 'net.ipv6.fib_multipath_hash_policy=1']) {
    await mustRunIn(namespace, 'sysctl', ['-q', '-w', key]);
  }
}

async function buildClient(): Promise<void> {
  const namespace = CLUSTER_CLIENT.namespace;
  await quietHost(namespace);
  await plug('client', CLIENT_BRIDGE, namespace, CLUSTER_CLIENT.iface, CLIENT_SEGMENT_MTU);
  for (const address of CLUSTER_CLIENT.addresses) {
    await ipIn(namespace, ['address', 'add', `${address}/${CLUSTER_PREFIX_LENGTH}`, 'dev', CLUSTER_CLIENT.iface]);
  }
  await ipIn(namespace, ['link', 'set', CLUSTER_CLIENT.iface, 'up']);
  await ipIn(namespace, ['route', 'add', 'default', 'via', EDGE.clientAddress, 'dev', CLUSTER_CLIENT.iface]);
  await mustRunIn(namespace, 'ethtool', ['-K', CLUSTER_CLIENT.iface, 'tx', 'off']);
}

async function buildGatewayNamespace(gateway: (typeof CLUSTER_GATEWAYS)[number]): Promise<void> {
  const namespace = gateway.namespace;
  await ipIn(namespace, ['link', 'set', 'lo', 'up']);
  await plug(gateway.bridgeNodeIface, NODE_BRIDGE, namespace, GATEWAY_NODE_IFACE, NODE_SEGMENT_MTU);
  await plug(gateway.bridgeInsideIface, CLUSTER_INSIDE_BRIDGE, namespace, GATEWAY_INSIDE_IFACE_CLUSTER, CLUSTER_INSIDE_MTU);
  for (const iface of [GATEWAY_NODE_IFACE, GATEWAY_INSIDE_IFACE_CLUSTER]) {
    // No address and IPv6 off on the raw ports: only the daemon answers there, never this kernel.
    await mustRunIn(namespace, 'sysctl', ['-q', '-w', `net.ipv6.conf.${iface}.disable_ipv6=1`]);
    await keepKernelOffRawPort(iface, namespace);
    await ipIn(namespace, ['link', 'set', iface, 'up']);
  }
}

async function buildServer(server: (typeof CLUSTER_REAL_SERVERS)[number]): Promise<void> {
  const namespace = server.namespace;
  // IPv6 stays on (lo only): the lab server also listens on [::].
  await quietHost(namespace);
  await plug(server.namespace.replace(/^pc-/, ''), CLUSTER_INSIDE_BRIDGE, namespace, 'eth0', CLUSTER_INSIDE_MTU);
  await ipIn(namespace, ['address', 'add', `${server.address}/${CLUSTER_PREFIX_LENGTH}`, 'dev', 'eth0']);
  await ipIn(namespace, ['link', 'set', 'eth0', 'up']);
  await mustRunIn(namespace, 'ethtool', ['-K', 'eth0', 'tx', 'off']);
  // FullNAT: servers answer a LIP on their own segment; no default route needed.
}

// ---------------------------------------------------------------- BIRD

/** Writes bird.conf and starts BIRD in pc-edge with its own control socket; waits until it answers. */
async function startBird(): Promise<void> {
  await writeFile(BIRD_FILES.config, birdConfig());
  await mustRun('bird', ['-p', '-c', BIRD_FILES.config], 10_000).catch((error: Error) => {
    throw new Error(`cluster lab: BIRD rejects its config ${BIRD_FILES.config}: ${error.message}`);
  });
  // bird forks into the background and writes its pid file; `ip netns exec` runs it in pc-edge.
  const child = spawn('ip', ['netns', 'exec', EDGE.namespace, 'bird', '-c', BIRD_FILES.config, '-s', BIRD_FILES.socket, '-P', BIRD_FILES.pidFile],
    { stdio: 'ignore', detached: true });
  child.unref();
  const deadline = Date.now() + BIRD_READY_TIMEOUT_MS;
  for (;;) {
    const status = await runTool('birdc', ['-s', BIRD_FILES.socket, 'show', 'status']);
    if (status.ok && status.stdout.includes('Daemon is up')) return;
    if (Date.now() > deadline) {
      const log = await readFile(BIRD_FILES.log, 'utf8').catch(() => '');
      throw new Error(`cluster lab: BIRD not answering on ${BIRD_FILES.socket} after ${BIRD_READY_TIMEOUT_MS} ms: ${status.stderr.trim()}\n${log.slice(-2000)}`);
    }
    await sleep(100);
  }
}

/** `birdc -s <socket> <command…>` against the lab's BIRD; throws when BIRD does not answer. */
export function birdc(...command: string[]): Promise<string> {
  return mustRun('birdc', ['-s', BIRD_FILES.socket, ...command]);
}

async function birdPid(): Promise<number | undefined> {
  const pid = parsePids(await readFile(BIRD_FILES.pidFile, 'utf8').catch(() => ''))[0];
  if (pid === undefined) return undefined;
  // A stale pid file may name a recycled pid: only our bird.
  const commandLine = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  return commandLine.includes(BIRD_FILES.config) ? pid : undefined;
}

// ---------------------------------------------------------------- down, status

/**
 * Removes everything clusterLabUp creates (and the daemons, gobgpd and BIRD running in its
 * namespaces): kills recorded pids and every process inside a cluster namespace, deletes the
 * namespaces (bridges and veths go with them). Harmless when there is no cluster lab.
 */
export async function clusterLabDown(): Promise<void> {
  const pids = new Set<number>(await recordedServerPids(CLUSTER_LAB_STATE_DIR));
  const bird = await birdPid();
  if (bird !== undefined) pids.add(bird);
  const existing = new Set(await listNamespaces());
  const namespaces = CLUSTER_LAB_NAMESPACES.filter((namespace) => existing.has(namespace));
  for (const namespace of namespaces) {
    for (const pid of await namespacePids(namespace)) pids.add(pid);
  }
  await killAll([...pids]);
  for (const namespace of namespaces) await runTool('ip', ['netns', 'del', namespace]);
  // Namespaces are destroyed asynchronously; wait until the names are free for an immediate up.
  const deadline = Date.now() + NAMESPACE_GONE_TIMEOUT_MS;
  while (Date.now() < deadline && (await listNamespaces()).some((name) => CLUSTER_LAB_NAMESPACES.includes(name))) await sleep(50);
  await rm(CLUSTER_LAB_STATE_DIR, { recursive: true, force: true });
}

/** A human-readable report: namespaces, BIRD's sessions, the edge's routes to the VIP, servers. */
export async function clusterLabStatus(): Promise<string> {
  const existing = new Set(await listNamespaces());
  const missing = CLUSTER_LAB_NAMESPACES.filter((namespace) => !existing.has(namespace));
  const lines = [missing.length === 0 ? 'cluster lab: up'
    : missing.length === CLUSTER_LAB_NAMESPACES.length ? 'cluster lab: down' : `cluster lab: partial (missing ${missing.join(' ')})`];
  if (missing.length === CLUSTER_LAB_NAMESPACES.length) return lines[0]!;
  const bird = await birdPid();
  lines.push(`  BIRD in ${EDGE.namespace}: ${bird !== undefined && isAlive(bird) ? `running (pid ${bird}, birdc -s ${BIRD_FILES.socket})` : 'not running'}`);
  const protocols = await runTool('birdc', ['-s', BIRD_FILES.socket, 'show', 'protocols']);
  if (protocols.ok) {
    for (const line of protocols.stdout.split('\n').filter((text) => /^gw\d/.test(text))) lines.push(`    ${line.trim()}`);
  }
  const routes = await runTool('ip', ['-n', EDGE.namespace, 'route', 'show', 'proto', 'bird']);
  lines.push(`  ${EDGE.namespace} routes from BGP:${routes.stdout.trim() === '' ? ' none' : `\n${routes.stdout.trimEnd().split('\n').map((line) => `    ${line}`).join('\n')}`}`);
  const live = new Set(await recordedServerPids(CLUSTER_LAB_STATE_DIR));
  for (const server of CLUSTER_REAL_SERVERS) {
    const pid = parsePids(await readFile(`${CLUSTER_LAB_STATE_DIR}/${server.namespace}.pid`, 'utf8').catch(() => ''))[0];
    lines.push(`  server ${server.serverName} ${server.address} :80 tcp, :7 udp: ${pid !== undefined && live.has(pid) ? `running (pid ${pid})` : 'not running'}`);
  }
  return lines.join('\n');
}
