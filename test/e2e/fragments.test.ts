// End to end IPv4 fragment policy (issue 5) and reassembly-table exhaustion (issue 8), through
// the real daemon, af_packet ports and the kernels of the lab namespaces: a fragment flood from
// the attacker is dropped with its counter rising while a legitimate client keeps working; with
// `reassemble`, a 3000-byte UDP request (fragmented by the client's kernel) is rebuilt, translated,
// re-fragmented for the inside MTU, and its 3000-byte echo (fragmented by the server's kernel,
// rebuilt at the LIP) comes back; a flood of never-completed fragments fills the table, is counted,
// does not disturb established flows, and the table serves again once the flood stops. IPv6 (the
// same policy): under the default drop a fragmented request is refused fragment by fragment, and
// with `reassemble` on the IPv6 echo service a 3000-byte request (fragmented by the client's
// kernel) is rebuilt, FullNAT v6 translated, sent on in fragments, and its echo comes back intact.
import { suite } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { fileURLToPath } from 'node:url';
import { ATTACKER, GATEWAY_AF_PACKET_ARGS, UDP_ECHO_PORT, VIP, VIP_V6 } from '../../src/lab/topology.js';
import { clientTool, requireLab, runInNamespace, sharedGateway } from '../support/e2e-lab.js';

const e2e = suite('e2e: fragment policy');
e2e.before(requireLab); // no root or a missing tool: every test fails, naming it

/**
 * af_xdp ports, not the lab's default af_packet: DPDK's af_packet PMD joins its sockets to a
 * fanout group with PACKET_FANOUT_FLAG_DEFRAG, so the host kernel reassembles (or holds) every
 * fragment before the data plane could see it. af_xdp hands the frames over as they arrived.
 */
// The af_packet ring devargs (GATEWAY_AF_PACKET_ARGS) mean nothing to af_xdp: they go too.
const gateway = sharedGateway((yaml) => yaml.replaceAll(`,${GATEWAY_AF_PACKET_ARGS}`, '').replace(/net_af_packet(\d),iface=/g, 'net_af_xdp$1,iface='));
e2e.after(() => gateway.stop());

const FLOOD_SECONDS = 3;
const FLOOD_MAX_PACKETS = 100_000;
/** Paced (see defense.test.ts: unpaced floods lose legitimate packets before the gateway sees them). */
const FLOOD_PPS = 8_000;
const LEGIT_DATAGRAMS = 100;
const BIG_DATAGRAM = 3000;
const echoService = { protocol: 'UDP', vip: VIP, port: UDP_ECHO_PORT };
const echoService6 = { protocol: 'UDP', vip: VIP_V6, port: UDP_ECHO_PORT };
/** Fragments of one BIG_DATAGRAM over IPv6 at the lab's 1500 MTU: 1448 bytes of the UDP datagram each. */
const FRAGMENTS_PER_BIG6 = Math.ceil((BIG_DATAGRAM + 8) / 1448);

interface Counters { drops: Record<string, bigint>; events: Record<string, bigint> }

async function counters(): Promise<Counters> {
  const stats = await gateway.running().api.call('Stats', 'GetStats', {});
  const big = (record: Record<string, string>) => Object.fromEntries(Object.entries(record).map(([k, v]) => [k, BigInt(v)]));
  return { drops: big(stats.drops as Record<string, string>), events: big(stats.events as Record<string, string>) };
}

const rise = (before: Counters, after: Counters, kind: 'drops' | 'events', name: string) =>
  (after[kind][name] ?? 0n) - (before[kind][name] ?? 0n);

/** Every counter that moved, for failure messages. */
function changes(before: Counters, after: Counters): string {
  return (['drops', 'events'] as const).flatMap((kind) => Object.entries(after[kind])
    .filter(([k, v]) => v !== (before[kind][k] ?? 0n)).map(([k, v]) => `${k}+${v - (before[kind][k] ?? 0n)}`)).join(' ');
}

/** Port counters, for failure messages: tells losses before the data plane (rx missed) from drops in it. */
async function portCounters(): Promise<string> {
  const stats = await gateway.running().api.call('Stats', 'GetStats', {});
  return (stats.ports as Record<string, string>[]).map((p) => `${p.name} rx ${p.rxPackets} missed ${p.rxMissed} tx ${p.txPackets} txErr ${p.txErrors}`).join('; ');
}

/** Starts the bounded raw-socket fragment flood from the attacker namespace. */
function fragmentFlood() {
  const script = fileURLToPath(new URL('../support/frag-flood.py', import.meta.url));
  return runInNamespace(ATTACKER.namespace,
    ['python3', script, VIP, String(UDP_ECHO_PORT), String(FLOOD_SECONDS), String(FLOOD_MAX_PACKETS), String(FLOOD_PPS)],
    (FLOOD_SECONDS + 20) * 1000);
}

function floodReport(result: { stdout: string; stderr: string }): { sent: number; pps: number } {
  const report = JSON.parse(result.stdout.trim().split('\n').pop() ?? '{}') as { sent: number; pps: number };
  assert.ok(report.sent > 0, `the flood sent nothing: ${result.stdout} ${result.stderr}`);
  return report;
}

/** Legitimate unfragmented echoes while the flood runs; returns how many came back. */
async function legitDuringFlood(): Promise<{ answered: number; flood: { sent: number; pps: number } }> {
  const flood = fragmentFlood();
  await new Promise((resolve) => setTimeout(resolve, 500));
  const legit = await clientTool<{ sent: number; missing: string[] }>(['udp', VIP, UDP_ECHO_PORT, LEGIT_DATAGRAMS, 3_000], 20_000);
  return { answered: legit.sent - legit.missing.length, flood: floodReport(await flood) };
}

async function bigEchoes(count: number): Promise<{ missing: string[]; echoes: { bytes: number }[] }> {
  return clientTool(['udp', VIP, UDP_ECHO_PORT, count, 3_000, BIG_DATAGRAM], 20_000);
}

e2e('default policy drop: a fragment flood is dropped (frag_dropped rising) while a legitimate client keeps working', async () => {
  await gateway.start();
  // Warm-up: one new flow per real server (rr), so the gateway has resolved every server's MAC
  // before the measured batch (else its first datagrams overflow the bounded ARP hold queue).
  for (let server = 0; server < 3; server++) {
    const warm = await clientTool<{ missing: string[] }>(['udp', VIP, UDP_ECHO_PORT, 2, 3_000], 20_000);
    assert.is(warm.missing.length, 0, 'echo works before the flood');
  }
  const before = await counters();
  const { answered, flood } = await legitDuringFlood();
  const after = await counters();
  const dropped = rise(before, after, 'drops', 'frag_dropped');
  console.log(`  fragment flood, policy drop: ${flood.sent} fragments at ${flood.pps} pps, frag_dropped +${dropped}, legit ${answered}/${LEGIT_DATAGRAMS}`);
  assert.is(answered, LEGIT_DATAGRAMS, `every legitimate echo comes back during the fragment flood; ${changes(before, after)}; ${await portCounters()}`);
  assert.is(dropped, BigInt(flood.sent), `every flood fragment is counted frag_dropped: ${changes(before, after)}; ${await portCounters()}`);
  const big = await bigEchoes(1);
  assert.is(big.missing.length, 1, 'without reassemble a fragmented request gets no answer');
});

e2e(`reassemble: ${BIG_DATAGRAM}-byte UDP requests are rebuilt, translated, and their ${BIG_DATAGRAM}-byte echoes come back`, async () => {
  const { api } = gateway.running();
  await api.call('Defense', 'SetServiceDefense', {
    service: echoService, fragments: { policy: 'reassemble' }, origin: { actor: 'e2e', reason: 'e2e big datagrams', duration: '5m' },
  });
  const before = await counters();
  const result = await bigEchoes(3);
  const after = await counters();
  assert.is(result.missing.length, 0, `missing echoes: ${changes(before, after)}`);
  assert.ok(result.echoes.every((e) => e.bytes === BIG_DATAGRAM), 'echoes arrive whole');
  // Each request and each echo: rebuilt once, re-fragmented once (3000 bytes > the 1500 MTU).
  assert.ok(rise(before, after, 'events', 'frag_reassembled') >= 6n, 'requests and echoes were reassembled');
  assert.ok(rise(before, after, 'events', 'frag_refragmented') >= 6n, 'and left in fragments');
});

e2e('exhaustion: never-completed fragments fill the table (frag_table_full), established flows keep forwarding, and it recovers', async () => {
  const before = await counters();
  const { answered, flood } = await legitDuringFlood();
  const after = await counters();
  const full = rise(before, after, 'drops', 'frag_table_full');
  assert.is(answered, LEGIT_DATAGRAMS, `every unfragmented echo comes back while the table is full; ${changes(before, after)}; ${await portCounters()}`);
  assert.ok(full > 0n, `frag_table_full did not rise (${flood.sent} flood fragments): ${changes(before, after)}`);
  // Flood over: held sets time out (1 s by default) and fragmented datagrams are served again.
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  const settled = await counters();
  const timedOut = rise(before, settled, 'drops', 'frag_timeout');
  console.log(`  fragment flood, policy reassemble: ${flood.sent} fragments at ${flood.pps} pps, frag_table_full +${full}, frag_timeout +${timedOut}, legit ${answered}/${LEGIT_DATAGRAMS}`);
  assert.ok(timedOut > 0n, 'the incomplete sets were discarded by the timeout');
  // Each never-completed first fragment is refused under exactly one reason: no room, or held until it timed out.
  assert.is(rise(before, settled, 'drops', 'frag_table_full') + timedOut, BigInt(flood.sent),
    `frag_table_full + frag_timeout = flood fragments sent: ${changes(before, settled)}`);
  const big = await bigEchoes(2);
  assert.is(big.missing.length, 0, 'reassembly works again after the flood');
  await gateway.running().api.call('Defense', 'ClearServiceDefense', { service: echoService, origin: { actor: 'e2e', reason: 'flood over' } });
});

interface EchoReport { sent: number; missing: string[]; echoes: { bytes: number; from: string }[] }

/** count datagrams of `bytes` (0: small) to the IPv6 echo service; the tool matches each echo's whole content. */
function echoes6(count: number, bytes = 0): Promise<EchoReport> {
  return clientTool(['udp', VIP_V6, UDP_ECHO_PORT, count, 3_000, bytes], 20_000);
}

e2e('IPv6, default policy drop: a fragmented request gets no answer, each of its fragments counted frag_dropped', async () => {
  // One small echo per real server (rr): every server's neighbour entry resolved first.
  for (let server = 0; server < 3; server++) assert.is((await echoes6(2)).missing.length, 0, 'unfragmented IPv6 echo works');
  const before = await counters();
  const big = await echoes6(2, BIG_DATAGRAM);
  const after = await counters();
  assert.is(big.missing.length, 2, `without reassemble a fragmented request gets no answer: ${JSON.stringify(big.echoes)}`);
  assert.is(rise(before, after, 'drops', 'frag_dropped'), BigInt(2 * FRAGMENTS_PER_BIG6),
    `every fragment of both requests counted frag_dropped: ${changes(before, after)}; ${await portCounters()}`);
  assert.is((await echoes6(3)).missing.length, 0, 'unfragmented IPv6 echoes are untouched');
});

e2e(`IPv6, reassemble: ${BIG_DATAGRAM}-byte UDP requests over IPv6 are rebuilt, FullNAT v6 translated, and their echoes come back intact`, async () => {
  const { api } = gateway.running();
  await api.call('Defense', 'SetServiceDefense', {
    service: echoService6, fragments: { policy: 'reassemble' }, origin: { actor: 'e2e', reason: 'e2e big IPv6 datagrams', duration: '5m' },
  });
  try {
    const before = await counters();
    const result = await echoes6(3, BIG_DATAGRAM);
    const after = await counters();
    assert.is(result.missing.length, 0, `missing echoes: ${changes(before, after)}; ${await portCounters()}`);
    assert.ok(result.echoes.every((e) => e.bytes === BIG_DATAGRAM && e.from === `[${VIP_V6}]:${UDP_ECHO_PORT}`),
      `whole echoes from the VIP: ${JSON.stringify(result.echoes)}`);
    console.log(`  IPv6 reassemble: 3 x ${BIG_DATAGRAM}-byte echoes, ${changes(before, after)}`);
    // Each request (at the VIP) and each echo (at the LIP): rebuilt once, sent on in fragments once.
    assert.is(rise(before, after, 'events', 'frag_reassembled'), 6n, `requests and echoes were reassembled: ${changes(before, after)}`);
    assert.is(rise(before, after, 'events', 'frag_refragmented'), 6n, `and left in fragments: ${changes(before, after)}`);
    assert.is(rise(before, after, 'events', 'frag_joined'), BigInt(6 * FRAGMENTS_PER_BIG6), 'every fragment joined');
    assert.is(rise(before, after, 'drops', 'frag_dropped'), 0n);
  } finally {
    await api.call('Defense', 'ClearServiceDefense', { service: echoService6, origin: { actor: 'e2e', reason: 'done' } });
  }
});

e2e.run();
