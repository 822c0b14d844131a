// A daemon with its TCP listener on for the api suites that attack it: a CA, a server certificate
// for localhost/127.0.0.1, client certificates (operator, read-only), an operator and a read-only
// token in 0600 files, and any api.limits the test wants.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeCa, makeLeaf, type Pair } from './certificates.js';
import { startDaemon, testConfig, WEB_SEED, type Daemon } from './daemon.js';

export const OPERATOR_TOKEN = 'op-0123456789abcdef0123456789';
export const VIEWER_TOKEN = 'ro-0123456789abcdef0123456789';

export interface Lab {
  dir: string;
  ca: Pair;
  server: Pair;
  /** CN=dashboard, listed as read-only. */
  viewer: Pair;
  /** CN=alice-laptop, listed as operator. */
  operator: Pair;
  opsTokenFile: string;
  viewerTokenFile: string;
}

export async function makeLab(prefix: string): Promise<Lab> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const ca = makeCa(dir, 'ca');
  const opsTokenFile = join(dir, 'ops.token');
  const viewerTokenFile = join(dir, 'viewer.token');
  await writeFile(opsTokenFile, `${OPERATOR_TOKEN}\n`, { mode: 0o600 });
  await writeFile(viewerTokenFile, `${VIEWER_TOKEN}\n`, { mode: 0o600 });
  return {
    dir, ca, opsTokenFile, viewerTokenFile,
    server: makeLeaf(dir, ca, 'server', 'localhost', 'DNS:localhost,IP:127.0.0.1'),
    viewer: makeLeaf(dir, ca, 'viewer', 'dashboard'),
    operator: makeLeaf(dir, ca, 'operator', 'alice-laptop'),
  };
}

export interface SecuredOptions {
  clientCerts?: 'optional' | 'required';
  /** YAML flow mapping for api.limits, e.g. "{ max_connections: 3 }". */
  limits?: string;
}

/** The config file of a secured daemon (written to lab.dir/config.yaml); returns its path. */
export async function writeSecuredConfig(lab: Lab, options: SecuredOptions = {}): Promise<string> {
  const d = lab.dir;
  const api = `api: { socket: ${join(d, 'api.sock')}, listen: "127.0.0.1:0",
  tls: { cert: ${lab.server.cert}, key: ${lab.server.key}, client_ca: ${lab.ca.cert}, client_certs: ${options.clientCerts ?? 'optional'} },
  tokens: [{ name: ops, role: operator, file: ${lab.opsTokenFile} }, { name: grafana, role: read-only, file: ${lab.viewerTokenFile} }],
  clients: [{ name: dashboard, role: read-only }, { name: alice-laptop, role: operator }]${options.limits ? `,\n  limits: ${options.limits}` : ''} }`;
  const config = join(d, 'config.yaml');
  await writeFile(config, testConfig(d, WEB_SEED).replace(/^api: \{ socket: .* \}$/m, api));
  return config;
}

export async function startSecured(lab: Lab, options: SecuredOptions = {}): Promise<{ daemon: Daemon; port: number }> {
  const daemon = await startDaemon(['--config', await writeSecuredConfig(lab, options)]);
  const port = /serving gRPC on .*127\.0\.0\.1:(\d+)/.exec(daemon.output())?.[1];
  if (!port) { await daemon.stop(); throw new Error(`no TCP address in the daemon's log:\n${daemon.output()}`); }
  return { daemon, port: Number(port) };
}
