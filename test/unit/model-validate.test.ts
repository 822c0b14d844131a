// The one validator: a table of bad inputs, each with the field path and the words
// the message must contain, plus the happy path and its defaults.
import { test } from '../support/suite.js';
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
  assert.equal(minimal, { name: '', protocol: 'udp', vip: '198.18.0.11', port: 53, scheduler: 'rr', clientAddress: 'none', synproxy: 'off', localAddresses: [], timeouts: {}, servers: [] });
});

test('one_packet: on a UDP service read as onePacket (absent or false = not set); TCP and persistence refused naming the field', () => {
  const udp = { protocol: 'udp', vip: '198.18.0.53', port: 53, timeouts: { udp_one_packet: 3 } };
  const spec = readServiceSpec({ ...udp, one_packet: true }, 'service');
  assert.is(spec.onePacket, true);
  assert.equal(spec.timeouts, { udpOnePacket: 3 });
  assert.not.ok('onePacket' in readServiceSpec({ ...udp, one_packet: false }, 'service'));
  assert.not.ok('onePacket' in readServiceSpec(udp, 'service'));
  const refusals: [Record<string, unknown>, string][] = [
    [{ ...good(), one_packet: true }, 'one-packet scheduling is for UDP services only (a tcp connection is a stream'],
    [{ ...udp, one_packet: true, persistence_timeout: 60 }, 'cannot be combined with persistence_timeout 60'],
    [{ ...udp, one_packet: 'yes' }, 'true or false'],
  ];
  for (const [input, words] of refusals) {
    try {
      readServiceSpec(input, 'service');
      assert.unreachable('accepted bad input');
    } catch (error) {
      assert.instance(error, ModelError);
      assert.is((error as ModelError).path, 'service.one_packet');
      assert.ok((error as ModelError).message.includes(words), (error as ModelError).message);
    }
  }
});

test('client_address on a TCP service: none, toa, proxy_v1, proxy_v2 accepted, "" means none; the UDP modes refused naming the field', () => {
  for (const mode of ['none', 'toa', 'proxy_v1', 'proxy_v2']) {
    assert.is(readServiceSpec({ ...good(), client_address: mode }, 'service').clientAddress, mode);
  }
  assert.is(readServiceSpec({ ...good(), client_address: '' }, 'service').clientAddress, 'none');
  for (const mode of ['uoa_ipo', 'uoa_opp']) {
    expectModelError(() => readServiceSpec({ ...good(), client_address: mode }, 'service'), 'service.client_address',
      `service.client_address: ${mode} is not supported for TCP services (UOA carries a UDP client's address; TCP has toa): expected one of none, toa, proxy_v1, proxy_v2`);
  }
});

test('client_address on a UDP service: uoa_ipo, uoa_opp, proxy_v2 accepted; toa and proxy_v1 (TCP only) refused naming the field', () => {
  const udp = { protocol: 'udp', vip: '198.18.0.53', port: 53, local_addresses: ['198.19.0.200'] };
  for (const mode of ['uoa_ipo', 'uoa_opp', 'proxy_v2']) assert.is(readServiceSpec({ ...udp, client_address: mode }, 'service').clientAddress, mode);
  for (const [mode, why] of [['toa', 'TOA is a TCP option'], ['proxy_v1', 'PROXY v1 has no UDP form']] as const) {
    expectModelError(() => readServiceSpec({ ...udp, client_address: mode }, 'service'), 'service.client_address',
      `service.client_address: ${mode} is not supported for UDP services (${why}): expected one of none, uoa_ipo, uoa_opp, proxy_v2`);
  }
  for (const mode of ['none', '']) assert.is(readServiceSpec({ ...udp, client_address: mode }, 'service').clientAddress, 'none');
});

test('client_address on UDP: uoa_ipo refused on an IPv6 service, every mode refused on a NAT64 one (IPv4 LIPs behind an IPv6 VIP)', () => {
  const v6 = { protocol: 'udp', vip: '2001:db8:18::53', port: 53, local_addresses: ['2001:db8:19::200'] };
  expectModelError(() => readServiceSpec({ ...v6, client_address: 'uoa_ipo' }, 'service'), 'service.client_address',
    'service.client_address: uoa_ipo is an IPv4 option and IPv6 has none: expected uoa_opp or proxy_v2 for an IPv6 service');
  for (const mode of ['uoa_opp', 'proxy_v2']) assert.is(readServiceSpec({ ...v6, client_address: mode }, 'service').clientAddress, mode);
  for (const mode of ['uoa_opp', 'proxy_v2']) {
    expectModelError(() => readServiceSpec({ ...v6, local_addresses: ['198.19.0.200'], client_address: mode }, 'service'), 'service.client_address',
      `service.client_address: ${mode} is not carried on a NAT64 service (local addresses of another family than the VIP): expected none`);
  }
});

test('uoa_datagrams: 1..255 with uoa_ipo / uoa_opp, absent or 3 = the default (left out), refused with another mode or out of range', () => {
  const udp = { protocol: 'udp', vip: '198.18.0.53', port: 53, client_address: 'uoa_opp' };
  assert.is(readServiceSpec(udp, 'service').uoaDatagrams, undefined);
  assert.is(readServiceSpec({ ...udp, uoa_datagrams: 3 }, 'service').uoaDatagrams, undefined);
  assert.is(readServiceSpec({ ...udp, uoa_datagrams: 1 }, 'service').uoaDatagrams, 1);
  assert.is(readServiceSpec({ ...udp, client_address: 'uoa_ipo', uoa_datagrams: 255 }, 'service').uoaDatagrams, 255);
  expectModelError(() => readServiceSpec({ ...udp, uoa_datagrams: 256 }, 'service'), 'service.uoa_datagrams', /integer 1\.\.255/);
  expectModelError(() => readServiceSpec({ ...udp, client_address: 'proxy_v2', uoa_datagrams: 5 }, 'service'), 'service.uoa_datagrams',
    'service.uoa_datagrams: only with client_address uoa_ipo or uoa_opp (got client_address proxy_v2)');
});

function expectModelError(fn: () => unknown, path: string, message: string | RegExp): void {
  try {
    fn();
  } catch (error) {
    assert.instance(error, ModelError);
    const e = error as ModelError;
    assert.equal([e.code, e.path], ['INVALID_ARGUMENT', path]);
    if (typeof message === 'string') assert.is(e.message, message);
    else assert.match(e.message, message);
    return;
  }
  assert.unreachable(`accepted; expected an error at ${path}`);
}

test('synproxy: off | on ("" and absent mean off; YAML 1.1 booleans accepted)', () => {
  assert.is(readServiceSpec({ ...good(), synproxy: 'on' }, 'service').synproxy, 'on');
  assert.is(readServiceSpec({ ...good(), synproxy: 'off' }, 'service').synproxy, 'off');
  assert.is(readServiceSpec({ ...good(), synproxy: '' }, 'service').synproxy, 'off');
  assert.is(readServiceSpec({ ...good(), synproxy: true }, 'service').synproxy, 'on');
  assert.is(readServiceSpec(good(), 'service').synproxy, 'off');
});

test('synproxy auto: mode auto with synproxy_auto thresholds; each one defaults on its own', () => {
  const spec = readServiceSpec({ ...good(), synproxy: 'auto', synproxy_auto: { syn_rate: 5000, hold_seconds: 60 } }, 'service');
  assert.equal([spec.synproxy, spec.synproxyAuto], ['auto', { synRate: 5000, holdSeconds: 60 }]);
  assert.equal(readServiceSpec({ ...good(), synproxy: 'auto', synproxy_auto: { syn_rate: 200 } }, 'service').synproxyAuto, { synRate: 200, holdSeconds: 30 });
  const bare = readServiceSpec({ ...good(), synproxy: 'auto' }, 'service');
  assert.equal([bare.synproxy, bare.synproxyAuto], ['auto', undefined], 'absent = the defaults, resolved when the snapshot is built');
});

test('synproxy_rst_on_bad_cookie: boolean, default off (left out of the spec)', () => {
  assert.is(readServiceSpec({ ...good(), synproxy_rst_on_bad_cookie: true }, 'service').synproxyRstOnBadCookie, true);
  assert.ok(!('synproxyRstOnBadCookie' in readServiceSpec({ ...good(), synproxy_rst_on_bad_cookie: false }, 'service')));
  assert.ok(!('synproxyRstOnBadCookie' in readServiceSpec(good(), 'service')));
  assert.throws(() => readServiceSpec({ ...good(), synproxy_rst_on_bad_cookie: 'yes' }, 'service'), /service\.synproxy_rst_on_bad_cookie/);
});

test('quic: boolean on a UDP service, refused on TCP naming the field; quic_id 1..65535, unique within the service', () => {
  const udp = { protocol: 'udp', vip: '198.18.0.10', port: 443, servers: [
    { address: '198.19.0.1', port: 443, quic_id: 0x0a01 }, { address: '198.19.0.2', port: 443, quic_id: 2 }, { address: '198.19.0.3', port: 443 }] };
  const spec = readServiceSpec({ ...udp, quic: true }, 'service');
  assert.is(spec.quic, true);
  assert.equal(spec.servers.map((s) => s.quicId), [0x0a01, 2, undefined]);
  assert.ok(!('quic' in readServiceSpec({ ...udp, quic: false }, 'service')), 'off is left out of the spec');
  assert.ok(!('quicId' in readServiceSpec({ ...udp, servers: [{ address: '198.19.0.1', port: 443, quic_id: 0 }] }, 'service').servers[0]!));
  assert.throws(() => readServiceSpec({ ...good(), quic: true }, 'service'), (e: ModelError) => e.path === 'service.quic' && /tcp service/.test(e.message));
  assert.ok(!('quic' in readServiceSpec({ ...good(), quic: false }, 'service')), 'quic: false is fine on TCP');
  assert.throws(() => readServiceSpec({ ...udp, quic: 'yes' }, 'service'), /service\.quic/);
  for (const bad of [65536, -1, 1.5, 'x']) {
    assert.throws(() => readServer({ address: '198.19.0.1', port: 443, quic_id: bad }, 'server'), /server\.quic_id/);
  }
  const duplicate = { ...udp, servers: [...udp.servers.slice(0, 2), { address: '198.19.0.3', port: 443, quic_id: 0x0a01 }] };
  assert.throws(() => readServiceSpec(duplicate, 'service'),
    (e: ModelError) => e.path === 'service.servers[2].quic_id' && /servers\[0\] has it/.test(e.message));
});

test('scheduling: every scheduler, sched flags, persistence (true = 300 s, netmask default left out), thresholds', () => {
  for (const scheduler of ['rr', 'wrr', 'lc', 'wlc', 'sed', 'nq', 'dh', 'sh', 'lblc', 'lblcr', 'mh', 'fo', 'ovf', 'twos']) {
    assert.is(readServiceSpec({ ...good(), scheduler }, 'service').scheduler, scheduler);
  }
  const mh = readServiceSpec({ ...good(), scheduler: 'mh', sched_flags: ['mh-fallback', 'mh-port'], persistence_timeout: true }, 'service');
  assert.equal([mh.schedFlags, mh.persistenceTimeout, mh.persistenceNetmask], [['mh-fallback', 'mh-port'], 300, undefined]);
  const masked = readServiceSpec({ ...good(), persistence_timeout: 60, persistence_netmask: '255.255.240.0' }, 'service');
  assert.equal([masked.persistenceTimeout, masked.persistenceNetmask], [60, '255.255.240.0']);
  assert.equal(readServer({ address: '198.19.0.1', port: 80, upper_threshold: 100 }, 's'), { address: '198.19.0.1', port: 80, weight: 1, upperThreshold: 100 });
  assert.not.ok('schedFlags' in readServiceSpec(good(), 'service'), 'unset options stay absent');
});

const cases: [string, (s: Record<string, unknown>) => void, string, string][] = [
  ['bad protocol', (s) => { s.protocol = 'sctp'; }, 'service.protocol', 'one of tcp, udp'],
  ['vip octet out of range', (s) => { s.vip = '198.18.0.300'; }, 'service.vip', 'IPv4'],
  ['vip with leading zero', (s) => { s.vip = '198.018.0.1'; }, 'service.vip', 'IPv4'],
  ['vip multicast', (s) => { s.vip = '224.0.0.1'; }, 'service.vip', 'unicast'],
  ['port 0', (s) => { s.port = 0; }, 'service.port', '1..65535'],
  ['port as string', (s) => { s.port = '80'; }, 'service.port', 'got "80"'],
  ['fractional port', (s) => { s.port = 80.5; }, 'service.port', 'integer'],
  ['unknown scheduler', (s) => { s.scheduler = 'maglev'; }, 'service.scheduler', 'one of rr, wrr, lc, wlc, sed, nq, dh, sh, lblc, lblcr, mh, fo, ovf, twos'],
  ['sched flag of another scheduler', (s) => { s.sched_flags = ['mh-port']; }, 'service.sched_flags[0]', 'a flag of scheduler wrr'],
  ['non-contiguous persistence netmask', (s) => { s.persistence_timeout = 300; s.persistence_netmask = '255.0.255.0'; }, 'service.persistence_netmask', 'a contiguous netmask'],
  ['netmask without persistence', (s) => { s.persistence_netmask = '255.255.255.0'; }, 'service.persistence_netmask', 'no netmask unless persistence_timeout'],
  ['persistence timeout over 31 days', (s) => { s.persistence_timeout = 86400 * 31 + 1; }, 'service.persistence_timeout', 'integer 1..2678400'],
  ['lower threshold above upper', (s) => { (s.servers as Record<string, unknown>[])[0]!.upper_threshold = 5; (s.servers as Record<string, unknown>[])[0]!.lower_threshold = 6; }, 'service.servers[0].lower_threshold', 'at most upper_threshold (5)'],
  ['unknown client_address', (s) => { s.client_address = 'proxy'; }, 'service.client_address', 'one of none, toa, proxy_v1, proxy_v2, uoa_ipo, uoa_opp'],
  ['unknown synproxy mode', (s) => { s.synproxy = 'sometimes'; }, 'service.synproxy', 'one of off, on, auto'],
  ['synproxy_auto not an object', (s) => { s.synproxy_auto = 1000; }, 'service.synproxy_auto', 'a mapping'],
  ['synproxy_auto negative rate', (s) => { s.synproxy_auto = { syn_rate: -5 }; }, 'service.synproxy_auto.syn_rate', '1..100000000'],
  ['synproxy_auto fractional hold', (s) => { s.synproxy_auto = { hold_seconds: 1.5 }; }, 'service.synproxy_auto.hold_seconds', '1..86400'],
  ['synproxy_auto hold too long', (s) => { s.synproxy_auto = { hold_seconds: 86401 }; }, 'service.synproxy_auto.hold_seconds', '1..86400'],
  ['synproxy_auto unknown key', (s) => { s.synproxy_auto = { rate: 5 }; }, 'service.synproxy_auto.rate', 'unknown key'],
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
  assert.throws(() => readPort({ name: 'a', device: 'ring', addresses: ['10.0.0.1'] }, 'ports[0]'), /^ports\[0\]\.addresses\[0\]: expected an address with prefix length like 198\.18\.0\.254\/24 \(1\.\.32\) or 2001:db8:18::254\/64 \(1\.\.128\), got "10\.0\.0\.1"$/);
  assert.throws(() => readPort({ name: 'a', device: 'ring', mac: 'zz' }, 'ports[0]'), /^ports\[0\]\.mac: /);
  assert.throws(() => readRoute({ prefix: '10.0.0.1/8', port: 'a' }, 'routes[0]'), /^routes\[0\]\.prefix: expected a prefix with host bits zero/);
  assert.equal(readRoute({ prefix: '0.0.0.0/0', via: '198.18.0.1', port: 'outside' }, 'r'), { prefix: '0.0.0.0/0', via: '198.18.0.1', port: 'outside' });
});

test.run();
