// A real QUIC stack in the lab (docs/schedulers.md, "QUIC"): Debian's ngtcp2 example HTTP/3
// server in each real-server namespace, made to issue connection ids that carry its quic_id by
// the LD_PRELOAD shim test/support/quic/cid-shim.c (built here with the system compiler), and
// the ngtcp2 example client in pc-client, which can migrate to a new source port mid-connection.

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { CLIENT, type RealServerHost } from '../../src/lab/topology.js';
import { requireTool, runInNamespace, type CommandResult } from './e2e-lab.js';

const run = promisify(execFile);

/** The commands the QUIC lab test runs, with their Debian packages (scripts/setup.sh installs them). */
export const QUIC_LAB_TOOLS = { gtlsserver: 'ngtcp2-server', gtlsclient: 'ngtcp2-client', cc: 'gcc', openssl: 'openssl' } as const;

export interface QuicTools { server: string; client: string; shim: string; key: string; cert: string }

/** Resolves the tools (a missing one throws, naming its package), builds the shim, makes a key and a certificate. */
export async function prepareQuicTools(workDir: string): Promise<QuicTools> {
  const server = requireTool('gtlsserver', QUIC_LAB_TOOLS.gtlsserver);
  const client = requireTool('gtlsclient', QUIC_LAB_TOOLS.gtlsclient);
  const cc = requireTool('cc', QUIC_LAB_TOOLS.cc);
  const openssl = requireTool('openssl', QUIC_LAB_TOOLS.openssl);
  const source = join(dirname(fileURLToPath(import.meta.url)), 'quic', 'cid-shim.c');
  const shim = join(workDir, 'cid-shim.so');
  await run(cc, ['-shared', '-fPIC', '-O2', '-Wall', '-o', shim, source, '-ldl'], { timeout: 60_000 });
  const key = join(workDir, 'key.pem');
  const cert = join(workDir, 'cert.pem');
  await run(openssl, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=portcullis-lab'], { timeout: 30_000 });
  return { server, client, shim, key, cert };
}

export interface QuicServer { host: RealServerHost; port: number; quicId: number; process: ChildProcess; output: () => string }

/**
 * gtlsserver on host's address:port serving htdocs (whoami = the server's name, big = `bigBytes`
 * bytes), its connection ids carrying quicId. Stop it with stopQuicServers.
 */
export async function startQuicServer(tools: QuicTools, workDir: string, host: RealServerHost, port: number, quicId: number,
  bigBytes: number): Promise<QuicServer> {
  const htdocs = join(workDir, `htdocs-${host.serverName}-${port}`);
  await mkdir(htdocs, { recursive: true });
  await writeFile(join(htdocs, 'whoami'), host.serverName);
  await writeFile(join(htdocs, 'big'), Buffer.alloc(bigBytes, host.serverName.charCodeAt(2)));
  // ip netns exec and env exec in place: the child's pid is the server's.
  const child = spawn('ip', ['netns', 'exec', host.namespace, 'env', `PC_QUIC_SERVER_ID=${quicId}`, `LD_PRELOAD=${tools.shim}`,
    tools.server, '-q', '-d', htdocs, host.addresses[0]!, String(port), tools.key, tools.cert], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk: Buffer) => { output = (output + chunk.toString()).slice(-20_000); };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const server: QuicServer = { host, port, quicId, process: child, output: () => output };
  // Bound within a few hundred ms; a server that exits at once (bad key, busy port) is a failure.
  for (let i = 0; i < 40; i++) {
    if (child.exitCode !== null) throw new Error(`gtlsserver in ${host.namespace} exited ${child.exitCode}: ${output}`);
    const listening = await runInNamespace(host.namespace, ['ss', '-Hulnp', `sport = :${port}`], 5_000);
    if (listening.stdout.includes('gtlsserver')) return server;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`gtlsserver in ${host.namespace} not listening on :${port} after 4 s: ${output}`);
}

/** Kills every server and waits for each to exit (bounded). */
export async function stopQuicServers(servers: QuicServer[]): Promise<void> {
  await Promise.all(servers.map((server) => new Promise<void>((resolve) => {
    if (server.process.exitCode !== null || server.process.signalCode !== null) return resolve();
    const timer = setTimeout(resolve, 3_000);
    server.process.once('exit', () => { clearTimeout(timer); resolve(); });
    server.process.kill('SIGKILL');
  })));
}

export interface QuicFetch {
  result: CommandResult;
  /** Downloaded files by name (whoami, big), absent when not received. */
  files: Record<string, Buffer>;
  /** The client's log says it moved to a new local address. */
  migrated: boolean;
}

/**
 * gtlsclient from pc-client to vip:port for each path; migrate = --change-local-addr after that
 * many ms past the handshake. idleTimeoutS bounds a connection whose path broke.
 */
export async function quicFetch(tools: QuicTools, workDir: string, vip: string, port: number, paths: string[],
  options: { migrateAfterMs?: number; delayStreamMs?: number; idleTimeoutS?: number; tag: string }): Promise<QuicFetch> {
  const downloads = join(workDir, `download-${options.tag}`);
  await mkdir(downloads, { recursive: true });
  const argv = [tools.client, '--no-quic-dump', '--no-http-dump', `--download=${downloads}`, '--exit-on-all-streams-close',
    `--timeout=${options.idleTimeoutS ?? 5}s`, '--handshake-timeout=5s'];
  if (options.migrateAfterMs !== undefined) argv.push(`--change-local-addr=${options.migrateAfterMs}ms`);
  if (options.delayStreamMs !== undefined) argv.push(`--delay-stream=${options.delayStreamMs}ms`);
  argv.push(vip, String(port), ...paths.map((path) => `https://${vip}:${port}/${path}`));
  const result = await runInNamespace(CLIENT.namespace, argv, 30_000);
  const files: Record<string, Buffer> = {};
  for (const name of await readdir(downloads)) {
    if ((await stat(join(downloads, name))).isFile()) files[name] = await readFile(join(downloads, name));
  }
  return { result, files, migrated: /Local address is now/.test(result.stderr) };
}
