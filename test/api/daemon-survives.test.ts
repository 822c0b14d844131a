// The daemon must not die of control-plane input (issue 14 item 9), against the REAL daemon:
// a health-check path http.request cannot send is refused at every door that can carry one,
// naming the field; a state file an older version wrote with such a path still starts; and
// probes that throw, a rejection nobody handles and an exception nobody catches leave the
// daemon answering gRPC with its workers adopting new snapshots.
import { readFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { REPO_ROOT, runCli, testConfig, WEB_SEED, withDaemon } from './daemon.js';
import { expectGrpcError } from '../support/expected-errors.js';

const web = { protocol: 'TCP' as const, vip: '198.18.0.10', port: 80 };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let dir = '';
test.before.each(async () => { dir = await mkdtemp(join(tmpdir(), 'pc-survive-')); });
test.after.each(async () => { await rm(dir, { recursive: true, force: true }); });


test('config door: a health-check path with a space is refused at load (run --check and run), naming the field; the daemon never starts', async () => {
  const config = join(dir, 'config.yaml');
  await writeFile(config, testConfig(dir, `${WEB_SEED}    health_check: { kind: http, path: "/health check" }\n`));
  for (const args of [['run', '--config', config, '--check'], ['run', '--config', config]]) {
    const result = await runCli(args);
    assert.is(result.code, 2, `${args.join(' ')}: exit ${result.code}\n${result.stderr}`);
    assert.match(result.stderr, /services\[0\]\.health_check\.path: character " " at offset 7 is not allowed in a URL path: percent-encode it \(a space is %20\)/);
    assert.not.match(result.stdout, /portcullis ready/);
  }
});

test('gRPC door: Create and Update refuse bad paths with INVALID_ARGUMENT naming service.health_check.path; nothing changes; a good path is taken', async () => {
  await withDaemon({ dir, config: testConfig(dir, WEB_SEED) }, async ({ api }) => {
    const other = { ...web, port: 81 };
    for (const [path, pattern] of [
      ['/health check', /^service\.health_check\.path: character " " at offset 7/],
      ['/x\r\nHost: evil', /^service\.health_check\.path: character "\\r" at offset 2/],
      ['/%zz', /^service\.health_check\.path: "%" at offset 1 must start a %XX escape/],
      ['healthz', /^service\.health_check\.path: must start with "\/"/],
    ] as const) {
      await expectGrpcError(api.createVirtualService({ service: { key: other, localAddresses: ['198.19.0.200'], healthCheck: { kind: 'http', path } } }),
        grpc.status.INVALID_ARGUMENT, pattern);
      const current = await api.getVirtualService({ key: web });
      await expectGrpcError(api.updateVirtualService({ service: { ...current, healthCheck: { kind: 'http', path } }, replaceServers: false }),
        grpc.status.INVALID_ARGUMENT, pattern);
    }
    assert.equal((await api.listVirtualServices({})).services.map((s) => s.key?.port), [80], 'no service was created');
    assert.is((await api.getVirtualService({ key: web })).healthCheck, null, 'no check was set');
    const current = await api.getVirtualService({ key: web });
    const updated = await api.updateVirtualService({ service: { ...current, healthCheck: { kind: 'http', path: '/health%20check?x=1' } }, replaceServers: false });
    assert.is(updated.healthCheck?.path, '/health%20check?x=1');
  });
});

test('a state file from an older version with a bad path: the daemon starts, that service runs without its check (logged), pcadm can edit it, the file is rewritten', async () => {
  const stateFile = join(dir, 'state.json');
  const service = (id: number, port: number, path: string, serverId: number) => ({
    id, name: `web${port}`, protocol: 'tcp', vip: '198.18.0.10', port, scheduler: 'rr', client_address: 'none', synproxy: 'off',
    local_addresses: ['198.19.0.200'], timeouts: {},
    health_check: { kind: 'http', path, expect_status: 200, interval_ms: 200, timeout_ms: 100, rise: 1, fall: 1 },
    servers: [{ id: serverId, address: '198.19.0.1', port, weight: 3 }],
  });
  // What an older daemon wrote: it accepted any path starting with "/".
  const olderState = `${JSON.stringify({ format: 1, next_service_id: 3, next_server_id: 3,
    services: [service(1, 80, '/health check', 1), service(2, 81, '/ok', 2)] }, null, 2)}\n`;

  await withDaemon({ dir, files: { 'state.json': olderState } }, async ({ api, daemon, pcadm }) => {
    await sleep(1_000);  // 5 probe intervals: the old daemon was dead by now
    assert.is(daemon.child.exitCode, null, 'still running');
    assert.match(daemon.output(), /ERROR state file .*state\.json: tcp\/198\.18\.0\.10:80 \(services\[0\]\) starts WITHOUT its health check, which this version refuses: services\[0\]\.health_check\.path: character " " at offset 7 .*"path":"\/health check"/);
    const broken = await api.getVirtualService({ key: web });
    assert.is(broken.healthCheck, null);
    assert.equal(broken.servers.map((s) => [s.address, s.weight, s.health]), [['198.19.0.1', 3, '']], 'servers keep their configured weight');
    assert.is((await api.getVirtualService({ key: { ...web, port: 81 } })).healthCheck?.path, '/ok', 'the other service keeps its check');

    // pcadm re-sends the whole service on -E and --add-laddr: it works, nothing bad is carried along.
    for (const line of ['-E -t 198.18.0.10:80 -s wrr', '--add-laddr -t 198.18.0.10:80 -z 198.19.0.201']) {
      const edited = await pcadm(line);
      assert.is(edited.code, 0, edited.out + edited.err);
    }
    assert.is((await api.getVirtualService({ key: web })).scheduler, 'wrr');

    const rewritten = JSON.parse(await readFile(stateFile, 'utf8')) as { services: { port: number; health_check?: unknown }[] };
    assert.equal(rewritten.services.map((s) => [s.port, s.health_check !== undefined]), [[80, false], [81, true]], 'the bad check is gone from the file');
  });

  await withDaemon({ dir }, async ({ api, daemon }) => {
    assert.not.match(daemon.output(), /starts WITHOUT its health check/, 'the next start has nothing to report');
    assert.is((await api.getVirtualService({ key: web })).scheduler, 'wrr');
  });
});

test('probes that throw, an unhandled rejection and an uncaught exception: the daemon keeps serving gRPC and its workers keep adopting snapshots; all counted', async () => {
  const check = (kind: string, port: number) => `
  - name: checked-${port}
    protocol: tcp
    vip: 198.18.0.10
    port: ${port}
    local_addresses: [198.19.0.200]
    health_check: { kind: ${kind}, path: /healthz, interval_ms: 200, timeout_ms: 100, rise: 1, fall: 1 }
    servers:
      - { address: 198.19.0.1, port: ${port + 1000}, weight: 1 }
      - { address: 198.19.0.2, port: ${port + 1000}, weight: 2 }
`;
  // http check on :80 → servers :1080 (http.request throws); tcp check on :7081 → servers :8081 (net.connect throws).
  const preloads = [join(REPO_ROOT, 'test/support/throwing-probes.mjs')];
  const ended = await withDaemon({ dir, config: testConfig(dir, `${check('http', 80)}${check('tcp', 7081)}`), preloads }, async ({ api, daemon }) => {
    await sleep(1_500);  // ~7 rounds of 4 throwing probes each
    daemon.child.kill('SIGUSR2');
    await sleep(500);
    assert.is(daemon.child.exitCode, null, 'the daemon is still running');

    const stats = await api.getStats({});
    assert.is(stats.events.control_unhandled_rejections, '1');
    assert.is(stats.events.control_uncaught_exceptions, '1');
    const unknown = Number(stats.events.health_probes_unknown);
    assert.ok(unknown >= 16, `health_probes_unknown ${unknown}: every throwing probe counted`);
    for (const row of stats.services) {
      assert.equal(row.servers.map((s) => s.health), ['up', 'up'], `${row.key?.port}: fall = 1, yet a probe that throws took nothing down`);
    }
    assert.match(daemon.output(), /WARN health: tcp\/198\.18\.0\.10:80 real server 198\.19\.0\.1:1080: the probe could not be made \(the probe threw TypeError: Request path contains unescaped characters \(injected\)|\(http ERR_UNESCAPED_CHARACTERS\)/);
    assert.match(daemon.output(), /ERROR unhandled rejection \(a bug; the daemon keeps running, event control_unhandled_rejections\): Error: injected: a rejection nobody handles/);
    assert.match(daemon.output(), /ERROR uncaught exception \(a bug; the daemon keeps running, event control_uncaught_exceptions\): Error: injected: an exception nobody catches/);

    // Still a working gateway: a change is applied, and every worker adopts the new snapshot.
    await api.createVirtualService({ service: { key: { ...web, port: 443 }, localAddresses: ['198.19.0.200'], servers: [{ address: '198.19.0.3', port: 443, weight: 1 }] } });
    const status = await api.getStatus({});
    let workers: number[] = [];
    for (const end = Date.now() + 5_000; Date.now() < end; await sleep(50)) {
      workers = (await api.getStats({})).workerVersions.map(Number);
      if (workers.every((v) => v === Number(status.snapshotVersion))) break;
    }
    assert.equal(workers, [Number(status.snapshotVersion)], 'the worker runs the snapshot of the change made after the faults');
  });
  assert.is(ended, 0, 'and it stops cleanly');
});

test.run();
