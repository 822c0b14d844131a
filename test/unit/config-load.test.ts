// YAML config: defaults, and every kind of mistake reported with its field path.
import { test } from '../support/suite.js';
import { configProblems } from '../support/config-problems.js';
import * as assert from 'uvu/assert';
import { parseConfig } from '../../src/config/load.js';
import { DEFAULT_API_LIMITS } from '../../src/config/types.js';

const PORTS = `ports:
  - name: outside
    device: net_af_packet0,iface=pc-gw-out
    addresses: [198.18.0.254/24]
  - name: inside
    device: ring
    addresses: [198.19.0.254/24]
`;

const problems = configProblems;

test('minimal config gets the documented defaults', () => {
  const config = parseConfig(PORTS, 'test.yaml');
  assert.equal(config.dataplane, { workers: 1, lcores: '0-1', polling: 'adaptive', memoryMb: 512, hugepages: 'auto', connCapacity: 262144, connRegion: 'auto' });
  assert.equal(config.api, { socket: '/run/portcullis/portcullis.sock', listen: '', limits: { ...DEFAULT_API_LIMITS } });
  assert.is(config.stateFile, '/var/lib/portcullis/state.json');
  assert.is(config.timeouts.tcpEstablished, 900);
  assert.is(config.timeouts.udp, 300);
  assert.equal(config.services, []);
});

test('ports[].exception_path: true sets exceptionPath; absent/false leaves it off; not a boolean is refused', () => {
  const config = parseConfig(PORTS.replace('    device: ring\n', '    device: ring\n    exception_path: true\n'), 'test.yaml');
  assert.equal(config.ports.map((p) => p.exceptionPath), [undefined, true]);
  const off = parseConfig(PORTS.replace('    device: ring\n', '    device: ring\n    exception_path: false\n'), 'test.yaml');
  assert.is(off.ports[1]!.exceptionPath, undefined);
  const bad = problems(PORTS.replace('    device: ring\n', '    device: ring\n    exception_path: yes please\n'));
  assert.ok(bad.some((p) => p.startsWith('ports[1].exception_path')), bad.join('; '));
});

test('lcores default follows workers; full example parses', () => {
  const config = parseConfig(`dataplane: { workers: 3, polling: busy, memory_mb: 256, hugepages: "off", conn_capacity: 4096 }
api: { socket: /tmp/x.sock, listen: "127.0.0.1:50051", tls: { cert: /etc/pc/tls.crt, key: /etc/pc/tls.key }, tokens: [{ name: ops, role: operator, file: /etc/pc/ops.token }] }
state_file: /tmp/state.json
${PORTS}routes:
  - { prefix: 0.0.0.0/0, via: 198.18.0.1, port: outside }
timeouts: { tcp_established: 100, udp: 30 }
services:
  - name: web
    protocol: tcp
    vip: 198.18.0.10
    port: 80
    scheduler: wrr
    local_addresses: [198.19.0.200, 198.19.0.201]
    timeouts: { tcp_fin_wait: 5 }
    servers:
      - { address: 198.19.0.1, port: 80, weight: 2 }
`, 'full.yaml');
  assert.is(config.dataplane.lcores, '0-3');
  assert.is(config.dataplane.hugepages, 'off');
  assert.is(config.api.listen, '127.0.0.1:50051');
  assert.equal(config.routes, [{ prefix: '0.0.0.0/0', via: '198.18.0.1', port: 'outside' }]);
  assert.is(config.timeouts.tcpEstablished, 100);
  assert.is(config.timeouts.tcpClose, 10);
  assert.equal(config.services[0]!.timeouts, { tcpFinWait: 5 });
  assert.is(config.services[0]!.servers[0]!.weight, 2);
});

test('dataplane.fragments: reassembly table bounds, each checked with its path', () => {
  const config = parseConfig(`${PORTS}dataplane: { fragments: { sets: 1024, timeout_ms: 500, max_fragments: 8, max_datagram: 4096 } }`, 'test.yaml');
  assert.equal(config.dataplane.fragments, { sets: 1024, timeoutMs: 500, maxFragments: 8, maxDatagram: 4096 });
  assert.is(parseConfig(PORTS, 'test.yaml').dataplane.fragments, undefined, 'absent = the data plane defaults');
  assert.match(problems(`${PORTS}dataplane: { fragments: { max_datagram: 70000 } }`)[0]!, /^dataplane\.fragments\.max_datagram: expected integer 576\.\.65535/);
  assert.match(problems(`${PORTS}dataplane: { fragments: { timeout: 5 } }`)[0]!, /^dataplane\.fragments\.timeout: unknown key/);
});

test('unknown keys name their path', () => {
  assert.equal(problems(PORTS.replace('addresses: [198.19', 'adress: [198.19')), [
    'ports[1].adress: unknown key (expected one of: name, device, addresses, mac, mtu, exception_path)',
  ]);
  assert.match(problems(`${PORTS}servces: []`)[0]!, /^servces: unknown key/);
  assert.match(problems(`${PORTS}dataplane: { worker: 2 }`)[0]!, /^dataplane\.worker: unknown key/);
});

test('several problems are reported together', () => {
  const found = problems(`dataplane: { workers: 0 }
api: { listen: "nope" }
${PORTS}timeouts: { udp: -5 }
services:
  - { protocol: tcp, vip: 198.18.0.300, port: 80 }
  - { protocol: tcp, vip: 198.18.0.11, port: 80, scheduler: maglev }
`);
  assert.equal(found, [
    'dataplane.workers: expected integer 1..64, got 0',
    'api.listen: expected "host:port" like "127.0.0.1:50051", got "nope"',
    'timeouts.udp: expected integer 1..2678400, got -5',
    'services[0].vip: expected an IPv4 address (dotted quad) or an IPv6 address, got "198.18.0.300"',
    'services[1].scheduler: expected one of rr, wrr, lc, wlc, sed, nq, dh, sh, lblc, lblcr, mh, fo, ovf, twos, got "maglev"',
  ]);
});

test('wrong types, duplicates and cross checks', () => {
  assert.match(problems('ports: outside')[0]!, /^ports: expected a list, got "outside"/);
  assert.match(problems(`${PORTS}  - { name: outside, device: ring }`)[0]!, /^ports\[2\]\.name: duplicate port name "outside"/);
  assert.match(problems('ports: []')[0]!, /^ports: expected 1\.\.8 ports, got 0/);
  assert.match(problems(`${PORTS}services:
  - { name: a, protocol: tcp, vip: 198.18.0.10, port: 80 }
  - { name: b, protocol: tcp, vip: 198.18.0.10, port: 80 }`)[0]!, /^services\[1\]: virtual service tcp\/198\.18\.0\.10:80 already exists/);
  assert.match(problems(`${PORTS}services:
  - { name: a, protocol: tcp, vip: 198.18.0.10, port: 80 }
  - { name: a, protocol: tcp, vip: 198.18.0.10, port: 81 }`)[0]!, /^services\[1\]\.name: /);
  assert.match(problems(`${PORTS}dataplane: { polling: 3 }`)[0]!, /^dataplane\.polling: expected one of busy, adaptive, got 3/);
});

test('dataplane.bench_mode: bridge is a benchmark-only switch, none or absent leaves it off', () => {
  assert.is(parseConfig(`${PORTS}dataplane: { bench_mode: bridge }`, 'test.yaml').dataplane.benchMode, 'bridge');
  assert.is(parseConfig(`${PORTS}dataplane: { bench_mode: none }`, 'test.yaml').dataplane.benchMode, undefined);
  assert.match(problems(`${PORTS}dataplane: { bench_mode: nat }`)[0]!, /^dataplane\.bench_mode: expected one of none, bridge, got "?nat/);
});

test('YAML syntax errors and duplicate mapping keys are errors', () => {
  assert.match(problems('ports: [')[0]!, /^YAML: /);
  assert.match(problems(`${PORTS}routes: []\nroutes: []`)[0]!, /^YAML: .*unique/i);
});

test('services[].client_address: TCP-only modes refused on UDP and UDP modes on TCP, with the path; uoa_opp + uoa_datagrams load', () => {
  const udp = `${PORTS}services:\n  - { name: dns, protocol: udp, vip: 198.18.0.53, port: 53, client_address: toa }\n`;
  assert.equal(problems(udp), ['services[0].client_address: toa is not supported for UDP services (TOA is a TCP option): expected one of none, uoa_ipo, uoa_opp, proxy_v2']);
  const tcp = `${PORTS}services:\n  - { name: web, protocol: tcp, vip: 198.18.0.10, port: 80, client_address: uoa_ipo }\n`;
  assert.equal(problems(tcp), ["services[0].client_address: uoa_ipo is not supported for TCP services (UOA carries a UDP client's address; TCP has toa): expected one of none, toa, proxy_v1, proxy_v2"]);
  const uoa = `${PORTS}services:\n  - { name: dns, protocol: udp, vip: 198.18.0.53, port: 53, client_address: uoa_opp, uoa_datagrams: 5 }\n`;
  assert.equal(parseConfig(uoa, 't').services.map((s) => [s.clientAddress, s.uoaDatagrams]), [['uoa_opp', 5]]);
  const stray = `${PORTS}services:\n  - { name: dns, protocol: udp, vip: 198.18.0.53, port: 53, uoa_datagrams: 5 }\n`;
  assert.equal(problems(stray), ['services[0].uoa_datagrams: only with client_address uoa_ipo or uoa_opp (got client_address none)']);
});

test('docs/config.md IPv6 example: dual-stack ports, IPv6 routes, an IPv6 service and a NAT64 service load canonical', async () => {
  const { readFile } = await import('node:fs/promises');
  const doc = await readFile(new URL('../../docs/config.md', import.meta.url), 'utf8');
  const example = /### IPv6 and NAT64[\s\S]*?```yaml\n([\s\S]*?)```/.exec(doc)![1]!;
  const config = parseConfig(example.replace('2001:db8:18::10"', '2001:DB8:18:0::0010"'), 'test.yaml');
  assert.equal(config.ports.map((p) => p.addresses), [['198.18.0.254/24', '2001:db8:18::254/64'], ['198.19.0.254/24', '2001:db8:19::254/64']]);
  assert.equal(config.routes, [{ prefix: '2001:db8:100::/48', via: '2001:db8:19::9', port: 'inside' }, { prefix: '::/0', via: 'fe80::1', port: 'outside' }]);
  assert.equal(config.services.map((s) => [s.vip, s.localAddresses, s.servers.map((r) => r.address), s.persistencePrefixLength]), [
    ['2001:db8:18::10', ['2001:db8:19::200', '2001:db8:19::201'], ['2001:db8:19::1', '2001:db8:19::2'], 64],
    ['2001:db8:18::64', ['198.19.0.202'], ['198.19.0.1'], undefined],
  ]);
  assert.equal(problems(example.replace('- { address: 198.19.0.1, port: 80 }', '- { address: 198.19.0.1, port: 80, forward: dr }')), [
    'services[1].servers[0].forward: dr cannot be used with NAT64 (IPv6 VIP 2001:db8:18::64, IPv4 server 198.19.0.1): only fullnat translates between families',
  ]);
  assert.equal(problems(example.replace('via: "2001:db8:19::9"', 'via: 198.19.0.9').replace('local_addresses: ["2001:db8:19::200"', 'local_addresses: ["fe80::200"')), [
    'routes[0].via: expected an IPv6 next hop (the family of prefix 2001:db8:100::/48), got "198.19.0.9"',
    'services[0].local_addresses[0]: expected a global or unique-local IPv6 address (not link-local fe80::/10), got "fe80::200"',
  ]);
});

test.run();
