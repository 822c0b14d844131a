// TCP control API (issue 8): TLS only (self-signed certificate made by openssl at test time),
// bearer tokens with roles. Unauthenticated or unauthorised calls get UNAUTHENTICATED /
// PERMISSION_DENIED and change nothing; a plaintext client gets nowhere.
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { loadPortcullisProto } from '../../src/api/proto.js';
import { WEB_SEED, startDaemon, testConfig, withDaemonOutput } from './daemon.js';

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
function call(client: grpc.Client, method: string, request: object, token?: string): Promise<{ code: number; details: string }> {
  const metadata = new grpc.Metadata();
  if (token) metadata.set('authorization', `Bearer ${token}`);
  const fn = (client as unknown as Record<string, Unary>)[method]!.bind(client);
  return new Promise((resolve) => {
    fn(request, metadata, { deadline: Date.now() + DEADLINE_MS }, (error) => resolve({ code: error?.code ?? 0, details: error?.details ?? '' }));
  });
}

test('TCP: TLS + bearer token; read-only reads, operator changes, the rest refused and nothing changes', async () => {
  const { cert, key } = makeCertificate();
  await writeFile(join(dir, 'ops.token'), `${OPERATOR_TOKEN}\n`);
  await writeFile(join(dir, 'viewer.token'), `${VIEWER_TOKEN}\n`);
  const tokens = `[{ name: ops, role: operator, file: ${join(dir, 'ops.token')} }, { name: grafana, role: read-only, file: ${join(dir, 'viewer.token')} }]`;
  const config = join(dir, 'config.yaml');
  await writeFile(config, testConfig(dir, WEB_SEED).replace(/^api: \{ socket: (.*) \}$/m,
    `api: { socket: $1, listen: "127.0.0.1:0", tls: { cert: ${cert}, key: ${key} }, tokens: ${tokens} }`));

  const daemon = await startDaemon(['--config', config]);
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
    assert.not.equal((await call(plain, 'listVirtualServices', {}, OPERATOR_TOKEN)).code, grpc.status.OK, 'plaintext refused');
    const state = JSON.parse(await readFile(join(dir, 'state.json'), 'utf8')) as { services: unknown[] };
    assert.is(state.services.length, 1, 'refused calls changed nothing');

    assert.is((await call(tls, 'createVirtualService', newService, OPERATOR_TOKEN)).code, grpc.status.OK, 'operator may change');
    const after = JSON.parse(await readFile(join(dir, 'state.json'), 'utf8')) as { services: unknown[] };
    assert.is(after.services.length, 2);
  } catch (error) {
    throw withDaemonOutput(error, daemon);
  } finally {
    for (const c of clients) c.close();
    await daemon.stop();
  }
});

test.run();
