// The lab is dual-stack: every host namespace has its IPv6 addresses (usable at once, never
// tentative), IPv6 default routes via the gateway's ::254, real servers on [::], and IPv6
// works on both links. No gateway runs here (the data plane does not forward IPv6 yet), so
// IPv6 between the segments goes through the lab's return router, and what the gateway will
// see is checked on its root-namespace port pc-gw-out: the clients' neighbour solicitations
// for ::254 (which the host kernel must not answer) and the flood helpers' IPv6 packets.
// Needs root and the lab's tools; run under `flock /tmp/pc-lab.lock` like every lab test.

import { readdir, readFile } from 'node:fs/promises';
import { BlockList } from 'node:net';
import { suite } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { labDown, labStatus, labUp } from '../../src/lab/lab.js';
import {
  ATTACKER, CLIENT, GATEWAY_INSIDE_ADDRESS_V6, GATEWAY_OUTSIDE_ADDRESS, GATEWAY_OUTSIDE_ADDRESS_V6, GATEWAY_OUTSIDE_IFACE,
  GATEWAY_INSIDE_ADDRESS, INSIDE_SUBNET_V6, LAB_HOSTS, LAB_NAMESPACES, OUTSIDE_SUBNET_V6, REAL_SERVERS, RETURN_ROUTER, VIP_V6,
} from '../../src/lab/topology.js';
import { describePacket, startDecodedCapture, type CapturedPacket } from '../support/e2e-capture.js';
import { synFlood, udpFlood } from '../support/e2e-floods.js';
import { curlIn, downloadChecked, httpUrl, peerAddress, udpEcho } from '../support/e2e-http.js';
import { LAB_TOOLS, requireLab, requireTool, runInNamespace, withTimeout } from '../support/e2e-lab.js';

const e2e = suite('e2e: the dual-stack lab');
e2e.before(requireLab); // no root or a missing tool: every test fails, naming it
e2e.after(() => withTimeout(labDown(), 30_000, 'lab down'));

const RS1 = REAL_SERVERS[0]!;
/** Beyond both lab prefixes: reached (if at all) through the default route. */
const OFF_LINK_V6 = '2001:db8:99::1';

interface IpAddressInfo { family: string; local: string; prefixlen: number; scope: string; tentative?: boolean; dadfailed?: boolean }
interface IpRoute { dst: string; gateway?: string; dev: string }

async function must(namespace: string, argv: string[]): Promise<string> {
  const result = await runInNamespace(namespace, argv, 10_000);
  assert.is(result.code, 0, `${namespace}: ${argv.join(' ')}: ${result.stderr}`);
  return result.stdout;
}

async function addressesOf(namespace: string, iface: string): Promise<IpAddressInfo[]> {
  const [link] = JSON.parse(await must(namespace, ['ip', '-j', 'address', 'show', 'dev', iface])) as { addr_info: IpAddressInfo[] }[];
  return link?.addr_info ?? [];
}

function expectAddresses(where: string, info: IpAddressInfo[], expected6: string[], expected4: string[]): void {
  const v6 = info.filter((a) => a.family === 'inet6' && a.scope === 'global');
  assert.equal(v6.map((a) => `${a.local}/${a.prefixlen}`).sort(), expected6.map((a) => `${a}/64`).sort(), `${where}: IPv6 addresses`);
  const v4 = info.filter((a) => a.family === 'inet').map((a) => a.local).sort();
  assert.equal(v4, [...expected4].sort(), `${where}: IPv4 addresses unchanged`);
  for (const address of info.filter((a) => a.family === 'inet6')) {
    assert.not.ok(address.tentative, `${where}: ${address.local} is tentative`);
    assert.not.ok(address.dadfailed, `${where}: ${address.local} failed DAD`);
  }
  assert.ok(info.some((a) => a.family === 'inet6' && a.scope === 'link'), `${where}: a link-local address (IPv6 is on)`);
}

e2e('lab up: every namespace has its IPv6 addresses (/64, none tentative or dadfailed) beside its IPv4 ones', async () => {
  await withTimeout(labUp({ quiet: true }), 60_000, 'lab up');
  for (const host of LAB_HOSTS) {
    expectAddresses(host.namespace, await addressesOf(host.namespace, 'eth0'), host.addresses6, host.addresses);
    for (const [key, value] of [['disable_ipv6', '0'], ['accept_ra', '0']]) {
      assert.is((await must(host.namespace, ['sysctl', '-n', `net.ipv6.conf.eth0.${key}`])).trim(), value, `${host.namespace}: eth0 ${key}`);
    }
  }
  expectAddresses(`${RETURN_ROUTER.namespace} eth-outside`, await addressesOf(RETURN_ROUTER.namespace, 'eth-outside'),
    [RETURN_ROUTER.outsideAddress6], [RETURN_ROUTER.outsideAddress]);
  expectAddresses(`${RETURN_ROUTER.namespace} eth-inside`, await addressesOf(RETURN_ROUTER.namespace, 'eth-inside'),
    [RETURN_ROUTER.insideAddress6], [RETURN_ROUTER.insideAddress]);
  // The gateway's own veth stays without IPv6: only the gateway may answer there.
  assert.is((await readFile(`/proc/sys/net/ipv6/conf/${GATEWAY_OUTSIDE_IFACE}/disable_ipv6`, 'utf8')).trim(), '1');
  const status = await labStatus();
  assert.match(status, /^lab: up/);
  assert.match(status, `${CLIENT.namespace}: 198.18.0.1 (+8 more), 2001:db8:18::1 (+8 more)`);
});

e2e('routes: each host defaults to the gateway (.254 and ::254) and has its /64 on eth0', async () => {
  for (const host of LAB_HOSTS) {
    const outside = host.segment === 'outside';
    const [gateway4, gateway6, subnet6] = outside
      ? [GATEWAY_OUTSIDE_ADDRESS, GATEWAY_OUTSIDE_ADDRESS_V6, OUTSIDE_SUBNET_V6] : [GATEWAY_INSIDE_ADDRESS, GATEWAY_INSIDE_ADDRESS_V6, INSIDE_SUBNET_V6];
    const routes6 = JSON.parse(await must(host.namespace, ['ip', '-6', '-j', 'route', 'show'])) as IpRoute[];
    assert.ok(routes6.some((r) => r.dst === 'default' && r.gateway === gateway6 && r.dev === 'eth0'),
      `${host.namespace}: IPv6 default via ${gateway6}: ${JSON.stringify(routes6)}`);
    assert.ok(routes6.some((r) => r.dst === subnet6 && r.dev === 'eth0'), `${host.namespace}: ${subnet6} on eth0`);
    const routes4 = JSON.parse(await must(host.namespace, ['ip', '-4', '-j', 'route', 'show', 'default'])) as IpRoute[];
    assert.equal(routes4.map((r) => [r.gateway, r.dev]), [[gateway4, 'eth0']], `${host.namespace}: IPv4 default route unchanged`);
  }
  assert.is((await must(RETURN_ROUTER.namespace, ['sysctl', '-n', 'net.ipv6.conf.all.forwarding'])).trim(), '1');
});

e2e('real servers listen on both families: 0.0.0.0 and [::] for tcp 80 and 81, udp 7', async () => {
  const ss = requireTool('ss', LAB_TOOLS.ip);
  for (const server of REAL_SERVERS) {
    const local = async (flags: string) => (await must(server.namespace, [ss, '-H', flags]))
      .split('\n').filter(Boolean).map((line) => line.trim().split(/\s+/)[3]);
    const tcp = await local('-lnt');
    const udp = await local('-lnu');
    for (const port of [80, 81]) {
      assert.ok(tcp.includes(`0.0.0.0:${port}`) && tcp.includes(`[::]:${port}`), `${server.namespace} tcp ${port}: ${tcp.join(' ')}`);
    }
    assert.ok(udp.includes('0.0.0.0:7') && udp.includes('[::]:7'), `${server.namespace} udp 7: ${udp.join(' ')}`);
    // IPv6-only sockets: an IPv4 peer is still seen as a plain IPv4 address, not ::ffff:a.b.c.d.
    assert.is((await must(server.namespace, ['curl', '-sS', '--max-time', '3', `http://${server.addresses[0]}/`])).includes('"peer":"198.19.0.'), true);
  }
});

e2e('IPv6 on the links: pc-client reaches rs1 over IPv6 via the return router (HTTP, PROXY v1 TCP6, sha256 download, UDP echo)', async () => {
  await must(CLIENT.namespace, ['ip', '-6', 'route', 'add', INSIDE_SUBNET_V6, 'via', RETURN_ROUTER.outsideAddress6, 'dev', 'eth0']);
  await must(RS1.namespace, ['ip', '-6', 'route', 'add', OUTSIDE_SUBNET_V6, 'via', RETURN_ROUTER.insideAddress6, 'dev', 'eth0']);
  try {
    const rs1 = RS1.addresses6[0]!;
    const plain = await curlIn(CLIENT.namespace, httpUrl(rs1, 80, '/v6'));  // from the primary ::1 (the others are deprecated)
    assert.is(plain.code, 0, `curl over IPv6: ${plain.stderr}`);
    assert.is(plain.answer?.server, 'rs1');
    assert.is(peerAddress(plain.answer!), CLIENT.addresses6[0], `rs1 saw ${plain.answer?.peer}`);
    assert.match(plain.answer!.peer, /^\[2001:db8:18::1\]:\d+$/);
    const fromAnother = await curlIn(CLIENT.namespace, httpUrl(rs1), { source: CLIENT.addresses6[4]! });
    assert.is(fromAnother.answer && peerAddress(fromAnother.answer), CLIENT.addresses6[4], 'a chosen source address is used');

    const proxied = await curlIn(CLIENT.namespace, httpUrl(rs1, 81, '/p'), { extra: ['--haproxy-protocol'], localPort: 45678 });
    assert.is(proxied.code, 0, `PROXY over IPv6: ${proxied.stderr}`);
    assert.is(proxied.answer?.client, `[${CLIENT.addresses6[0]}]:45678`, 'the PROXY port reads a TCP6 header');

    const download = await downloadChecked(rs1, 80, 2_000_000, 20_000);
    assert.ok(download.intact, `download over IPv6: ${JSON.stringify(download)}`);
    const echo = await udpEcho(rs1, 7, 3, 3_000);
    assert.equal(echo.missing, [], 'every datagram echoed over IPv6');
    assert.ok(echo.echoes.every((e) => e.from === `[${rs1}]:7`), JSON.stringify(echo.echoes));
  } finally {
    await runInNamespace(CLIENT.namespace, ['ip', '-6', 'route', 'del', INSIDE_SUBNET_V6], 5_000);
    await runInNamespace(RS1.namespace, ['ip', '-6', 'route', 'del', OUTSIDE_SUBNET_V6], 5_000);
  }
});

e2e('toward the gateway: the client\'s solicitations for the VIP (on-link) and for ::254 (off-link traffic) arrive on pc-gw-out, unanswered', async () => {
  const capture = await startDecodedCapture(undefined, GATEWAY_OUTSIDE_IFACE, { maxSeconds: 15 });
  let seen: CapturedPacket[] = [];
  try {
    // The VIP is inside the outside /64, so the client asks for it directly (the gateway will own it,
    // as it answers ARP for the IPv4 VIP); an address beyond the /64 goes via the default route's ::254.
    for (const target of [VIP_V6, OFF_LINK_V6]) {
      const ping = await runInNamespace(CLIENT.namespace, ['ping', '-6', '-c', '1', '-W', '1', target], 10_000);
      assert.is.not(ping.code, 0, `no gateway runs: ${target} must not answer`);
    }
  } finally {
    seen = await capture.stop();
  }
  const listing = seen.map(describePacket).join('\n  ');
  for (const target of [VIP_V6, GATEWAY_OUTSIDE_ADDRESS_V6]) {
    const solicitations = seen.filter((p) => p.family === 6 && p.icmp?.type === 135 && p.icmp.target === target);
    assert.ok(solicitations.length >= 1, `no neighbour solicitation for ${target} reached ${GATEWAY_OUTSIDE_IFACE}:\n  ${listing}`);
    assert.ok(solicitations.every((p) => p.src === CLIENT.addresses6[0] && p.icmp?.checksumOk && p.hopLimit === 255 && !p.outgoing),
      `solicitations come from the client's primary ::1, well-formed:\n  ${listing}`);
  }
  assert.is(seen.filter((p) => p.icmp?.type === 136).length, 0, `something answered for the gateway:\n  ${listing}`);
  for (const target of [VIP_V6, GATEWAY_OUTSIDE_ADDRESS_V6]) {
    const neighbour = await must(CLIENT.namespace, ['ip', '-6', 'neigh', 'show', target, 'dev', 'eth0']);
    assert.not.match(neighbour, /REACHABLE|STALE|lladdr/, `the client resolved ${target} without a gateway: ${neighbour}`);
  }
});

e2e('flood helpers over IPv6 reach the gateway\'s port well-formed: spoofed SYNs/ACKs, and UDP from many sources of one /64', async () => {
  // The gateway does not answer neighbour solicitations yet: pin the (on-link) VIP to its port's MAC.
  const gatewayMac = (await readFile(`/sys/class/net/${GATEWAY_OUTSIDE_IFACE}/address`, 'utf8')).trim();
  await must(ATTACKER.namespace, ['ip', '-6', 'neigh', 'replace', VIP_V6, 'lladdr', gatewayMac, 'dev', 'eth0', 'nud', 'permanent']);
  const capture = await startDecodedCapture(undefined, GATEWAY_OUTSIDE_IFACE, { maxSeconds: 20, maxFrames: 2_000 });
  let seen: CapturedPacket[] = [];
  let syn: Awaited<ReturnType<typeof synFlood>>;
  let udp: Awaited<ReturnType<typeof udpFlood>>;
  let fragmented: Awaited<ReturnType<typeof udpFlood>>;
  try {
    syn = await synFlood(VIP_V6, 80, 5, 400);
    udp = await udpFlood(VIP_V6, 7, { seconds: 5, maxPackets: 300, sourcePrefix: OUTSIDE_SUBNET_V6, sources: 50 });
    fragmented = await udpFlood(VIP_V6, 7, { seconds: 5, maxPackets: 4, size: 3_000 });
  } finally {
    seen = await capture.stop();
  }
  const toVip = seen.filter((p) => p.family === 6 && p.dst === VIP_V6 && p.src !== CLIENT.addresses6[0]);
  const summary = `${seen.length} captured; first: ${seen.slice(0, 5).map(describePacket).join(' | ')}`;

  assert.equal([syn.sent, syn.syns + syn.acks], [400, 400]);
  const tcp = toVip.filter((p) => p.tcp);
  assert.is(tcp.length, 400, `SYN flood packets on ${GATEWAY_OUTSIDE_IFACE}: ${summary}`);
  assert.ok(tcp.every((p) => p.tcp!.checksumOk && p.tcp!.dstPort === 80 && /^2001:db8:18::1[0-9]{2}$/.test(p.src)), 'well-formed, spoofed from ::100-::199');
  assert.is(tcp.filter((p) => p.tcp!.flagNames === 'S').length, syn.syns);
  assert.is(tcp.filter((p) => p.tcp!.flagNames === 'A').length, syn.acks);

  assert.equal([udp.sent, udp.sources], [300, 50]);
  const datagrams = toVip.filter((p) => p.udp && !p.fragment);
  const sources = new Set(datagrams.map((p) => p.src));
  assert.is(datagrams.length, 300, `UDP flood packets: ${summary}`);
  assert.is(sources.size, 50, 'fifty distinct sources');
  const outside64 = new BlockList();
  outside64.addSubnet('2001:db8:18::', 64, 'ipv6');
  assert.ok([...sources].every((s) => outside64.check(s, 'ipv6')), `every source in ${OUTSIDE_SUBNET_V6}: ${[...sources].join(' ')}`);
  assert.not.ok([...sources].some((s) => LAB_HOSTS.some((h) => h.addresses6.includes(s))), 'no lab host\'s own address is spoofed');
  assert.ok(datagrams.every((p) => p.udp!.checksumOk && p.udp!.dstPort === 7), 'UDP checksums over the IPv6 pseudo-header');

  const fragments = toVip.filter((p) => p.fragment);
  assert.equal([fragmented.sent, fragmented.frames], [4, 12], '3000-byte datagrams go out as 3 IPv6 fragments each');
  assert.is(fragments.length, 12, `fragments on the wire: ${summary}`);
  assert.is(fragments.filter((p) => p.fragment!.offset === 0 && p.udp?.dstPort === 7).length, 4, 'each first fragment carries the UDP header');
});

e2e('lab down removes every namespace and the gateway veths', async () => {
  await withTimeout(labDown(), 30_000, 'lab down');
  assert.match(await labStatus(), /^lab: down/);
  const left = (await readdir('/run/netns').catch(() => [] as string[])).filter((name) => LAB_NAMESPACES.includes(name));
  assert.equal(left, [], 'lab namespaces left behind');
  const gatewayPortLeft = await readFile(`/sys/class/net/${GATEWAY_OUTSIDE_IFACE}/address`, 'utf8').then(() => true, () => false);
  assert.not.ok(gatewayPortLeft, `${GATEWAY_OUTSIDE_IFACE} still exists`);
});

e2e.run();
