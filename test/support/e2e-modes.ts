// Real-server set-up for the forwarding modes in the lab, exactly as docs/forwarding-modes.md
// tells operators (with the lab's return router as the path to the client), and
// the undo of it. Every change is made inside a lab namespace, so `portcullis lab down`
// removes whatever a failed test left behind.

import { spawn, type ChildProcess } from 'node:child_process';
import { isIPv6 } from 'node:net';
import { fileURLToPath } from 'node:url';
import { OUTSIDE_SUBNET, OUTSIDE_SUBNET_V6, RETURN_ROUTER, type RealServerHost } from '../../src/lab/topology.js';
import { runInNamespace, withTimeout } from './e2e-lab.js';

const STEP_TIMEOUT_MS = 10_000;
/** The tun device ipip-decap.py makes (what `tunl0` is on a kernel with IPIP). */
export const DECAP_DEVICE = 'pcipip';

async function must(namespace: string, argv: string[]): Promise<void> {
  const result = await runInNamespace(namespace, argv, STEP_TIMEOUT_MS);
  if (result.code !== 0) throw new Error(`${namespace}: '${argv.join(' ')}' failed (${result.code}): ${result.stderr.trim()}`);
}

/** VIP must not be answered for on the server's segments: ARP only for eth0's own address. */
async function quietArp(server: RealServerHost): Promise<void> {
  for (const scope of ['all', 'eth0']) {
    await must(server.namespace, ['sysctl', '-q', '-w', `net.ipv4.conf.${scope}.arp_ignore=1`]);
    await must(server.namespace, ['sysctl', '-q', '-w', `net.ipv4.conf.${scope}.arp_announce=2`]);
  }
}

/** Replies to clients (of the VIP's family) go straight out via the return router, not back through the gateway. */
async function directReturn(server: RealServerHost, vip: string): Promise<void> {
  const argv = isIPv6(vip)
    ? ['ip', '-6', 'route', 'replace', OUTSIDE_SUBNET_V6, 'via', RETURN_ROUTER.insideAddress6, 'dev', 'eth0']
    : ['ip', 'route', 'replace', OUTSIDE_SUBNET, 'via', RETURN_ROUTER.insideAddress, 'dev', 'eth0'];
  await must(server.namespace, argv);
}

/**
 * DR: the VIP on lo, ARP kept quiet, replies direct. IPv6 needs no quieting: Linux answers a
 * neighbour solicitation only for addresses of the interface it arrived on, never for lo's;
 * nodad, since the VIP is on every server on purpose.
 */
export async function prepareDirectRouting(server: RealServerHost, vip: string): Promise<void> {
  if (isIPv6(vip)) {
    await must(server.namespace, ['ip', '-6', 'address', 'add', `${vip}/128`, 'dev', 'lo', 'nodad']);
  } else {
    await quietArp(server);
    await must(server.namespace, ['ip', 'address', 'add', `${vip}/32`, 'dev', 'lo']);
  }
  await directReturn(server, vip);
}

export interface Decapsulator {
  process: ChildProcess;
  output(): string;
}

/**
 * TUN: the VIP on the (user-space) IPIP or IPv6-in-IPv6 device, replies direct; IPv4 also
 * needs rp_filter off and ARP quiet (IPv6 has neither a reverse-path filter nor a need to).
 */
export async function prepareTunnel(server: RealServerHost, vip: string): Promise<Decapsulator> {
  if (!isIPv6(vip)) {
    await quietArp(server);
    for (const scope of ['all', 'default']) await must(server.namespace, ['sysctl', '-q', '-w', `net.ipv4.conf.${scope}.rp_filter=0`]);
  }
  const script = fileURLToPath(new URL('./ipip-decap.py', import.meta.url));
  const child = spawn('ip', ['netns', 'exec', server.namespace, 'python3', script, DECAP_DEVICE, vip], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString(); });
  child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString(); });
  const decap = { process: child, output: () => output };
  try {
    await withTimeout(new Promise<void>((resolve, reject) => {
      child.stdout.on('data', () => { if (output.includes('ipip-decap ready')) resolve(); });
      child.on('exit', (code) => reject(new Error(`ipip-decap in ${server.namespace} exited ${code}: ${output}`)));
    }), STEP_TIMEOUT_MS, `ipip-decap ready in ${server.namespace}`);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  await directReturn(server, vip);
  return decap;
}

/** Undoes prepareDirectRouting/prepareTunnel (harmless for what was never done). */
export async function restoreRealServer(server: RealServerHost, vip: string, decap?: Decapsulator): Promise<void> {
  if (decap && decap.process.exitCode === null) {
    const exited = new Promise((resolve) => decap.process.once('exit', resolve));
    decap.process.kill('SIGTERM');  // its tun device goes with it
    await withTimeout(exited, STEP_TIMEOUT_MS, 'ipip-decap exit').catch(() => decap.process.kill('SIGKILL'));
  }
  if (isIPv6(vip)) {
    await runInNamespace(server.namespace, ['ip', '-6', 'route', 'del', OUTSIDE_SUBNET_V6, 'via', RETURN_ROUTER.insideAddress6], STEP_TIMEOUT_MS);
    await runInNamespace(server.namespace, ['ip', '-6', 'address', 'del', `${vip}/128`, 'dev', 'lo'], STEP_TIMEOUT_MS);
    return;
  }
  await runInNamespace(server.namespace, ['ip', 'route', 'del', OUTSIDE_SUBNET], STEP_TIMEOUT_MS);
  await runInNamespace(server.namespace, ['ip', 'address', 'del', `${vip}/32`, 'dev', 'lo'], STEP_TIMEOUT_MS);
  for (const scope of ['all', 'eth0']) {
    await runInNamespace(server.namespace, ['sysctl', '-q', '-w', `net.ipv4.conf.${scope}.arp_ignore=0`], STEP_TIMEOUT_MS);
    await runInNamespace(server.namespace, ['sysctl', '-q', '-w', `net.ipv4.conf.${scope}.arp_announce=0`], STEP_TIMEOUT_MS);
  }
}
