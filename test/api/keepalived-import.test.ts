// What `portcullis import keepalived` prints is what a REAL daemon runs: the CLI (as a user runs
// it) turns each keepalived.conf of test/fixtures/keepalived into services YAML, that YAML goes
// into a config with the operator's ports, and the daemon started on it serves those services
// (read back over gRPC and with pcadm -Sn, ipvsadm's save format).
import { join } from 'node:path';
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { REPO_ROOT, runCli, testConfig, withDaemon } from './daemon.js';

const FIXTURES = join(REPO_ROOT, 'test/fixtures/keepalived');

/** Imports a fixture with the CLI; exit 3: the fixtures hold things Portcullis does not map (VRRP…). */
async function imported(name: string): Promise<string> {
  const result = await runCli(['import', 'keepalived', join(FIXTURES, name)]);
  assert.is(result.code, 3, result.stderr);
  assert.match(result.stdout, /^services:$/m);
  return result.stdout;
}

/** The test config (ring ports, temp files) with the imported services section in place of its empty one. */
function configWith(services: string) {
  return (dir: string) => {
    const base = testConfig(dir);
    assert.ok(base.endsWith('services: []\n'), 'the test config ends with its services');
    return base.slice(0, -'services: []\n'.length) + services;
  };
}

test('DR fixture: the daemon serves both services with DR servers, weights, persistence and sh-port', async () => {
  await withDaemon({ config: configWith(await imported('dr.conf')) }, async (s) => {
    const saved = await s.pcadm('-Sn');
    assert.is(saved.code, 0, saved.err);
    assert.equal(saved.out.trim().split('\n').sort(), [
      '-A -t 198.18.0.10:443 -s sh',
      '-A -t 198.18.0.10:80 -s wrr -p 50',
      '-a -t 198.18.0.10:443 -r 198.19.0.1:443 -g -w 1',
      '-a -t 198.18.0.10:443 -r 198.19.0.2:443 -g -w 1',
      '-a -t 198.18.0.10:80 -r 198.19.0.1:80 -g -w 3',
      '-a -t 198.18.0.10:80 -r 198.19.0.2:80 -g -w 1',
    ]);
    const services = (await s.api.listVirtualServices({})).services;
    assert.equal(services.map((v) => [v.key?.port, v.schedFlags, v.healthCheck?.kind, v.healthCheck?.intervalMs, v.healthCheck?.fall]),
      [[80, [], 'tcp', 6000, 3], [443, ['sh-port'], 'tcp', 10000, 2]]);
  });
});

test('NAT fixture: NAT servers with thresholds, an HTTP check and a DNS check on the UDP service', async () => {
  await withDaemon({ config: configWith(await imported('nat.conf')) }, async (s) => {
    const saved = await s.pcadm('-Sn');
    assert.is(saved.code, 0, saved.err);
    assert.equal(saved.out.trim().split('\n').sort(), [
      '-A -t 198.18.0.20:8080 -s wlc -p 600 -M 255.255.255.0',
      '-A -u 198.18.0.20:53 -s rr',
      '-a -t 198.18.0.20:8080 -r 198.19.0.11:8080 -m -w 10 -x 800 -y 600',
      '-a -t 198.18.0.20:8080 -r 198.19.0.12:8080 -m -w 10 -x 800 -y 600',
      '-a -u 198.18.0.20:53 -r 198.19.0.21:53 -m -w 1',
      '-a -u 198.18.0.20:53 -r 198.19.0.22:53 -m -w 1',
    ]);
    const checks = (await s.api.listVirtualServices({})).services.map((v) => [v.healthCheck?.kind, v.healthCheck?.path, v.healthCheck?.queryName]);
    assert.equal(checks, [['http', '/healthz', ''], ['dns', '/', 'health.example.net']]);
  });
});

test('DPVS FullNAT fixture: group services on two VIPs, LIP pools from the laddr group, SYNPROXY, PROXY v2, IPv6', async () => {
  await withDaemon({ config: configWith(await imported('fullnat-dpvs.conf')) }, async (s) => {
    const services = (await s.api.listVirtualServices({})).services;
    assert.equal(services.map((v) => [v.name, v.key?.vip, v.key?.port, v.synproxy, v.clientAddress, v.localAddresses]), [
      ['web_vips-1', '198.18.0.10', 80, 'on', 'none', ['198.19.0.200', '198.19.0.201', '198.19.0.202', '198.19.0.203']],
      ['web_vips-2', '198.18.0.11', 80, 'on', 'none', ['198.19.0.200', '198.19.0.201', '198.19.0.202', '198.19.0.203']],
      ['', '198.18.0.10', 8443, 'off', 'proxy_v2', ['198.19.0.200', '198.19.0.201', '198.19.0.202', '198.19.0.203']],
      ['', '2001:db8:18::10', 80, 'off', 'none', ['2001:db8:19::200']],
    ]);
    const laddr = await s.pcadm('--get-laddr -t 198.18.0.11:80');
    assert.is(laddr.code, 0, laddr.err);
    assert.match(laddr.out, /198\.19\.0\.203/);
    const saved = await s.pcadm('-Sn');
    assert.match(saved.out, /^-A -t 198\.18\.0\.10:80 -s rr -j enable$/m);
    assert.match(saved.out, /^-a -t 198\.18\.0\.10:8443 -r 198\.19\.0\.3:443 -b -w 1$/m);
    assert.match(saved.out, /^-A -t \[2001:db8:18::10\]:80 -s wrr -p 300 -M 64$/m);
  });
});

test.run();
