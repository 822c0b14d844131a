// The cluster lab's generated files: each gateway's daemon config (with and without the
// `cluster` section) and BIRD's config for the edge router. The daemon's own parser reads the
// node config; `bird -p` (BIRD's parse-only mode) reads bird.conf; both are real, not mocks.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { parseConfig } from '../../src/config/load.js';
import { birdConfig } from '../../src/lab/bird-config.js';
import { clusterNodeConfigYaml, clusterNodePaths } from '../../src/lab/cluster-config.js';
import {
  CLIENT_SUBNET, CLUSTER_GATEWAYS, CLUSTER_LAB_NAMESPACES, CLUSTER_VIP, EDGE, GATEWAY_ASN, gatewayOfPeer,
} from '../../src/lab/cluster-topology.js';
import { LAB_NAMESPACES } from '../../src/lab/topology.js';
import { requireTool } from '../support/e2e-lab.js';

const run = promisify(execFile);
const [gw1, gw2] = CLUSTER_GATEWAYS as [typeof CLUSTER_GATEWAYS[0], typeof CLUSTER_GATEWAYS[0]];
const paths = (node: string) => clusterNodePaths(`/run/pc-test/${node}`);

interface RawNode {
  ports: { name: string; addresses: string[]; exception_path?: boolean }[];
  routes: { prefix: string; via: string }[];
  services: { vip: string; scheduler: string; local_addresses: string[]; health_check?: object }[];
  metrics: { listen: string };
  api: { socket: string };
  cluster?: {
    node: string; nodes: { name: string; address: string }[];
    sync: { key_file: string; port: number };
    bgp: { speaker: string; asn: number; router_id: string; api: string; listen_port: number; peers: { address: string; asn: number; hold_time: number; announce: string[] }[] };
  };
}

test('without the cluster section each node\'s config is one the daemon on this branch accepts', () => {
  for (const gateway of CLUSTER_GATEWAYS) {
    const config = parseConfig(clusterNodeConfigYaml(gateway, { paths: paths(gateway.name), withCluster: false }), gateway.name);
    assert.equal(config.ports.map((port) => port.exceptionPath), [true, true], 'both ports have an exception path');
    assert.is(config.services.length, 1);
    assert.equal(config.services[0]!.localAddresses, gateway.localAddresses, 'the node\'s own LIPs');
    assert.equal(config.routes.map((route) => [route.prefix, route.via]), [[CLIENT_SUBNET, EDGE.nodeAddress]], 'back to the clients via the edge');
    assert.is(config.metrics.listen, `127.0.0.1:${gateway.metricsPort}`);
  }
});

test('the nodes differ only where they must: addresses, LIPs, files, metrics port, router id', () => {
  const one = parse(clusterNodeConfigYaml(gw1, { paths: paths('gw1') })) as RawNode;
  const two = parse(clusterNodeConfigYaml(gw2, { paths: paths('gw2') })) as RawNode;
  assert.equal(one.services[0]!.scheduler, 'mh', 'a scheduler both nodes agree on');
  assert.equal({ ...one.services[0]!, local_addresses: [] }, { ...two.services[0]!, local_addresses: [] }, 'same service but for the LIPs');
  assert.ok(one.services[0]!.health_check, 'health check on');
  assert.is(one.services[0]!.vip, CLUSTER_VIP);
  assert.is.not(one.api.socket, two.api.socket);
  assert.is.not(one.metrics.listen, two.metrics.listen);
  assert.equal(one.cluster!.nodes, two.cluster!.nodes, 'both list the same nodes');
  assert.equal(one.cluster!.nodes, [{ name: 'gw1', address: gw1.nodeAddress }, { name: 'gw2', address: gw2.nodeAddress }]);
  assert.equal([one.cluster!.node, two.cluster!.node], ['gw1', 'gw2']);
  assert.is(one.cluster!.sync.key_file, paths('gw1').keyFile);
  assert.equal([one.cluster!.bgp.router_id, two.cluster!.bgp.router_id], [gw1.nodeAddress, gw2.nodeAddress]);
  assert.equal(one.cluster!.bgp, { ...two.cluster!.bgp, router_id: gw1.nodeAddress }, 'same BGP settings but the router id');
  assert.equal(one.cluster!.bgp.peers, [{ address: EDGE.nodeAddress, asn: EDGE.asn, hold_time: 3, announce: ['vips'] }]);
  assert.equal([one.cluster!.bgp.speaker, one.cluster!.bgp.asn, one.cluster!.bgp.listen_port], ['managed', GATEWAY_ASN, 179]);
  // The node address is a port address on a port with an exception path (BGP and sync reach the host there).
  assert.ok(one.ports.some((port) => port.exception_path && port.addresses.includes(`${gw1.nodeAddress}/24`)));
});

test('a real server\'s peer address tells the gateway: each gateway\'s LIPs are its own', () => {
  assert.is(gatewayOfPeer(`${gw1.localAddresses[1]}:40000`)?.name, 'gw1');
  assert.is(gatewayOfPeer(`${gw2.localAddresses[0]}:40000`)?.name, 'gw2');
  assert.is(gatewayOfPeer('198.19.0.254:40000'), undefined);
  assert.equal(gw1.localAddresses.filter((address) => gw2.localAddresses.includes(address)), []);
});

test('the cluster lab shares no namespace name with the normal lab (both may exist; lab down removes either)', () => {
  assert.equal(CLUSTER_LAB_NAMESPACES.filter((name) => LAB_NAMESPACES.includes(name)), []);
});

test('bird.conf: BIRD itself parses it (bird -p); eBGP to both gateways, host routes only, merged paths, no static route', async () => {
  const bird = requireTool('bird', 'bird2');
  const text = birdConfig({ logPath: '/dev/null' });
  for (const gateway of CLUSTER_GATEWAYS) assert.match(text, `neighbor ${gateway.nodeAddress} as ${GATEWAY_ASN};`);
  assert.match(text, /hold time 3;\s+keepalive time 1;/);
  assert.match(text, /merge paths on;/);
  assert.match(text, /if net.len = 32 then accept;/);
  assert.match(text, /if net.len = 128 then accept;/);
  assert.not.match(text, /protocol static/, 'routes to the VIP come only from BGP');
  const dir = await mkdtemp(join(tmpdir(), 'pc-bird-'));
  try {
    await writeFile(join(dir, 'bird.conf'), text);
    await run(bird, ['-p', '-c', join(dir, 'bird.conf')]);
    await writeFile(join(dir, 'broken.conf'), text.replace('merge paths on;', 'merge paths sideways;'));
    const broken = await run(bird, ['-p', '-c', join(dir, 'broken.conf')]).then(() => 'accepted', (error: Error) => error.message);
    assert.match(broken, /syntax error/, 'bird -p rejects a broken config (the check can fail)');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test.run();
