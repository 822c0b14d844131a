// The defence audit log is written ahead: a mitigation is never in force without its line on
// disk. The real Mitigations, Controller, writeStateFile and AuditLog on a real directory; the
// data plane is a recording fake (it reads the audit file at the moment a change reaches it),
// and single fs calls of the audit log or the state file fail on purpose.
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { Controller } from '../../src/daemon/controller.js';
import type { DataplaneConfig } from '../../src/dataplane/types.js';
import { AuditLog, NODE_AUDIT_FS, type AuditFileHandle, type AuditFs } from '../../src/defense/audit-log.js';
import { startExpiryTimer } from '../../src/defense/expiry.js';
import { Mitigations } from '../../src/defense/mitigations.js';
import { setLogLevel } from '../../src/log.js';
import { controlEvents } from '../../src/metrics/control-events.js';
import { ModelError } from '../../src/model/index.js';
import { parseState, writeStateFile } from '../../src/state/file.js';
import { ringPortsState } from '../support/desired-state.js';

setLogLevel('error');
// The snapshot leaves out what expired by the wall clock: durations are long enough never to end during the run.
const T0 = Date.now();
const HOUR = 3_600_000;
const origin = { actor: 'unix:alice', reason: 'INC-7' };


type AuditStep = 'mkdir' | 'open' | 'stat' | 'write' | 'fsync' | 'close' | 'open-dir' | 'fsync-dir';
const AUDIT_STEPS: AuditStep[] = ['mkdir', 'open', 'stat', 'write', 'fsync', 'close', 'open-dir', 'fsync-dir'];

/** node:fs/promises where the audit log's call at `step` fails while `failing()` says so; `write` leaves half a line first, as a full disk does. */
function failingAuditFs(step: AuditStep, failing: () => boolean): AuditFs {
  const error = () => Object.assign(new Error(`ENOSPC: no space left on device (${step})`), { code: 'ENOSPC' });
  const fail = (name: AuditStep) => { if (step === name && failing()) throw error(); };
  const wrap = (handle: AuditFileHandle, dir: boolean): AuditFileHandle => ({
    stat: async () => { fail('stat'); return handle.stat(); },
    writeFile: async (data, encoding) => {
      if (step === 'write' && failing()) {
        await handle.writeFile(data.slice(0, 20), encoding);
        throw error();
      }
      return handle.writeFile(data, encoding);
    },
    sync: async () => { fail(dir ? 'fsync-dir' : 'fsync'); return handle.sync(); },
    truncate: (length) => handle.truncate(length),
    close: async () => { await handle.close(); if (!dir) fail('close'); },
  });
  return {
    mkdir: async (path, options) => { fail('mkdir'); return NODE_AUDIT_FS.mkdir(path, options); },
    open: async (path, flags, mode) => {
      fail(flags === 'r' ? 'open-dir' : 'open');
      return wrap(await NODE_AUDIT_FS.open(path, flags, mode), flags === 'r');
    },
  };
}

interface Rig {
  mitigations: Mitigations;
  controller: Controller;
  audit: AuditLog;
  /** For every apply: the global ACL prefixes it carried and the audit lines on disk at that moment. */
  applies: { acl: string[]; auditLines: string[] }[];
  dataplane: { failOnCall?: number; calls: number };
  state: { failWrite: boolean };
}

async function rig(dir: string, auditFs: AuditFs = NODE_AUDIT_FS): Promise<Rig> {
  const auditPath = join(dir, 'audit', 'audit.log');
  const applies: Rig['applies'] = [];
  const dataplane = {
    failOnCall: undefined as number | undefined,
    calls: 0,
    apply(config: DataplaneConfig) {
      this.calls++;
      if (this.failOnCall !== undefined && this.calls >= this.failOnCall) {
        this.failOnCall = undefined;
        throw Object.assign(new Error('no memory for the snapshot'), { code: 'ENOMEM' });
      }
      let auditLines: string[] = [];
      try { auditLines = readFileSync(auditPath, 'utf8').trim().split('\n').filter(Boolean); } catch { /* not created yet */ }
      applies.push({ acl: (config.defense?.acl?.entries ?? []).map((e) => e.prefix), auditLines });
      return { version: applies.length };
    },
  };
  const state = { failWrite: false };
  const controller = new Controller(dataplane, join(dir, 'state.json'), ringPortsState(), async (file, text) => {
    if (state.failWrite) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    await writeStateFile(file, text);
  });
  await controller.applyInitial();
  const audit = new AuditLog(auditPath, auditFs);
  return { mitigations: new Mitigations(controller, audit, () => T0), controller, audit, applies, dataplane, state };
}

async function auditLines(rig: Rig): Promise<{ action: string; target: string; result: string }[]> {
  const text = await readFile(rig.audit.path, 'utf8').catch(() => '');
  return text.split('\n').filter(Boolean).map((line) => JSON.parse(line) as { action: string; target: string; result: string });
}

async function inForce(rig: Rig) {
  return {
    memory: (rig.controller.state.mitigations ?? []).map((m) => m.prefix),
    file: (parseState(await readFile(rig.controller.stateFile, 'utf8')).mitigations ?? []).map((m) => m.prefix),
    dataplane: rig.applies.at(-1)!.acl,
  };
}

let dir = '';
test.before.each(async () => { dir = await mkdtemp(join(tmpdir(), 'pc-audit-')); });
test.after.each(async () => { await rm(dir, { recursive: true, force: true }); });

test('the "pending" line is on disk when the change reaches the data plane; the outcome follows; removal and expiry alike', async () => {
  const r = await rig(dir);
  await r.mitigations.block('203.0.113.0/24', 'deny', undefined, { ...origin, durationMs: HOUR });
  const blocked = r.applies.at(-1)!;
  assert.equal(blocked.acl, ['203.0.113.0/24']);
  assert.is(blocked.auditLines.length, 1, 'exactly the pending line was on disk when the data plane got the block');
  assert.equal(JSON.parse(blocked.auditLines[0]!).result, 'pending');
  assert.equal((await auditLines(r)).map((l) => `${l.action} ${l.target} ${l.result}`), [
    'block global deny 203.0.113.0/24 pending', 'block global deny 203.0.113.0/24 ok']);

  await r.mitigations.unblock('203.0.113.0/24', undefined, origin).catch(() => undefined);
  const unblocked = r.applies.at(-1)!;
  assert.equal(unblocked.acl, []);
  assert.equal(JSON.parse(unblocked.auditLines.at(-1)!).result, 'pending', 'the unblock line preceded the removal');

  await r.mitigations.block('198.51.100.0/24', 'deny', undefined, { ...origin, durationMs: HOUR });
  const expiring = new Mitigations(r.controller, r.audit, () => T0 + 2 * HOUR);
  assert.is((await expiring.expire()).length, 1);
  assert.equal(JSON.parse(r.applies.at(-1)!.auditLines.at(-1)!).action, 'expire');
  assert.equal((await auditLines(r)).slice(-2).map((l) => `${l.action} ${l.result}`), ['expire pending', 'expire ok']);
});

for (const step of AUDIT_STEPS) {
  test(`audit log failing at ${step}: the block is refused, nothing is in force, and the refusal is recorded once the log works again`, async () => {
    let failing = true;
    const r = await rig(dir, failingAuditFs(step, () => failing));
    const applied = r.applies.length;
    await r.mitigations.block('203.0.113.0/24', 'deny', undefined, origin).then(
      () => assert.unreachable('block went ahead without its audit line'),
      (error: ModelError) => {
        assert.instance(error, ModelError);
        assert.is(error.code, 'INTERNAL');
        assert.match(error.message, new RegExp(`^cannot write the audit log .*audit\\.log: ENOSPC: no space left on device \\(${step}\\); nothing changed`));
      });
    assert.is(r.applies.length, applied, 'the data plane never saw it');
    assert.equal(await inForce(r), { memory: [], file: [], dataplane: [] });
    const lines = await auditLines(r).catch((error: Error) => assert.unreachable(`torn audit log: ${error.message}`));
    for (const line of lines ?? []) assert.ok(['pending', 'error: cannot write'].some((p) => line.result.startsWith(p)), JSON.stringify(line));

    failing = false;
    await r.mitigations.block('203.0.113.0/24', 'deny', undefined, origin);
    assert.equal(await inForce(r), { memory: ['203.0.113.0/24'], file: ['203.0.113.0/24'], dataplane: ['203.0.113.0/24'] });
    assert.equal((await auditLines(r)).slice(-2).map((l) => l.result), ['pending', 'ok'], 'and every line parses: a half-written line was cut');
  });
}

test('state file failing after the pending line: the block is rolled back, the outcome line says so; nothing in force', async () => {
  const r = await rig(dir);
  r.state.failWrite = true;
  await r.mitigations.block('203.0.113.0/24', 'deny', undefined, origin).then(() => assert.unreachable('went ahead'), () => undefined);
  assert.equal(await inForce(r), { memory: [], file: [], dataplane: [] });
  const lines = await auditLines(r);
  assert.equal(lines.map((l) => l.result.replace(/:.*/s, ':')), ['pending', 'error:']);
  assert.match(lines[1]!.result, /^error: cannot write state file .*ENOSPC.*; change rolled back$/);
});

test('state file AND rollback failing: the data plane runs the block — with its pending line on disk — and the controller reports the rollback failure', async () => {
  const r = await rig(dir);
  r.state.failWrite = true;
  r.dataplane.failOnCall = r.dataplane.calls + 2;  // the rollback
  await r.mitigations.block('203.0.113.0/24', 'deny', undefined, origin).then(() => assert.unreachable('went ahead'), () => undefined);
  assert.equal(await inForce(r), { memory: [], file: [], dataplane: ['203.0.113.0/24'] }, 'in force in the data plane only');
  assert.ok(r.controller.rollbackFailure, 'NOT_SERVING');
  const blocking = r.applies.at(-1)!;
  assert.equal(blocking.auditLines.map((l) => JSON.parse(l).result), ['pending'], 'its line was on disk before it took effect');
  const lines = await auditLines(r);
  assert.match(lines.at(-1)!.result, /^error: cannot write state file .*; the rollback failed too/);

  r.state.failWrite = false;
  assert.is(await r.controller.retryRollback(), true);
  assert.equal(await inForce(r), { memory: [], file: [], dataplane: [] });
});

test('outcome line failing: the block stands (its pending line is on disk), the failure is counted', async () => {
  let appends = 0;
  const fs: AuditFs = {
    ...NODE_AUDIT_FS,
    open: async (path, flags, mode) => {
      if (flags === 'a' && ++appends === 2) throw Object.assign(new Error('EIO: i/o error'), { code: 'EIO' });
      return NODE_AUDIT_FS.open(path, flags, mode);
    },
  };
  const r = await rig(dir, fs);
  const before = controlEvents().audit_outcome_write_failures;
  await r.mitigations.block('203.0.113.0/24', 'deny', undefined, origin);
  assert.equal(await inForce(r), { memory: ['203.0.113.0/24'], file: ['203.0.113.0/24'], dataplane: ['203.0.113.0/24'] });
  assert.equal((await auditLines(r)).map((l) => l.result), ['pending']);
  assert.is(controlEvents().audit_outcome_write_failures - before, 1);
});

test('a refused change (validation) writes only its error line and changes nothing', async () => {
  const r = await rig(dir);
  const applied = r.applies.length;
  await r.mitigations.setLimits({ protocol: 'udp', vip: '198.18.0.10', port: 53 }, { connMax: 10 }, origin).then(() => assert.unreachable('accepted'), () => undefined);
  assert.is(r.applies.length, applied);
  assert.equal((await auditLines(r)).map((l) => l.result.replace(/:.*/s, ':')), ['error:']);
});

test('expiry that keeps failing (a broken disk) backs off: not two audit lines every 200 ms poll', async () => {
  let attempts = 0;
  let failing = true;
  const stub = { expire: () => { attempts++; return failing ? Promise.reject(new Error('ENOSPC')) : Promise.resolve([]); } } as unknown as Mitigations;
  const timer = startExpiryTimer(stub, 10);
  try {
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    assert.is(attempts, 2, `${attempts} attempts in 1.5 s at a 10 ms poll: the first, then one after 1 s`);
    failing = false;
    await new Promise((resolve) => setTimeout(resolve, 2_200));
    const healed = attempts;
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.ok(attempts - healed >= 10, 'after a success it polls at full rate again');
  } finally {
    timer.stop();
  }
});

test.run();
