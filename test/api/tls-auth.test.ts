// TCP control API (issue 8): TLS only (self-signed certificate made by openssl at test time),
// bearer tokens with roles. Unauthenticated or unauthorised calls get UNAUTHENTICATED /
// PERMISSION_DENIED and change nothing; a plaintext client gets nowhere.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { loadPortcullisProto } from '../../src/api/proto.js';
import { runCli, WEB_SEED, startDaemon, testConfig, withDaemon } from './daemon.js';

const OPERATOR_TOKEN = 'op-0123456789abcdef0123456789';
const VIEWER_TOKEN = 'ro-0123456789abcdef0123456789';
const DEADLINE_MS = 5000;

let dir = '';
test.before.each(async () => { dir = await mkdtemp(join(tmpdir(), 'pc-tls-')); });
test.after.each(async () => { await rm(dir, { recursive: true, force: true }); });

/** A one-day self-signed certificate for localhost / 127.0.0.1. */
function makeCertificate(): { cert: string; key: string } {
  const cert = join(dir, 'tls.crt');
  const key = join(dir, 'tls.key');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'ignore' });
  return { cert, key };
}

type Unary = (request: object, metadata: grpc.Metadata, options: grpc.CallOptions, callback: (error: grpc.ServiceError | null, response?: unknown) => void) => void;

/** Calls one VirtualServices method over TCP; resolves to the status code (0 = OK). */
function call(client: grpc.Client, method: string, request: object, token?: string, extra: Record<string, string> = {}): Promise<{ code: number; details: string }> {
  const metadata = new grpc.Metadata();
  if (token) metadata.set('authorization', `Bearer ${token}`);
  for (const [key, value] of Object.entries(extra)) metadata.set(key, value);
  const fn = (client as unknown as Record<string, Unary>)[method]!.bind(client);
  return new Promise((resolve) => {
    fn(request, metadata, { deadline: Date.now() + DEADLINE_MS }, (error) => resolve({ code: error?.code ?? 0, details: error?.details ?? '' }));
  });
}

test('TCP: TLS + bearer token; read-only reads, operator changes, the rest refused and nothing changes', async () => {
  const { cert, key } = makeCertificate();
  await writeFile(join(dir, 'ops.token'), `${OPERATOR_TOKEN}\n`, { mode: 0o600 });
  await writeFile(join(dir, 'viewer.token'), `${VIEWER_TOKEN}\n`, { mode: 0o600 });
  const tokens = `[{ name: ops, role: operator, file: ${join(dir, 'ops.token')} }, { name: grafana, role: read-only, file: ${join(dir, 'viewer.token')} }]`;
  const config = testConfig(dir, WEB_SEED).replace(/^api: \{ socket: (.*) \}$/m,
    `api: { socket: $1, listen: "127.0.0.1:0", tls: { cert: ${cert}, key: ${key} }, tokens: ${tokens} }`);

  await withDaemon({ dir, config }, async ({ daemon }) => {
    const { grpcObject } = loadPortcullisProto();
    const clients: grpc.Client[] = [];
    try {
      const port = /serving gRPC on .*127\.0\.0\.1:(\d+)/.exec(daemon.output())?.[1];
      assert.ok(port, `no TCP address in the daemon's log:\n${daemon.output()}`);
      const target = `127.0.0.1:${port}`;
      const tls = new grpcObject.portcullis.v1.VirtualServices(target, grpc.credentials.createSsl(await readFile(cert)),
        { 'grpc.ssl_target_name_override': 'localhost', 'grpc.default_authority': 'localhost' }); // SNI takes names, not IPs
      const plain = new grpcObject.portcullis.v1.VirtualServices(target, grpc.credentials.createInsecure());
      clients.push(tls, plain);
      const newService = { service: { key: { protocol: 'TCP', vip: '198.18.0.10', port: 81 }, localAddresses: ['198.19.0.201'] } };

      { const r = await call(tls, 'listVirtualServices', {}); assert.is(r.code, grpc.status.UNAUTHENTICATED, `no token: ${JSON.stringify(r)}`); }
      assert.is((await call(tls, 'listVirtualServices', {}, 'not-a-token-at-all-xxxx')).code, grpc.status.UNAUTHENTICATED, 'unknown token');
      assert.is((await call(tls, 'listVirtualServices', {}, VIEWER_TOKEN)).code, grpc.status.OK, 'read-only may list');
      const denied = await call(tls, 'createVirtualService', newService, VIEWER_TOKEN);
      assert.is(denied.code, grpc.status.PERMISSION_DENIED);
      assert.match(denied.details, /grafana \(read-only\) may not call \/portcullis\.v1\.VirtualServices\/CreateVirtualService/);
      assert.is((await call(tls, 'createVirtualService', newService)).code, grpc.status.UNAUTHENTICATED);
      // Claiming to be the unix socket, or an identity, in the caller entry the server owns gets nowhere.
      for (const claim of ['unix', 'ops', 'tcp:ops']) {
        const forged = await call(tls, 'createVirtualService', newService, undefined, { 'x-portcullis-caller': claim });
        assert.is(forged.code, grpc.status.UNAUTHENTICATED, `forged caller "${claim}": ${JSON.stringify(forged)}`);
      }
      const forgedOverReadOnly = await call(tls, 'createVirtualService', newService, VIEWER_TOKEN, { 'x-portcullis-caller': 'ops' });
      assert.is(forgedOverReadOnly.code, grpc.status.PERMISSION_DENIED, 'a read-only token stays read-only whatever the caller entry says');
      assert.not.equal((await call(plain, 'listVirtualServices', {}, OPERATOR_TOKEN)).code, grpc.status.OK, 'plaintext refused');
      const state = JSON.parse(await readFile(join(dir, 'state.json'), 'utf8')) as { services: unknown[] };
      assert.is(state.services.length, 1, 'refused calls changed nothing');

      assert.is((await call(tls, 'createVirtualService', newService, OPERATOR_TOKEN)).code, grpc.status.OK, 'operator may change');
      const after = JSON.parse(await readFile(join(dir, 'state.json'), 'utf8')) as { services: unknown[] };
      assert.is(after.services.length, 2);
    } finally {
      for (const c of clients) c.close();
    }
  });
});

test('start-up refuses a token file or TLS key that group or others may read, and a client CA they may write, naming the field and the mode (exit 2, nothing started)', async () => {
  const { cert, key } = makeCertificate();
  const token = join(dir, 'ops.token');
  const ca = join(dir, 'clients-ca.crt');
  await writeFile(token, `${OPERATOR_TOKEN}\n`, { mode: 0o600 });
  await copyFile(cert, ca);
  const config = join(dir, 'config.yaml');
  await writeFile(config, testConfig(dir, WEB_SEED).replace(/^api: \{ socket: (.*) \}$/m,
    `api: { socket: $1, listen: "127.0.0.1:0", tls: { cert: ${cert}, key: ${key}, client_ca: ${ca} }, tokens: [{ name: ops, role: operator, file: ${token} }] }`));
  const safe = async () => { await chmod(token, 0o600); await chmod(key, 0o600); await chmod(ca, 0o644); };
  const cases: [string, () => Promise<void>, RegExp][] = [
    ['token 0644', () => chmod(token, 0o644), /api\.tokens\[0\]\.file: \S+ops\.token has mode 0644: group or others may read or write this secret; chmod 600 /],
    ['token 0640', () => chmod(token, 0o640), /api\.tokens\[0\]\.file: \S+ops\.token has mode 0640: /],
    ['token 0602', () => chmod(token, 0o602), /api\.tokens\[0\]\.file: \S+ops\.token has mode 0602: /],
    ['key 0644', () => chmod(key, 0o644), /api\.tls\.key: \S+tls\.key has mode 0644: group or others may read or write this secret/],
    ['client CA 0666', () => chmod(ca, 0o666), /api\.tls\.client_ca: \S+clients-ca\.crt has mode 0666: group or others may write it/],
  ];
  for (const [what, expose, message] of cases) {
    await safe();
    await expose();
    const run = await runCli(['run', '--config', config], 15_000);
    assert.is(run.code, 2, `${what}: exit code (stderr: ${run.stderr})`);
    assert.match(run.stderr, message, what);
    assert.not.ok(existsSync(join(dir, 'api.sock')), `${what}: nothing started`);
  }
  await safe();
  const daemon = await startDaemon(['--config', config]);
  await daemon.stop();
});

test.run();
