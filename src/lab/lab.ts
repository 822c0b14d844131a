// `portcullis lab up|down|status`: builds and removes the lab of DESIGN.md §6.
//
//   pc-client ─┐                                         ┌─ pc-rs1
//   pc-attacker┴─ pc-br-out ─ gw-out ══ pc-gw-out (root) │  pc-rs2
//                 [ namespace pc-lab ]      │             ├─ pc-rs3
//                 pc-br-in ─ gw-in ══ pc-gw-in (root) ───┘
//                                           │
//                              portcullis (af_packet on pc-gw-out / pc-gw-in)
//
//   pc-router: a kernel router on both bridges (198.18.0.253, 198.19.0.253,
//   2001:db8:18::253, 2001:db8:19::253), the direct return path DR/TUN real
//   servers use instead of the gateway.
//
// Host namespaces are dual-stack: eth0 with their IPv4 addresses (/24) and
// IPv6 addresses (/64, added `nodad` so they are usable at once, never
// "tentative"), lo up, tx checksum offload off (STACK.md: otherwise af_packet
// sees partial checksums) and default routes via the gateway for both
// families. IPv6 is on with accept_ra=0 (nothing autoconfigures, no router
// solicitations) and accept_dad=0 (the link-local address needs no DAD
// either); what still reaches the gateway unasked is one burst of MLD reports
// per address when the lab comes up. The root-side gateway veths get no
// address and IPv6 off, so the host kernel never answers on them: only the
// gateway does. Real servers run detached, pids recorded in LAB_STATE_DIR.

import { spawn } from 'node:child_process';
import { mkdir, open, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { nodeScriptArgv } from './node-script.js';
import { ipBatchIn, ipIn, mustRun, mustRunIn, runTool } from './run.js';
import {
  GATEWAY_INSIDE_ADDRESS, GATEWAY_INSIDE_ADDRESS_V6, GATEWAY_INSIDE_IFACE, GATEWAY_OUTSIDE_ADDRESS, GATEWAY_OUTSIDE_ADDRESS_V6,
  GATEWAY_OUTSIDE_IFACE, INSIDE_BRIDGE, INSIDE_PREFIX_LENGTH, INSIDE_PREFIX_LENGTH_V6, LAB_BRIDGE_NAMESPACE, LAB_HOSTS,
  LAB_NAMESPACES, LAB_STATE_DIR, OUTSIDE_BRIDGE, OUTSIDE_PREFIX_LENGTH, OUTSIDE_PREFIX_LENGTH_V6, REAL_SERVERS, RETURN_ROUTER,
  type LabHost, type RealServerHost, type Segment,
} from './topology.js';

export * from './topology.js';

const SERVER_READY_TIMEOUT_MS = 15_000;
const PROCESS_EXIT_GRACE_MS = 2_000;
const LINK_GONE_TIMEOUT_MS = 5_000;
const SERVER_PID_SUFFIX = '.pid';

interface SegmentWiring {
  bridge: string;
  gatewayIface: string;
  /** Name of the gateway veth's peer inside the bridge namespace. */
  bridgeSideIface: string;
  gatewayAddress: string;
  prefixLength: number;
  gatewayAddress6: string;
  prefixLength6: number;
}

const SEGMENTS: Record<Segment, SegmentWiring> = {
  outside: {
    bridge: OUTSIDE_BRIDGE, gatewayIface: GATEWAY_OUTSIDE_IFACE, bridgeSideIface: 'gw-out',
    gatewayAddress: GATEWAY_OUTSIDE_ADDRESS, prefixLength: OUTSIDE_PREFIX_LENGTH,
    gatewayAddress6: GATEWAY_OUTSIDE_ADDRESS_V6, prefixLength6: OUTSIDE_PREFIX_LENGTH_V6,
  },
  inside: {
    bridge: INSIDE_BRIDGE, gatewayIface: GATEWAY_INSIDE_IFACE, bridgeSideIface: 'gw-in',
    gatewayAddress: GATEWAY_INSIDE_ADDRESS, prefixLength: INSIDE_PREFIX_LENGTH,
    gatewayAddress6: GATEWAY_INSIDE_ADDRESS_V6, prefixLength6: INSIDE_PREFIX_LENGTH_V6,
  },
};

type Say = (line: string) => void;

// ---------------------------------------------------------------- labUp

/**
 * Builds the lab and starts the real servers. Tears down leftovers of a
 * previous lab first, so running it twice gives one fresh lab. On failure
 * it removes what it built and rethrows.
 */
export async function labUp(opts: LabOptions = {}): Promise<void> {
  const say: Say = opts.quiet ? () => undefined : (line) => console.log(line);
  const mtu = { outside: opts.mtu?.outside ?? DEFAULT_LINK_MTU, inside: opts.mtu?.inside ?? DEFAULT_LINK_MTU };
  await requireRoot();
  await labDown();
  try {
    await mkdir(LAB_STATE_DIR, { recursive: true });
    for (const namespace of LAB_NAMESPACES) await mustRun('ip', ['netns', 'add', namespace]);
    await buildBridges(mtu);
    // Hosts are independent of each other (their own namespace, their own bridge port): built at once.
    // allSettled: a failure tears the lab down only once no build is still adding to it.
    const built = await Promise.allSettled(LAB_HOSTS.map((host) => buildHost(host, mtu[host.segment])));
    const failed = built.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (failed) throw failed.reason;
    await buildReturnRouter(mtu);
    if (opts.mtu) say(`lab: link MTU outside ${mtu.outside}, inside ${mtu.inside} (the gateway's ${GATEWAY_OUTSIDE_IFACE}/${GATEWAY_INSIDE_IFACE} get theirs from ports[].mtu)`);
    say(`lab: namespaces ${LAB_NAMESPACES.join(' ')} up; gateway ports ${GATEWAY_OUTSIDE_IFACE} ${GATEWAY_INSIDE_IFACE}`);
    await Promise.all(REAL_SERVERS.map((server) => startRealServer(server)));
    say(`lab: real servers ${REAL_SERVERS.map((s) => `${s.serverName}=${s.addresses[0]},[${s.addresses6[0]}]`).join(' ')} listening (http 80, proxy 81, udp echo 7; both families)`);
  } catch (error) {
    await labDown();
    throw error;
  }
}

const DEFAULT_LINK_MTU = 1500;

export interface LabOptions {
  quiet?: boolean;
  /**
   * Link MTU per segment (default 1500 each) on every lab veth of that segment: hosts' eth0,
   * bridge ports, the return router's leg, the bridge side of the gateway's veth. The
   * gateway's own root-namespace end keeps 1500 until the gateway sets ports[].mtu on it.
   */
  mtu?: Partial<Record<Segment, number>>;
}

export async function requireRoot(): Promise<void> {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new Error('lab: needs root (network namespaces, veths and bridges); run with sudo');
  }
}

/**
 * Turns IPv6 on in a host namespace before its interfaces exist (all + default, so eth0
 * inherits it): no router advertisements taken (nothing autoconfigures), no duplicate address
 * detection (the link-local address is usable at once, like the `nodad` ones). Fails on a
 * kernel without IPv6: the lab is dual-stack.
 */
export async function enableIpv6In(namespace: string): Promise<void> {
  const settings = ['all', 'default'].flatMap((scope) =>
    ['disable_ipv6=0', 'accept_ra=0', 'accept_dad=0', 'autoconf=0'].map((setting) => `net.ipv6.conf.${scope}.${setting}`));
  await mustRunIn(namespace, 'sysctl', ['-q', '-w', ...settings]);
}

/** Disables IPv6 in a namespace (all + default, so interfaces created later inherit it). */
export async function disableIpv6In(namespace: string): Promise<void> {
  for (const scope of ['all', 'default']) {
    // A kernel booted without IPv6 has no such key: nothing to disable then.
    await runTool('ip', ['netns', 'exec', namespace, 'sysctl', '-q', '-w', `net.ipv6.conf.${scope}.disable_ipv6=1`]);
  }
}

async function buildBridges(mtu: Record<Segment, number>): Promise<void> {
  await disableIpv6In(LAB_BRIDGE_NAMESPACE);
  // Bridged frames must not traverse netfilter (br_netfilter is per namespace;
  // the keys exist only when the module is loaded).
  for (const family of ['iptables', 'ip6tables', 'arptables']) {
    await runTool('ip', ['netns', 'exec', LAB_BRIDGE_NAMESPACE, 'sysctl', '-q', '-w', `net.bridge.bridge-nf-call-${family}=0`]);
  }
  await ipIn(LAB_BRIDGE_NAMESPACE, ['link', 'set', 'lo', 'up']);
  for (const [segment, wiring] of Object.entries(SEGMENTS) as [Segment, SegmentWiring][]) {
    await ipIn(LAB_BRIDGE_NAMESPACE, ['link', 'add', wiring.bridge, 'type', 'bridge', 'stp_state', '0', 'mcast_snooping', '0']);
    await ipIn(LAB_BRIDGE_NAMESPACE, ['link', 'set', wiring.bridge, 'up']);
    await mustRun('ip', ['link', 'add', wiring.gatewayIface, 'type', 'veth', 'peer', 'name', wiring.bridgeSideIface,
      'netns', LAB_BRIDGE_NAMESPACE]);
    await disableIpv6OnRootIface(wiring.gatewayIface);
    await keepKernelOffRawPort(wiring.gatewayIface);
    await mustRun('ip', ['link', 'set', wiring.gatewayIface, 'up']);
    await ipIn(LAB_BRIDGE_NAMESPACE, ['link', 'set', wiring.bridgeSideIface, 'mtu', String(mtu[segment]), 'master', wiring.bridge, 'up']);
  }
}

async function disableIpv6OnRootIface(iface: string): Promise<void> {
  try {
    await writeFile(`/proc/sys/net/ipv6/conf/${iface}/disable_ipv6`, '1\n');
  } catch {
    // No IPv6 in this kernel: nothing can be sent on it anyway.
  }
}

/**
 * The kernel of the namespace holding a gateway's raw (af_packet) veth would otherwise take
 * frames for the port's addresses from that veth too, since they are its own addresses on the
 * exception interface (Linux accepts a local address on any interface): every TCP segment and UDP
 * datagram the data plane punts would arrive twice, and the kernel would answer ARP beside the
 * gateway. Strict reverse-path filtering drops IPv4 arriving there (the route back to any sender
 * is via the exception interface) and arp_ignore 8 keeps it from answering ARP; af_packet still
 * sees every frame, before either. Exported for the cluster lab's gateway namespaces.
 */
export async function keepKernelOffRawPort(iface: string, namespace?: string): Promise<void> {
  for (const [key, value] of [['rp_filter', '1'], ['arp_ignore', '8']] as const) {
    const setting = `net.ipv4.conf.${iface}.${key}=${value}`;
    if (namespace) await mustRunIn(namespace, 'sysctl', ['-q', '-w', setting]);
    else await mustRun('sysctl', ['-q', '-w', setting]);
  }
}

/** Bridge-port name of a host's veth inside pc-lab ("pc-rs1" → "rs1"). */
function bridgePortName(host: LabHost): string {
  return host.namespace.replace(/^pc-/, '');
}

async function buildHost(host: LabHost, mtu: number): Promise<void> {
  const wiring = SEGMENTS[host.segment];
  const namespace = host.namespace;
  await enableIpv6In(namespace);
  await ipBatchIn(LAB_BRIDGE_NAMESPACE, [
    ['link', 'add', bridgePortName(host), 'type', 'veth', 'peer', 'name', 'eth0', 'netns', namespace],
    ['link', 'set', bridgePortName(host), 'mtu', String(mtu), 'master', wiring.bridge, 'up'],
  ]);
  await ipBatchIn(namespace, [
    ['link', 'set', 'lo', 'up'],
    ...host.addresses.map((address) => ['address', 'add', `${address}/${wiring.prefixLength}`, 'dev', 'eth0']),
    ['link', 'set', 'eth0', 'mtu', String(mtu), 'up'],
    // IPv6 addresses after the link is up: added to a down link they would wait there as tentative.
    // All but the first are deprecated (preferred_lft 0): still usable when a socket binds one, but
    // never picked as a source by itself (RFC 6724 rule 3), so ::1 is the primary as .1 is for IPv4.
    ...host.addresses6.map((address, index) => ['address', 'add', `${address}/${wiring.prefixLength6}`, 'dev', 'eth0', 'nodad',
      ...(index === 0 ? [] : ['preferred_lft', '0'])]),
    ['route', 'add', 'default', 'via', wiring.gatewayAddress, 'dev', 'eth0'],
    ['route', 'add', 'default', 'via', wiring.gatewayAddress6, 'dev', 'eth0'],
  ]);
  await mustRunIn(namespace, 'ethtool', ['-K', 'eth0', 'tx', 'off']);
}

/** The DR/TUN return path: forwards between the segments, no source checks (replies come from the VIP). */
async function buildReturnRouter(mtu: Record<Segment, number>): Promise<void> {
  const namespace = RETURN_ROUTER.namespace;
  await enableIpv6In(namespace);
  await ipIn(namespace, ['link', 'set', 'lo', 'up']);
  const legs: [Segment, string, string, string][] = [
    ['outside', 'router-out', RETURN_ROUTER.outsideAddress, RETURN_ROUTER.outsideAddress6],
    ['inside', 'router-in', RETURN_ROUTER.insideAddress, RETURN_ROUTER.insideAddress6],
  ];
  for (const [segment, bridgePort, address, address6] of legs) {
    const wiring = SEGMENTS[segment];
    const iface = `eth-${segment}`;
    await ipIn(LAB_BRIDGE_NAMESPACE, ['link', 'add', bridgePort, 'type', 'veth', 'peer', 'name', iface, 'netns', namespace]);
    await ipIn(LAB_BRIDGE_NAMESPACE, ['link', 'set', bridgePort, 'mtu', String(mtu[segment]), 'master', wiring.bridge, 'up']);
    await ipIn(namespace, ['address', 'add', `${address}/${wiring.prefixLength}`, 'dev', iface]);
    await ipIn(namespace, ['link', 'set', iface, 'mtu', String(mtu[segment]), 'up']);
    await ipIn(namespace, ['-6', 'address', 'add', `${address6}/${wiring.prefixLength6}`, 'dev', iface, 'nodad']);
    await mustRunIn(namespace, 'ethtool', ['-K', iface, 'tx', 'off']);
  }
  // IPv6 has no reverse-path filter sysctl (rp_filter is IPv4's): forwarding on is all it takes.
  for (const key of ['net.ipv6.conf.all.forwarding=1', 'net.ipv4.ip_forward=1', 'net.ipv4.conf.all.rp_filter=0', 'net.ipv4.conf.default.rp_filter=0',
    'net.ipv4.conf.eth-outside.rp_filter=0', 'net.ipv4.conf.eth-inside.rp_filter=0']) {
    await mustRunIn(namespace, 'sysctl', ['-q', '-w', key]);
  }
}

/**
 * Starts a lab real server (HTTP + UDP echo) and waits until it is ready; e2e tests restart stopped ones.
 * stateDir: where its pid and log go (the cluster lab keeps its own, CLUSTER_LAB_STATE_DIR).
 */
export async function startRealServer(server: Pick<RealServerHost, 'namespace' | 'serverName'>, stateDir = LAB_STATE_DIR): Promise<void> {
  const logPath = join(stateDir, `${server.namespace}.log`);
  const log = await open(logPath, 'w');
  try {
    const [node, ...nodeArgs] = nodeScriptArgv(import.meta.url, 'servers');
    // `ip netns exec` execs the command in place, so the pid is the server's own.
    const child = spawn('ip', ['netns', 'exec', server.namespace, node!, ...nodeArgs, '--name', server.serverName], {
      detached: true,
      stdio: ['ignore', log.fd, log.fd],
    });
    child.unref();
    if (child.pid === undefined) throw new Error(`lab: could not start the real server in ${server.namespace}`);
    await writeFile(join(stateDir, `${server.namespace}${SERVER_PID_SUFFIX}`), `${child.pid}\n`);
  } finally {
    await log.close();
  }
  await waitForServerReady(server, logPath);
}

async function waitForServerReady(server: Pick<RealServerHost, 'serverName'>, logPath: string): Promise<void> {
  const deadline = Date.now() + SERVER_READY_TIMEOUT_MS;
  const readyLine = `lab-server ${server.serverName} ready`;
  for (;;) {
    const log = await readFile(logPath, 'utf8').catch(() => '');
    if (log.includes(readyLine)) return;
    if (Date.now() > deadline) {
      throw new Error(`lab: real server ${server.serverName} not ready after ${SERVER_READY_TIMEOUT_MS} ms; its log:\n${log}`);
    }
    await sleep(50);
  }
}

// ---------------------------------------------------------------- labDown

/**
 * Removes everything labUp creates, whatever state it is in: kills the
 * recorded server pids and any process still inside a lab namespace,
 * deletes the lab namespaces (which removes the bridges and every veth),
 * and root-namespace leftovers. Harmless when there is no lab.
 */
export async function labDown(): Promise<void> {
  const pids = new Set<number>(await recordedServerPids(LAB_STATE_DIR));
  const existing = new Set(await listNamespaces());
  const labNamespaces = LAB_NAMESPACES.filter((namespace) => existing.has(namespace));
  for (const namespace of labNamespaces) {
    for (const pid of await namespacePids(namespace)) pids.add(pid);
  }
  await killAll([...pids]);
  for (const namespace of labNamespaces) await runTool('ip', ['netns', 'del', namespace]);
  // The gateway veths die with their peers in pc-lab; this covers a lab whose
  // pc-lab namespace vanished some other way, and root-namespace bridges.
  const rootLinks = [GATEWAY_OUTSIDE_IFACE, GATEWAY_INSIDE_IFACE, OUTSIDE_BRIDGE, INSIDE_BRIDGE];
  for (const link of rootLinks) {
    if (await linkExists(link)) await runTool('ip', ['link', 'del', 'dev', link]);
  }
  // The kernel destroys a deleted namespace asynchronously; wait until its
  // links are really gone so an immediate labUp can reuse the names.
  const deadline = Date.now() + LINK_GONE_TIMEOUT_MS;
  for (const link of rootLinks) {
    while ((await linkExists(link)) && Date.now() < deadline) await sleep(50);
  }
  await rm(LAB_STATE_DIR, { recursive: true, force: true });
}

async function linkExists(link: string): Promise<boolean> {
  return (await runTool('ip', ['link', 'show', 'dev', link])).ok;
}

export async function listNamespaces(): Promise<string[]> {
  const result = await runTool('ip', ['netns', 'list']);
  // Lines look like "pc-rs1 (id: 3)" or just "pc-rs1".
  return result.stdout.split('\n').map((line) => line.split(' ')[0] ?? '').filter((name) => name !== '');
}

export async function namespacePids(namespace: string): Promise<number[]> {
  const result = await runTool('ip', ['netns', 'pids', namespace]);
  return parsePids(result.stdout);
}

export function parsePids(text: string): number[] {
  return text.split(/\s+/).map(Number).filter((pid) => Number.isSafeInteger(pid) && pid > 1 && pid !== process.pid);
}

/** Pids of the real servers whose pid files are in stateDir and that still run servers.js. */
export async function recordedServerPids(stateDir: string): Promise<number[]> {
  const names = await readdir(stateDir).catch(() => [] as string[]);
  const pids: number[] = [];
  for (const name of names.filter((entry) => entry.endsWith(SERVER_PID_SUFFIX))) {
    const text = await readFile(join(stateDir, name), 'utf8').catch(() => '');
    for (const pid of parsePids(text)) {
      // A stale pid file may name a recycled pid: only touch our own servers.
      const commandLine = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
      if (/servers\.(js|ts)/.test(commandLine)) pids.push(pid);
    }
  }
  return pids;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // Already gone.
  }
}

/** SIGTERM, then SIGKILL whatever still runs after PROCESS_EXIT_GRACE_MS. */
export async function killAll(pids: number[]): Promise<void> {
  for (const pid of pids) signal(pid, 'SIGTERM');
  const deadline = Date.now() + PROCESS_EXIT_GRACE_MS;
  while (pids.some(isAlive) && Date.now() < deadline) await sleep(25);
  for (const pid of pids.filter(isAlive)) signal(pid, 'SIGKILL');
}

// ---------------------------------------------------------------- labStatus

/** A human-readable report: which namespaces, gateway ports and servers exist. */
export async function labStatus(): Promise<string> {
  const existing = new Set(await listNamespaces());
  const lines: string[] = [];
  const missing = LAB_NAMESPACES.filter((namespace) => !existing.has(namespace));
  lines.push(missing.length === 0 ? 'lab: up' : missing.length === LAB_NAMESPACES.length ? 'lab: down' : `lab: partial (missing ${missing.join(' ')})`);
  for (const iface of [GATEWAY_OUTSIDE_IFACE, GATEWAY_INSIDE_IFACE]) {
    const link = await runTool('ip', ['-br', 'link', 'show', 'dev', iface]);
    lines.push(`  gateway port ${iface}: ${link.ok ? link.stdout.trim().split(/\s+/).slice(1, 3).join(' ') : 'absent'}`);
  }
  for (const host of LAB_HOSTS) {
    if (!existing.has(host.namespace)) {
      lines.push(`  ${host.namespace}: absent`);
      continue;
    }
    const more = host.addresses.length > 1 ? ` (+${host.addresses.length - 1} more)` : '';
    const more6 = host.addresses6.length > 1 ? ` (+${host.addresses6.length - 1} more)` : '';
    lines.push(`  ${host.namespace}: ${host.addresses[0]}${more}, ${host.addresses6[0]}${more6}`);
  }
  lines.push(`  ${RETURN_ROUTER.namespace}: ${existing.has(RETURN_ROUTER.namespace)
    ? `${RETURN_ROUTER.outsideAddress} / ${RETURN_ROUTER.insideAddress}, ${RETURN_ROUTER.outsideAddress6} / ${RETURN_ROUTER.insideAddress6} (DR/TUN return path)`
    : 'absent'}`);
  const livePids = new Set(await recordedServerPids(LAB_STATE_DIR));
  for (const server of REAL_SERVERS) {
    const pidText = await readFile(join(LAB_STATE_DIR, `${server.namespace}${SERVER_PID_SUFFIX}`), 'utf8').catch(() => '');
    const pid = parsePids(pidText)[0];
    const state = pid !== undefined && livePids.has(pid) && isAlive(pid) ? `running (pid ${pid})` : 'not running';
    lines.push(`  server ${server.serverName} ${server.addresses[0]}, [${server.addresses6[0]}] :80 tcp, :81 tcp, :7 udp: ${state}`);
  }
  return lines.join('\n');
}
