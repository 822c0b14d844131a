// The `cluster` config section: a good one read with its defaults, and every mistake named by
// its field path (all of them at once, like the rest of the config).
import * as assert from 'uvu/assert';
import { parseConfig } from '../../src/config/load.js';
import { Announcer, exportFilters, nextHops, usable } from '../../src/cluster/announcer.js';
import { configBaseState } from '../../src/config/load.js';
import { seedServices } from '../../src/model/index.js';
import { roleAllows } from '../../src/api/auth.js';
import { test } from '../support/suite.js';
import { configProblems } from '../support/config-problems.js';

const PORTS = `ports:
  - { name: outside, device: ring, addresses: [198.18.0.251/24, "2001:db8:18::251/64"], exception_path: true }
  - { name: inside, device: ring, addresses: [198.19.0.251/24] }
`;

const GOOD = `cluster:
  node: gw1
  nodes:
    - { name: gw1, address: 198.18.0.251 }
    - { name: gw2, address: 198.18.0.252 }
  sync: { key_file: /etc/portcullis/cluster.key }
  bgp:
    asn: 65010
    router_id: 198.18.0.251
    peers:
      - { address: 198.18.0.250, asn: 65000, hold_time: 3, announce: [vips] }
      - { address: 198.19.0.250, asn: 4200000000, announce: [lips, vips], port: 1179 }
`;

const problems = configProblems;

test('a good cluster section is read with the documented defaults; no section = standalone', () => {
  const config = parseConfig(PORTS + GOOD, 'test.yaml');
  assert.equal(config.cluster, {
    node: 'gw1',
    nodes: [{ name: 'gw1', address: '198.18.0.251' }, { name: 'gw2', address: '198.18.0.252' }],
    sync: { keyFile: '/etc/portcullis/cluster.key', port: 7946, foreignFlows: 1048576 },
    bgp: {
      speaker: 'managed', gobgpd: '/usr/bin/gobgpd', api: '127.0.0.1:50051', asn: 65010, routerId: '198.18.0.251', listenPort: 179,
      peers: [
        { address: '198.18.0.250', asn: 65000, holdTime: 3, announce: ['vips'] },
        { address: '198.19.0.250', asn: 4200000000, holdTime: 90, announce: ['lips', 'vips'], port: 1179 },
      ],
    },
  });
  assert.is(parseConfig(PORTS, 'test.yaml').cluster, undefined);
  const external = parseConfig(PORTS + GOOD.replace('    asn: 65010\n', '    asn: 65010\n    speaker: external\n    api: "[::1]:50051"\n    listen_port: -1\n    gobgpd: /opt/gobgpd\n'), 'test.yaml');
  assert.equal([external.cluster?.bgp.speaker, external.cluster?.bgp.api, external.cluster?.bgp.listenPort, external.cluster?.bgp.gobgpd],
    ['external', '[::1]:50051', -1, '/opt/gobgpd']);
  const noKeepalive = parseConfig(PORTS + GOOD.replace('hold_time: 3', 'hold_time: 0'), 'test.yaml');
  assert.is(noKeepalive.cluster?.bgp.peers[0]?.holdTime, 0);
});

test('every problem is named by its field path, all reported at once', () => {
  const bad = `cluster:
  node: gw9
  nodes:
    - { name: gw1, address: 198.18.0.251 }
    - { name: gw1, address: 198.18.0.252 }
    - { name: gw3, address: 198.18.0.251 }
    - { name: GW_4, address: 198.18.0.254 }
    - { name: gw5, address: 224.0.0.1 }
  sync: { key_file: "", port: 0, foreign_flows: 10, extra: 1 }
  bgp:
    speaker: embedded
    api: localhost
    asn: 0
    router_id: "::1"
    listen_port: 0
    peers:
      - { address: 198.18.0.250, asn: 65000, hold_time: 3, announce: [vips] }
      - { address: 198.18.0.250, asn: 65000, announce: [vips] }
      - { address: 198.18.0.249, asn: 4294967296, announce: [] }
      - { address: 198.18.0.248, asn: 1, announce: [vips, vips] }
      - { address: 198.18.0.247, asn: 1, announce: [routes] }
      - { address: 198.18.0.246, asn: 1, announce: [vips], port: 70000, password: x }
      - { address: 198.18.0.245, asn: 1, hold_time: 2, announce: [vips] }
`;
  const found = problems(PORTS + bad);
  const expected = [
    'cluster.nodes[1].name: "gw1" is already the name of cluster.nodes[0]',
    'cluster.nodes[2].address: 198.18.0.251 is already the address of cluster.nodes[0]',
    'cluster.nodes[3].name: expected a name of 1..32 characters from [a-z0-9-], got "GW_4"',
    'cluster.nodes[4].address: expected ',
    'cluster.sync.extra: unknown key',
    'cluster.bgp.speaker: expected one of managed, external, got "embedded"',
    'cluster.bgp.api: expected "host:port" like "127.0.0.1:50051", got "localhost"',
    'cluster.bgp.asn: expected integer 1..4294967295, got 0',
    'cluster.bgp.router_id: expected an IPv4 address (dotted quad, not 0.0.0.0): BGP identifiers are 32 bits, got "::1"',
    'cluster.bgp.listen_port: expected integer 1..65535, or -1 (gobgpd only connects out), got 0',
    'cluster.bgp.peers[6].hold_time: expected seconds: 0 (no keepalives) or 3..65535 (RFC 4271), got 2',
    'cluster.bgp.peers[1].address: 198.18.0.250 is already cluster.bgp.peers[0]',
    'cluster.bgp.peers[2].asn: expected integer 1..4294967295, got 4294967296',
    'cluster.bgp.peers[3].announce[1]: expected each of vips, lips at most once, got "vips"',
    'cluster.bgp.peers[4].announce[0]: expected one of vips, lips, got "routes"',
    'cluster.bgp.peers[5].password: unknown key',
    'cluster.node: expected one of the nodes\' names (gw1), got "gw9"',
  ];
  for (const line of expected) assert.ok(found.some((p) => p.startsWith(line)), `missing "${line}" in:\n${found.join('\n')}`);
  assert.ok(problems(PORTS + GOOD.replace('announce: [vips] }', 'announce: [] }')).some((p) => p.startsWith('cluster.bgp.peers[0].announce: expected a non-empty list of vips, lips')));
  assert.ok(problems(PORTS + GOOD.replace(', port: 1179', ', port: 70000')).some((p) => p.startsWith('cluster.bgp.peers[1].port: expected integer 1..65535')));
  assert.ok(problems(PORTS + GOOD.replace('  sync: { key_file: /etc/portcullis/cluster.key }\n', '')).some((p) => p.startsWith('cluster.sync: expected a mapping, got nothing')));
  assert.ok(problems(PORTS + GOOD.replace('  sync: { key_file: /etc/portcullis/cluster.key }', '  sync: { port: 7946 }')).some((p) => p.startsWith('cluster.sync.key_file: expected a non-empty string')));
  assert.ok(problems(PORTS + 'cluster: { node: gw1, nodes: [], bgp: 1 }\n').some((p) => p.startsWith('cluster.nodes: expected at least one node')));
  assert.equal(problems(PORTS + 'cluster: [1]\n'), ['cluster: expected a mapping, got a list of 1']);
  assert.ok(problems(PORTS + 'cluster: { nodez: 1 }\n')[0]!.startsWith('cluster.nodez: unknown key'));
});

test("this node's address must be a port address, on a port with exception_path: true", () => {
  const notOwned = problems(PORTS + GOOD.replace('{ name: gw1, address: 198.18.0.251 }', '{ name: gw1, address: 198.18.0.9 }'));
  assert.equal(notOwned, ['cluster.nodes[0].address: this node\'s address must be one of its port addresses (198.18.0.251, 2001:db8:18::251, 198.19.0.251), got 198.18.0.9']);
  const noExceptionPath = problems(PORTS + GOOD.replace('{ name: gw1, address: 198.18.0.251 }', '{ name: gw1, address: 198.19.0.251 }'));
  assert.equal(noExceptionPath, ['cluster.nodes[0].address: 198.19.0.251 is on port "inside", which needs exception_path: true (BGP and the ownership sync reach the host through it)']);
  // Another node's address is not ours: only this node's is checked against the ports.
  assert.ok(parseConfig(PORTS + GOOD.replace('{ name: gw2, address: 198.18.0.252 }', '{ name: gw2, address: 10.0.0.2 }'), 'test.yaml').cluster);
});

test('announce rules: usable servers, next hops per family, export filters only where peers differ', () => {
  const server = { id: 1, address: '198.19.0.1', port: 80, weight: 1 };
  assert.ok(usable(server, 0));
  assert.not.ok(usable({ ...server, weight: 0 }, 0));
  assert.not.ok(usable({ ...server, healthDown: true }, 0));
  assert.not.ok(usable({ ...server, passiveDown: true }, 0), 'backed off by passive health');
  assert.ok(usable({ ...server, upperThreshold: 10 }, 9));
  assert.not.ok(usable({ ...server, upperThreshold: 10 }, 10), 'at the upper threshold: no new connections (ipvsadm -x)');
  assert.ok(usable({ ...server, upperThreshold: 10 }, undefined), 'live counts unknown: not held against the server');

  const config = parseConfig(PORTS + GOOD, 'test.yaml');
  assert.equal(nextHops('198.18.0.251', config.ports), { 4: '198.18.0.251', 6: '2001:db8:18::251', port: 'outside' });
  assert.equal(nextHops('198.19.0.251', config.ports), { 4: '198.19.0.251', port: 'inside' });
  // Peer 0 gets vips only, peer 1 both: the LIPs need a filter (not every peer), the VIPs do not.
  assert.equal(exportFilters(config.cluster!), [{ name: 'portcullis-lips', largeCommunity: [65010, 1, 2], peers: ['198.19.0.250'] }]);
});

test('Drain and Undrain need the operator role; a read-only identity may read the cluster status', () => {
  assert.not.ok(roleAllows('read-only', '/portcullis.v1.Cluster/Drain'));
  assert.not.ok(roleAllows('read-only', '/portcullis.v1.Cluster/Undrain'));
  assert.ok(roleAllows('read-only', '/portcullis.v1.Cluster/GetClusterStatus'));
  assert.ok(roleAllows('operator', '/portcullis.v1.Cluster/Drain'));
});


test("GoBGP's API on the port of our own API or metrics listener is refused before anything starts", () => {
  const ours = `api:\n  listen: "0.0.0.0:50051"\n  tls: { cert: /etc/pc/c.pem, key: /etc/pc/k.pem }\n  tokens: [{ name: ops, role: operator, file: /etc/pc/ops.token }]\n`;
  const found = problems(PORTS + ours + GOOD);
  assert.ok(found.some((p) => p.startsWith('cluster.bgp.api: 127.0.0.1:50051 uses port 50051, as api.listen 0.0.0.0:50051 does')), found.join('\n'));
  const metrics = problems(PORTS + 'metrics: { listen: "127.0.0.1:50051" }\n' + GOOD);
  assert.ok(metrics.some((p) => p.includes('as metrics.listen 127.0.0.1:50051 does')), metrics.join('\n'));
  // Another port for GoBGP: accepted.
  assert.is(parseConfig(PORTS + ours + GOOD.replace('    asn: 65010\n', '    asn: 65010\n    api: 127.0.0.1:50052\n'), 'test.yaml').cluster?.bgp.api, '127.0.0.1:50052');
});

test('a health-checked VIP is announced only once a probe has passed one of its servers; an unchecked one at once', () => {
  const services = `services:
  - { protocol: tcp, vip: 198.18.100.10, port: 80, local_addresses: [198.19.0.200], servers: [{ address: 198.19.0.1, port: 80 }, { address: 198.19.0.2, port: 80 }],
      health_check: { kind: tcp, interval_ms: 500, timeout_ms: 400, rise: 1, fall: 2 } }
  - { protocol: tcp, vip: 198.18.100.11, port: 80, local_addresses: [198.19.0.201], servers: [{ address: 198.19.0.1, port: 80 }] }
`;
  const config = parseConfig(PORTS + GOOD + services, 'test.yaml');
  const state = seedServices(configBaseState(config), config.services).state;
  const passed = new Set<number>();
  const announcer = new Announcer(config.cluster!, config.ports,
    { state: () => state, servers: () => undefined, probedUp: (id) => passed.has(id) }, false);
  const vips = () => [...announcer.desired().values()].filter((p) => p.kind === 'vips').map((p) => p.address).sort();
  assert.equal(vips(), ['198.18.100.11'], 'the checked VIP waits for its first passing probe');
  passed.add(state.services[0]!.servers[1]!.id);
  assert.equal(vips(), ['198.18.100.10', '198.18.100.11'], 'one server seen up is enough');
  const withoutChecker = new Announcer(config.cluster!, config.ports, { state: () => state, servers: () => undefined }, false);
  assert.equal([...withoutChecker.desired().values()].filter((p) => p.kind === 'vips').length, 2, 'no checker: every server counts');
});

test.run();
