// End to end: NAT (-m), DR (-g) and TUN (-i) with real Linux TCP stacks. NAT runs on the
// lab as it is (the servers' default route is the gateway); DR and TUN servers answer the
// client directly through the lab's return router (pc-router), set up as docs/forwarding-modes.md
// says: DR with the VIP on lo and ARP kept quiet, TUN with the VIP on
// an IPIP device (user space here: this kernel has no CONFIG_NET_IPIP, see
// test/support/ipip-decap.py). Each mode: curl through its VIP, the three servers in
// turn, and a 50 MB download with its sha256 intact. Needs root and the lab's tools; without them every test fails, naming what is missing.

import { suite } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { patternSha256 } from '../../src/lab/pattern.js';
import { CLIENT, REAL_SERVERS } from '../../src/lab/topology.js';
import { clientTool, type Gateway, requireLab, runInNamespace, sharedGateway } from '../support/e2e-lab.js';
import { prepareDirectRouting, prepareTunnel, restoreRealServer, type Decapsulator } from '../support/e2e-modes.js';

interface Reply { ok: boolean; status?: number; body?: string; bytes?: number; sha256?: string; error?: string; ms: number }
interface ServerAnswer { server: string; peer: string }
type Method = 'nat' | 'dr' | 'tun';

/** One VIP per mode (all in the outside prefix, answered for by the gateway), port 80 = the servers' port. */
const VIPS: Record<Method, string> = { nat: '198.18.0.11', dr: '198.18.0.12', tun: '198.18.0.13' };
const LARGE_DOWNLOAD_BYTES = 50 * 1024 * 1024;

const e2e = suite('e2e: NAT, DR and TUN forwarding through the lab');
e2e.before(requireLab); // no root or a missing tool: every test fails, naming it

const shared = sharedGateway();
e2e.after(() => shared.stop());

async function createModeService(api: Gateway['api'], method: Method): Promise<void> {
  await api.call('VirtualServices', 'CreateVirtualService', {
    service: {
      name: `e2e-${method}`, key: { protocol: 'TCP', vip: VIPS[method], port: 80 }, scheduler: 'rr', localAddresses: [],
      servers: REAL_SERVERS.map((server) => ({ address: server.addresses[0]!, port: 80, weight: 1, forward: method })),
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
async function exercise(method: Method): Promise<void> {
  const web = `http://${VIPS[method]}/`;
  const curl = await runInNamespace(CLIENT.namespace, ['curl', '-sS', '--max-time', '5', web], 10_000);
  assert.is(curl.code, 0, `curl ${web}: ${curl.stderr}`);
  assert.is((JSON.parse(curl.stdout) as ServerAnswer).peer.split(':')[0], CLIENT.addresses[0]);

  const result = await clientTool<{ replies: Reply[] }>(['sequential', web, 3, 5_000], 30_000);
  const answers = result.replies.map((reply, i) => {
    assert.ok(reply.ok, `${method} request ${i}: ${reply.error ?? reply.status}`);
    return JSON.parse(reply.body ?? '') as ServerAnswer;
  });
  assert.equal(answers.map((a) => a.server).sort(), ['rs1', 'rs2', 'rs3']);
  for (const answer of answers) assert.is(answer.peer.split(':')[0], CLIENT.addresses[0], `${answer.server} saw ${answer.peer}`);

  const download = await clientTool<Reply>(['download', `${web}bytes/${LARGE_DOWNLOAD_BYTES}`, 60_000], 70_000);
  assert.ok(download.ok, `${method} download failed: ${download.error ?? download.status} after ${download.bytes} bytes`);
  assert.is(download.bytes, LARGE_DOWNLOAD_BYTES);
  assert.is(download.sha256, patternSha256(LARGE_DOWNLOAD_BYTES), 'sha256 of the received bytes');
  console.log(`  ${method}: 50 MB in ${download.ms} ms (${(LARGE_DOWNLOAD_BYTES / 1e6 / (download.ms / 1000)).toFixed(1)} MB/s)`);
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
    assert.is((JSON.parse(curl.stdout) as ServerAnswer & { path: string }).path, '/pmtu');
    const sent = (await globalCounter(api, 'events', 'icmp_frag_needed_sent')) - sentBefore;
    const dropped = (await globalCounter(api, 'drops', 'tunnel_frag_needed')) - droppedBefore;
    assert.ok(sent >= 1n && dropped >= sent, `frag-needed sent ${sent}, over-MTU drops ${dropped}`);
  } finally {
    for (const [i, server] of REAL_SERVERS.entries()) await restoreRealServer(server, VIPS.tun, decaps[i]);
  }
});

e2e('the daemon exits 0 on SIGTERM', async () => {
  const { daemon } = shared.running();
  const ended = await daemon.stop(10_000);
  assert.is(ended, 0, `daemon ended with ${ended}; output tail:\n${daemon.output().slice(-2000)}`);
});

e2e.run();
