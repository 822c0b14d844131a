// The Defense gRPC service and `portcullis defend` against the REAL daemon: a block is
// listed with who/why/expiry, audited, removed by the daemon when it ends, and kept
// (or expired) across a restart through the state file. The tests up to the restart share one
// daemon (each starts by clearing every mitigation through the API and reads only the audit
// lines written after that); the restart is of that daemon; the full-disk test has its own.
import { execFile } from 'node:child_process';
import { appendFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { test } from '../support/suite.js';
import { eventually } from '../support/eventually.js';
import * as assert from 'uvu/assert';
import type { AuditLogTailResponse__Output } from '../../src/api/generated/portcullis/v1/AuditLogTailResponse.js';
import type { MitigationsResponse__Output } from '../../src/api/generated/portcullis/v1/MitigationsResponse.js';
import { sharedDaemon, testConfig, withDaemon, type DaemonSession, type SharedDaemon } from './daemon.js';

const SEED = `
  - name: echo
    protocol: udp
    vip: 198.18.0.10
    port: 7
    local_addresses: [198.19.0.200]
    servers:
      - { address: 198.19.0.1, port: 7, weight: 1 }
`;
const echo = { protocol: 'UDP' as const, vip: '198.18.0.10', port: 7 };
const WEB_SEED = `${SEED}
  - name: web
    protocol: tcp
    vip: 198.18.0.10
    port: 80
    synproxy: auto
    synproxy_auto: { syn_rate: 2000, hold_seconds: 20 }
    local_addresses: [198.19.0.200]
    servers:
      - { address: 198.19.0.1, port: 80, weight: 1 }
`;

/** The shared daemon's folder (its state file and audit log stay there across the restart). */
let sharedDir = '';
const config = () => testConfig(sharedDir, WEB_SEED);
let shared: SharedDaemon | undefined;
test.before(async () => {
  sharedDir = await mkdtemp(join(tmpdir(), 'pc-defend-'));
  shared = sharedDaemon({ dir: sharedDir, config: config() });
  await shared.start();
});
test.after(async () => {
  await shared?.stop();
  await rm(sharedDir, { recursive: true, force: true });
});

const list = (s: DaemonSession) => s.defense<MitigationsResponse__Output>('listMitigations', {}).then((r) => r.mitigations);
const auditTail = (s: DaemonSession) => s.defense<AuditLogTailResponse__Output>('auditLogTail', { lines: 10_000 }).then((r) => r.entries);
/** Audit entries (AuditLogTail) written since the current test began. */
let auditMark = 0;
const audit = async (s: DaemonSession) => (await auditTail(s)).slice(auditMark);

/**
 * Runs body on the shared daemon as a fresh one would be: every mitigation cleared through the
 * API first (its audit lines come before the test's), the audit log read from here on.
 */
function onSharedDaemon(body: (s: DaemonSession) => Promise<void>): Promise<void> {
  return shared!.use(async (s) => {
    const scopes = new Map((await list(s)).map((m) => [JSON.stringify(m.service), m.service ?? undefined]));
    for (const service of scopes.values()) {
      await s.defense('clearServiceDefense', { service, kinds: [], origin: { actor: 'test', reason: 'reset between tests' } });
    }
    assert.equal(await list(s), [], 'the shared daemon starts each test without mitigations');
    auditMark = (await auditTail(s)).length;
    await body(s);
  });
}

test('block → listed with actor/reason/expiry → audited → expires by itself', async () => {
  await onSharedDaemon(async (s) => {
    const perService = await s.cli(['defend', 'block', '198.51.100.7', '--service', '198.18.0.10:7/udp', '--reason', 'one bad host', '--actor', 'bob']);
    assert.is(perService.code, 0, perService.stderr);
    // Last, so that a slow CLI start cannot eat its 3 seconds before the list below.
    const blocked = await s.cli(['defend', 'block', '203.0.113.0/24', '--for', '3s', '--reason', 'flood from test net', '--actor', 'alice']);
    assert.is(blocked.code, 0, blocked.stderr);

    const active = await list(s);
    assert.is(active.length, 2);
    const global = active.find((m) => !m.service)!;
    assert.equal([global.kind, global.prefix, global.actor, global.reason], ['deny', '203.0.113.0/24', 'unix:alice', 'flood from test net']);
    assert.ok(Number(global.expiresInMs) > 0 && Number(global.expiresInMs) <= 3000, global.expiresInMs);
    const own = active.find((m) => m.service)!;
    assert.equal([own.service?.port, own.prefix, own.expiresAt], [7, '198.51.100.7/32', '']);

    // Each change: a "pending" line on disk before it takes effect, then its outcome.
    const lines = (await readFile(join(sharedDir, 'audit.log'), 'utf8')).trim().split('\n').slice(auditMark).map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(lines.map((l) => `${l.target} ${l.result}`), [
      'udp/198.18.0.10:7 deny 198.51.100.7/32 pending', 'udp/198.18.0.10:7 deny 198.51.100.7/32 ok',
      'global deny 203.0.113.0/24 pending', 'global deny 203.0.113.0/24 ok']);
    assert.equal(Object.keys(lines[0]!).sort(), ['action', 'actor', 'expiry', 'reason', 'result', 'target', 'time']);
    assert.equal([lines[3]!.actor, lines[3]!.action, lines[3]!.target, lines[3]!.result], ['unix:alice', 'block', 'global deny 203.0.113.0/24', 'ok']);
    assert.ok(typeof lines[3]!.expiry === 'string');
    assert.is(lines[0]!.expiry, null);

    // GetStats reports the defences per service with every reason, zeros included.
    const stats = await s.api.getStats({});
    assert.equal(stats.defense.map((d) => d.key?.port ?? null), [null, 7, 80], 'global, then echo and web');
    assert.ok('acl_denied' in stats.defense[1]!.dropped);

    await eventually('expiry of the 3s block', async () => (await list(s)).length === 1);
    // The audit line follows the state change.
    await eventually('the expire audit line', async () => (await audit(s)).some((e) => e.action === 'expire' && e.result === 'ok'));
    const expired = (await audit(s)).filter((e) => e.action === 'expire');
    assert.equal(expired.map((e) => [e.actor, e.target, e.result]), [['portcullis', 'global deny 203.0.113.0/24', 'pending'], ['portcullis', 'global deny 203.0.113.0/24', 'ok']]);
    assert.equal((await list(s)).map((m) => m.prefix), ['198.51.100.7/32']);
  });
});

test('bad input is refused with the problem named, exit 2, and nothing changes', async () => {
  await onSharedDaemon(async (s) => {
    const cases: [string[], RegExp][] = [
      [['block', '10.0.0.1/8', '--reason', 'x'], /host bits zero/],
      [['block', '10.0.0.0/8', '--for', '30x', '--reason', 'x'], /--for: expected a duration/],
      [['block', '10.0.0.0/8'], /--reason/],
      [['limit', 'udp', '--service', '198.18.0.10:7/udp', '--pps', 'lots', '--reason', 'x'], /--pps: expected a whole number/],
      [['limit', 'udp', '--service', '198.18.0.99:7/udp', '--pps', '10', '--reason', 'x'], /does not exist/],
      [['unblock', '10.9.9.9', '--reason', 'x'], /no active mitigation 10\.9\.9\.9\/32 in the global list/],
    ];
    for (const [args, message] of cases) {
      const result = await s.cli(['defend', ...args]);
      assert.match(result.stderr, message, args.join(' '));
      assert.is(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
    }
    assert.equal(await list(s), []);
    try {
      await s.defense('block', { prefix: '10.0.0.0/8', origin: { actor: 'a', reason: '' } });
      assert.unreachable('empty reason accepted');
    } catch (error) {
      assert.is((error as grpc.ServiceError).code, grpc.status.INVALID_ARGUMENT);
      assert.match((error as grpc.ServiceError).details, /origin\.reason/);
    }
  });
});

test('fragment policy: set per service and globally, listed and shown, checked, audited, cleared', async () => {
  await onSharedDaemon(async (s) => {
    const set = await s.cli(['defend', 'fragments', 'reassemble', '--service', '198.18.0.10:7/udp', '--for', '30m', '--reason', 'big DNS answers', '--actor', 'carol']);
    assert.is(set.code, 0, set.stderr);
    const limited = await s.cli(['defend', 'fragments', 'limit', '--pps', '200', '--reason', 'fragment flood', '--actor', 'carol']);
    assert.is(limited.code, 0, limited.stderr);
    const active = await list(s);
    const own = active.find((m) => m.service)!;
    assert.equal([own.kind, own.fragmentPolicy, own.actor], ['frag_policy', 'reassemble', 'unix:carol']);
    const global = active.find((m) => !m.service)!;
    assert.equal([global.fragmentPolicy, global.rate?.pps, global.rate?.burst], ['limit', 200, 200]);
    const shown = await s.cli(['defend', 'show']);
    assert.match(shown.stdout, /fragments reassemble/);
    assert.match(shown.stdout, /fragments limit 200\/s burst 200 per source/);
    for (const [args, message] of [
      [['fragments', 'limit', '--reason', 'x'], /--pps N is required/],
      [['fragments', 'reassemble', '--pps', '5', '--reason', 'x'], /only go with limit/],
      [['fragments', 'defrag', '--reason', 'x'], /POLICY: expected one of drop, limit, reassemble/],
    ] as [string[], RegExp][]) {
      const result = await s.cli(['defend', ...args]);
      assert.match(result.stderr, message, args.join(' '));
      assert.is(result.code, 2);
    }
    try {
      await s.defense('setServiceDefense', { fragments: { policy: 'limit' }, origin: { actor: 'a', reason: 'b' } });
      assert.unreachable('limit without a rate accepted');
    } catch (error) {
      assert.is((error as grpc.ServiceError).code, grpc.status.INVALID_ARGUMENT);
      assert.match((error as grpc.ServiceError).details, /fragments\.per_source/);
    }
    const cleared = await s.cli(['defend', 'clear', 'fragments', '--reason', 'flood over']);
    assert.is(cleared.code, 0, cleared.stderr);
    assert.equal((await list(s)).map((m) => m.fragmentPolicy), ['reassemble'], 'only the global one was cleared');
    const lines = (await audit(s)).map((e) => `${e.action} ${e.target}`);
    assert.ok(lines.includes('set_limits udp/198.18.0.10:7 fragments reassemble'), lines.join('\n'));
    assert.ok(lines.includes('clear global fragments limit 200/s burst 200'), lines.join('\n'));
  });
});

test('defend synproxy: on-call override of a service\'s SYNPROXY mode, shown, audited, cleared back to the config', async () => {
  await onSharedDaemon(async (s) => {
    const shown = async () => (await s.cli(['defend', 'show'])).stdout;
    assert.match(await shown(), /198\.18\.0\.10:80\/tcp\s+no\s/, 'auto, not engaged: SYNPROXY ACTIVE no');
    const on = await s.cli(['defend', 'synproxy', '198.18.0.10:80/tcp', 'on', '--for', '1h', '--reason', 'syn flood on web', '--actor', 'carol']);
    assert.is(on.code, 0, on.stderr);
    assert.match(on.stdout, /198\.18\.0\.10:80\/tcp\s+synproxy on\s+1h\s+unix:carol\s+syn flood on web/);
    assert.match(await shown(), /198\.18\.0\.10:80\/tcp\s+yes\s/, 'mode on: SYNPROXY ACTIVE yes');
    // auto without thresholds takes the service's configured ones; a new override replaces the old.
    const auto = await s.cli(['defend', 'synproxy', '198.18.0.10:80/tcp', 'auto', '--hold', '1m', '--reason', 'back to auto, longer hold']);
    assert.is(auto.code, 0, auto.stderr);
    const listed = await list(s);
    assert.is(listed.length, 1);
    assert.equal([listed[0]!.kind, listed[0]!.synproxyMode, listed[0]!.synproxyAuto?.synRate, listed[0]!.synproxyAuto?.holdSeconds], ['synproxy', 'auto', 2000, 60]);
    const bad: [string[], RegExp][] = [
      [['synproxy', '198.18.0.10:7/udp', 'on', '--reason', 'x'], /SVC: expected a TCP service/],
      [['synproxy', '198.18.0.10:80/tcp', 'sometimes', '--reason', 'x'], /mode: expected one of off, on, auto/],
      [['synproxy', '198.18.0.10:80/tcp', 'on', '--syn-rate', '10', '--reason', 'x'], /go with auto only/],
      [['synproxy', '198.18.0.10:81/tcp', 'on', '--reason', 'x'], /does not exist/],
    ];
    for (const [args, message] of bad) {
      const result = await s.cli(['defend', ...args]);
      assert.match(result.stderr, message, args.join(' '));
      assert.is(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
    }
    try {
      await s.defense('setSynproxy', { service: echo, mode: 'on', origin: { actor: 'a', reason: 'b' } });
      assert.unreachable('UDP service accepted');
    } catch (error) {
      assert.is((error as grpc.ServiceError).code, grpc.status.INVALID_ARGUMENT);
      assert.match((error as grpc.ServiceError).details, /^service: expected a TCP service/);
    }
    const cleared = await s.cli(['defend', 'clear', 'synproxy', '--service', '198.18.0.10:80/tcp', '--reason', 'flood over']);
    assert.is(cleared.code, 0, cleared.stderr);
    assert.equal(await list(s), []);
    const entries = await audit(s);
    assert.equal(entries.filter((e) => e.result === 'ok').map((e) => `${e.action} ${e.target}`), [
      'synproxy tcp/198.18.0.10:80 synproxy on',
      'synproxy tcp/198.18.0.10:80 synproxy auto 2000 syn/s hold 60s',
      'clear tcp/198.18.0.10:80 synproxy auto 2000 syn/s hold 60s',
    ]);
    assert.is(entries.filter((e) => e.result.startsWith('error:')).length, 2, 'the refused calls are audited too');
  });
});

test('mitigations survive a restart; one that ended while the daemon was down is removed at start', async () => {
  await onSharedDaemon(async (s) => {
    const limit = await s.cli(['defend', 'limit', 'udp', '--service', '198.18.0.10:7/udp', '--pps', '100', '--burst', '200', '--for', '1h', '--reason', 'udp flood']);
    assert.is(limit.code, 0, limit.stderr);
    const conns = await s.cli(['defend', 'limit', 'conns', '--service', '198.18.0.10:7/udp', '--max', '5000', '--reason', 'cap']);
    assert.is(conns.code, 0, conns.stderr);
    assert.is((await s.cli(['defend', 'block', '192.0.2.0/24', '--for', '1s', '--reason', 'short'])).code, 0);
  });
  await shared!.stop();
  const file = JSON.parse(await readFile(join(sharedDir, 'state.json'), 'utf8')) as { mitigations: unknown[] };
  assert.is(file.mitigations.length, 3);
  await new Promise((resolve) => setTimeout(resolve, 1100));  // let the 1s block end while nothing runs

  await withDaemon({ dir: sharedDir, config: config() }, async (s) => {
    await eventually('removal of the block that ended during the restart', async () => (await list(s)).length === 2);
    const active = await list(s);
    assert.equal(active.map((m) => m.kind).sort(), ['conn_max', 'udp_per_source']);
    const udp = active.find((m) => m.kind === 'udp_per_source')!;
    assert.equal([udp.rate?.pps, udp.rate?.burst, udp.reason], [100, 200, 'udp flood']);
    assert.ok(Number(udp.expiresInMs) > 3_500_000);
    await eventually('the expire audit line', async () => (await audit(s)).some((e) => e.action === 'expire' && e.target === 'global deny 192.0.2.0/24'));

    const cleared = await s.cli(['defend', 'clear', 'udp', '--service', '198.18.0.10:7/udp', '--reason', 'flood over']);
    assert.is(cleared.code, 0, cleared.stderr);
    assert.equal((await list(s)).map((m) => m.kind), ['conn_max']);
    const shown = await s.cli(['defend', 'show']);
    assert.is(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /198\.18\.0\.10:7\/udp\s+conn_max 5000\s+until removed/);
  });
});

/** Runs a command; rejects with its stderr when it fails. */
function exec(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => execFile(command, args, (error, _stdout, stderr) =>
    (error ? reject(new Error(`${command} ${args.join(' ')}: ${stderr || error.message}`)) : resolve())));
}

/** Writes 64 KiB chunks until the file system says ENOSPC. */
async function fillUp(file: string): Promise<void> {
  const chunk = Buffer.alloc(64 * 1024, 1);
  for (;;) {
    try {
      await appendFile(file, chunk);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOSPC') {
        // tmpfs takes what fits of the last chunk: fill the final pages byte-sized.
        for (;;) { try { await appendFile(file, chunk.subarray(0, 512)); } catch { return; } }
      }
      throw error;
    }
  }
}

test('real disks that fill up or turn read-only (two 1 MiB tmpfs: state file, audit log): no defence is ever in force without its audit line', async () => {
  assert.is(process.getuid?.(), 0, 'this test mounts tmpfs file systems: it needs root (the api suite runs as root here)');
  const dir = await mkdtemp(join(tmpdir(), 'pc-defend-disks-'));
  const stateDisk = join(dir, 'state-disk');
  const auditDisk = join(dir, 'audit-disk');
  const mounted: string[] = [];
  try {
    for (const disk of [stateDisk, auditDisk]) {
      await mkdir(disk);
      await exec('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0755', 'tmpfs', disk]);
      mounted.push(disk);
    }
    const stateFile = join(stateDisk, 'state.json');
    const auditFile = join(auditDisk, 'audit.log');
    const config = testConfig(dir, SEED).replace(join(dir, 'state.json'), stateFile).replace(join(dir, 'audit.log'), auditFile);
    await withDaemon({ dir, config }, async (s) => {
      const block = (prefix: string, reason: string) => s.defense('block', { prefix, origin: { actor: 'alice', reason } })
        .then(() => undefined, (e: grpc.ServiceError) => e);
      const prefixes = async () => (await list(s)).map((m) => m.prefix).sort();
      const stateAtStart = await readFile(stateFile, 'utf8');

      // 1. The audit disk is full and the log does not exist yet: its first line cannot be written.
      await fillUp(join(auditDisk, 'filler'));
      const noRoom = await block('192.0.2.0/24', 'INC-9 audit disk full');
      assert.is(noRoom?.code, grpc.status.INTERNAL, 'a block went through without its audit line');
      assert.match(noRoom!.details, /^cannot write the audit log .*audit\.log: ENOSPC: no space left on device.*; nothing changed/);
      assert.equal(await prefixes(), []);
      assert.is(await readFile(stateFile, 'utf8'), stateAtStart, 'the state file never saw it');
      await rm(join(auditDisk, 'filler'));

      assert.is(await block('203.0.113.0/24', 'INC-9 first'), undefined);
      const stateBefore = await readFile(stateFile, 'utf8');

      // 2. The state disk is full: the pending line is written, the state file is not, the change is rolled back.
      await fillUp(join(stateDisk, 'filler'));
      const full = await block('198.51.100.0/24', 'INC-9 state disk full');
      assert.is(full?.code, grpc.status.INTERNAL);
      assert.match(full!.details, /^cannot write state file .*state\.json: write-temp: ENOSPC: no space left on device.*; change rolled back$/);
      assert.equal(await prefixes(), ['203.0.113.0/24'], 'not in force');
      assert.is(await readFile(stateFile, 'utf8'), stateBefore, 'the state file is the old one');
      await s.api.createVirtualService({ service: { key: { protocol: 'TCP', vip: '198.18.0.10', port: 443 }, localAddresses: ['198.19.0.200'] } }).then(
        () => assert.unreachable('a service was created on a full disk'),
        (e: grpc.ServiceError) => assert.match(e.details, /write-temp: ENOSPC.*change rolled back$/));
      assert.equal((await s.api.listVirtualServices({})).services.map((v) => v.key?.port), [7]);
      await rm(join(stateDisk, 'filler'));

      // 3. The audit disk turns read-only (the state disk is fine): nothing may change, additions or removals.
      await exec('mount', ['-o', 'remount,ro', auditDisk]);
      const readOnly = await block('192.0.2.0/24', 'INC-9 audit read-only');
      assert.match(readOnly?.details ?? 'accepted', /^cannot write the audit log .*audit\.log: EROFS: read-only file system.*; nothing changed/);
      const unblock = await s.defense('unblock', { prefix: '203.0.113.0/24', origin: { actor: 'alice', reason: 'INC-9 over' } })
        .then(() => undefined, (e: grpc.ServiceError) => e);
      assert.match(unblock?.details ?? 'accepted', /^cannot write the audit log .*EROFS/);
      assert.equal(await prefixes(), ['203.0.113.0/24']);
      assert.is(await readFile(stateFile, 'utf8'), stateBefore);

      // 4. Room again: everything works, and every line on disk parses.
      await exec('mount', ['-o', 'remount,rw', auditDisk]);
      assert.is(await block('198.51.100.0/24', 'INC-9 again'), undefined);
      assert.equal(await prefixes(), ['198.51.100.0/24', '203.0.113.0/24']);
      const entries = (await readFile(auditFile, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { target: string; result: string });
      assert.equal(entries.map((e) => `${e.target} ${e.result.replace(/:.*/s, ':')}`), [
        'global deny 203.0.113.0/24 pending', 'global deny 203.0.113.0/24 ok',
        'global deny 198.51.100.0/24 pending', 'global deny 198.51.100.0/24 error:',
        'global deny 198.51.100.0/24 pending', 'global deny 198.51.100.0/24 ok',
      ]);
      assert.is(s.daemon.child.exitCode, null, 'the daemon ran through all of it');
    });
  } finally {
    for (const disk of mounted.reverse()) await exec('umount', [disk]).catch(() => exec('umount', ['-l', disk]));
    await rm(dir, { recursive: true, force: true });
  }
});

test.run();
