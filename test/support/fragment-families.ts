// The two address families of the fragment golden tests, side by side: each family's lab config,
// datagram and segment builders and fragmenter, so a scenario that is the same for IPv4 and IPv6
// (test/packet/fragments-families.test.ts) is written once and run per family, and the
// family-specific suites (fragments.test.ts, fragments6.test.ts) build their frames the same way.
import type { DataplaneConfig, DataplaneDefense, DataplaneFragmentPolicy, DataplaneService } from '../../src/dataplane/types.js';
import * as assert from 'uvu/assert';
import { fragmentFrame4, fragmentFrame6 } from './fragment-frames.js';
import { TCP6_SERVICE_ID, UDP6_SERVICE_ID, v6Service } from './flow6.js';
import {
  CLIENT, CLIENT6, IPVS_TIMEOUTS, LIPS, SERVERS, UDP_SERVICE_ID, VIP, VIP6, dualStackConfig, frameFrom, frameFrom6, labConfig,
  type Lab,
} from './golden.js';
import { frameAccounting } from './random-frames.js';

export const REASSEMBLE: DataplaneFragmentPolicy = { policy: 'reassemble' };

/** The IPv4 lab config with `defense` set. */
export const withDefense = (defense: DataplaneDefense) => labConfig((c) => { c.defense = defense; });

/** The id of the UDP service on VIP:53 that strictDnsBesideReassembly adds. */
export const DNS_SERVICE_ID = 3;

/**
 * The IPv4 lab config with a second UDP service on the VIP, :53 (id DNS_SERVICE_ID), whose
 * fragment policy is drop, beside the UDP :7 service that reassembles: two services of one VIP and
 * protocol that disagree.
 */
export const strictDnsBesideReassembly = () => labConfig((c) => {
  const dns = structuredClone(c.services[1]!);
  dns.id = DNS_SERVICE_ID; dns.port = 53; dns.servers = dns.servers.map((s, i) => ({ ...s, id: 21 + i, port: 53 }));
  c.services.push(dns);
  c.defense = { services: [{ serviceId: UDP_SERVICE_ID, fragments: REASSEMBLE }, { serviceId: DNS_SERVICE_ID, fragments: { policy: 'drop' } }] };
});

/** A UDP datagram from src:cport to VIP:7 with `size` payload bytes (byte i = i mod 251). */
export function bigUdp(size: number, cport = 4000, src = CLIENT): { frame: Buffer; payload: Buffer } {
  const payload = Buffer.from(Array.from({ length: size }, (_, i) => i % 251));
  return { frame: frameFrom('outside', src, VIP, { udp: { srcPort: cport, dstPort: 7, payload } }), payload };
}

/** A UDP datagram from src:cport to dst:7 with `size` payload bytes (byte i = i mod 251). */
export function bigUdp6(size: number, cport = 4000, src = CLIENT6, dst = VIP6): { frame: Buffer; payload: Buffer } {
  const payload = Buffer.from(Array.from({ length: size }, (_, i) => i % 251));
  return { frame: frameFrom6('outside', src, dst, { udp: { srcPort: cport, dstPort: 7, payload } }), payload };
}

export const NAT64_UDP_SERVICE_ID = 65;

/** UDP [2001:db8:18::11]:7 to the IPv4 servers through the IPv4 LIPs. */
function nat64Udp(): DataplaneService {
  return {
    id: NAT64_UDP_SERVICE_ID, protocol: 'udp', vip: '2001:db8:18::11', port: 7, scheduler: 'rr', localAddresses: [...LIPS],
    timeouts: { ...IPVS_TIMEOUTS }, servers: SERVERS.map((address, i) => ({ id: 91 + i, address, port: 7, weight: 1 })),
  };
}

/** The dual-stack lab config with IPv6 TCP :80, UDP :7 and NAT64 UDP services, and `defense` if given. */
export function config6(defense?: DataplaneDefense): DataplaneConfig {
  return dualStackConfig((c) => {
    c.services.push(v6Service(TCP6_SERVICE_ID, 'tcp', 80, 61), v6Service(UDP6_SERVICE_ID, 'udp', 7, 71), nat64Udp());
    if (defense) c.defense = defense;
  });
}

export interface FragmentFamily {
  name: 'IPv4' | 'IPv6';
  /** The lab config for this family's services, with `defense` if given (none: the default policy drop). */
  config(defense?: DataplaneDefense): DataplaneConfig;
  /** The id of the UDP service at the VIP, port 7. */
  udpServiceId: number;
  bigUdp(size: number, cport?: number): { frame: Buffer; payload: Buffer };
  /** A TCP SYN from the client to VIP:80 carrying `payload`. */
  tcpSyn(cport: number, payload: Buffer): Buffer;
  /** Splits a whole frame into fragments starting at `cuts`. */
  fragment(frame: Buffer, cuts: number[], id: number): Buffer[];
  /**
   * How many frames an 800-byte datagram that arrived in two fragments leaves as once rebuilt:
   * IPv4 sends it whole (it fits the MTU); IPv6 sends pieces no bigger than the biggest that came.
   */
  rebuiltPiecesOf800In2: number;
}

export const FRAGMENT_FAMILIES: FragmentFamily[] = [
  {
    name: 'IPv4',
    config: (defense) => (defense ? withDefense(defense) : labConfig()),
    udpServiceId: UDP_SERVICE_ID,
    bigUdp: (size, cport) => bigUdp(size, cport),
    tcpSyn: (cport, payload) => frameFrom('outside', CLIENT, VIP, { tcp: { srcPort: cport, dstPort: 80, flags: 'S', payload } }),
    fragment: fragmentFrame4,
    rebuiltPiecesOf800In2: 1,
  },
  {
    name: 'IPv6',
    config: config6,
    udpServiceId: UDP6_SERVICE_ID,
    bigUdp: (size, cport) => bigUdp6(size, cport),
    tcpSyn: (cport, payload) => frameFrom6('outside', CLIENT6, VIP6, { tcp: { srcPort: cport, dstPort: 80, flags: 'S', payload } }),
    fragment: (frame, cuts, id) => fragmentFrame6(frame, cuts, id),
    rebuiltPiecesOf800In2: 2,
  },
];

type DropReason = keyof ReturnType<Lab['stats']>['drops'];

/**
 * A fragment storm's skeleton: `batches` batches of `framesOf(batch)`, neighbours resolved after
 * each and the clock advanced 0.3 s every 20th, then 2 s for every held set to time out. Checks
 * that it left nothing behind: every frame that arrived accounted for, no mbuf kept, at least
 * `minRebuilt` datagrams reassembled and each of `reasons` seen.
 */
export function stormLeavesNothing(lab: Lab, batches: number, framesOf: (batch: number) => Buffer[],
  expected: { minRebuilt: number; reasons: DropReason[] }): void {
  const baseline = lab.stats().mbufsInUse;
  for (let batch = 0; batch < batches; batch++) {
    lab.send('outside', ...framesOf(batch));
    lab.resolveNeighbours();
    if (batch % 20 === 0) lab.advance(0.3);
  }
  lab.advance(2);
  lab.resolveNeighbours();
  const stats = lab.stats();
  const { arrived, accounted } = frameAccounting(stats);
  assert.is(accounted, arrived, `arrived vs accounted; drops ${JSON.stringify(stats.drops)} events ${JSON.stringify(stats.events)}`);
  assert.is(stats.mbufsInUse, baseline, 'mbufs in use after the storm vs before');
  assert.ok(stats.events.frag_reassembled >= expected.minRebuilt, `the complete datagrams were rebuilt (${stats.events.frag_reassembled})`);
  for (const reason of expected.reasons) assert.ok(stats.drops[reason] > 0, `${reason} seen`);
}
