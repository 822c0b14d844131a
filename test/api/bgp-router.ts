// A second, real gobgpd playing the router the daemon's speaker peers with, on loopback: it
// listens on its own address and port, passively, and its RIB (read with GoBGP's own CLI,
// `gobgp -p <api port> global rib -j`) is the proof of what the daemon announced.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runProcess } from './daemon.js';

export interface RouterSpec {
  name: string;
  /** Loopback address it listens on (127.0.0.x); the daemon's speaker connects from 127.0.0.1. */
  address: string;
  bgpPort: number;
  apiPort: number;
  asn: number;
  /** The daemon's ASN. */
  peerAsn: number;
  /** A gobgpd with no config at all (the daemon configures it over its API: an "external" speaker). */
  bare?: boolean;
}

export interface Router extends RouterSpec {
  child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

export interface RibPath { prefix: string; nextHop: string; largeCommunities: string[] }

export async function startRouter(dir: string, spec: RouterSpec): Promise<Router> {
  const config = join(dir, `${spec.name}.toml`);
  await writeFile(config, `[global.config]
  as = ${spec.asn}
  router-id = "10.255.0.${spec.apiPort % 250}"
  port = ${spec.bgpPort}
  local-address-list = ["${spec.address}"]
[[neighbors]]
  [neighbors.config]
    neighbor-address = "127.0.0.1"
    peer-as = ${spec.peerAsn}
  [neighbors.timers.config]
    hold-time = 3
    keepalive-interval = 1
  [neighbors.transport.config]
    passive-mode = true
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv6-unicast"
`);
  const configArgs = spec.bare ? [] : ['-f', config];
  const child = spawn('gobgpd', [...configArgs, '--api-hosts', `127.0.0.1:${spec.apiPort}`, '--log-plain', '--pprof-disable'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const append = (chunk: Buffer) => { output = (output + chunk.toString()).slice(-32_768); };
  child.stdout!.on('data', append);
  child.stderr!.on('data', append);
  const exited = new Promise<void>((resolve) => { child.once('exit', () => resolve()); child.once('error', () => resolve()); });
  const router: Router = {
    ...spec,
    child,
    output: () => output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
  // Ready once its API answers.
  const deadline = Date.now() + 10_000;
  for (;;) {
    const result = await runProcess(['gobgp', '-p', String(spec.apiPort), 'global'], 5_000);
    if (result.code === 0) return router;
    if (Date.now() > deadline || child.exitCode !== null) {
      await router.stop();
      throw new Error(`router ${spec.name}: gobgpd not ready: ${result.stderr}\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

interface CliPath { nlri?: { prefix?: string }; attrs?: Array<{ type: number; nexthop?: string; value?: Array<{ global_admin?: number; local_data1?: number; local_data2?: number }> }> }

/** Both families of the router's RIB. */
export async function rib(router: Router): Promise<RibPath[]> {
  const paths: RibPath[] = [];
  for (const family of ['ipv4', 'ipv6']) {
    const result = await runProcess(['gobgp', '-p', String(router.apiPort), 'global', 'rib', '-a', family, '-j'], 5_000);
    if (result.code !== 0) throw new Error(`router ${router.name}: gobgp global rib -a ${family}: ${result.stderr}`);
    const table = JSON.parse(result.stdout || '{}') as Record<string, CliPath[]>;
    for (const [prefix, list] of Object.entries(table)) {
      const attrs = list[0]?.attrs ?? [];
      // Attribute types: 3 NEXT_HOP, 14 MP_REACH_NLRI, 32 LARGE_COMMUNITY (RFC 4271, 4760, 8092).
      const nextHop = attrs.find((a) => a.type === 3 || a.type === 14)?.nexthop ?? '';
      const large = attrs.find((a) => a.type === 32)?.value ?? [];
      paths.push({ prefix, nextHop, largeCommunities: large.map((c) => `${c.global_admin}:${c.local_data1}:${c.local_data2}`) });
    }
  }
  return paths.sort((a, b) => a.prefix.localeCompare(b.prefix));
}

export async function ribPrefixes(router: Router): Promise<string[]> {
  return (await rib(router)).map((p) => p.prefix);
}

/** Polls until `check` holds for the router's prefixes; throws with the last RIB seen. */
export async function waitForRib(router: Router, what: string, check: (prefixes: string[]) => boolean, timeoutMs = 15_000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  let last: string[] = [];
  while (Date.now() < deadline) {
    last = await ribPrefixes(router);
    if (check(last)) return last;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`router ${router.name}: ${what} did not happen within ${timeoutMs} ms; RIB: ${JSON.stringify(last)}`);
}
