// The web server every lab scenario measures against: nginx (a worker per core) in
// the given real-server namespaces on BENCH_HTTP_PORT, beside the lab's own node servers (which stay on :80
// for the demo and tests). Why nginx: the node servers would be the bottleneck long
// before the gateway (one JS thread per server on a 2-core box), and the same server
// must answer in every scenario for the comparison to mean anything.
//   GET /small  a 17-byte body (connections/s and kept-alive requests/s)
//   GET /big    a sparse file of BIG_FILE_BYTES via sendfile (download MB/s)
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdir, readFile, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RealServerHost } from '../../src/lab/topology.js';

export const BENCH_HTTP_PORT = 8080;
export const BIG_FILE_BYTES = 1024 ** 3;
const READY_TIMEOUT_MS = 10_000;

export interface NginxServers {
  stop(): Promise<void>;
}

function nginxConfig(dir: string, server: RealServerHost, bigFile: string): string {
  return `worker_processes auto;
daemon off;
pid ${join(dir, `${server.namespace}.pid`)};
error_log ${join(dir, `${server.namespace}.error.log`)} warn;
events { worker_connections 8192; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000000;
  keepalive_timeout 60s;
  server {
    listen ${server.addresses[0]}:${BENCH_HTTP_PORT} backlog=8192;
    location = /small { default_type text/plain; return 200 "portcullis bench\\n"; }
    location = /big { default_type application/octet-stream; alias ${bigFile}; }
  }
}
`;
}

/** Listening once `ss` in the namespace shows the port. */
async function waitListening(server: RealServerHost, child: ChildProcess, errorLog: string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    const listening = await new Promise<boolean>((resolve) => {
      const ss = spawn('ip', ['netns', 'exec', server.namespace, 'ss', '-Hltn', `sport = :${BENCH_HTTP_PORT}`], { stdio: ['ignore', 'pipe', 'ignore'] });
      let out = '';
      ss.stdout!.on('data', (chunk: Buffer) => { out += chunk.toString(); });
      ss.on('close', () => resolve(out.trim() !== ''));
    });
    if (listening) return;
    if (child.exitCode !== null || Date.now() > deadline) {
      const log = await readFile(errorLog, 'utf8').catch(() => '');
      throw new Error(`lab bench: nginx in ${server.namespace} did not listen on :${BENCH_HTTP_PORT}: ${log.trim()}`);
    }
    await sleep(50);
  }
}

/**
 * Starts nginx in every server namespace (files under `dir`, which must be
 * readable by nginx's unprivileged workers). labDown kills them too, being in lab namespaces.
 */
export async function startNginx(dir: string, servers: RealServerHost[]): Promise<NginxServers> {
  await chmod(dir, 0o755);
  const bigFile = join(dir, 'big.bin');
  await writeFile(bigFile, '');
  await truncate(bigFile, BIG_FILE_BYTES);  // sparse: reads are zero pages, no disk
  await chmod(bigFile, 0o644);
  const children: ChildProcess[] = [];
  const stop = async (): Promise<void> => {
    for (const child of children) child.kill('SIGTERM');
    await Promise.all(children.map((child) => (child.exitCode !== null || child.signalCode !== null
      ? undefined : new Promise((resolve) => child.once('exit', resolve)))));
  };
  try {
    for (const server of servers) {
      const configPath = join(dir, `${server.namespace}.nginx.conf`);
      await writeFile(configPath, nginxConfig(dir, server, bigFile));
      await mkdir(join(dir, 'prefix'), { recursive: true });
      const child = spawn('ip', ['netns', 'exec', server.namespace, 'nginx', '-p', join(dir, 'prefix'), '-c', configPath],
        { stdio: ['ignore', 'ignore', 'ignore'] });
      children.push(child);
      await waitListening(server, child, join(dir, `${server.namespace}.error.log`));
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { stop };
}
