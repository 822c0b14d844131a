// The demo configuration and banner with the IPv6 switch off (what runs today) and on (what
// the demo serves once the data plane forwards IPv6): the IPv4 services stay exactly as they
// are, the IPv6 ones use the lab's IPv6 addresses, and the banner's curls match.
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { parse } from 'yaml';
import { ConfigError, parseConfig } from '../../src/config/load.js';
import { DEMO_IPV6_SERVICES, demoConfigYaml } from '../../src/lab/demo-config.js';
import { demoBanner } from '../../src/lab/demo.js';
import {
  GATEWAY_INSIDE_ADDRESS_V6, GATEWAY_OUTSIDE_ADDRESS_V6, LOCAL_ADDRESSES, LOCAL_ADDRESSES_V6, NAT64_HTTP_PORT, REAL_SERVERS, VIP, VIP_V6,
} from '../../src/lab/topology.js';

interface RawService { name: string; protocol: string; vip: string; port: number; local_addresses: string[]; servers: { address: string; port: number }[]; client_address?: string }
interface RawConfig { ports: { name: string; addresses: string[] }[]; services: RawService[] }

const PATHS = { socket: '/run/pc-test/portcullis.sock', stateFile: '/var/lib/pc-test/state.json' };
const off = demoConfigYaml({ ...PATHS, ipv6Services: false });
const on = demoConfigYaml({ ...PATHS, ipv6Services: true });
const raw = (text: string) => parse(text) as RawConfig;

test('the switch is one constant, off in this build, and the default of demoConfigYaml', () => {
  assert.is(DEMO_IPV6_SERVICES, false, 'IPv6 services stay off until the data plane forwards IPv6');
  assert.is(demoConfigYaml(PATHS), DEMO_IPV6_SERVICES ? on : off);
});

test('off: the three IPv4 services, IPv4 port addresses, not one IPv6 address; the config validates', () => {
  const config = raw(off);
  assert.equal(config.services.map((s) => s.name), ['web', 'echo', 'web-proxy']);
  assert.equal(config.ports.map((p) => p.addresses), [['198.18.0.254/24'], ['198.19.0.254/24']]);
  assert.not.match(off, /2001:db8/);
  const parsed = parseConfig(off, 'demo');
  assert.equal(parsed.services.map((s) => s.vip), [VIP, VIP, VIP]);
});

test('on: the IPv4 part is unchanged, the ports gain their IPv6 addresses, and four IPv6 services follow', () => {
  const [withV6, without] = [raw(on), raw(off)];
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

test('on: the model accepts the config, or (until the control plane takes IPv6) refuses only its IPv6 addresses', () => {
  let problems: string[] = [];
  try {
    const parsed = parseConfig(on, 'demo');
    assert.equal(parsed.services.map((s) => s.name), ['web', 'echo', 'web-proxy', 'web-v6', 'echo-v6', 'web-proxy-v6', 'web-nat64']);
    return;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems = error.problems;
  }
  // Refused: then for the address family alone, never for anything else in the demo's text.
  assert.ok(problems.length > 0);
  for (const problem of problems) assert.match(problem, /got "2001:db8:1[89]::[0-9a-f]+(\/64)?"$/, `refused for something other than IPv6: ${problem}`);
});

test('banner: the IPv6 curls (curl -g, bracketed VIP, NAT64 port) only with the switch on', () => {
  const without = demoBanner('/run/x.sock', '/tmp/x.yaml', false);
  const withV6 = demoBanner('/run/x.sock', '/tmp/x.yaml', true);
  assert.not.match(without, /2001:db8/);
  for (const line of without.split('\n')) assert.ok(withV6.includes(line), `the IPv4 banner line is kept: ${line}`);
  assert.match(withV6, `ip netns exec pc-client curl -g 'http://[${VIP_V6}]/'`);
  assert.match(withV6, `curl -gs 'http://[${VIP_V6}]:${NAT64_HTTP_PORT}/'`);
  assert.match(withV6, `/dev/udp/${VIP_V6}/7`);
});

test.run();
