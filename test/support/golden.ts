// Golden-packet harness: runs the real pipeline on ring ports in the addon's test mode.
// One EAL per test process (DESIGN.md §7): the first start() initialises it, every test then
// starts fresh "outside"/"inside" ring ports and stops them afterwards (withLab does both).
// Frames are built and checked with ./packet.ts; neighbours are answered by resolveNeighbours()
// with one fixed MAC per host address (hostMac), so expected output frames are predictable.
import type {
  ConnectionEntry, DataplaneAddon, DataplaneConfig, DataplaneEvent, DataplaneService, DataplaneStats, DataplaneTimeouts,
  DropReason, StartOptions,
} from '../../src/dataplane/types.js';
import {
  ARP_OP, BROADCAST_MAC, ICMP6_TYPE, ICMP_TYPE, NA_FLAG, ND_OPT, buildFrame, decodeFrame, describeFrame, hostMac,
  multicastMac, neighborAdvertisement, neighborSolicitation, solicitedNode,
  type DecodedFrame, type Icmp6Spec, type IcmpSpec, type Ipv4Spec, type Ipv6Spec, type TcpSpec, type UdpSpec,
} from './packet.js';
import * as assert from 'uvu/assert';

// ---------------------------------------------------------------- the lab's addresses

export const PORT_MAC = { outside: '02:00:00:00:00:01', inside: '02:00:00:00:00:02' } as const;
export type PortName = keyof typeof PORT_MAC;
export const PORTS: PortName[] = ['outside', 'inside'];

export const OUTSIDE_ADDRESS = '198.18.0.254';
export const INSIDE_ADDRESS = '198.19.0.254';
export const VIP = '198.18.0.10';
export const CLIENT = '198.18.0.1';
export const SERVERS = ['198.19.0.1', '198.19.0.2', '198.19.0.3'];
export const LIPS = ['198.19.0.200', '198.19.0.201', '198.19.0.202', '198.19.0.203'];
export const TCP_SERVICE_ID = 1;
export const UDP_SERVICE_ID = 2;
/** Real server ids: TCP service 1..3, UDP service 11..13 (same order as SERVERS). */
export const TCP_SERVER_IDS = [1, 2, 3];
export const UDP_SERVER_IDS = [11, 12, 13];

/** The IPv6 lab (DESIGN.md §6): outside 2001:db8:18::/64, inside 2001:db8:19::/64. */
export const OUTSIDE_ADDRESS6 = '2001:db8:18::254';
export const INSIDE_ADDRESS6 = '2001:db8:19::254';
export const VIP6 = '2001:db8:18::10';
export const CLIENT6 = '2001:db8:18::1';
export const CLIENTS6 = [1, 2, 3, 4, 5, 6, 7, 8, 9].map((n) => `2001:db8:18::${n}`);
export const ATTACKER6 = '2001:db8:18::66';
export const SERVERS6 = ['2001:db8:19::1', '2001:db8:19::2', '2001:db8:19::3'];
export const LIPS6 = ['2001:db8:19::200', '2001:db8:19::201', '2001:db8:19::202', '2001:db8:19::203'];

/** IPVS default timeouts (PROTOCOL.md §4.1), in seconds. */
export const IPVS_TIMEOUTS: DataplaneTimeouts = {
  tcpEstablished: 900, tcpSynSent: 120, tcpSynRecv: 60, tcpFinWait: 120, tcpTimeWait: 120,
  tcpClose: 10, tcpCloseWait: 60, tcpLastAck: 30, udp: 300, udpOnePacket: 5,
};

// 384 MB: conn-listing fills 2 x 512 k connections of 96 B records (plus index and SYNPROXY state).
export const EAL_ARGS = ['-l', '0', '--no-huge', '-m', '384', '--no-pci', '--no-shconf', '--no-telemetry',
  '--log-level=lib.eal:error'];

/**
 * The lab config: outside 198.18.0.254/24, inside 198.19.0.254/24, VIP 198.18.0.10 with
 * TCP :80 rr -> 198.19.0.1-3:80 and UDP :7 rr -> 198.19.0.1-3:7, LIPs 198.19.0.200-203.
 * `edit` receives a deep copy to change before it is returned.
 */
export function labConfig(edit?: (config: DataplaneConfig) => void): DataplaneConfig {
  const service = (id: number, protocol: 'tcp' | 'udp', port: number, serverIds: number[]): DataplaneService => ({
    id, protocol, vip: VIP, port, scheduler: 'rr', localAddresses: [...LIPS], timeouts: { ...IPVS_TIMEOUTS },
    servers: SERVERS.map((address, i) => ({ id: serverIds[i]!, address, port, weight: 1 })),
  });
  const config: DataplaneConfig = {
    ports: [
      { name: 'outside', addresses: [`${OUTSIDE_ADDRESS}/24`] },
      { name: 'inside', addresses: [`${INSIDE_ADDRESS}/24`] },
    ],
    routes: [],
    services: [service(TCP_SERVICE_ID, 'tcp', 80, TCP_SERVER_IDS), service(UDP_SERVICE_ID, 'udp', 7, UDP_SERVER_IDS)],
  };
  edit?.(config);
  return config;
}

/**
 * labConfig() with the IPv6 port addresses beside the IPv4 ones (outside 2001:db8:18::254/64,
 * inside 2001:db8:19::254/64): what neighbour discovery and ICMPv6 echo answer for.
 */
export function dualStackConfig(edit?: (config: DataplaneConfig) => void): DataplaneConfig {
  return labConfig((config) => {
    config.ports[0]!.addresses.push(`${OUTSIDE_ADDRESS6}/64`);
    config.ports[1]!.addresses.push(`${INSIDE_ADDRESS6}/64`);
    edit?.(config);
  });
}

// ---------------------------------------------------------------- loading the addon once

let addonPromise: Promise<{ addon: DataplaneAddon; eal: string[] }> | undefined;

async function loadOnce(): Promise<{ addon: DataplaneAddon; eal: string[] }> {
  addonPromise ??= (async () => {
    // Loaded lazily so the codec and config helpers work before the addon is built.
    const module: Record<string, unknown> = await import('../../src/dataplane/addon.js');
    const load = module['loadDataplane'];
    if (typeof load !== 'function') throw new Error('src/dataplane/addon.ts does not export loadDataplane()');
    const addon = (await load()) as DataplaneAddon;
    const eal = Array.isArray(module['ealArgs']) ? (module['ealArgs'] as string[]) : EAL_ARGS;
    return { addon, eal };
  })();
  return addonPromise;
}

// ---------------------------------------------------------------- counters

export interface CounterDelta {
  /** Only reasons that changed. */
  drops: Partial<Record<DropReason, number>>;
  /** Only events that changed. */
  events: Partial<Record<DataplaneEvent, number>>;
}

function diff<K extends string>(before: Record<K, number>, after: Record<K, number>): Partial<Record<K, number>> {
  const out: Partial<Record<K, number>> = {};
  for (const key of Object.keys(after) as K[]) {
    const d = (after[key] ?? 0) - (before[key] ?? 0);
    if (d !== 0) out[key] = d;
  }
  return out;
}

/**
 * Asserts the drops a step caused, exactly: `expected` lists every reason that moved and by how
 * much (each > 0); every other reason must not have moved. With `{}`: nothing was dropped.
 * test/unit/counter-coverage.test.ts reads the literal names in these calls (test/packet) to
 * prove every drop reason has a golden test that makes it move, so keep the names literal.
 */
export function expectDrops(delta: CounterDelta, expected: Partial<Record<DropReason, number>>, message = ''): void {
  for (const [reason, n] of Object.entries(expected)) {
    if (!(typeof n === 'number' && n > 0)) throw new Error(`expectDrops: ${reason}: ${String(n)} — list only reasons that move (> 0); an absent reason must not move`);
  }
  const context = message ? `${message}: ` : '';
  assert.equal(delta.drops, expected, `${context}drops ${JSON.stringify(delta.drops)}, expected exactly ${JSON.stringify(expected)}`);
}

/**
 * Asserts that each listed event moved by exactly the given count (each > 0); events not listed
 * may move (rx/tx and forwarding events move with everything). Read by the coverage check like
 * expectDrops, so keep the names literal.
 */
export function expectEvents(delta: CounterDelta, expected: Partial<Record<DataplaneEvent, number>>, message = ''): void {
  const context = message ? `${message}: ` : '';
  for (const [event, n] of Object.entries(expected) as [DataplaneEvent, number][]) {
    if (!(typeof n === 'number' && n > 0)) throw new Error(`expectEvents: ${event}: ${String(n)} — list only events that move (> 0)`);
    assert.is(delta.events[event] ?? 0, n, `${context}event ${event} moved by ${delta.events[event] ?? 0}, expected ${n} (events ${JSON.stringify(delta.events)})`);
  }
}

export function sumOf(record: Partial<Record<string, number>>): number {
  return Object.values(record).reduce<number>((a, b) => a + (b ?? 0), 0);
}

// ---------------------------------------------------------------- the lab

export interface Lab {
  readonly dp: DataplaneAddon;
  /** Injects frames on a port's rx ring and runs one step(). Returns packets received by step(). */
  send(port: PortName, ...frames: Buffer[]): number;
  /** send() on rx queue `queue`: with several workers, worker `queue` receives the frames. */
  sendOn(port: PortName, queue: number, ...frames: Buffer[]): number;
  /** Drains a port's tx ring and decodes every frame. */
  recv(port: PortName): DecodedFrame[];
  /**
   * Answers every ARP request and IPv6 neighbour solicitation the data plane sent (with
   * hostMac(target)), steps, and repeats until none is pending (bounded). Returns all other
   * frames seen meanwhile, per port.
   */
  resolveNeighbours(): Record<PortName, DecodedFrame[]>;
  /** send() then resolveNeighbours(): what a frame finally produced on each port. */
  forward(port: PortName, ...frames: Buffer[]): Record<PortName, DecodedFrame[]>;
  /** Counter changes caused by fn (stats() before and after). */
  counterDelta(fn: () => void): CounterDelta;
  stats(): DataplaneStats;
  apply(config: DataplaneConfig): number;
  /** advanceClock(seconds * 1000) then step(). */
  advance(seconds: number): void;
  /** ARP requests the data plane sent, with the answers already injected (latest resolve). */
  readonly arpRequests: DecodedFrame[];
  /** Neighbour solicitations the data plane sent, answered (latest resolve). */
  readonly ndSolicitations: DecodedFrame[];
}

class RingLab implements Lab {
  arpRequests: DecodedFrame[] = [];
  ndSolicitations: DecodedFrame[] = [];
  constructor(readonly dp: DataplaneAddon) {}

  send(port: PortName, ...frames: Buffer[]): number {
    return this.sendOn(port, 0, ...frames);
  }

  sendOn(port: PortName, queue: number, ...frames: Buffer[]): number {
    const queued = this.dp.inject(port, frames, queue);
    if (queued !== frames.length) throw new Error(`inject(${port}, queue ${queue}): ${queued} of ${frames.length} frames fit`);
    return this.dp.step();
  }

  recv(port: PortName): DecodedFrame[] {
    return this.dp.capture(port).map((b) => decodeFrame(Buffer.from(b)));
  }

  resolveNeighbours(): Record<PortName, DecodedFrame[]> {
    const seen: Record<PortName, DecodedFrame[]> = { outside: [], inside: [] };
    this.arpRequests = [];
    this.ndSolicitations = [];
    for (let round = 0; round < 8; round++) {
      let answered = 0;
      for (const port of PORTS) {
        for (const frame of this.recv(port)) {
          if (frame.arp?.op === ARP_OP.REQUEST) {
            this.arpRequests.push(frame);
            this.dp.inject(port, [arpReply(frame, port)]);
            answered++;
          } else if (frame.icmp6?.type === ICMP6_TYPE.NEIGHBOR_SOLICITATION && frame.icmp6.nd?.target) {
            this.ndSolicitations.push(frame);
            this.dp.inject(port, [neighborAdvertisementFor(frame, port)]);
            answered++;
          } else {
            seen[port].push(frame);
          }
        }
      }
      if (answered === 0) return seen;
      this.dp.step();
    }
    throw new Error('resolveNeighbours: still resolving (ARP/ND) after 8 rounds');
  }

  forward(port: PortName, ...frames: Buffer[]): Record<PortName, DecodedFrame[]> {
    this.send(port, ...frames);
    return this.resolveNeighbours();
  }

  counterDelta(fn: () => void): CounterDelta {
    const before = this.dp.stats();
    fn();
    const after = this.dp.stats();
    return { drops: diff(before.drops, after.drops), events: diff(before.events, after.events) };
  }

  stats(): DataplaneStats { return this.dp.stats(); }

  apply(config: DataplaneConfig): number { return this.dp.apply(config).version; }

  advance(seconds: number): void {
    this.dp.advanceClock(Math.round(seconds * 1000));
    this.dp.step();
  }
}

/** The reply a host with hostMac(targetIp) gives to the data plane's ARP request. */
export function arpReply(request: DecodedFrame, _port: PortName): Buffer {
  const arp = request.arp!;
  const me = hostMac(arp.targetIp);
  return buildFrame({
    eth: { dst: arp.senderMac, src: me },
    arp: { op: ARP_OP.REPLY, senderMac: me, senderIp: arp.targetIp, targetMac: arp.senderMac, targetIp: arp.senderIp },
  });
}

/** The advertisement a host with hostMac(target) gives to the data plane's solicitation. */
export function neighborAdvertisementFor(solicitation: DecodedFrame, port: PortName): Buffer {
  const target = solicitation.icmp6!.nd!.target!;
  const me = hostMac(target);
  return buildFrame({
    eth: { dst: PORT_MAC[port], src: me },
    ipv6: { src: target, dst: solicitation.ipv6!.src, hopLimit: 255 },
    icmp6: neighborAdvertisement(target, NA_FLAG.SOLICITED | NA_FLAG.OVERRIDE, [{ type: ND_OPT.TARGET_LL, mac: me }]),
  });
}

export function startOptions(eal: string[]): StartOptions {
  return {
    mode: 'test', eal, workers: 1, polling: 'busy', connCapacity: 4096, mbufs: 8191,
    ports: PORTS.map((name) => ({ name, device: 'ring', mac: PORT_MAC[name] })),
  };
}

/**
 * Starts fresh ports, applies config (default labConfig()), runs fn, always stops.
 * `sizes` overrides start options (e.g. a small connCapacity or mbufs for exhaustion tests,
 * ports with exceptionPath, several workers — all run inside step(), ARP answers go to queue 0).
 */
export async function withLab(fn: (lab: Lab) => void | Promise<void>, config: DataplaneConfig | null = labConfig(),
  sizes: Partial<Pick<StartOptions, 'connCapacity' | 'mbufs' | 'ports' | 'fragments' | 'workers' | 'connRegion'>> = {}): Promise<void> {
  const { addon, eal } = await loadOnce();
  addon.start({ ...startOptions(eal), ...sizes });
  try {
    if (config) addon.apply(config);
    addon.step(); // let the worker adopt the snapshot before the first frame
    await fn(new RingLab(addon));
  } finally {
    addon.stop();
  }
}

/**
 * Every connection in the tables, page after page until nextCursor is 0 (a page may be
 * short, even empty, with more behind it). Bounded: a cursor that stops advancing throws.
 */
export function allConnections(dp: DataplaneAddon, limit = 65536): ConnectionEntry[] {
  const all: ConnectionEntry[] = [];
  let cursor = 0;
  for (let calls = 0; ; calls++) {
    const page = dp.connections(cursor, limit);
    all.push(...page.connections);
    if (page.nextCursor === 0) return all;
    if (page.nextCursor <= cursor || calls > 1_000_000) throw new Error(`listing does not advance: cursor ${cursor} -> ${page.nextCursor}`);
    cursor = page.nextCursor;
  }
}

// ---------------------------------------------------------------- frame shorthands

/** Which side a frame enters: client frames come from hostMac(src) to the port's MAC. */
export function frameFrom(port: PortName, src: string, dst: string,
  l4: { tcp?: TcpSpec; udp?: UdpSpec; icmp?: IcmpSpec; payload?: Buffer }, ipExtra: Partial<Ipv4Spec> = {}): Buffer {
  return buildFrame({ eth: { dst: PORT_MAC[port], src: hostMac(src) }, ipv4: { src, dst, ...ipExtra }, ...l4 });
}

export function clientTcp(cport: number, tcp: Partial<TcpSpec> = {}, dst = VIP, dport = 80, client = CLIENT): Buffer {
  return frameFrom('outside', client, dst, { tcp: { srcPort: cport, dstPort: dport, ...tcp } });
}

export function serverTcp(server: string, sport: number, lip: string, lport: number, tcp: Partial<TcpSpec> = {}): Buffer {
  return frameFrom('inside', server, lip, { tcp: { srcPort: sport, dstPort: lport, ...tcp } });
}

export function clientUdp(cport: number, payload: Buffer, udp: Partial<UdpSpec> = {}, dport = 7): Buffer {
  return frameFrom('outside', CLIENT, VIP, { udp: { srcPort: cport, dstPort: dport, payload, ...udp } });
}

export function arpRequest(port: PortName, asker: string, target: string): Buffer {
  return buildFrame({
    eth: { dst: BROADCAST_MAC, src: hostMac(asker) },
    arp: { op: ARP_OP.REQUEST, senderMac: hostMac(asker), senderIp: asker, targetIp: target },
  });
}

export function echoRequest(dst: string, id: number, sequence: number, payload: Buffer, src = CLIENT): Buffer {
  return frameFrom('outside', src, dst, { icmp: { type: ICMP_TYPE.ECHO_REQUEST, id, sequence, payload } });
}

/** An IPv6 frame entering a port from hostMac(src) (to the port's MAC unless eth.dst is given). */
export function frameFrom6(port: PortName, src: string, dst: string,
  l4: { tcp?: TcpSpec; udp?: UdpSpec; icmp6?: Icmp6Spec; payload?: Buffer }, ipExtra: Partial<Ipv6Spec> = {},
  ethDst: string = PORT_MAC[port]): Buffer {
  return buildFrame({ eth: { dst: ethDst, src: hostMac(src) }, ipv6: { src, dst, ...ipExtra }, ...l4 });
}

export function echoRequest6(dst: string, id: number, sequence: number, payload: Buffer, src = CLIENT6,
  ipExtra: Partial<Ipv6Spec> = {}): Buffer {
  return frameFrom6('outside', src, dst, { icmp6: { type: ICMP6_TYPE.ECHO_REQUEST, id, sequence, payload } }, ipExtra);
}

/**
 * A neighbour solicitation for target from asker on port, as a host resolving it sends it: to
 * the target's solicited-node group (33:33:ff:..), hop limit 255, source link-layer option.
 * `unicast` sends it to the target itself (a reachability probe).
 */
export function solicitation(port: PortName, asker: string, target: string,
  opts: { unicast?: boolean; hopLimit?: number; withSourceMac?: boolean } = {}): Buffer {
  const dst = opts.unicast ? target : solicitedNode(target);
  const withMac = opts.withSourceMac ?? asker !== '::';
  return frameFrom6(port, asker, dst,
    { icmp6: neighborSolicitation(target, withMac ? [{ type: ND_OPT.SOURCE_LL, mac: hostMac(asker === '::' ? target : asker) }] : []) },
    { hopLimit: opts.hopLimit ?? 255 }, opts.unicast ? PORT_MAC[port] : multicastMac(dst));
}

/** The same Ethernet/IPv4 (no IP options)/TCP frame with its TCP checksum made wrong. */
export function withBadTcpChecksum(frame: Buffer): Buffer {
  const b = Buffer.from(frame);
  const checksumAt = 14 + 20 + 16;
  b[checksumAt] = b.readUInt8(checksumAt) ^ 0x5a;
  return b;
}

/** Formats frames for assertion messages. */
export function show(frames: DecodedFrame[]): string {
  return frames.length ? frames.map(describeFrame).join('\n  ') : '(none)';
}

/** The single frame on a port, or a thrown error listing what was there. */
export function only(frames: DecodedFrame[], what: string): DecodedFrame {
  if (frames.length !== 1) throw new Error(`${what}: expected exactly 1 frame, got ${frames.length}:\n  ${show(frames)}`);
  return frames[0]!;
}

/** Exact frame comparison as hex, so a failure shows where the bytes differ. */
export function expectSameFrame(actual: DecodedFrame | undefined, expected: Buffer, what: string): void {
  assert.is(actual?.raw.toString('hex'), expected.toString('hex'), `${what}: ${actual ? show([actual]) : '(no frame)'}`);
}

/** Sends one frame in from outside: the one frame that leaves inside, and the counter delta. */
export function forwardOne(lab: Lab, frame: Buffer, what: string): { out: DecodedFrame; d: CounterDelta } {
  let inside: DecodedFrame[] = [];
  const d = lab.counterDelta(() => { inside = lab.forward('outside', frame).inside; });
  return { out: only(inside, what), d };
}

/** A seeded PRNG (mulberry32) so random-frame tests are reproducible. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---------------------------------------------------------------- a TCP connection end to end

/** What the data plane chose for one connection, read from the SYN it sent inside. */
export interface Flow {
  cport: number;
  lip: string;
  lport: number;
  server: string;
  sport: number;
  /** Client and server initial sequence numbers used by openTcp. */
  clientIsn: number;
  serverIsn: number;
}

/**
 * Sends a SYN from CLIENT:cport to VIP:dport, resolves ARP, and returns the flow it created
 * (throws listing the frames if no single SYN left inside).
 */
export function synThrough(lab: Lab, cport: number, dport = 80, clientIsn = 1000): Flow {
  const out = lab.forward('outside', clientTcp(cport, { flags: 'S', seq: clientIsn, options: [{ kind: 'mss', value: 1460 }] }, VIP, dport));
  const syn = only(out.inside, `SYN from ${CLIENT}:${cport}`);
  if (!syn.tcp || !syn.ipv4) throw new Error(`SYN from ${CLIENT}:${cport}: not TCP: ${show(out.inside)}`);
  return {
    cport, lip: syn.ipv4.src, lport: syn.tcp.srcPort, server: syn.ipv4.dst, sport: syn.tcp.dstPort,
    clientIsn, serverIsn: 50000,
  };
}

/** Full three-way handshake through the data plane; returns the established flow. */
export function openTcp(lab: Lab, cport: number, dport = 80): Flow {
  const flow = synThrough(lab, cport, dport);
  const synAck = lab.forward('inside', serverTcp(flow.server, flow.sport, flow.lip, flow.lport,
    { flags: 'SA', seq: flow.serverIsn, ack: flow.clientIsn + 1, options: [{ kind: 'mss', value: 1460 }] }));
  only(synAck.outside, `SYN-ACK for ${CLIENT}:${cport}`);
  const ack = lab.forward('outside', clientTcp(cport, { flags: 'A', seq: flow.clientIsn + 1, ack: flow.serverIsn + 1 }, VIP, dport));
  only(ack.inside, `ACK for ${CLIENT}:${cport}`);
  return flow;
}

/** Client -> server segment on an open flow (seq/ack continue from the handshake). */
export function clientSegment(flow: Flow, tcp: Partial<TcpSpec>, dport = 80): Buffer {
  return clientTcp(flow.cport, { flags: 'A', seq: flow.clientIsn + 1, ack: flow.serverIsn + 1, ...tcp }, VIP, dport);
}

/** Server -> client segment on an open flow. */
export function serverSegment(flow: Flow, tcp: Partial<TcpSpec>): Buffer {
  return serverTcp(flow.server, flow.sport, flow.lip, flow.lport,
    { flags: 'A', seq: flow.serverIsn + 1, ack: flow.clientIsn + 1, ...tcp });
}
