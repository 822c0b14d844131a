// Control API identities (issue 8) against the REAL daemon: client certificates (mTLS) mapped
// to roles through api.clients, bearer tokens beside them, the audit actor taken from the
// authenticated identity, and pcadm / portcullis over --server with TLS and a token or a
// certificate. Certificates are made with openssl at test time (test/api/certificates.ts).
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { loadPortcullisProto } from '../../src/api/proto.js';
import { resolveEndpoint, type EndpointFlags } from '../../src/cli/endpoint.js';
import { runPcadm } from '../../src/cli/pcadm/main.js';
import { makeCa, makeLeaf, type Pair } from './certificates.js';
import { runCli, startDaemon, testConfig, WEB_SEED, withDaemonOutput, type Daemon } from './daemon.js';

const OPERATOR_TOKEN = 'op-0123456789abcdef0123456789';
const VIEWER_TOKEN = 'ro-0123456789abcdef0123456789';
const DEADLINE_MS = 5000;

interface Lab {
  dir: string;
  ca: Pair;
  alice: Pair;     // CN=alice-laptop, listed as operator
  dash: Pair;      // CN=dashboard, SAN DNS:dash.example listed as read-only
  mallory: Pair;   // signed by our CA, listed nowhere
  rogue: Pair;     // CN=alice-laptop, signed by a CA the daemon does not trust
  opsToken: string;
  viewerToken: string;
}

async function makeLab(): Promise<Lab> {
  const dir = await mkdtemp(join(tmpdir(), 'pc-mtls-'));
  const ca = makeCa(dir, 'ca');
  const other = makeCa(dir, 'other-ca');
  const opsToken = join(dir, 'ops.token');
  const viewerToken = join(dir, 'viewer.token');
  await writeFile(opsToken, `${OPERATOR_TOKEN}\n`, { mode: 0o600 });
  await writeFile(viewerToken, `${VIEWER_TOKEN}\n`, { mode: 0o600 });
  makeLeaf(dir, ca, 'server', 'localhost', 'DNS:localhost,IP:127.0.0.1');
  return {
    dir, ca, opsToken, viewerToken,
    alice: makeLeaf(dir, ca, 'alice', 'alice-laptop'),
    dash: makeLeaf(dir, ca, 'dash', 'dashboard', 'DNS:dash.example'),
    mallory: makeLeaf(dir, ca, 'mallory', 'mallory'),
    rogue: makeLeaf(dir, other, 'rogue', 'alice-laptop'),
  };
}

async function startSecured(lab: Lab, clientCerts: 'optional' | 'required'): Promise<{ daemon: Daemon; server: string }> {
  const d = lab.dir;
  const api = `api: { socket: ${join(d, 'api.sock')}, listen: "127.0.0.1:0",
  tls: { cert: ${join(d, 'server.crt')}, key: ${join(d, 'server.key')}, client_ca: ${lab.ca.cert}, client_certs: ${clientCerts} },
  tokens: [{ name: ops, role: operator, file: ${lab.opsToken} }, { name: grafana, role: read-only, file: ${lab.viewerToken} }],
  clients: [{ name: alice-laptop, role: operator }, { name: dash.example, role: read-only }] }`;
  const config = join(d, 'config.yaml');
  await writeFile(config, testConfig(d, WEB_SEED).replace(/^api: \{ socket: .* \}$/m, api));
  const daemon = await startDaemon(['--config', config]);
  const port = /serving gRPC on .*127\.0\.0\.1:(\d+)/.exec(daemon.output())?.[1];
  if (!port) { await daemon.stop(); throw new Error(`no TCP address in the daemon's log:\n${daemon.output()}`); }
  return { daemon, server: `127.0.0.1:${port}` };
}

type Unary = (request: object, metadata: grpc.Metadata, options: grpc.CallOptions, callback: (error: grpc.ServiceError | null, response?: unknown) => void) => void;
interface Outcome { code: number; details: string; response?: unknown }

/** One unary call through a client built exactly as the CLI builds it (resolveEndpoint). */
async function call(service: 'VirtualServices' | 'Defense', flags: EndpointFlags, method: string, request: object,
  extra?: Record<string, string>): Promise<Outcome> {
  const endpoint = resolveEndpoint(flags, {});
  const { grpcObject } = loadPortcullisProto();
  const client = new grpcObject.portcullis.v1[service](endpoint.target, endpoint.credentials, endpoint.options) as unknown as grpc.Client;
  const metadata = new grpc.Metadata();
  for (const [k, v] of Object.entries(extra ?? {})) metadata.set(k, v);
  const fn = (client as unknown as Record<string, Unary>)[method]!.bind(client);
  try {
    return await new Promise((resolve) => {
      fn(request, metadata, { deadline: Date.now() + DEADLINE_MS }, (error, response) =>
        resolve({ code: error?.code ?? 0, details: error?.details ?? '', response }));
    });
  } finally {
    client.close();
  }
}

const newService = (port: number) => ({ service: { key: { protocol: 'TCP', vip: '198.18.0.10', port }, localAddresses: ['198.19.0.201'] } });

async function serviceCount(dir: string): Promise<number> {
  return (JSON.parse(await readFile(join(dir, 'state.json'), 'utf8')) as { services: unknown[] }).services.length;
}

async function pcadm(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const saved = process.env.PORTCULLIS_TOKEN;
  if (env.PORTCULLIS_TOKEN !== undefined) process.env.PORTCULLIS_TOKEN = env.PORTCULLIS_TOKEN;
  try {
    const code = await runPcadm(args, { stdout: (t) => { out += t; }, stderr: (t) => { err += t; }, stdin: async () => '' });
    return { code, out, err };
  } finally {
    if (saved === undefined) delete process.env.PORTCULLIS_TOKEN; else process.env.PORTCULLIS_TOKEN = saved;
  }
}

let lab: Lab;
test.before(async () => { lab = await makeLab(); });
test.after(async () => { await rm(lab.dir, { recursive: true, force: true }); });

test('mTLS: a listed certificate is an identity with its role; unlisted or untrusted ones are refused; tokens still work', async () => {
  const { daemon, server } = await startSecured(lab, 'optional');
  const tls = { server, 'tls-ca': lab.ca.cert };
  const cert = (p: Pair) => ({ ...tls, 'tls-cert': p.cert, 'tls-key': p.key });
  try {
    assert.is((await call('VirtualServices', cert(lab.alice), 'createVirtualService', newService(81))).code, grpc.status.OK, 'operator certificate changes');
    assert.is((await call('VirtualServices', cert(lab.dash), 'listVirtualServices', {})).code, grpc.status.OK, 'read-only certificate (by SAN) reads');
    const denied = await call('VirtualServices', cert(lab.dash), 'createVirtualService', newService(82));
    assert.is(denied.code, grpc.status.PERMISSION_DENIED);
    assert.match(denied.details, /^dash\.example \(read-only\) may not call \/portcullis\.v1\.VirtualServices\/CreateVirtualService$/);
    const unlisted = await call('VirtualServices', cert(lab.mallory), 'createVirtualService', newService(83));
    assert.is(unlisted.code, grpc.status.UNAUTHENTICATED);
    assert.match(unlisted.details, /mallory\) matches no api\.clients entry/);
    // Same CN as alice, wrong CA: TLS does not vouch for it, so it is no identity at all.
    const rogue = await call('VirtualServices', cert(lab.rogue), 'createVirtualService', newService(84));
    assert.is(rogue.code, grpc.status.UNAUTHENTICATED, JSON.stringify(rogue));
    assert.is((await call('VirtualServices', { ...tls, 'token-file': lab.opsToken }, 'createVirtualService', newService(85))).code, grpc.status.OK, 'token without certificate');
    // A token, when sent, decides: the read-only token on alice's operator certificate may not change.
    const tokenFirst = await call('VirtualServices', { ...cert(lab.alice), 'token-file': lab.viewerToken }, 'createVirtualService', newService(86));
    assert.is(tokenFirst.code, grpc.status.PERMISSION_DENIED);
    assert.is(await serviceCount(lab.dir), 3, 'web + the two allowed creates; refused calls changed nothing');
  } catch (error) {
    throw withDaemonOutput(error, daemon);
  } finally {
    await daemon.stop();
  }
});

test('client_certs: required — no certificate, no connection (a token alone is not enough)', async () => {
  const { daemon, server } = await startSecured(lab, 'required');
  try {
    const tokenOnly = await call('VirtualServices', { server, 'tls-ca': lab.ca.cert, 'token-file': lab.opsToken }, 'listVirtualServices', {});
    assert.is(tokenOnly.code, grpc.status.UNAVAILABLE, JSON.stringify(tokenOnly));
    const withCert = await call('VirtualServices', { server, 'tls-ca': lab.ca.cert, 'tls-cert': lab.dash.cert, 'tls-key': lab.dash.key }, 'listVirtualServices', {});
    assert.is(withCert.code, grpc.status.OK, JSON.stringify(withCert));
  } catch (error) {
    throw withDaemonOutput(error, daemon);
  } finally {
    await daemon.stop();
  }
});

test('audit actor = the authenticated identity over TCP ("ops (as alice)"), "unix:<actor>" on the socket; the caller entry cannot be forged', async () => {
  const { daemon, server } = await startSecured(lab, 'optional');
  const socket = { socket: join(lab.dir, 'api.sock') };
  const token = { server, 'tls-ca': lab.ca.cert, 'token-file': lab.opsToken };
  const cert = { server, 'tls-ca': lab.ca.cert, 'tls-cert': lab.alice.cert, 'tls-key': lab.alice.key };
  const block = (prefix: string, actor: string) => ({ prefix, origin: { actor, reason: 'test' } });
  try {
    const results = [
      await call('Defense', token, 'block', block('192.0.2.1', 'alice')),
      await call('Defense', token, 'block', block('192.0.2.2', 'ops')),
      await call('Defense', cert, 'block', block('192.0.2.3', '')),
      await call('Defense', socket, 'block', block('192.0.2.4', 'bob')),
      await call('Defense', socket, 'block', block('192.0.2.5', 'carol'), { 'x-portcullis-caller': 'ops' }),
      await call('Defense', token, 'block', block('192.0.2.6', 'dave'), { 'x-portcullis-caller': 'grafana' }),
      await call('Defense', socket, 'block', block('192.0.2.8', 'frank'), { 'x-portcullis-caller': 'tcp:ops' }),
    ];
    assert.equal(results.map((r) => r.code), [0, 0, 0, 0, 0, 0, 0], JSON.stringify(results));
    const noActor = await call('Defense', socket, 'block', block('192.0.2.7', ''));
    assert.is(noActor.code, grpc.status.INVALID_ARGUMENT, 'the socket needs a claimed actor: never an empty one');
    assert.match(noActor.details, /^origin\.actor: /);

    const expected = ['ops (as alice)', 'ops', 'alice-laptop', 'unix:bob', 'unix:carol', 'ops (as dave)', 'unix:frank'];
    const listed = await call('Defense', socket, 'listMitigations', {});
    const byPrefix = new Map(((listed.response as { mitigations: { prefix: string; actor: string }[] }).mitigations).map((m) => [m.prefix, m.actor]));
    assert.equal([1, 2, 3, 4, 5, 6, 8].map((n) => byPrefix.get(`192.0.2.${n}/32`)), expected);
    const lines = (await readFile(join(lab.dir, 'audit.log'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { actor: string; target: string; result: string });
    // Each change has its "pending" line (written before it took effect) and its outcome: both name the actor.
    assert.equal(lines.map((l) => l.actor), expected.flatMap((actor) => [actor, actor]), 'the audit log names the same actors');
    assert.equal(lines.map((l) => l.result), expected.flatMap(() => ['pending', 'ok']));

    // The CLI over TCP: its --actor becomes the note, the token's name the actor.
    const cli = await runCli(['defend', 'block', '198.51.100.9', '--reason', 'cli over tcp', '--actor', 'erin',
      '--server', server, '--tls-ca', lab.ca.cert], 20_000, { PORTCULLIS_TOKEN: OPERATOR_TOKEN });
    assert.is(cli.code, 0, cli.stderr);
    assert.match(cli.stdout, /ops \(as erin\)/);
  } catch (error) {
    throw withDaemonOutput(error, daemon);
  } finally {
    await daemon.stop();
  }
});

test('pcadm and portcullis over --server: TLS + token works; a read-only token gets PERMISSION_DENIED with a clear message; bad flag combinations exit 2', async () => {
  const { daemon, server } = await startSecured(lab, 'optional');
  const tcp = ['--server', server, '--tls-ca', lab.ca.cert];
  try {
    const added = await pcadm([...tcp, '--token-file', lab.opsToken, '-A', '-t', '198.18.0.10:90', '-s', 'rr']);
    assert.is(added.code, 0, added.err);
    const listed = await pcadm([...tcp, '-Ln'], { PORTCULLIS_TOKEN: VIEWER_TOKEN });
    assert.is(listed.code, 0, listed.err);
    assert.match(listed.out, /TCP {2}198\.18\.0\.10:90 rr/);
    const viaCert = await pcadm([...tcp, '--tls-cert', lab.dash.cert, '--tls-key', lab.dash.key, '-Ln']);
    assert.is(viaCert.code, 0, viaCert.err);
    assert.match(viaCert.out, /198\.18\.0\.10:90/);

    const before = await serviceCount(lab.dir);
    const denied = await pcadm([...tcp, '--token-file', lab.viewerToken, '-A', '-t', '198.18.0.10:91', '-s', 'rr']);
    assert.is(denied.code, 255);
    assert.is(denied.err, 'Permission denied (you must be an operator): grafana (read-only) may not call /portcullis.v1.VirtualServices/CreateVirtualService\n');
    const wrongToken = await pcadm([...tcp, '-Ln'], { PORTCULLIS_TOKEN: 'not-the-right-token-0000' });
    assert.is(wrongToken.code, 255);
    assert.match(wrongToken.err, /^Can't initialize ipvs: not authenticated by 127\.0\.0\.1:\d+: unknown bearer token/);
    assert.is(await serviceCount(lab.dir), before, 'refused calls changed nothing');

    const bad: [string[], RegExp][] = [
      [['--tls-ca', lab.ca.cert, '-Ln'], /^pcadm: --tls-ca: only goes with --server HOST:PORT/],
      [[...tcp, '--socket', '/tmp/x.sock', '--token-file', lab.opsToken, '-Ln'], /^pcadm: --server: give --socket PATH or --server HOST:PORT, not both/],
      [[...tcp, '--tls-cert', lab.alice.cert, '-Ln'], /^pcadm: --tls-cert: a client certificate needs both --tls-cert and --tls-key/],
      [[...tcp, '-Ln'], /^pcadm: --server: needs a credential/],
      [['--server', 'gw', '--token-file', lab.opsToken, '-Ln'], /^pcadm: --server: expected HOST:PORT/],
      [[...tcp, '--token-file', join(lab.dir, 'missing.token'), '-Ln'], /^pcadm: --token-file: cannot read .*missing\.token \(ENOENT\)/],
    ];
    for (const [args, message] of bad) {
      const r = await pcadm(args);
      assert.is(r.code, 2, `${args.join(' ')}: ${r.err}`);
      assert.match(r.err, message);
    }

    const stats = await runCli(['stats', ...tcp, '--token-file', lab.viewerToken, '--json']);
    assert.is(stats.code, 0, stats.stderr);
    assert.ok(Array.isArray((JSON.parse(stats.stdout) as { services: unknown[] }).services));
    const status = await runCli(['status', ...tcp, '--tls-cert', lab.alice.cert, '--tls-key', lab.alice.key]);
    assert.is(status.code, 0, status.stderr);
    const mixed = await runCli(['stats', '--tls-ca', lab.ca.cert]);
    assert.is(mixed.code, 2);
    assert.match(mixed.stderr, /--tls-ca: only goes with --server HOST:PORT/);
    const clear = await runCli(['defend', 'clear', '--reason', 'x', ...tcp, '--token-file', lab.viewerToken]);
    assert.is(clear.code, 1);
    assert.match(clear.stderr, /permission denied: grafana \(read-only\) may not call \/portcullis\.v1\.Defense\/ClearServiceDefense/);
  } catch (error) {
    throw withDaemonOutput(error, daemon);
  } finally {
    await daemon.stop();
  }
});

test.run();
