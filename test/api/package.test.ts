// The Debian package (`npm run package`, scripts/package.sh) built from the tree as it is, then
// taken apart with the real tools: dpkg-deb -f/-I/-c for its control fields and contents,
// dpkg-deb -R for the files, their modes and the conffiles; the unpacked daemon runs (the
// production node_modules are enough) and its pcadm talks to it; the maintainer scripts run
// against stand-ins for systemctl and deb-systemd-helper that only record their arguments, and
// with no systemd tools at all, with DPKG_ROOT pointing into a scratch root so nothing on this
// machine is touched; systemd-analyze verify checks the unit; logrotate rotates with the shipped
// rules. docs/operations.md "Install as a service" describes what is checked here.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as assert from 'uvu/assert';
import { AuditLog } from '../../src/defense/audit-log.js';
import { spawnDaemon } from '../../src/lab/daemon-process.js';
import { requireTool } from '../support/e2e-lab.js';
import { test } from '../support/suite.js';
import { DEPLOY_TOOLS } from '../support/deploy-queries.js';
import { REPO_ROOT, testConfig, withDaemonOutput } from './daemon.js';

const BUILD_LIMIT_MS = 120_000;
let work = '';
let deb = '';
let root = '';
let buildMs = 0;

test.before(() => {
  for (const [command, pkg] of Object.entries(DEPLOY_TOOLS)) requireTool(command, pkg);
  work = mkdtempSync(join(tmpdir(), 'pc-package-'));
  const started = Date.now();
  deb = execFileSync('bash', ['scripts/package.sh', '--out', join(work, 'out')], { cwd: REPO_ROOT, encoding: 'utf8', timeout: BUILD_LIMIT_MS }).trim();
  buildMs = Date.now() - started;
  root = join(work, 'root');
  execFileSync('dpkg-deb', ['-R', deb, root]);
});
test.after(() => { if (work) rmSync(work, { recursive: true, force: true }); });

const pkgVersion = (): string => (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const field = (name: string): string => execFileSync('dpkg-deb', ['-f', deb, name], { encoding: 'utf8' }).trim();
const mode = (path: string): string => (statSync(join(root, path)).mode & 0o7777).toString(8);

test('npm run package builds portcullis_<package.json version>_<arch>.deb from the built tree, in seconds', () => {
  const arch = execFileSync('dpkg', ['--print-architecture'], { encoding: 'utf8' }).trim();
  assert.is(deb, join(work, 'out', `portcullis_${pkgVersion()}_${arch}.deb`));
  assert.ok(buildMs < 60_000, `took ${buildMs} ms`);
  const scripts = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')).scripts as Record<string, string>;
  assert.is(scripts['package'], 'bash scripts/package.sh');
});

test('control fields: name, version from package.json, architecture, runtime dependencies', () => {
  assert.is(field('Package'), 'portcullis');
  assert.is(field('Version'), pkgVersion());
  assert.is(field('Architecture'), execFileSync('dpkg', ['--print-architecture'], { encoding: 'utf8' }).trim());
  const depends = field('Depends').split(/,\s*/);
  for (const dependency of ['nodejs (>= 20)', 'librte-eal23 (>= 22.11)', 'librte-ethdev23 (>= 22.11)', 'librte-net-ring23 (>= 22.11)',
    'librte-net-af-packet23 (>= 22.11)', 'librte-net-tap23 (>= 22.11)', 'librte-bus-vdev23 (>= 22.11)', 'iproute2']) {
    assert.ok(depends.includes(dependency), `Depends lacks ${dependency}: ${depends.join(', ')}`);
  }
  assert.match(field('Recommends'), /librte-net-af-xdp23/);
  assert.ok(Number(field('Installed-Size')) > 1000, 'Installed-Size in KiB');
  const info = execFileSync('dpkg-deb', ['-I', deb], { encoding: 'utf8' });
  for (const member of ['conffiles', 'control', 'postinst', 'prerm', 'postrm']) assert.match(info, new RegExp(`\\s${member}\\s`));
});

test('contents: root-owned, nothing group- or world-writable, the daemon without dev dependencies', () => {
  const listing = execFileSync('dpkg-deb', ['-c', deb], { encoding: 'utf8', maxBuffer: 64 << 20 }).trim().split('\n');
  const entries = new Map(listing.map((line) => {
    const [perms, owner, , , , ...rest] = line.split(/\s+/);
    return [rest.join(' ').replace(/ -> .*$/, ''), { perms: perms!, owner: owner! }];
  }));
  for (const [path, { perms, owner }] of entries) {
    assert.is(owner, 'root/root', path);
    assert.ok(perms.startsWith('l') || (perms[5] !== 'w' && perms[8] !== 'w'), `${path} is ${perms}`);
  }
  const expect: Record<string, string> = {
    './usr/bin/portcullis': '-rwxr-xr-x', './usr/bin/pcadm': '-rwxr-xr-x',
    './lib/systemd/system/portcullis.service': '-rw-r--r--', './etc/portcullis/portcullis.yaml': '-rw-r--r--',
    './etc/logrotate.d/portcullis': '-rw-r--r--', './usr/lib/sysctl.d/60-portcullis.conf': '-rw-r--r--',
    './usr/lib/portcullis/build/Release/portcullis_dataplane.node': '-rw-r--r--',
    './usr/lib/portcullis/dist/src/cli/portcullis.js': '-rwxr-xr-x', './usr/lib/portcullis/proto/portcullis/v1/portcullis.proto': '-rw-r--r--',
    './usr/lib/portcullis/node_modules/@grpc/grpc-js/package.json': '-rw-r--r--',
    './usr/share/portcullis/prometheus/portcullis-alerts.yml': '-rw-r--r--', './usr/share/portcullis/grafana/portcullis-dashboard.json': '-rw-r--r--',
    './usr/share/doc/portcullis/operations.md': '-rw-r--r--', './usr/share/doc/portcullis/copyright': '-rw-r--r--',
  };
  for (const [path, perms] of Object.entries(expect)) assert.is(entries.get(path)?.perms, perms, path);
  const paths = [...entries.keys()];
  for (const devOnly of ['typescript', 'tsx', 'uvu', 'cmake-js', 'node-addon-api', 'esbuild']) {
    assert.not.ok(entries.has(`./usr/lib/portcullis/node_modules/${devOnly}/`), `dev dependency ${devOnly} shipped`);
  }
  assert.equal(paths.filter((p) => /\.map$|\/test\/|dist\/bench\//.test(p) && !p.includes('node_modules')), [], 'no source maps, tests or benchmarks');
});

test('conffiles: the config and the logrotate rules, and every file under /etc is one', () => {
  const conffiles = readFileSync(join(root, 'DEBIAN/conffiles'), 'utf8').trim().split('\n');
  assert.equal(conffiles, ['/etc/portcullis/portcullis.yaml', '/etc/logrotate.d/portcullis']);
  const underEtc = (dir: string): string[] => readdirSync(join(root, dir), { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? underEtc(`${dir}/${e.name}`) : [`/${dir}/${e.name}`]));
  assert.equal(underEtc('etc').sort(), [...conffiles].sort());
  for (const script of ['postinst', 'prerm', 'postrm']) assert.is(mode(`DEBIAN/${script}`), '755', script);
});

test('the wrappers exec node on the installed CLIs, which are in the package', () => {
  for (const cli of ['portcullis', 'pcadm']) {
    const text = readFileSync(join(root, 'usr/bin', cli), 'utf8');
    assert.is(text, `#!/bin/sh\nexec node /usr/lib/portcullis/dist/src/cli/${cli}.js "$@"\n`);
    assert.ok(existsSync(join(root, `usr/lib/portcullis/dist/src/cli/${cli}.js`)), cli);
  }
});

test('the unpacked daemon runs: the example config validates, a daemon serves, the packaged pcadm lists its service', async () => {
  const lib = join(root, 'usr/lib/portcullis');
  const check = spawnSync(process.execPath, [join(lib, 'dist/src/cli/portcullis.js'), 'run', '--config', join(root, 'etc/portcullis/portcullis.yaml'), '--check'], { encoding: 'utf8' });
  assert.is(check.status, 0, check.stderr);
  assert.is(check.stdout, 'config OK\n');
  const dir = mkdtempSync(join(work, 'daemon-'));
  const config = join(dir, 'config.yaml');
  writeFileSync(config, testConfig(dir, `
  - { protocol: tcp, vip: 198.18.0.10, port: 80, local_addresses: [198.19.0.200], servers: [{ address: 198.19.0.1, port: 80 }] }`));
  // cwd outside the repository: nothing may resolve from the checkout.
  const daemon = await spawnDaemon([join(lib, 'dist/src/cli/portcullis.js'), 'run', '--config', config], { cwd: dir, readyTimeoutMs: 30_000 });
  try {
    const pcadm = spawnSync(process.execPath, [join(lib, 'dist/src/cli/pcadm.js'), '--socket', join(dir, 'api.sock'), '-Ln'], { cwd: dir, encoding: 'utf8', timeout: 20_000 });
    assert.is(pcadm.status, 0, pcadm.stderr);
    assert.match(pcadm.stdout, /TCP {2}198\.18\.0\.10:80/);
  } catch (error) {
    throw withDaemonOutput(error, daemon);
  } finally {
    assert.is(await daemon.stop(), 0);
  }
});

/** A PATH directory holding stand-ins that append "<name> <args>" to `log`, plus the tools the scripts need. */
function stubPath(dir: string, log: string, stubs: string[]): string {
  mkdirSync(dir, { recursive: true });
  for (const name of stubs) {
    writeFileSync(join(dir, name), `#!/bin/sh\necho "${name} $*" >> "${log}"\n[ "$1" = --quiet ] && [ "$2" = was-enabled ] && exit 0\nexit 0\n`);
    chmodSync(join(dir, name), 0o755);
  }
  for (const tool of ['rm', 'rmdir']) symlinkSync(requireTool(tool, 'coreutils'), join(dir, tool));
  return dir;
}

function runScript(script: string, args: string[], env: NodeJS.ProcessEnv): { code: number | null; out: string } {
  const result = spawnSync('/bin/sh', [join(root, 'DEBIAN', script), ...args], { env, encoding: 'utf8' });
  return { code: result.status, out: result.stdout + result.stderr };
}

test('maintainer scripts: first install enables and does not start; remove and purge; all of it without systemd too', () => {
  const scratch = mkdtempSync(join(work, 'dpkgroot-'));
  const log = join(work, 'systemd-calls.log');
  const stubs = stubPath(join(work, 'stubs'), log, ['systemctl', 'deb-systemd-helper', 'deb-systemd-invoke']);
  const calls = (): string[] => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : []);
  const env = { PATH: stubs, DPKG_ROOT: scratch };

  const install = runScript('postinst', ['configure'], env);
  assert.is(install.code, 0, install.out);
  assert.match(install.out, /installed and enabled, not started/);
  assert.equal(calls(), ['deb-systemd-helper unmask portcullis.service', 'deb-systemd-helper --quiet was-enabled portcullis.service', 'deb-systemd-helper enable portcullis.service']);
  rmSync(log);

  // An upgrade inside a chroot/image (DPKG_ROOT set): the enablement is refreshed, nothing is (re)started.
  const upgrade = runScript('postinst', ['configure', '0.0.1'], env);
  assert.is(upgrade.code, 0, upgrade.out);
  assert.not.ok(calls().some((c) => /start|restart|stop/.test(c.replace('unmask', ''))), calls().join('\n'));
  rmSync(log);

  assert.is(runScript('prerm', ['remove'], env).code, 0);
  assert.equal(calls(), [], 'no systemd to stop anything in');

  // Purge: state, audit log, runtime and connection regions go; what an admin added to /etc stays.
  for (const file of ['var/lib/portcullis/state.json', 'var/log/portcullis/audit.log', 'var/log/portcullis/audit.log.1',
    'run/portcullis/portcullis.sock', 'dev/shm/portcullis-0123456789ab.conns', 'dev/shm/portcullis-0123456789ab.conns.rejected-1700000000',
    'dev/hugepages/portcullis-0123456789ab.conns', 'dev/shm/someone-else', 'etc/portcullis/ops.token']) {
    mkdirSync(join(scratch, file, '..'), { recursive: true });
    writeFileSync(join(scratch, file), 'x');
  }
  const purge = runScript('postrm', ['purge'], env);
  assert.is(purge.code, 0, purge.out);
  for (const gone of ['var/lib/portcullis', 'var/log/portcullis', 'run/portcullis', 'dev/shm/portcullis-0123456789ab.conns',
    'dev/shm/portcullis-0123456789ab.conns.rejected-1700000000', 'dev/hugepages/portcullis-0123456789ab.conns']) assert.not.ok(existsSync(join(scratch, gone)), gone);
  assert.ok(existsSync(join(scratch, 'dev/shm/someone-else')), 'other programs\' shared memory stays');
  assert.ok(existsSync(join(scratch, 'etc/portcullis/ops.token')), 'an admin\'s file stays, and so does its directory');
  assert.equal(calls(), ['deb-systemd-helper purge portcullis.service', 'deb-systemd-helper unmask portcullis.service']);
  rmSync(join(scratch, 'etc/portcullis/ops.token'));
  assert.is(runScript('postrm', ['purge'], env).code, 0);
  assert.not.ok(existsSync(join(scratch, 'etc/portcullis')), 'an empty /etc/portcullis goes');

  // No systemd tools at all (a container): every script still succeeds.
  const bare = { PATH: stubPath(join(work, 'bare'), log, []), DPKG_ROOT: scratch };
  for (const [script, args] of [['postinst', ['configure']], ['postinst', ['configure', '0.0.1']], ['prerm', ['remove']], ['prerm', ['upgrade', '0.2.0']],
    ['postrm', ['remove']], ['postrm', ['purge']]] as const) {
    const result = runScript(script, [...args], bare);
    assert.is(result.code, 0, `${script} ${args.join(' ')}: ${result.out}`);
  }
});

/** systemd-analyze verify on the packaged unit, its commands pointed at the unpacked wrapper (which exists and is executable). */
function verifyUnit(unitText: string): { code: number | null; out: string } {
  const dir = mkdtempSync(join(work, 'unit-'));
  const unit = join(dir, 'portcullis.service');
  writeFileSync(unit, unitText.replaceAll('/usr/bin/portcullis', join(root, 'usr/bin/portcullis')));
  const result = spawnSync('systemd-analyze', ['verify', unit], { encoding: 'utf8', env: { ...process.env, SYSTEMD_LOG_COLOR: '0' } });
  return { code: result.status, out: `${result.stdout}${result.stderr}`.trim() };
}

test('the unit: systemd-analyze verify finds nothing to say; restart, limits, directories and capabilities as documented', () => {
  const text = readFileSync(join(root, 'lib/systemd/system/portcullis.service'), 'utf8');
  const verified = verifyUnit(text);
  assert.equal(verified, { code: 0, out: '' });
  // The same check speaks up about a mistake, so its silence above means something.
  assert.match(verifyUnit(text.replace('Restart=on-failure', 'Restart=sometimes')).out, /Failed to parse service restart specifier/);
  assert.is(verifyUnit(text.replace(`ExecStart=/usr/bin/portcullis`, 'ExecStart=/nonexistent/portcullis')).code, 1);
  const directives = text.split('\n').filter((line) => /^[A-Z]/.test(line));
  for (const line of ['Restart=on-failure', 'LimitMEMLOCK=infinity', 'RuntimeDirectory=portcullis', 'StateDirectory=portcullis',
    'LogsDirectory=portcullis', 'ExecStart=/usr/bin/portcullis run --config /etc/portcullis/portcullis.yaml',
    'CapabilityBoundingSet=CAP_NET_RAW CAP_NET_ADMIN CAP_NET_BIND_SERVICE CAP_CHOWN', 'NoNewPrivileges=yes', 'WantedBy=multi-user.target']) {
    assert.ok(directives.includes(line), `missing ${line}`);
  }
  // The packaged config's paths are the ones the unit makes writable.
  const config = readFileSync(join(root, 'etc/portcullis/portcullis.yaml'), 'utf8');
  assert.match(config, /^ {2}socket: \/run\/portcullis\/portcullis\.sock/m);
  assert.match(config, /^state_file: \/var\/lib\/portcullis\/state\.json$/m);
  assert.match(config, /^ {2}audit_log: \/var\/log\/portcullis\/audit\.log/m);
});

test('logrotate with the shipped rules renames the audit log; the daemon\'s next append starts a new one', async () => {
  const dir = mkdtempSync(join(work, 'logrotate-'));
  const audit = join(dir, 'audit.log');
  const rules = join(dir, 'portcullis');
  writeFileSync(rules, readFileSync(join(root, 'etc/logrotate.d/portcullis'), 'utf8').replace('/var/log/portcullis/audit.log', audit));
  const log = new AuditLog(audit);
  const entry = { time: '2026-12-05T10:00:00.000Z', actor: 'ops', action: 'block', target: '203.0.113.0/24', reason: 'test', expiry: null, result: 'ok' } as const;
  await log.append([entry]);
  const rotated = spawnSync('logrotate', ['--force', '--state', join(dir, 'state'), rules], { encoding: 'utf8' });
  assert.is(rotated.status, 0, rotated.stderr);
  assert.ok(existsSync(`${audit}.1`), 'renamed to audit.log.1 (compressed only at the next rotation)');
  assert.not.ok(existsSync(audit), 'nocreate: the daemon creates the next one');
  await log.append([{ ...entry, reason: 'after rotation' }]);
  assert.equal((await log.tail(5)).map((e) => e.reason), ['after rotation']);
  assert.match(readFileSync(`${audit}.1`, 'utf8'), /"reason":"test"/);
});

test.run();
