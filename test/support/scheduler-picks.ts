// Run as a child process by test/packet/cluster-consistency.test.ts: one "node" of a cluster.
// Starts its own data plane on ring ports with the given scheduler on an IPv4 and an IPv6
// service (the same config every node gets), optionally forwards unrelated connections first
// (a node with a different history), then sends one SYN per client in the given order and
// prints, as JSON, the real server each client was sent to.
// argv: scheduler (sh|mh|rr|...), order (forward|reverse), warm-up connection count.
import type { DataplaneConfig, DataplaneService } from '../../src/dataplane/types.js';
import { IPVS_TIMEOUTS, LIPS6, SERVERS6, VIP, VIP6, clientTcp, dualStackConfig, frameFrom6, withLab, type Lab } from './golden.js';

const [scheduler = 'sh', order = 'forward', warmupText = '0'] = process.argv.slice(2);
const WEIGHTS = [1, 2, 1];

function config(): DataplaneConfig {
  return dualStackConfig((c) => {
    const v4 = c.services.find((s) => s.protocol === 'tcp' && s.vip === VIP && s.port === 80)!;
    v4.scheduler = scheduler as DataplaneService['scheduler'];
    v4.servers.forEach((server, i) => { server.weight = WEIGHTS[i] ?? 1; });
    c.services.push({
      id: 61, protocol: 'tcp', vip: VIP6, port: 80, scheduler: v4.scheduler, localAddresses: [...LIPS6], timeouts: { ...IPVS_TIMEOUTS },
      servers: SERVERS6.map((address, i) => ({ id: 61 + i, address, port: 80, weight: WEIGHTS[i] ?? 1 })),
    });
  });
}

/** 150 IPv4 and 150 IPv6 clients, each with its own port. */
const CLIENTS = Array.from({ length: 300 }, (_, i) => (i < 150
  ? { address: `10.${(i >> 8) & 255}.${i & 255}.7`, port: 41000 + i }
  : { address: `2001:db8:77:${((i * 7919) & 0xffff).toString(16)}::${(i * 31).toString(16)}`, port: 41000 + i }));

function serverFor(lab: Lab, address: string, port: number): string {
  const syn = address.includes(':')
    ? frameFrom6('outside', address, VIP6, { tcp: { srcPort: port, dstPort: 80, flags: 'S', seq: 1000 } })
    : clientTcp(port, { flags: 'S', seq: 1000 }, VIP, 80, address);
  const out = lab.forward('outside', syn).inside;
  if (out.length !== 1) throw new Error(`SYN from ${address}:${port}: ${out.length} frames left inside`);
  return out[0]!.ipv4?.dst ?? out[0]!.ipv6!.dst;
}

await withLab((lab) => {
  for (let i = 0; i < Number(warmupText); i++) serverFor(lab, i % 2 ? `172.16.${i >> 8}.${i & 255}` : `2001:db8:99::${i.toString(16)}`, 50000 + i);
  const picks: Record<string, string> = {};
  const clients = order === 'reverse' ? [...CLIENTS].reverse() : CLIENTS;
  for (const { address, port } of clients) picks[`${address} ${port}`] = serverFor(lab, address, port);
  console.log(JSON.stringify(picks));
}, config());
