// The packaged unit's CapabilityBoundingSet is enough, and each capability in it is needed: the
// REAL daemon starts as systemd would start it — root, but with only the capabilities the unit
// lists (setpriv --bounding-set, as CapabilityBoundingSet= does) — on an af_packet port whose
// exception path creates a tap interface and gives it the port's address, inside a network
// namespace of its own (pc-cap-<pid>: no lab state, no clash with the lab's fixed names). Then the
// same start without CAP_NET_ADMIN or CAP_NET_RAW must fail. docs/operations.md "Install as a
// service" has the table these runs come from. Needs root, setpriv and ip.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as assert from 'uvu/assert';
import { portcullisCliPath, spawnDaemon } from '../../src/lab/daemon-process.js';
import { isRoot, requireTool } from '../support/e2e-lab.js';
import { test } from '../support/suite.js';
import { REPO_ROOT } from '../api/daemon.js';

const NAMESPACE = `pc-cap-${process.pid}`;
let dir = '';

/** The unit's CapabilityBoundingSet as setpriv's list: ["net_raw", …]. */
function unitCapabilities(): string[] {
  const unit = readFileSync(join(REPO_ROOT, 'deploy/systemd/portcullis.service'), 'utf8');
  const line = /^CapabilityBoundingSet=(.*)$/m.exec(unit);
  if (!line) throw new Error('deploy/systemd/portcullis.service has no CapabilityBoundingSet=');
  return line[1]!.trim().split(/\s+/).map((cap) => cap.replace(/^CAP_/, '').toLowerCase());
}

const ip = (...args: string[]): string => execFileSync('ip', args, { encoding: 'utf8' });

test.before(() => {
  if (!isRoot) throw new Error('needs root: network namespaces and af_packet ports');
  requireTool('setpriv', 'util-linux');
  requireTool('ip', 'iproute2');
  dir = mkdtempSync(join(tmpdir(), 'pc-cap-'));
  ip('netns', 'add', NAMESPACE);
  ip('-n', NAMESPACE, 'link', 'add', 'capo', 'type', 'veth', 'peer', 'name', 'capo-peer');
  ip('-n', NAMESPACE, 'link', 'add', 'capi', 'type', 'veth', 'peer', 'name', 'capi-peer');
  for (const link of ['lo', 'capo', 'capo-peer', 'capi', 'capi-peer']) ip('-n', NAMESPACE, 'link', 'set', link, 'up');
});
test.after(() => {
  try { ip('netns', 'del', NAMESPACE); } finally { rmSync(dir, { recursive: true, force: true }); }
});

function config(name: string): string {
  const path = join(dir, `${name}.yaml`);
  writeFileSync(path, `dataplane: { workers: 1, lcores: "0-1", polling: adaptive, memory_mb: 64, hugepages: auto, conn_capacity: 4096, conn_region: ${join(dir, `${name}.region`)} }
api: { socket: ${join(dir, `${name}.sock`)} }
metrics: { listen: "" }
state_file: ${join(dir, `${name}.state.json`)}
defense: { audit_log: ${join(dir, `${name}.audit.log`)} }
ports:
  - { name: capo, device: "net_af_packet0,iface=capo", addresses: [198.18.0.254/24], exception_path: true }
  - { name: capi, device: "net_af_packet1,iface=capi", addresses: [198.19.0.254/24] }
services: []
`);
  return path;
}

/** `portcullis run` in the namespace with exactly these capabilities bounding root. */
function startWith(capabilities: string[], name: string) {
  const bounding = ['-all', ...capabilities.map((cap) => `+${cap}`)].join(',');
  return spawnDaemon([portcullisCliPath(), 'run', '--config', config(name)], {
    namespace: NAMESPACE, readyTimeoutMs: 30_000, execPrefix: ['setpriv', '--bounding-set', bounding, '--inh-caps', '-all', '--'],
  });
}

test('with the unit\'s capabilities the daemon takes an af_packet port and sets up its exception interface', async () => {
  const capabilities = unitCapabilities();
  assert.equal(capabilities, ['net_raw', 'net_admin', 'net_bind_service', 'chown']);
  const daemon = await startWith(capabilities, 'unit');
  try {
    const shown = ip('-n', NAMESPACE, '-4', 'addr', 'show', 'dev', 'pcx-capo');
    assert.match(shown, /inet 198\.18\.0\.254\/24/);
    const status = execFileSync('grep', ['^CapBnd', `/proc/${daemon.pid}/status`], { encoding: 'utf8' });
    // CAP_CHOWN 0, CAP_NET_BIND_SERVICE 10, CAP_NET_ADMIN 12, CAP_NET_RAW 13.
    assert.is(status.trim(), `CapBnd:\t${((1n << 0n) | (1n << 10n) | (1n << 12n) | (1n << 13n)).toString(16).padStart(16, '0')}`);
  } finally {
    assert.is(await daemon.stop(), 0, daemon.output());
  }
});

test('without CAP_NET_ADMIN, or without CAP_NET_RAW, it does not start', async () => {
  // What each refusal looks like (the EAL and the daemon say it): no MTU change on the interface
  // without NET_ADMIN, no af_packet socket without NET_RAW.
  const why = { net_admin: /rte_eth_dev_set_mtu|exception|Operation not permitted/, net_raw: /rte_dev_probe failed/ };
  for (const dropped of ['net_admin', 'net_raw'] as const) {
    const without = unitCapabilities().filter((cap) => cap !== dropped);
    const error = await startWith(without, `no-${dropped}`).then(
      async (daemon) => { await daemon.stop(); return undefined; },
      (failure: Error) => failure);
    assert.ok(error, `started without ${dropped}`);
    assert.match(error!.message, /exited \(1\) before it was ready/);
    assert.match(error!.message, why[dropped]);
  }
});

test.run();
