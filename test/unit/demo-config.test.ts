// The demo configuration and banner with the IPv6 switch off and on (the IPv6 FullNAT services,
// on in this build), and with the two switches of their own (PROXY v2 over IPv6, NAT64; both on
// in this build): the IPv4 services stay exactly as they are, the IPv6 ones use the lab's IPv6
// addresses, and the banner's curls are those of the services that run.
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { parse } from 'yaml';
import { parseConfig } from '../../src/config/load.js';
import { DEMO_IPV6_SERVICES, DEMO_NAT64_SERVICE, DEMO_PROXY_V6_SERVICE, demoConfigYaml, demoServices } from '../../src/lab/demo-config.js';
import { demoBanner } from '../../src/lab/demo.js';
import {
  GATEWAY_INSIDE_ADDRESS_V6, GATEWAY_OUTSIDE_ADDRESS_V6, LOCAL_ADDRESSES, LOCAL_ADDRESSES_V6, NAT64_HTTP_PORT, REAL_SERVERS, VIP, VIP_V6,
} from '../../src/lab/topology.js';

interface RawService { name: string; protocol: string; vip: string; port: number; local_addresses: string[]; servers: { address: string; port: number }[]; client_address?: string }
interface RawConfig { ports: { name: string; addresses: string[] }[]; services: RawService[] }

const PATHS = { socket: '/run/pc-test/portcullis.sock', stateFile: '/var/lib/pc-test/state.json' };
const off = demoConfigYaml({ ...PATHS, ipv6Services: false });
const on = demoConfigYaml({ ...PATHS, ipv6Services: true, proxyV6Service: false, nat64Service: false });
const all = demoConfigYaml({ ...PATHS, ipv6Services: true, proxyV6Service: true, nat64Service: true });
const raw = (text: string) => parse(text) as RawConfig;

test('the switches: IPv6 FullNAT, PROXY v6 and NAT64 on in this build; they are demoConfigYaml\'s defaults', () => {
  assert.is(DEMO_IPV6_SERVICES, true, 'the data plane forwards IPv6 FullNAT: the demo serves it');
  assert.is(DEMO_PROXY_V6_SERVICE, true, 'the data plane writes the PROXY v2 AF_INET6 header, with SYNPROXY too: the demo serves it');
  assert.is(DEMO_NAT64_SERVICE, true, 'the data plane translates NAT64');
  assert.equal(demoServices(), { ipv6: DEMO_IPV6_SERVICES, proxyV6: DEMO_PROXY_V6_SERVICE, nat64: DEMO_NAT64_SERVICE });
  assert.is(demoConfigYaml(PATHS), demoConfigYaml({ ...PATHS, ipv6Services: DEMO_IPV6_SERVICES,
    proxyV6Service: DEMO_PROXY_V6_SERVICE, nat64Service: DEMO_NAT64_SERVICE }));
  assert.equal(demoServices({ ipv6Services: false, proxyV6Service: true, nat64Service: true }), { ipv6: false, proxyV6: false, nat64: false },
    'the PROXY v6 and NAT64 services only ever with the IPv6 ones');
  assert.is(demoConfigYaml({ ...PATHS, ipv6Services: false, nat64Service: true }), off);
});

test('off: the three IPv4 services, IPv4 port addresses, not one IPv6 address; the config validates', () => {
  const config = raw(off);
  assert.equal(config.services.map((s) => s.name), ['web', 'echo', 'web-proxy']);
  assert.equal(config.ports.map((p) => p.addresses), [['198.18.0.254/24'], ['198.19.0.254/24']]);
  assert.not.match(off, /2001:db8/);
  const parsed = parseConfig(off, 'demo');
  assert.equal(parsed.services.map((s) => s.vip), [VIP, VIP, VIP]);
});

test('on: the IPv4 part is unchanged, the ports gain their IPv6 addresses, and the two IPv6 FullNAT services follow', () => {
  const config = raw(on);
  assert.equal(config.services.slice(0, 3), raw(off).services, 'the IPv4 services are the same with the switch on');
  assert.equal(config.ports, raw(all).ports);
  const v6 = config.services.slice(3);
  assert.equal(v6.map((s) => [s.name, s.protocol, s.vip, s.port, s.client_address]), [
    ['web-v6', 'tcp', VIP_V6, 80, undefined], ['echo-v6', 'udp', VIP_V6, 7, undefined],
  ]);
  assert.equal(v6, raw(all).services.slice(3, 5), 'the same services as with every switch on');
});

test('every switch on: the IPv4 part is unchanged, the ports gain their IPv6 addresses, and four IPv6 services follow', () => {
  const [withV6, without] = [raw(all), raw(off)];
  assert.equal(withV6.services.slice(0, 3), without.services, 'the IPv4 services are the same with the switch on');
  assert.equal(withV6.ports.map((p) => p.addresses), [
    ['198.18.0.254/24', `${GATEWAY_OUTSIDE_ADDRESS_V6}/64`], ['198.19.0.254/24', `${GATEWAY_INSIDE_ADDRESS_V6}/64`],
  ]);
  const v6 = withV6.services.slice(3);
  assert.equal(v6.map((s) => [s.name, s.protocol, s.vip, s.port, s.client_address]), [
    ['web-v6', 'tcp', VIP_V6, 80, undefined], ['echo-v6', 'udp', VIP_V6, 7, undefined],
    ['web-proxy-v6', 'tcp', VIP_V6, 81, 'proxy_v2'], ['web-nat64', 'tcp', VIP_V6, NAT64_HTTP_PORT, undefined],
  ]);
  for (const service of v6.slice(0, 3)) {
    assert.equal(service.local_addresses, [...LOCAL_ADDRESSES_V6], `${service.name}: IPv6 LIPs`);
    assert.equal(service.servers.map((s) => [s.address, s.port]), REAL_SERVERS.map((r) => [r.addresses6[0], service.port]), `${service.name}: IPv6 servers`);
  }
  const nat64 = v6[3]!;
  assert.equal(nat64.local_addresses, [...LOCAL_ADDRESSES], 'NAT64 reaches its IPv4 servers through the IPv4 LIPs');
  assert.equal(nat64.servers.map((s) => [s.address, s.port]), REAL_SERVERS.map((r) => [r.addresses[0], 80]));
});

test('the model accepts the config with the IPv6 services, and with every switch on', () => {
  assert.equal(parseConfig(on, 'demo').services.map((s) => s.name), ['web', 'echo', 'web-proxy', 'web-v6', 'echo-v6']);
  assert.equal(parseConfig(all, 'demo').services.map((s) => s.name),
    ['web', 'echo', 'web-proxy', 'web-v6', 'echo-v6', 'web-proxy-v6', 'web-nat64']);
});

test('banner: the IPv6 curls (curl -g, bracketed VIP) only with the switch on; the PROXY v6 and NAT64 ones only with theirs', () => {
  const without = demoBanner('/run/x.sock', '/tmp/x.yaml', { ipv6: false, proxyV6: false, nat64: false });
  const withV6 = demoBanner('/run/x.sock', '/tmp/x.yaml', { ipv6: true, proxyV6: false, nat64: false });
  const withAll = demoBanner('/run/x.sock', '/tmp/x.yaml', { ipv6: true, proxyV6: true, nat64: true });
  assert.not.match(without, /2001:db8/);
  for (const line of without.split('\n')) assert.ok(withV6.includes(line), `the IPv4 banner line is kept: ${line}`);
  for (const line of withV6.split('\n')) assert.ok(withAll.includes(line), `the IPv6 banner line is kept: ${line}`);
  for (const banner of [withV6, withAll]) {
    assert.match(banner, `ip netns exec pc-client curl -g 'http://[${VIP_V6}]/'`);
    assert.match(banner, `/dev/udp/${VIP_V6}/7`);
  }
  for (const port of [81, NAT64_HTTP_PORT]) {
    assert.not.match(withV6, `[${VIP_V6}]:${port}`, `no line for a service that does not run (:${port})`);
    assert.match(withAll, `curl -gs 'http://[${VIP_V6}]:${port}/'`);
  }
  assert.is(demoBanner('/run/x.sock', '/tmp/x.yaml'), demoBanner('/run/x.sock', '/tmp/x.yaml', demoServices()));
});

test.run();
