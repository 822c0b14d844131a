// Real-server set-up for the forwarding modes in the lab, exactly as docs/forwarding-modes.md
// tells operators (with the lab's return router as the path to the client), and
// the undo of it. Every change is made inside a lab namespace, so `portcullis lab down`
// removes whatever a failed test left behind.

import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { OUTSIDE_SUBNET, RETURN_ROUTER, type RealServerHost } from '../../src/lab/topology.js';
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

/** Replies to clients go straight out via the return router, not back through the gateway. */
async function directReturn(server: RealServerHost): Promise<void> {
  await must(server.namespace, ['ip', 'route', 'replace', OUTSIDE_SUBNET, 'via', RETURN_ROUTER.insideAddress, 'dev', 'eth0']);
}

/** DR: the VIP on lo, ARP kept quiet, replies direct. */
export async function prepareDirectRouting(server: RealServerHost, vip: string): Promise<void> {
  await quietArp(server);
  await must(server.namespace, ['ip', 'address', 'add', `${vip}/32`, 'dev', 'lo']);
  await directReturn(server);
}

export interface Decapsulator {
  process: ChildProcess;
  output(): string;
}

/** TUN: the VIP on the (user-space) IPIP device, rp_filter off, ARP quiet, replies direct. */
export async function prepareTunnel(server: RealServerHost, vip: string): Promise<Decapsulator> {
  await quietArp(server);
  for (const scope of ['all', 'default']) await must(server.namespace, ['sysctl', '-q', '-w', `net.ipv4.conf.${scope}.rp_filter=0`]);
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
  await directReturn(server);
  return decap;
}

/** Undoes prepareDirectRouting/prepareTunnel (harmless for what was never done). */
export async function restoreRealServer(server: RealServerHost, vip: string, decap?: Decapsulator): Promise<void> {
  if (decap && decap.process.exitCode === null) {
    const exited = new Promise((resolve) => decap.process.once('exit', resolve));
    decap.process.kill('SIGTERM');  // its tun device goes with it
    await withTimeout(exited, STEP_TIMEOUT_MS, 'ipip-decap exit').catch(() => decap.process.kill('SIGKILL'));
  }
  await runInNamespace(server.namespace, ['ip', 'route', 'del', OUTSIDE_SUBNET], STEP_TIMEOUT_MS);
  await runInNamespace(server.namespace, ['ip', 'address', 'del', `${vip}/32`, 'dev', 'lo'], STEP_TIMEOUT_MS);
  for (const scope of ['all', 'eth0']) {
    await runInNamespace(server.namespace, ['sysctl', '-q', '-w', `net.ipv4.conf.${scope}.arp_ignore=0`], STEP_TIMEOUT_MS);
    await runInNamespace(server.namespace, ['sysctl', '-q', '-w', `net.ipv4.conf.${scope}.arp_announce=0`], STEP_TIMEOUT_MS);
  }
}
