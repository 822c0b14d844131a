// Passive health's doors on the REAL daemon: the config file (a bad field stops `run --check` and
// `run`, naming it), gRPC (taken, read back, kept by pcadm -E, refused naming the field, turned off
// by an update without it), GetStats (the data plane's refusal counters per server, health ""/up
// with passive health and no check) and the state file across a restart. The quiescing itself on
// real traffic is test/e2e/passive-health.test.ts (lab); the state machine test/unit/passive-health.test.ts.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { expectGrpcError } from '../support/expected-errors.js';
import { runCli, testConfig, withDaemon } from './daemon.js';

const dnsKey = { protocol: 'UDP' as const, vip: '198.18.0.53', port: 53 };
const SERVICE = `
  - name: dns
    protocol: udp
    vip: ${dnsKey.vip}
    port: 53
    local_addresses: [198.19.0.200]
    passive_health: { rate: 20, backoff_ms: 2000 }
    servers:
      - { address: 198.19.0.1, port: 53, weight: 2 }
      - { address: 198.19.0.2, port: 53, weight: 1 }
`;

test('config door: a bad passive_health field is refused at load (run --check and run), naming it', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pc-passive-'));
  try {
    const config = join(dir, 'config.yaml');
    await writeFile(config, testConfig(dir, SERVICE.replace('backoff_ms: 2000', 'backoff_ms: 2000, max_backoff_ms: 1000')));
    for (const args of [['run', '--config', config, '--check'], ['run', '--config', config]]) {
      const result = await runCli(args);
      assert.is(result.code, 2, `${args.join(' ')}: exit ${result.code}\n${result.stderr}`);
      assert.match(result.stderr, /services\[0\]\.passive_health\.max_backoff_ms: must be at least backoff_ms \(2000\), got 1000/);
      assert.not.match(result.stdout, /portcullis ready/);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('gRPC and pcadm: read back with defaults, kept by pcadm -E and a restart, refused naming the field, off when left out; GetStats has the counters', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pc-passive-'));
  try {
    const expected = { rate: 20, intervalMs: 1000, backoffMs: 2000, maxBackoffMs: 60000 };
    await withDaemon({ dir, config: testConfig(dir, SERVICE) }, async ({ api, pcadm }) => {
      const service = await api.getVirtualService({ key: dnsKey });
      assert.equal(service.passiveHealth, expected);
      assert.equal(service.servers.map((s) => [s.health, s.healthReason, s.weight]), [['up', '', 2], ['up', '', 1]], 'up, with no health check');
      const stats = (await api.getStats({})).services.find((s) => s.key?.port === 53)!;
      assert.equal(stats.servers.map((s) => [s.health, s.icmpUnreachable, s.resets]), [['up', '0', '0'], ['up', '0', '0']]);

      const edited = await pcadm(`-E -u ${dnsKey.vip}:53 -s wrr`);
      assert.is(edited.code, 0, edited.err);
      assert.equal((await api.getVirtualService({ key: dnsKey })).passiveHealth, expected, 'pcadm -E keeps it');
      const listing = await pcadm(`-L -n -u ${dnsKey.vip}:53`);
      assert.match(listing.out, /-> 198\.19\.0\.1:53\s+FullNat\s+2\s/, 'pcadm -L shows the configured weight while up');

      const current = await api.getVirtualService({ key: dnsKey });
      await expectGrpcError(api.updateVirtualService({ service: { ...current, passiveHealth: { rate: 0, intervalMs: 0, backoffMs: 0, maxBackoffMs: 0 } }, replaceServers: false }),
        grpc.status.INVALID_ARGUMENT, /^service\.passive_health\.rate: is required/);
      await expectGrpcError(api.updateVirtualService({ service: { ...current, passiveHealth: { rate: 5, intervalMs: 50, backoffMs: 0, maxBackoffMs: 0 } }, replaceServers: false }),
        grpc.status.INVALID_ARGUMENT, /^service\.passive_health\.interval_ms: expected integer 100\.\.3600000, got 50/);
      assert.equal((await api.getVirtualService({ key: dnsKey })).passiveHealth, expected, 'a refused change changes nothing');
    });
    await withDaemon({ dir, config: testConfig(dir) }, async ({ api }) => {
      const current = await api.getVirtualService({ key: dnsKey });
      assert.equal(current.passiveHealth, expected, 'the state file keeps it');
      await api.updateVirtualService({ service: { ...current, passiveHealth: null }, replaceServers: false });
      const off = await api.getVirtualService({ key: dnsKey });
      assert.is(off.passiveHealth, null, 'an update without it turns it off');
      assert.equal(off.servers.map((s) => s.health), ['', ''], 'no health shown without a check or passive health');
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test.run();
