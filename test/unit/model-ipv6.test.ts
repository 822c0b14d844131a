// IPv6 in the desired state: one service per address however it is written, one family per
// service with NAT64 the one exception, routes in one family, -M as a prefix length, and what the
// data plane is handed. Every refusal is checked with its exact message.
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import {
  addServer, buildDataplaneConfig, createService, ModelError, readRoute, readServiceSpec, serviceKeyText, setMitigations,
  updateService, type DesiredState,
} from '../../src/model/index.js';
import { ringPortsState } from '../support/desired-state.js';

function dualStack(): DesiredState {
  const state = ringPortsState();
  state.ports[0]!.addresses.push('2001:db8:18::254/64');
  state.ports[1]!.addresses.push('2001:db8:19::254/64');
  return state;
}

const v6Service = (extra: Record<string, unknown> = {}) => readServiceSpec({
  protocol: 'tcp', vip: '2001:db8:18::10', port: 80, local_addresses: ['2001:db8:19::200'],
  servers: [{ address: '2001:db8:19::1', port: 80 }, { address: '2001:db8:19::2', port: 80 }], ...extra,
}, 'service');

function refused(run: () => unknown, path: string, message: string): void {
  try {
    run();
  } catch (error) {
    assert.instance(error, ModelError);
    assert.is((error as ModelError).path, path);
    assert.is((error as ModelError).message, message);
    return;
  }
  assert.unreachable(`accepted; expected ${message}`);
}

test('an IPv6 service is stored canonical; the same VIP written another way is the same service', () => {
  const spec = readServiceSpec({ protocol: 'tcp', vip: '2001:DB8:18:0::0010', port: 80, servers: [{ address: '2001:db8:19:0:0:0:0:1', port: 80 }] }, 'service');
  assert.is(spec.vip, '2001:db8:18::10');
  assert.is(spec.servers[0]!.address, '2001:db8:19::1');
  const { state } = createService(dualStack(), spec);
  assert.is(serviceKeyText(state.services[0]!), 'tcp/[2001:db8:18::10]:80');
  const again = readServiceSpec({ protocol: 'tcp', vip: '2001:db8:18::10', port: 80 }, 'service');
  refused(() => createService(state, again), 'service', 'service: virtual service tcp/[2001:db8:18::10]:80 already exists');
  // A server written another way is the same server.
  refused(() => readServiceSpec({ protocol: 'tcp', vip: '2001:db8:18::10', port: 80,
    servers: [{ address: '2001:db8:19::1', port: 80 }, { address: '2001:DB8:19::0:1', port: 80 }] }, 'service'),
  'service.servers[1]', 'service.servers[1]: expected an entry not listed before (duplicate), got "[2001:db8:19::1]:80"');
  refused(() => addServer(state, state.services[0]!, { address: '2001:db8:19::1', port: 80, weight: 1 }),
    'server', 'server: real server [2001:db8:19::1]:80 already exists in tcp/[2001:db8:18::10]:80');
});

test('family rules: VIP, LIPs and servers share one family, each refusal naming the field', () => {
  const base = dualStack();
  refused(() => createService(base, readServiceSpec({ protocol: 'tcp', vip: '198.18.0.10', port: 80, servers: [{ address: '2001:db8:19::1', port: 80 }] }, 'service')),
    'service.servers[0].address',
    "service.servers[0].address: server 2001:db8:19::1 is IPv6 but the VIP 198.18.0.10 is IPv4; a service's VIP, local addresses and servers share one family (NAT64 takes an IPv6 VIP with IPv4 servers, not the reverse)");
  refused(() => createService(base, readServiceSpec({ protocol: 'tcp', vip: '198.18.0.10', port: 80, local_addresses: ['2001:db8:19::200'] }, 'service')),
    'service.local_addresses[0]',
    "service.local_addresses[0]: local address 2001:db8:19::200 is IPv6 but the VIP 198.18.0.10 is IPv4; a service's VIP, local addresses and servers share one family (NAT64 takes an IPv6 VIP with IPv4 servers, not the reverse)");
  refused(() => createService(base, v6Service({ local_addresses: ['198.19.0.200'] })),
    'service.local_addresses[0]',
    "service.local_addresses[0]: local address 198.19.0.200 is IPv4 but server 2001:db8:19::1 is IPv6; a service's VIP, local addresses and servers share one family (the VIP 2001:db8:18::10 is IPv6)");
  refused(() => createService(base, v6Service({ servers: [{ address: '2001:db8:19::1', port: 80 }, { address: '198.19.0.2', port: 80 }] })),
    'service.servers[1].address',
    "service.servers[1].address: server 198.19.0.2 is IPv4 but server 2001:db8:19::1 is IPv6; a service's VIP, local addresses and servers share one family (the VIP 2001:db8:18::10 is IPv6)");
  // Through addServer (pcadm -a, AddRealServer) the same check runs.
  const { state } = createService(base, v6Service());
  refused(() => addServer(state, state.services[0]!, { address: '198.19.0.3', port: 80, weight: 1 }),
    'service.servers[2].address',
    "service.servers[2].address: server 198.19.0.3 is IPv4 but server 2001:db8:19::1 is IPv6; a service's VIP, local addresses and servers share one family (the VIP 2001:db8:18::10 is IPv6)");
});

test('NAT64: an IPv6 VIP with IPv4 servers through IPv4 LIPs, fullnat only', () => {
  const nat64 = (extra: Record<string, unknown> = {}) => readServiceSpec({
    protocol: 'tcp', vip: '2001:db8:18::64', port: 80, local_addresses: ['198.19.0.201'],
    servers: [{ address: '198.19.0.1', port: 80 }, { address: '198.19.0.2', port: 80 }], ...extra,
  }, 'service');
  const { state, warnings } = createService(dualStack(), nat64());
  assert.equal(warnings, []);
  assert.equal(state.services[0]!.localAddresses, ['198.19.0.201']);
  refused(() => createService(dualStack(), nat64({ local_addresses: ['2001:db8:19::201'] })),
    'service.local_addresses[0]',
    'service.local_addresses[0]: local address 2001:db8:19::201 is IPv6 but server 198.19.0.1 is IPv4; a NAT64 service (IPv6 VIP, IPv4 servers) reaches its IPv4 servers through IPv4 local addresses only');
  refused(() => createService(dualStack(), nat64({ servers: [{ address: '198.19.0.1', port: 80, forward: 'nat' }] })),
    'service.servers[0].forward',
    'service.servers[0].forward: nat cannot be used with NAT64 (IPv6 VIP 2001:db8:18::64, IPv4 server 198.19.0.1): only fullnat translates between families');
  // The LIP pool alone already decides the inside family: pcadm --add-laddr before -a.
  const lipsOnly = createService(dualStack(), readServiceSpec({ protocol: 'tcp', vip: '2001:db8:18::65', port: 80, local_addresses: ['198.19.0.202'] }, 'service'));
  refused(() => addServer(lipsOnly.state, lipsOnly.state.services[0]!, { address: '2001:db8:19::1', port: 80, weight: 1 }),
    'service.local_addresses[0]',
    'service.local_addresses[0]: local address 198.19.0.202 is IPv4 but server 2001:db8:19::1 is IPv6; a service\'s VIP, local addresses and servers share one family (the VIP 2001:db8:18::65 is IPv6)');
});

test('IPv6 VIPs and LIPs against port addresses: a port address is refused, outside every prefix warns', () => {
  refused(() => createService(dualStack(), v6Service({ vip: '2001:DB8:18::254' })), 'service.vip',
    'service.vip: 2001:db8:18::254 is a port address; a VIP must be an address of its own');
  const { warnings } = createService(dualStack(), v6Service({ vip: '2001:db8:99::10' }));
  assert.equal(warnings, ["service.vip: 2001:db8:99::10 is not inside any port's connected prefix; neighbour discovery for it will not be answered on a segment"]);
});

test('routes: prefix and next hop in one family; an IPv6 next hop may be link-local', () => {
  assert.equal(readRoute({ prefix: '2001:DB8:100::/48', via: '2001:db8:19::1', port: 'inside' }, 'routes[0]'),
    { prefix: '2001:db8:100::/48', via: '2001:db8:19::1', port: 'inside' });
  assert.equal(readRoute({ prefix: '::/0', via: 'FE80::1', port: 'outside' }, 'routes[0]'), { prefix: '::/0', via: 'fe80::1', port: 'outside' });
  refused(() => readRoute({ prefix: '2001:db8:100::/48', via: '198.19.0.1', port: 'inside' }, 'routes[0]'), 'routes[0].via',
    'routes[0].via: expected an IPv6 next hop (the family of prefix 2001:db8:100::/48), got "198.19.0.1"');
  refused(() => readRoute({ prefix: '10.0.0.0/8', via: '2001:db8:19::1', port: 'inside' }, 'routes[0]'), 'routes[0].via',
    'routes[0].via: expected an IPv4 next hop (the family of prefix 10.0.0.0/8), got "2001:db8:19::1"');
});

test('persistence: -M is a prefix length for an IPv6 VIP, a netmask for an IPv4 one; each refused on the other', () => {
  const spec = v6Service({ persistence_timeout: 300, persistence_prefix_length: 64 });
  assert.is(spec.persistencePrefixLength, 64);
  assert.is(spec.persistenceNetmask, undefined);
  assert.is(v6Service({ persistence_timeout: 300, persistence_prefix_length: 128 }).persistencePrefixLength, undefined);
  refused(() => v6Service({ persistence_timeout: 300, persistence_netmask: '255.255.255.0' }), 'service.persistence_netmask',
    'service.persistence_netmask: expected no netmask for an IPv6 service: give persistence_prefix_length 1..128 (ipvsadm -M 64), got "255.255.255.0"');
  refused(() => v6Service({ persistence_timeout: 300, persistence_prefix_length: 129 }), 'service.persistence_prefix_length',
    'service.persistence_prefix_length: expected integer 1..128, got 129');
  refused(() => v6Service({ persistence_prefix_length: 64 }), 'service.persistence_prefix_length',
    'service.persistence_prefix_length: expected no prefix length unless persistence_timeout is set (-M needs -p), got 64');
  refused(() => readServiceSpec({ protocol: 'tcp', vip: '198.18.0.10', port: 80, persistence_timeout: 300, persistence_prefix_length: 24 }, 'service'),
    'service.persistence_prefix_length',
    'service.persistence_prefix_length: expected no prefix length for an IPv4 service: give persistence_netmask like 255.255.255.0, got 24');
  // update keeps and replaces it like the other scheduling fields
  const { state } = createService(dualStack(), spec);
  const updated = updateService(state, v6Service({ persistence_timeout: 300, persistence_prefix_length: 48 }), false).state;
  assert.is(updated.services[0]!.persistencePrefixLength, 48);
});

test('the data plane is handed canonical IPv6 text, the IPv6 -M as persistencePrefixLength and udpPerSource.ipv6PrefixLength', () => {
  let { state } = createService(dualStack(), v6Service({ protocol: 'udp', port: 53, persistence_timeout: 60, persistence_prefix_length: 56,
    servers: [{ address: '2001:db8:19::1', port: 53 }] }));
  ({ state } = createService(state, readServiceSpec({ protocol: 'tcp', vip: '198.18.0.10', port: 80, persistence_timeout: 60 }, 'service')));
  const udp = { protocol: 'udp' as const, vip: '2001:db8:18::10', port: 53 };
  ({ state } = setMitigations(state, [
    { service: udp, kind: 'udp_per_source', pps: 10, burst: 20, ipv6PrefixLength: 48 },
    { kind: 'deny', prefix: '2001:db8:66::/64' },
  ], { actor: 't', reason: 'test' }, Date.now()));
  const config = buildDataplaneConfig(state);
  assert.equal(config.ports.map((p) => p.addresses), [['198.18.0.254/24', '2001:db8:18::254/64'], ['198.19.0.254/24', '2001:db8:19::254/64']]);
  const v6 = config.services[0]!;
  assert.equal([v6.vip, v6.localAddresses, v6.servers[0]!.address], ['2001:db8:18::10', ['2001:db8:19::200'], '2001:db8:19::1']);
  assert.equal([v6.persistenceTimeout, v6.persistencePrefixLength, v6.persistenceNetmask], [60, 56, undefined]);
  const v4 = config.services[1]!;
  assert.equal([v4.persistenceNetmask, v4.persistencePrefixLength], ['255.255.255.255', undefined]);
  assert.equal(config.defense?.acl, { entries: [{ prefix: '2001:db8:66::/64', action: 'deny' }] });
  assert.equal(config.defense?.services?.[0]?.udpPerSource, { pps: 10, burst: 20, ipv6PrefixLength: 48 });
  // Not given: the /64 default is sent explicitly.
  ({ state } = setMitigations(state, [{ service: udp, kind: 'udp_per_source', pps: 10, burst: 20 }], { actor: 't', reason: 'test' }, Date.now()));
  assert.equal(buildDataplaneConfig(state).defense?.services?.[0]?.udpPerSource, { pps: 10, burst: 20, ipv6PrefixLength: 64 });
  refused(() => setMitigations(state, [{ service: udp, kind: 'udp_per_source', pps: 10, burst: 20, ipv6PrefixLength: 0 }], { actor: 't', reason: 'test' }, Date.now()),
    'ipv6_prefix_length', 'ipv6_prefix_length: expected integer 1..128, got 0');
  refused(() => setMitigations(state, [{ service: udp, kind: 'udp_per_service', pps: 10, burst: 20, ipv6PrefixLength: 64 }], { actor: 't', reason: 'test' }, Date.now()),
    'ipv6_prefix_length', 'ipv6_prefix_length: expected no IPv6 prefix length: only udp_per_source aggregates sources, kind is udp_per_service, got 64');
});

test.run();
