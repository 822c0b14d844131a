// End to end: NAT (-m), DR (-g) and TUN (-i) with real Linux TCP stacks. NAT runs on the
// lab as it is (the servers' default route is the gateway); DR and TUN servers answer the
// client directly through the lab's return router (pc-router), set up as docs/forwarding-modes.md
// says: DR with the VIP on lo and ARP kept quiet, TUN with the VIP on
// an IPIP device (user space here: this kernel has no CONFIG_NET_IPIP, see
// test/support/ipip-decap.py). Each mode: curl through its VIP, the three servers in
// turn, and a 50 MB download with its sha256 intact. Then the same over IPv6: NAT (the servers'
// IPv6 default route is the gateway), DR (VIP on lo) and TUN (IPv6-in-IPv6, decapsulated in
// user space too: no CONFIG_IPV6_TUNNEL either). Needs root and the lab's tools; without them every test fails, naming what is missing.

import { suite } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { patternSha256 } from '../../src/lab/pattern.js';
import { CLIENT, REAL_SERVERS } from '../../src/lab/topology.js';
import { httpUrl, peerAddress, type ServerAnswer } from '../support/e2e-http.js';
import { clientTool, type Gateway, requireLab, runInNamespace, sharedGateway } from '../support/e2e-lab.js';
import { prepareDirectRouting, prepareTunnel, restoreRealServer, type Decapsulator } from '../support/e2e-modes.js';

interface Reply { ok: boolean; status?: number; body?: string; bytes?: number; sha256?: string; error?: string; ms: number }
type Method = 'nat' | 'dr' | 'tun';
type Family = 4 | 6;

/** One VIP per mode and family (all in the outside prefix, answered for by the gateway), port 80 = the servers' port. */
const VIPS: Record<Method, string> = { nat: '198.18.0.11', dr: '198.18.0.12', tun: '198.18.0.13' };
const VIPS6: Record<Method, string> = { nat: '2001:db8:18::11', dr: '2001:db8:18::12', tun: '2001:db8:18::13' };
const vipOf = (method: Method, family: Family) => (family === 4 ? VIPS : VIPS6)[method];
/** The client's addresses in the family (it has several IPv6 ones; the kernel picks the source). */
const clientAddresses = (family: Family): readonly string[] => (family === 4 ? CLIENT.addresses : CLIENT.addresses6);
const LARGE_DOWNLOAD_BYTES = 50 * 1024 * 1024;

const e2e = suite('e2e: NAT, DR and TUN forwarding through the lab');
e2e.before(requireLab); // no root or a missing tool: every test fails, naming it

// The IPv6 demo services give the gateway's ports their IPv6 addresses (the IPv6 modes need them).
const shared = sharedGateway(undefined, undefined, { ipv6Services: true });
e2e.after(() => shared.stop());

async function createModeService(api: Gateway['api'], method: Method, family: Family = 4): Promise<void> {
  await api.call('VirtualServices', 'CreateVirtualService', {
    service: {
      name: `e2e-${method}${family === 6 ? '-v6' : ''}`, key: { protocol: 'TCP', vip: vipOf(method, family), port: 80 },
      scheduler: 'rr', localAddresses: [],
      servers: REAL_SERVERS.map((server) => ({
        address: (family === 4 ? server.addresses : server.addresses6)[0]!, port: 80, weight: 1, forward: method,
      })),
    },
  });
}

interface ServiceCounters { inPackets: bigint; outPackets: bigint }

async function serviceCounters(api: Gateway['api'], vip: string): Promise<ServiceCounters> {
  const stats = await api.call('Stats', 'GetStats', {});
  const services = stats.services as { key: { vip: string; port: number }; counters: { inPackets: string; outPackets: string } }[];
  const entry = services.find((s) => s.key.vip === vip && s.key.port === 80);
  assert.ok(entry, `GetStats has no service ${vip}:80`);
  return { inPackets: BigInt(entry!.counters.inPackets), outPackets: BigInt(entry!.counters.outPackets) };
}

async function globalCounter(api: Gateway['api'], kind: 'drops' | 'events', name: string): Promise<bigint> {
  const stats = await api.call('Stats', 'GetStats', {});
  return BigInt((stats[kind] as Record<string, string>)[name] ?? '0');
}

/**
 * curl through the VIP, then three requests in turn (rr: rs1, rs2, rs3, each seeing the
 * client's own address, as every non-FullNAT mode shows it), then the 50 MB download.
 */
async function exercise(method: Method, family: Family = 4): Promise<void> {
  const web = httpUrl(vipOf(method, family));
  const clients = clientAddresses(family);
  const curl = await runInNamespace(CLIENT.namespace, ['curl', '-gsS', '--max-time', '5', web], 10_000);
  assert.is(curl.code, 0, `curl ${web}: ${curl.stderr}`);
  const first = JSON.parse(curl.stdout) as ServerAnswer;
  assert.ok(clients.includes(peerAddress(first)), `the server saw ${first.peer}, not the client (${clients.join(', ')})`);

  const result = await clientTool<{ replies: Reply[] }>(['sequential', web, 3, 5_000], 30_000);
  const answers = result.replies.map((reply, i) => {
    assert.ok(reply.ok, `${method} request ${i}: ${reply.error ?? reply.status}`);
    return JSON.parse(reply.body ?? '') as ServerAnswer;
  });
  assert.equal(answers.map((a) => a.server).sort(), ['rs1', 'rs2', 'rs3']);
  for (const answer of answers) assert.ok(clients.includes(peerAddress(answer)), `${answer.server} saw ${answer.peer}`);

  const download = await clientTool<Reply>(['download', `${web}bytes/${LARGE_DOWNLOAD_BYTES}`, 60_000], 70_000);
  assert.ok(download.ok, `${method} download failed: ${download.error ?? download.status} after ${download.bytes} bytes`);
  assert.is(download.bytes, LARGE_DOWNLOAD_BYTES);
  assert.is(download.sha256, patternSha256(LARGE_DOWNLOAD_BYTES), 'sha256 of the received bytes');
  console.log(`  ${method} IPv${family}: 50 MB in ${download.ms} ms (${(LARGE_DOWNLOAD_BYTES / 1e6 / (download.ms / 1000)).toFixed(1)} MB/s)`);
}

e2e('the lab comes up (with its return router) and the daemon is ready', async () => {
  const gateway = await shared.start();
  assert.match(gateway.daemon.readyLine, /^portcullis ready: grpc unix:/);
  const ping = await runInNamespace(REAL_SERVERS[0]!.namespace, ['ping', '-c', '1', '-W', '2', '198.19.0.253'], 5_000);
  assert.is(ping.code, 0, `the return router answers on the inside segment: ${ping.stdout}${ping.stderr}`);
});

e2e('NAT (-m): servers see the client, replies come back through the gateway (both directions counted)', async () => {
  const { api } = shared.running();
  await createModeService(api, 'nat');
  await exercise('nat');
  const counters = await serviceCounters(api, VIPS.nat);
  assert.ok(counters.outPackets > 10_000n, `replies through the gateway: out_packets ${counters.outPackets}`);
});

e2e('DR (-g): VIP on lo, frames to the server\'s MAC; replies bypass the gateway (no out packets)', async () => {
  const { api } = shared.running();
  try {
    for (const server of REAL_SERVERS) await prepareDirectRouting(server, VIPS.dr);
    await createModeService(api, 'dr');
    await exercise('dr');
    const counters = await serviceCounters(api, VIPS.dr);
    // The client's ACKs of the 50 MB download are most of these; how many the client sends depends
    // on how much its GRO coalesced (864 to several thousand seen), so the bound is loose.
    assert.ok(counters.inPackets > 200n, `client packets through the gateway: in_packets ${counters.inPackets}`);
    assert.is(counters.outPackets, 0n, 'the gateway never saw a reply');
  } finally {
    for (const server of REAL_SERVERS) await restoreRealServer(server, VIPS.dr);
  }
});

e2e('TUN (-i): IPIP to each server, replies direct; an over-MTU segment gets frag-needed and PMTU recovers', async () => {
  const { api } = shared.running();
  const decaps: (Decapsulator | undefined)[] = [];
  try {
    for (const server of REAL_SERVERS) decaps.push(await prepareTunnel(server, VIPS.tun));
    await createModeService(api, 'tun');
    await exercise('tun');
    const counters = await serviceCounters(api, VIPS.tun);
    assert.is(counters.outPackets, 0n, 'the gateway never saw a reply');

    // A 4000-byte request header: the client's full-size (1500-byte, DF) segments no longer
    // fit once wrapped, so the gateway answers fragmentation-needed (MTU 1480) and the
    // client's TCP resends smaller ones. curl succeeds only if that round worked.
    const sentBefore = await globalCounter(api, 'events', 'icmp_frag_needed_sent');
    const droppedBefore = await globalCounter(api, 'drops', 'tunnel_frag_needed');
    const pad = 'x'.repeat(4000);
    const curl = await runInNamespace(CLIENT.namespace,
      ['curl', '-sS', '--max-time', '10', '-H', `X-Pad: ${pad}`, `http://${VIPS.tun}/pmtu`], 15_000);
    assert.is(curl.code, 0, `curl with a large header: ${curl.stderr}`);
    assert.is((JSON.parse(curl.stdout) as ServerAnswer).path, '/pmtu');
    const sent = (await globalCounter(api, 'events', 'icmp_frag_needed_sent')) - sentBefore;
    const dropped = (await globalCounter(api, 'drops', 'tunnel_frag_needed')) - droppedBefore;
    assert.ok(sent >= 1n && dropped >= sent, `frag-needed sent ${sent}, over-MTU drops ${dropped}`);
  } finally {
    for (const [i, server] of REAL_SERVERS.entries()) await restoreRealServer(server, VIPS.tun, decaps[i]);
  }
});

e2e('NAT (-m) over IPv6: servers see the client\'s IPv6 address, replies come back through the gateway', async () => {
  const { api } = shared.running();
  await createModeService(api, 'nat', 6);
  await exercise('nat', 6);
  const counters = await serviceCounters(api, VIPS6.nat);
  assert.ok(counters.outPackets > 10_000n, `replies through the gateway: out_packets ${counters.outPackets}`);
});

e2e('DR (-g) over IPv6: VIP on lo, frames to the server\'s MAC (resolved by ND); replies bypass the gateway', async () => {
  const { api } = shared.running();
  try {
    for (const server of REAL_SERVERS) await prepareDirectRouting(server, VIPS6.dr);
    await createModeService(api, 'dr', 6);
    await exercise('dr', 6);
    const counters = await serviceCounters(api, VIPS6.dr);
    assert.ok(counters.inPackets > 200n, `client packets through the gateway: in_packets ${counters.inPackets}`);
    assert.is(counters.outPackets, 0n, 'the gateway never saw a reply');
  } finally {
    for (const server of REAL_SERVERS) await restoreRealServer(server, VIPS6.dr);
  }
});

e2e('TUN (-i) over IPv6: IPv6-in-IPv6 to each server, replies direct; an over-MTU segment gets Packet Too Big and PMTU recovers', async () => {
  const { api } = shared.running();
  const decaps: (Decapsulator | undefined)[] = [];
  try {
    for (const server of REAL_SERVERS) decaps.push(await prepareTunnel(server, VIPS6.tun));
    await createModeService(api, 'tun', 6);
    await exercise('tun', 6);
    const counters = await serviceCounters(api, VIPS6.tun);
    assert.is(counters.outPackets, 0n, 'the gateway never saw a reply');

    // Full-size (1500-byte) client segments no longer fit once 40 bytes are added: the gateway
    // answers Packet Too Big (MTU 1460) and the client's TCP resends smaller ones.
    const sentBefore = await globalCounter(api, 'events', 'icmp6_packet_too_big_sent');
    const droppedBefore = await globalCounter(api, 'drops', 'tunnel_frag_needed');
    const pad = 'x'.repeat(4000);
    const curl = await runInNamespace(CLIENT.namespace,
      ['curl', '-gsS', '--max-time', '10', '-H', `X-Pad: ${pad}`, httpUrl(VIPS6.tun, 80, '/pmtu6')], 15_000);
    assert.is(curl.code, 0, `curl with a large header: ${curl.stderr}`);
    assert.is((JSON.parse(curl.stdout) as ServerAnswer).path, '/pmtu6');
    const sent = (await globalCounter(api, 'events', 'icmp6_packet_too_big_sent')) - sentBefore;
    const dropped = (await globalCounter(api, 'drops', 'tunnel_frag_needed')) - droppedBefore;
    assert.ok(sent >= 1n && dropped >= sent, `Packet Too Big sent ${sent}, over-MTU drops ${dropped}`);
  } finally {
    for (const [i, server] of REAL_SERVERS.entries()) await restoreRealServer(server, VIPS6.tun, decaps[i]);
  }
});

e2e('the daemon exits 0 on SIGTERM', async () => {
  const { daemon } = shared.running();
  const ended = await daemon.stop(10_000);
  assert.is(ended, 0, `daemon ended with ${ended}; output tail:\n${daemon.output().slice(-2000)}`);
});

e2e.run();
