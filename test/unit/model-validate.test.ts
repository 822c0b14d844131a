// The one validator: a table of bad inputs, each with the field path and the words
// the message must contain, plus the happy path and its defaults.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ModelError, readServiceSpec, readServer, readServiceKey, readPort, readRoute } from '../../src/model/index.js';

const good = () => ({
  name: 'web', protocol: 'tcp', vip: '198.18.0.10', port: 80, scheduler: 'wrr',
  local_addresses: ['198.19.0.200'], timeouts: { tcp_established: 60 },
  servers: [{ address: '198.19.0.1', port: 8080, weight: 3 }, { address: '198.19.0.2', port: 8080 }],
});

test('a valid service is read with defaults filled in', () => {
  const spec = readServiceSpec(good(), 'service');
  assert.equal(spec.scheduler, 'wrr');
  assert.equal(spec.timeouts, { tcpEstablished: 60 });
  assert.equal(spec.servers[1], { address: '198.19.0.2', port: 8080, weight: 1 });
  const minimal = readServiceSpec({ protocol: 'udp', vip: '198.18.0.11', port: 53 }, 'service');
  assert.equal(minimal, { name: '', protocol: 'udp', vip: '198.18.0.11', port: 53, scheduler: 'rr', localAddresses: [], timeouts: {}, servers: [] });
});

const cases: [string, (s: Record<string, unknown>) => void, string, string][] = [
  ['bad protocol', (s) => { s.protocol = 'sctp'; }, 'service.protocol', 'one of tcp, udp'],
  ['vip octet out of range', (s) => { s.vip = '198.18.0.300'; }, 'service.vip', 'IPv4'],
  ['vip with leading zero', (s) => { s.vip = '198.018.0.1'; }, 'service.vip', 'IPv4'],
  ['vip multicast', (s) => { s.vip = '224.0.0.1'; }, 'service.vip', 'unicast'],
  ['port 0', (s) => { s.port = 0; }, 'service.port', '1..65535'],
  ['port as string', (s) => { s.port = '80'; }, 'service.port', 'got "80"'],
  ['fractional port', (s) => { s.port = 80.5; }, 'service.port', 'integer'],
  ['unknown scheduler', (s) => { s.scheduler = 'wlc'; }, 'service.scheduler', 'one of rr, wrr'],
  ['unknown key', (s) => { s.persistence = 300; }, 'service.persistence', 'unknown key'],
  ['lip not a list', (s) => { s.local_addresses = '198.19.0.200'; }, 'service.local_addresses', 'a list'],
  ['bad lip', (s) => { s.local_addresses = ['198.19.0.200', 'x']; }, 'service.local_addresses[1]', 'IPv4'],
  ['duplicate lip', (s) => { s.local_addresses = ['198.19.0.200', '198.19.0.200']; }, 'service.local_addresses[1]', 'duplicate'],
  ['timeout zero', (s) => { s.timeouts = { udp: 0 }; }, 'service.timeouts.udp', '1..2678400'],
  ['timeout unknown', (s) => { s.timeouts = { tcp_fin: 3 }; }, 'service.timeouts.tcp_fin', 'unknown key'],
  ['weight too big', (s) => { (s.servers as Record<string, unknown>[])[0]!.weight = 65536; }, 'service.servers[0].weight', '0..65535'],
  ['weight negative', (s) => { (s.servers as Record<string, unknown>[])[1]!.weight = -1; }, 'service.servers[1].weight', 'got -1'],
  ['server bad address', (s) => { (s.servers as Record<string, unknown>[])[0]!.address = '1.2.3'; }, 'service.servers[0].address', 'IPv4'],
  ['server unknown key', (s) => { (s.servers as Record<string, unknown>[])[0]!.wieght = 2; }, 'service.servers[0].wieght', 'unknown key'],
  ['duplicate server', (s) => { (s.servers as Record<string, unknown>[])[1]!.port = 8080; (s.servers as Record<string, unknown>[])[1]!.address = '198.19.0.1'; }, 'service.servers[1]', 'duplicate'],
  ['name too long', (s) => { s.name = 'x'.repeat(65); }, 'service.name', 'at most 64'],
  ['not an object', (s) => { s.servers = [3]; }, 'service.servers[0]', 'a mapping'],
];

for (const [title, mutate, path, words] of cases) {
  test(`rejects ${title}`, () => {
    const input = good();
    mutate(input as unknown as Record<string, unknown>);
    try {
      readServiceSpec(input, 'service');
      assert.unreachable('accepted bad input');
    } catch (error) {
      assert.instance(error, ModelError);
      const modelError = error as ModelError;
      assert.is(modelError.code, 'INVALID_ARGUMENT');
      assert.is(modelError.path, path);
      assert.ok(modelError.message.startsWith(`${path}: `), modelError.message);
      assert.ok(modelError.message.includes(words), modelError.message);
    }
  });
}

test('keys, servers, ports and routes use the same helpers', () => {
  assert.throws(() => readServiceKey({ protocol: 'tcp', vip: '1.2.3.4' }, 'key'), /^key\.port: expected integer 1\.\.65535, got nothing$/);
  assert.throws(() => readServer({ address: '198.19.0.1', port: 70000 }, 'server'), /^server\.port: /);
  assert.throws(() => readPort({ name: 'a', device: 'ring', addresses: ['10.0.0.1'] }, 'ports[0]'), /^ports\[0\]\.addresses\[0\]: expected an IPv4 address with prefix/);
  assert.throws(() => readPort({ name: 'a', device: 'ring', mac: 'zz' }, 'ports[0]'), /^ports\[0\]\.mac: /);
  assert.throws(() => readRoute({ prefix: '10.0.0.1/8', port: 'a' }, 'routes[0]'), /^routes\[0\]\.prefix: expected a prefix with host bits zero/);
  assert.equal(readRoute({ prefix: '0.0.0.0/0', via: '198.18.0.1', port: 'outside' }, 'r'), { prefix: '0.0.0.0/0', via: '198.18.0.1', port: 'outside' });
});

test.run();
