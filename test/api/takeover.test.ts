// `portcullis run --takeover` and the HandOver RPC against the REAL daemon on ring ports, with its
// connection region in the test's folder (docs/operations.md "Restarts, crashes and upgrades").
// Connections surviving with real TCP stacks are the lab's part (test/e2e/restart.test.ts); here:
// who may hand over, writes refused while held, the abort path, and the whole hand-over between
// two daemon processes (old exits 0 without stopping its data plane, new reports the gap).
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { connect } from '../../src/cli/client.js';
import { loadDataplane } from '../../src/dataplane/addon.js';
import type { AuditEntry } from '../../src/defense/audit-log.js';
import { expectGrpcError } from '../support/expected-errors.js';
import { openHandOver, type HandOverStream } from '../support/hand-over-stream.js';
import { runCli, startDaemon, testConfig, WEB_SEED, withDaemon, withDaemonOutput, writeConfig } from './daemon.js';
import { makeLab, OPERATOR_TOKEN, startSecured, VIEWER_TOKEN } from './secured.js';
import { eventually } from '../support/eventually.js';

const web = { protocol: 'TCP' as const, vip: '198.18.0.10', port: 80 };
const extra = (port: number) => ({ service: { key: { ...web, port }, localAddresses: ['198.19.0.201'], servers: [{ address: '198.19.0.2', port: 80, weight: 1 }] } });
const HOLD = { step: 'HOLD' as const, pid: 1, actor: 'takeover-test', reason: 'api suite' };

/** Not a skip: the daemon-level hand-over needs the addon's handOver/resume/release (dataplane/core/conn_region.*). */
function requireTakeoverAddon(): void {
  const addon = loadDataplane() as unknown as Record<string, unknown>;
  const missing = ['handOver', 'resume', 'release'].filter((name) => typeof addon[name] !== 'function');
  assert.ok(missing.length === 0, `the built addon has no ${missing.join('/')}(): build the data plane with the connection region (dataplane/core/conn_region.*) first`);
}

/** TLS to the secured daemon, with a bearer token or a client certificate as the caller. */
async function tcpHandOver(port: number, lab: Awaited<ReturnType<typeof makeLab>>, who: { token?: string; cert?: { cert: string; key: string } }): Promise<HandOverStream> {
  const ca = await readFile(lab.ca.cert);
  let credentials = who.cert
    ? grpc.credentials.createSsl(ca, await readFile(who.cert.key), await readFile(who.cert.cert))
    : grpc.credentials.createSsl(ca);
  if (who.token) {
    const header = `Bearer ${who.token}`;
    credentials = grpc.credentials.combineChannelCredentials(credentials, grpc.credentials.createFromMetadataGenerator((_, done) => {
      const metadata = new grpc.Metadata();
      metadata.set('authorization', header);
      done(null, metadata);
    }));
  }
  return openHandOver(`127.0.0.1:${port}`, credentials, { 'grpc.ssl_target_name_override': 'localhost', 'grpc.default_authority': 'localhost' });
}

let dir = '';
test.before.each(async () => { dir = await mkdtemp(join(tmpdir(), 'pc-takeover-')); });
test.after.each(async () => { await rm(dir, { recursive: true, force: true }); });

type SecuredLab = Awaited<ReturnType<typeof makeLab>>;
/** A daemon with TLS + tokens on TCP and its unix socket client; always stopped and removed. */
async function withSecuredDaemon(fn: (s: { lab: SecuredLab; daemon: Awaited<ReturnType<typeof startSecured>>['daemon']; port: number;
  clients: ReturnType<typeof connect> }) => Promise<void>): Promise<void> {
  const lab = await makeLab('pc-takeover-tls-');
  const { daemon, port } = await startSecured(lab);
  const clients = connect(join(lab.dir, 'api.sock'));
  try {
    await fn({ lab, daemon, port, clients });
  } catch (error) {
    throw withDaemonOutput(error, daemon);
  } finally {
    clients.close();
    await daemon.stop();
    await rm(lab.dir, { recursive: true, force: true });
  }
}

test('HandOver over TCP: a read-only token or certificate is PERMISSION_DENIED and nothing is held; no credential is UNAUTHENTICATED', () =>
  withSecuredDaemon(async ({ lab, port, clients }) => {
    for (const who of [{ token: VIEWER_TOKEN }, { cert: lab.viewer }]) {
      const stream = await tcpHandOver(port, lab, who);
      try {
        stream.send(HOLD);
        await expectGrpcError(stream.next(), grpc.status.PERMISSION_DENIED, /\(read-only\) may not call \/portcullis\.v1\.Takeover\/HandOver/);
      } finally {
        stream.close();
      }
      // Not held: changes go through, and the audit log has no hand-over.
      await clients.api.createVirtualService(extra(81));
      await clients.api.deleteVirtualService({ key: { ...web, port: 81 } });
    }
    const anonymous = openHandOver(`127.0.0.1:${port}`, grpc.credentials.createSsl(await readFile(lab.ca.cert)),
      { 'grpc.ssl_target_name_override': 'localhost', 'grpc.default_authority': 'localhost' });
    try {
      anonymous.send(HOLD);
      await expectGrpcError(anonymous.next(), grpc.status.UNAUTHENTICATED, /missing "authorization: Bearer <token>"/);
    } finally {
      anonymous.close();
    }
    const audit = await readFile(join(lab.dir, 'audit.log'), 'utf8').catch(() => '');
    assert.not.match(audit, /"takeover"/);
  }));

test('HandOver over TCP as operator: HELD; the caller cancels → the daemon resumes; audited under the token\'s name', () => {
  requireTakeoverAddon();
  return withSecuredDaemon(async ({ lab, daemon, port, clients }) => {
    const stream = await tcpHandOver(port, lab, { token: OPERATOR_TOKEN });
    try {
      stream.send(HOLD);
      const held = await stream.next();
      assert.is(held.step, 'HELD');
      assert.is(held.pid, daemon.child.pid);
    } finally {
      stream.close();
    }
    await eventually('changes accepted again after the cancel', async () => (await clients.api.createVirtualService(extra(82)).then(() => true, () => false)), 5_000, 50);
    const lines = (await readFile(join(lab.dir, 'audit.log'), 'utf8')).split('\n').filter(Boolean).map((l) => JSON.parse(l) as AuditEntry)
      .filter((l) => l.action === 'takeover');
    assert.equal(lines.map((l) => [l.actor, l.result.replace(/:.*/, '')]), [['ops (as takeover-test)', 'pending'], ['ops (as takeover-test)', 'error']]);
    assert.match(lines[1]!.result, /resumed$/);
  });
});

test('abort path: HOLD → writes UNAVAILABLE → the new side disconnects before COMMIT → the daemon resumes, takes writes and keeps running', async () => {
  requireTakeoverAddon();
  await withDaemon({ dir, config: testConfig(dir, WEB_SEED) }, async ({ daemon, socket, api }) => {
    const stream = openHandOver(`unix:${socket}`);
    try {
      stream.send(HOLD);
      const held = await stream.next();
      assert.is(held.step, 'HELD');
      assert.is(held.stateFile, join(dir, 'state.json'));
      await expectGrpcError(api.createVirtualService(extra(83)), grpc.status.UNAVAILABLE, /handing over to a new daemon/);
      const status = await api.getStatus({});
      assert.is(status.connRegion?.path, join(dir, 'conns.region'));
    } finally {
      stream.close();
    }
    await eventually('changes accepted again after the disconnect', async () => (await api.createVirtualService(extra(84)).then(() => true, () => false)), 5_000, 50);
    assert.equal((await api.listVirtualServices({})).services.map((s) => s.key?.port).sort(), [80, 84]);
    assert.is(daemon.child.exitCode, null, 'the old daemon still runs');
    assert.match(daemon.output(), /takeover: the new daemon closed, cancelled or lost the stream before COMMIT; forwarding and taking changes again/);
  });
});

test('portcullis run --takeover: the new daemon adopts the region and serves the same state; the old one exits 0; status shows the gap', async () => {
  requireTakeoverAddon();
  const config = await writeConfig(dir, WEB_SEED);
  const socket = join(dir, 'api.sock');
  const old = await startDaemon(['--config', config]);
  let next: Awaited<ReturnType<typeof startDaemon>> | undefined;
  try {
    const before = connect(socket);
    try {
      await before.api.createVirtualService(extra(85));
      const status = await before.api.getStatus({});
      assert.is(status.connRegion?.outcome, 'created');
      assert.is(status.lastTakeover, null);
    } finally {
      before.close();
    }
    next = await startDaemon(['--config', config, '--takeover']);
    assert.is(await old.exited, 0, 'the old daemon exits 0 after COMMIT');
    assert.match(old.output(), /takeover: the new daemon forwards \(gap [0-9.]+ ms\); closing the API and exiting/);
    assert.not.match(old.output(), /stop: /);
    const after = connect(socket);
    try {
      const status = await after.api.getStatus({});
      assert.is(status.connRegion?.outcome, 'adopted');
      assert.is(status.connRegion?.path, join(dir, 'conns.region'));
      assert.is(status.lastTakeover?.oldPid, old.child.pid);
      const gapMs = Number(status.lastTakeover?.gapUs) / 1000;
      assert.ok(gapMs > 0 && gapMs < 5000, `gap ${gapMs} ms`);
      assert.equal((await after.api.listVirtualServices({})).services.map((s) => s.key?.port).sort(), [80, 85]);
      await after.api.createVirtualService(extra(86));  // the new daemon takes changes
      const text = await runCli(['status', '--socket', socket]);
      assert.match(text.stdout, /connection region .*conns\.region: adopted/);
      assert.match(text.stdout, new RegExp(`last takeover: from pid ${old.child.pid} at .*, [0-9.]+ ms without forwarding`));
    } finally {
      after.close();
    }
    assert.match(next.output(), /takeover: forwarding; gap [0-9.]+ ms without forwarding/);
  } catch (error) {
    throw withDaemonOutput(withDaemonOutput(error, old), next ?? old);
  } finally {
    await next?.stop();
    await old.stop();
  }
});

test('--takeover with nothing to take over from: exit 1 naming the socket, nothing started; with conn_region off: exit 2', async () => {
  const config = await writeConfig(dir, WEB_SEED);
  const alone = await runCli(['run', '--config', config, '--takeover']);
  assert.is(alone.code, 1, alone.stderr);
  assert.match(alone.stderr, new RegExp(`--takeover: no daemon answers on ${join(dir, 'api.sock').replace(/[.]/g, '\\.')}`));
  assert.not.match(alone.stderr, /EAL/);
  const off = join(dir, 'off.yaml');
  await import('node:fs/promises').then(({ writeFile }) => writeFile(off, testConfig(dir, WEB_SEED).replace(/conn_region: [^ ]+ /, 'conn_region: off ')));
  const refused = await runCli(['run', '--config', off, '--takeover']);
  assert.is(refused.code, 2, refused.stderr);
  assert.match(refused.stderr, /--takeover: dataplane\.conn_region is off/);
});

test.run();
