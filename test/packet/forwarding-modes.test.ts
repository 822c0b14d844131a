// The forwarding methods other than FullNAT (dataplane/pipeline/forward/: nat, dr, tun), frame
// by frame: NAT both directions, DR's MAC rewrite (with ARP or neighbour discovery for the RIP),
// TUN's IPIP and IPv6-in-IPv6 encapsulation and the errors that keep PMTU discovery working,
// and the model refusing SYNPROXY for DR/TUN. The rewrites run once per address family (FAMILIES)
// so IPv4 and IPv6 cannot drift apart.
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import type { DataplaneConfig } from '../../src/dataplane/types.js';
import {
  CLIENT, CLIENT6, INSIDE_ADDRESS, INSIDE_ADDRESS6, PORT_MAC, SERVERS, SERVERS6, TCP_SERVICE_ID, UDP_SERVICE_ID, VIP, VIP6,
  allConnections, clientTcp, clientUdp, dualStackConfig, expectDrops, expectEvents, frameFrom, frameFrom6, labConfig, only,
  show, withLab, type Lab, type PortName,
} from '../support/golden.js';
import {
  buildFrame, buildIpv4, buildIpv6, buildTcp, buildUdp, hostMac, type DecodedFrame, type FrameSpec, type TcpSpec, type UdpSpec,
} from '../support/packet.js';
import { createService, DEFAULT_TIMEOUTS, readServiceSpec, type DesiredState } from '../../src/model/index.js';
import { ModelError } from '../../src/model/index.js';

const RIP = SERVERS[0]!;

/** The lab config with one server per service, forwarded by `method`; no LIPs (none are needed). */
function modeConfig(method: 'nat' | 'dr' | 'tun'): DataplaneConfig {
  return labConfig((config) => {
    for (const service of config.services) {
      service.localAddresses = [];
      service.servers = [{ ...service.servers[0]!, forward: method }];
    }
  });
}

const syn = (cport: number, extra: Partial<TcpSpec> = {}) =>
  clientTcp(cport, { flags: 'S', seq: 1000, options: [{ kind: 'mss', value: 1460 }], ...extra });

type Method = 'nat' | 'dr' | 'tun';

/** What a test needs to speak one address family: the lab's addresses and how frames are built. */
interface Family {
  name: 'IPv4' | 'IPv6';
  client: string; vip: string; rip: string;
  /** The inside port's address: the tunnel's outer source, what ARP/ND asks from. */
  inside: string;
  config(method: Method): DataplaneConfig;
  /** buildFrame's L3 part: ttl (IPv4) or hop limit (IPv6) = hop. */
  l3(src: string, dst: string, hop: number): Pick<FrameSpec, 'ipv4' | 'ipv6'>;
  /** A frame entering port from hostMac(src), TTL / hop limit 64. */
  frame(port: PortName, src: string, dst: string, l4: { tcp?: TcpSpec; udp?: UdpSpec }): Buffer;
  hop(frame: DecodedFrame): number | undefined;
  /** The data plane asked for target's MAC during the last forward (ARP request / neighbour solicitation). */
  asked(lab: Lab, target: string): boolean;
  /** The outer header TUN writes: its protocol / next header. */
  tunnelProtocol: number;
}

/** The lab config with one server per service, forwarded by `method`, over IPv6 (VIP6, SERVERS6[0]). */
function modeConfig6(method: Method): DataplaneConfig {
  return dualStackConfig((config) => {
    for (const service of config.services) {
      service.vip = VIP6;
      service.localAddresses = [];
      service.servers = [{ ...service.servers[0]!, address: SERVERS6[0]!, forward: method }];
    }
  });
}

const FAMILIES: Family[] = [
  {
    name: 'IPv4', client: CLIENT, vip: VIP, rip: RIP, inside: INSIDE_ADDRESS, config: modeConfig,
    l3: (src, dst, hop) => ({ ipv4: { src, dst, ttl: hop } }),
    frame: (port, src, dst, l4) => frameFrom(port, src, dst, l4),
    hop: (frame) => frame.ipv4?.ttl,
    asked: (lab, target) => lab.arpRequests.some((r) => r.arp!.targetIp === target && r.arp!.senderIp === INSIDE_ADDRESS),
    tunnelProtocol: 4,
  },
  {
    name: 'IPv6', client: CLIENT6, vip: VIP6, rip: SERVERS6[0]!, inside: INSIDE_ADDRESS6, config: modeConfig6,
    l3: (src, dst, hop) => ({ ipv6: { src, dst, hopLimit: hop } }),
    frame: (port, src, dst, l4) => frameFrom6(port, src, dst, l4),
    hop: (frame) => frame.ipv6?.hopLimit,
    asked: (lab, target) => lab.ndSolicitations.some((r) => r.icmp6!.nd!.target === target && r.ipv6!.src === INSIDE_ADDRESS6),
    tunnelProtocol: 41,
  },
];

/** A frame's bytes re-addressed at L2 only: what DR must send. */
function withMacs(frame: Buffer, dst: string, src: string): Buffer {
  const out = Buffer.from(frame);
  buildFrame({ eth: { dst, src }, payload: Buffer.alloc(0) }).copy(out, 0, 0, 12);
  return out;
}

for (const f of FAMILIES) {
  test(`NAT ${f.name}: CIP:cport -> VIP:80 leaves as CIP:cport -> RIP:80 (hop - 1), the reply as VIP:80 -> CIP:cport`, async () => {
    await withLab((lab) => {
      const mss = [{ kind: 'mss' as const, value: 1400 }];
      let out = lab.forward('outside', f.frame('outside', f.client, f.vip, { tcp: { srcPort: 40000, dstPort: 80, flags: 'S', seq: 1000, options: mss } }));
      // The destination rewritten, the checksum over the new pseudo-header: byte for byte what buildFrame computes.
      const expectedIn = buildFrame({
        eth: { dst: hostMac(f.rip), src: PORT_MAC.inside }, ...f.l3(f.client, f.rip, 63),
        tcp: { srcPort: 40000, dstPort: 80, flags: 'S', seq: 1000, options: mss },
      });
      assert.equal(only(out.inside, 'SYN inside').raw, expectedIn, show(out.inside));
      assert.equal(out.outside, []);

      // The server's reply is routed to us (its default route) but addressed to the client.
      const d = lab.counterDelta(() => {
        out = lab.forward('inside', f.frame('inside', f.rip, f.client, {
          tcp: { srcPort: 80, dstPort: 40000, flags: 'SA', seq: 7000, ack: 1001, options: mss },
        }));
      });
      const expectedOut = buildFrame({
        eth: { dst: hostMac(f.client), src: PORT_MAC.outside }, ...f.l3(f.vip, f.client, 63),
        tcp: { srcPort: 80, dstPort: 40000, flags: 'SA', seq: 7000, ack: 1001, options: mss },
      });
      assert.equal(only(out.outside, 'SYN-ACK outside').raw, expectedOut, show(out.outside));
      expectDrops(d, {});
      expectEvents(d, { packets_forwarded_out: 1 });

      lab.forward('outside', f.frame('outside', f.client, f.vip, { tcp: { srcPort: 40000, dstPort: 80, flags: 'A', seq: 1001, ack: 7001 } }));
      const [conn] = allConnections(lab.dp);
      assert.equal([conn!.client, conn!.server, conn!.state], [f.client, f.rip, 'ESTABLISHED']);
    }, f.config('nat'));
  });

  test(`NAT ${f.name}: UDP both ways; a packet to an address we do not own that is no reply stays not_for_us`, async () => {
    await withLab((lab) => {
      const payload = Buffer.from('masqueraded');
      let out = lab.forward('outside', f.frame('outside', f.client, f.vip, { udp: { srcPort: 5353, dstPort: 7, payload } }));
      assert.equal(only(out.inside, 'UDP inside').raw, buildFrame({
        eth: { dst: hostMac(f.rip), src: PORT_MAC.inside }, ...f.l3(f.client, f.rip, 63), udp: { srcPort: 5353, dstPort: 7, payload },
      }));
      out = lab.forward('inside', f.frame('inside', f.rip, f.client, { udp: { srcPort: 7, dstPort: 5353, payload } }));
      assert.equal(only(out.outside, 'UDP outside').raw, buildFrame({
        eth: { dst: hostMac(f.client), src: PORT_MAC.outside }, ...f.l3(f.vip, f.client, 63), udp: { srcPort: 7, dstPort: 5353, payload },
      }));
      const stray = f.frame('inside', f.rip, f.client, { udp: { srcPort: 7, dstPort: 5354, payload } });
      const d = lab.counterDelta(() => { out = lab.forward('inside', stray); });
      assert.equal([out.inside, out.outside], [[], []]);
      expectDrops(d, { not_for_us: 1 });
      assert.is(allConnections(lab.dp)[0]!.serviceId, UDP_SERVICE_ID);
    }, f.config('nat'));
  });
}

test('without NAT servers a packet to a foreign address is not_for_us before any lookup', async () => {
  await withLab((lab) => {
    let out = lab.forward('inside', frameFrom('inside', RIP, CLIENT, { udp: { srcPort: 7, dstPort: 5353, payload: Buffer.from('x') } }));
    const d = lab.counterDelta(() => {
      out = lab.forward('inside', frameFrom('inside', RIP, CLIENT, { udp: { srcPort: 7, dstPort: 5353, payload: Buffer.from('x') } }));
    });
    assert.equal(out.outside, []);
    expectDrops(d, { not_for_us: 1 });
  });
});

for (const f of FAMILIES) {
  test(`DR ${f.name}: the client frame goes to the RIP's MAC unchanged (IP header, hop limit, ports), after ${f.name === 'IPv4' ? 'ARP' : 'ND'} for the RIP`, async () => {
    await withLab((lab) => {
      const frame = f.frame('outside', f.client, f.vip, { tcp: { srcPort: 40001, dstPort: 80, flags: 'S', seq: 1000, options: [{ kind: 'mss', value: 1460 }] } });
      const out = lab.forward('outside', frame);
      assert.ok(f.asked(lab, f.rip), `${f.name === 'IPv4' ? 'ARP' : 'neighbour solicitation'} for ${f.rip}: ${show([...lab.arpRequests, ...lab.ndSolicitations])}`);
      const sent = only(out.inside, 'SYN inside');
      assert.equal(sent.raw, withMacs(frame, hostMac(f.rip), PORT_MAC.inside));
      assert.is(f.hop(sent), 64, 'not decremented: DR is one L2 hop');
      assert.equal(out.outside, []);
      // The MAC is known now: the next frame goes at once, unchanged.
      const ack = f.frame('outside', f.client, f.vip, { tcp: { srcPort: 40001, dstPort: 80, flags: 'A', seq: 1001, ack: 5001 } });
      lab.send('outside', ack);
      assert.equal(lab.recv('inside').map((r) => r.raw), [withMacs(ack, hostMac(f.rip), PORT_MAC.inside)]);
      const [conn] = allConnections(lab.dp);
      assert.equal([conn!.server, conn!.serverPort, conn!.state], [f.rip, 80, 'ESTABLISHED']);
    }, f.config('dr'));
  });
}

test('DR: one-way connection states follow IPVS\'s INPUT-ONLY table (client FIN: FIN_WAIT) and expire', async () => {
  await withLab((lab) => {
    lab.forward('outside', syn(40002));
    const state = () => allConnections(lab.dp)[0]?.state;
    lab.forward('outside', clientTcp(40002, { flags: 'A', seq: 1001, ack: 5001 }));
    assert.is(state(), 'ESTABLISHED');
    const data = clientTcp(40002, { flags: 'PA', seq: 1001, ack: 5001, payload: Buffer.from('GET / HTTP/1.0\r\n\r\n') });
    assert.equal(only(lab.forward('outside', data).inside, 'data').raw, withMacs(data, hostMac(RIP), PORT_MAC.inside));
    lab.forward('outside', clientTcp(40002, { flags: 'FA', seq: 1019, ack: 5001 }));
    assert.is(state(), 'FIN_WAIT');
    const d = lab.counterDelta(() => lab.advance(121));
    expectEvents(d, { conns_expired: 1 });
    assert.is(allConnections(lab.dp).length, 0);
  }, modeConfig('dr'));
});

// IPVS's INPUT-ONLY rows (PROTOCOL.md §4.2): only the client's flags are seen.
const ONE_WAY_CASES: { flags: string[]; states: string[]; timeout: number }[] = [
  { flags: ['S', 'A', 'FA', 'A'], states: ['SYN_RECV', 'ESTABLISHED', 'FIN_WAIT', 'FIN_WAIT'], timeout: 120 },
  { flags: ['S', 'A', 'R'], states: ['SYN_RECV', 'ESTABLISHED', 'CLOSE'], timeout: 10 },
  { flags: ['S', 'R'], states: ['SYN_RECV', 'SYN_RECV'], timeout: 60 },
  { flags: ['S', 'FA'], states: ['SYN_RECV', 'TIME_WAIT'], timeout: 120 },
  { flags: ['S', 'A', 'PA'], states: ['SYN_RECV', 'ESTABLISHED', 'ESTABLISHED'], timeout: 900 },
];

for (const method of ['dr', 'tun'] as const) {
  for (const c of ONE_WAY_CASES) {
    test(`${method.toUpperCase()}: client ${c.flags.join(', ')} -> ${c.states.join(' -> ')}, expires after ${c.timeout} s`, async () => {
      await withLab((lab) => {
        const seen = c.flags.map((flags, i) => {
          lab.forward('outside', clientTcp(40100, { flags, seq: 1000 + i, ack: i ? 5000 : 0 }));
          return allConnections(lab.dp)[0]?.state;
        });
        assert.equal(seen, c.states);
        lab.advance(c.timeout - 1);
        assert.is(allConnections(lab.dp).length, 1, 'still there a second before');
        lab.advance(1.5);
        assert.is(allConnections(lab.dp).length, 0, 'gone after the timeout');
      }, modeConfig(method));
    });
  }
}

test('DR: a server behind a router (not on-link) cannot be reached by MAC: no_route', async () => {
  const config = modeConfig('dr');
  config.routes = [{ prefix: '10.9.0.0/16', via: '198.19.0.99', port: 'inside' }];
  config.services[0]!.servers[0]!.address = '10.9.0.1';
  await withLab((lab) => {
    const d = lab.counterDelta(() => lab.forward('outside', syn(40003)));
    expectDrops(d, { no_route: 1 });
  }, config);
});

test('TUN IPv4: IPIP from the inside port address to the RIP, inner packet untouched, DF and id copied', async () => {
  await withLab((lab) => {
    const withDf = frameFrom('outside', CLIENT, VIP,
      { tcp: { srcPort: 40004, dstPort: 80, flags: 'S', seq: 1000, options: [{ kind: 'mss', value: 1460 }] } },
      { dontFragment: true, id: 0x1234, tos: 0x10 });
    const out = lab.forward('outside', withDf);
    const expected = buildFrame({
      eth: { dst: hostMac(RIP), src: PORT_MAC.inside },
      ipv4: { src: INSIDE_ADDRESS, dst: RIP, protocol: 4, ttl: 64, id: 0x1234, tos: 0x10, dontFragment: true },
      payload: withDf.subarray(14),
    });
    assert.equal(only(out.inside, 'IPIP inside').raw, expected, show(out.inside));
    assert.equal(out.outside, []);
    assert.is(allConnections(lab.dp)[0]!.state, 'SYN_RECV');
  }, modeConfig('tun'));
});

test('TUN IPv6: IPv6-in-IPv6 (next header 41, hop limit 64) from the inside port address to the RIP, traffic class and flow label copied, inner untouched', async () => {
  await withLab((lab) => {
    const rip = SERVERS6[0]!;
    const client = frameFrom6('outside', CLIENT6, VIP6,
      { tcp: { srcPort: 40004, dstPort: 80, flags: 'S', seq: 1000, options: [{ kind: 'mss', value: 1440 }] } },
      { trafficClass: 0x28, flowLabel: 0xabcde, hopLimit: 57 });
    const out = lab.forward('outside', client);
    assert.ok(lab.ndSolicitations.some((r) => r.icmp6!.nd!.target === rip), `ND for ${rip}: ${show(lab.ndSolicitations)}`);
    const wrapped = only(out.inside, 'IPv6-in-IPv6 inside');
    const outer = wrapped.ipv6!;
    assert.equal(wrapped.eth, { dst: hostMac(rip), src: PORT_MAC.inside, type: 0x86dd });
    assert.equal(
      [outer.version, outer.trafficClass, outer.flowLabel, outer.payloadLength, outer.nextHeader, outer.hopLimit, outer.src, outer.dst],
      [6, 0x28, 0xabcde, client.length - 14, 41, 64, INSIDE_ADDRESS6, rip]);
    assert.equal(outer.extensions, [], 'no tunnel encapsulation limit option');
    assert.ok(outer.payload.equals(client.subarray(14)), 'the inner packet as the client sent it (hop limit 57 too)');
    assert.equal(wrapped.raw, buildFrame({
      eth: { dst: hostMac(rip), src: PORT_MAC.inside },
      ipv6: { src: INSIDE_ADDRESS6, dst: rip, protocol: 41, hopLimit: 64, trafficClass: 0x28, flowLabel: 0xabcde },
      payload: client.subarray(14),
    }));
    assert.equal(out.outside, []);
    assert.is(allConnections(lab.dp)[0]!.state, 'SYN_RECV');
  }, modeConfig6('tun'));
});

test('TUN: over the egress MTU with DF: ICMP frag-needed (MTU - 20) to the client; without DF: dropped', async () => {
  const ports = [
    { name: 'outside', device: 'ring', mac: PORT_MAC.outside },
    { name: 'inside', device: 'ring', mac: PORT_MAC.inside, mtu: 1000 },
  ];
  await withLab((lab) => {
    lab.forward('outside', syn(40005));
    const big = (df: boolean) => frameFrom('outside', CLIENT, VIP,
      { tcp: { srcPort: 40005, dstPort: 80, flags: 'A', seq: 1001, ack: 1, payload: Buffer.alloc(981 - 40, 0x61) } },
      { dontFragment: df, id: 77 });  // 981 + 20 > 1000
    let out = lab.forward('outside', big(true));  // resolves the client's MAC for the ICMP
    let d = lab.counterDelta(() => { out = lab.forward('outside', big(true)); });
    assert.equal(out.inside, []);
    const icmp = only(out.outside, 'frag-needed');
    const original = big(true).subarray(14);
    assert.equal(icmp.raw, buildFrame({
      eth: { dst: hostMac(CLIENT), src: PORT_MAC.outside },
      ipv4: { src: VIP, dst: CLIENT, ttl: 64 },
      icmp: { type: 3, code: 4, rest: 980, payload: original.subarray(0, 28) },
    }), show(out.outside));
    expectDrops(d, { tunnel_frag_needed: 1 });
    expectEvents(d, { icmp_frag_needed_sent: 1 });

    d = lab.counterDelta(() => { out = lab.forward('outside', big(false)); });
    assert.equal([out.inside, out.outside], [[], []]);
    expectDrops(d, { tunnel_frag_needed: 1 });
    assert.is(d.events.icmp_frag_needed_sent, undefined);

    // One byte less fits exactly.
    const fits = frameFrom('outside', CLIENT, VIP,
      { tcp: { srcPort: 40005, dstPort: 80, flags: 'A', seq: 1001, ack: 1, payload: Buffer.alloc(980 - 40, 0x61) } },
      { dontFragment: true });
    const inner = only(lab.forward('outside', fits).inside, 'fits');
    assert.is(inner.ipv4!.totalLength, 1000);
  }, modeConfig('tun'), { ports });
});

test('TUN IPv6: over the egress MTU: Packet Too Big (MTU - 40) to the client, quoting its packet; exactly MTU - 40 fits', async () => {
  const ports = [
    { name: 'outside', device: 'ring', mac: PORT_MAC.outside },
    { name: 'inside', device: 'ring', mac: PORT_MAC.inside, mtu: 1400 },
  ];
  await withLab((lab) => {
    const segment = (bytes: number) => frameFrom6('outside', CLIENT6, VIP6,
      { tcp: { srcPort: 40006, dstPort: 80, flags: 'A', seq: 1001, ack: 1, payload: Buffer.alloc(bytes - 60, 0x61) } });
    lab.forward('outside', frameFrom6('outside', CLIENT6, VIP6, { tcp: { srcPort: 40006, dstPort: 80, flags: 'S', seq: 1000 } }));
    const big = segment(1361);  // + 40 > 1400
    let out = lab.forward('outside', big);  // resolves the client's MAC for the error
    const d = lab.counterDelta(() => { out = lab.forward('outside', big); });
    assert.equal(out.inside, []);
    const ptb = only(out.outside, 'Packet Too Big');
    assert.equal(ptb.raw, buildFrame({
      eth: { dst: hostMac(CLIENT6), src: PORT_MAC.outside },
      ipv6: { src: VIP6, dst: CLIENT6, hopLimit: 64 },
      icmp6: { type: 2, code: 0, rest: 1360, payload: big.subarray(14, 14 + 1232) },
    }), show(out.outside));
    assert.ok(ptb.icmp6!.checksumOk);
    expectDrops(d, { tunnel_frag_needed: 1 });
    expectEvents(d, { icmp6_packet_too_big_sent: 1 });

    const fits = only(lab.forward('outside', segment(1360)).inside, 'fits');
    assert.equal([fits.ipv6!.payloadLength, fits.ipv6!.nextHeader], [1360, 41]);
  }, modeConfig6('tun'), { ports });
});

test('TUN IPv6: a link MTU below 1320 still announces 1280 (RFC 2473 7.1); a packet of 1280 or less that does not fit drops without an error', async () => {
  const ports = [
    { name: 'outside', device: 'ring', mac: PORT_MAC.outside },
    { name: 'inside', device: 'ring', mac: PORT_MAC.inside, mtu: 1300 },
  ];
  await withLab((lab) => {
    const segment = (bytes: number) => frameFrom6('outside', CLIENT6, VIP6,
      { tcp: { srcPort: 40007, dstPort: 80, flags: 'A', seq: 1001, ack: 1, payload: Buffer.alloc(bytes - 60, 0x61) } });
    lab.forward('outside', frameFrom6('outside', CLIENT6, VIP6, { tcp: { srcPort: 40007, dstPort: 80, flags: 'S', seq: 1000 } }));
    lab.forward('outside', segment(1400));  // resolves the client's MAC
    let out = lab.forward('outside', segment(1400));
    let d = lab.counterDelta(() => { out = lab.forward('outside', segment(1400)); });
    assert.equal([out.inside.length, only(out.outside, 'Packet Too Big').icmp6!.rest], [0, 1280]);
    expectDrops(d, { tunnel_frag_needed: 1 });
    expectEvents(d, { icmp6_packet_too_big_sent: 1 });

    // 1270 + 40 > 1300, yet the client may not go below 1280: the outer packet would need
    // fragmenting, which the gateway does not do. Dropped, counted, no error.
    d = lab.counterDelta(() => { out = lab.forward('outside', segment(1270)); });
    assert.equal([out.inside, out.outside], [[], []]);
    expectDrops(d, { tunnel_frag_needed: 1 });
    assert.is(d.events.icmp6_packet_too_big_sent, undefined);
    assert.is(only(lab.forward('outside', segment(1260)).inside, 'fits').ipv6!.payloadLength, 1260);
  }, modeConfig6('tun'), { ports });
});

/** fn throws a ModelError with this code and field path whose message contains every word. */
function expectError(fn: () => unknown, code: string, path: string, words: string[]): void {
  try {
    fn();
  } catch (error) {
    assert.instance(error, ModelError);
    const e = error as ModelError;
    assert.equal([e.code, e.path], [code, path], e.message);
    for (const word of words) assert.ok(e.message.includes(word), `"${word}" in: ${e.message}`);
    return;
  }
  assert.unreachable('no error');
}

function modelState(): DesiredState {
  return {
    ports: [
      { name: 'outside', device: 'ring', addresses: ['198.18.0.254/24'] },
      { name: 'inside', device: 'ring', addresses: ['198.19.0.254/24'] },
    ],
    routes: [], defaultTimeouts: { ...DEFAULT_TIMEOUTS }, services: [], nextServiceId: 1, nextServerId: 1,
  };
}

const modelSpec = (extra: Record<string, unknown>, server: Record<string, unknown>) => readServiceSpec({
  protocol: 'tcp', vip: VIP, port: 80, servers: [{ address: RIP, port: 80, ...server }], ...extra,
}, 'service');

test('model: SYNPROXY (and PROXY headers) refused for DR/TUN servers, naming the server\'s forward field', () => {
  for (const forward of ['dr', 'tun']) {
    expectError(() => createService(modelState(), modelSpec({ synproxy: 'on' }, { forward })),
      'INVALID_ARGUMENT', 'service.servers[0].forward', ['synproxy', 'replies']);
    expectError(() => createService(modelState(), modelSpec({ client_address: 'proxy_v2' }, { forward })),
      'INVALID_ARGUMENT', 'service.servers[0].forward', ['proxy_v2']);
    expectError(() => createService(modelState(), modelSpec({}, { forward, port: 8080 })),
      'INVALID_ARGUMENT', 'service.servers[0].port', ['service port']);
  }
  // NAT keeps both directions: SYNPROXY works, and no LIPs are needed (no warning).
  const nat = createService(modelState(), modelSpec({ synproxy: 'on' }, { forward: 'nat', port: 8080 }));
  assert.equal(nat.warnings, []);
  assert.is(nat.result.servers[0]!.forward, 'nat');
  // FullNAT servers without LIPs: accepted with a warning naming local_addresses.
  const fullnat = createService(modelState(), modelSpec({}, {}));
  assert.ok(fullnat.warnings.some((w) => w.startsWith('service.local_addresses')), fullnat.warnings.join('; '));
  expectError(() => readServiceSpec({ protocol: 'tcp', vip: VIP, port: 80, servers: [{ address: RIP, port: 80, forward: 'gre' }] }, 'service'),
    'INVALID_ARGUMENT', 'service.servers[0].forward', ['fullnat', 'gre']);
});

test('a mixed service: each connection keeps the method of its server (rr: NAT then DR)', async () => {
  const config = labConfig((c) => {
    c.services[0]!.servers = [
      { id: 1, address: SERVERS[0]!, port: 80, weight: 1, forward: 'nat' },
      { id: 2, address: SERVERS[1]!, port: 80, weight: 1, forward: 'dr' },
    ];
  });
  await withLab((lab) => {
    const frames = [syn(40010), syn(40011)];
    const sent = frames.map((f, i) => only(lab.forward('outside', f).inside, `SYN ${i}`));
    const nat = sent.find((f) => f.ipv4!.dst === SERVERS[0]);
    const dr = sent.find((f) => f.eth.dst === hostMac(SERVERS[1]!));
    assert.ok(nat && dr, show(sent));
    assert.equal([nat!.ipv4!.src, nat!.ipv4!.ttl, nat!.eth.dst], [CLIENT, 63, hostMac(SERVERS[0]!)]);
    assert.equal(dr!.raw, withMacs(frames[sent.indexOf(dr!)]!, hostMac(SERVERS[1]!), PORT_MAC.inside));
    assert.is(allConnections(lab.dp).filter((c) => c.serviceId === TCP_SERVICE_ID).length, 2);
  }, config);
});

/** An ICMP frag-needed from a router on the client's side about the server's direct reply VIP:80 -> CIP:cport. */
function fragNeededFromClientSide(cport: number): Buffer {
  const reply = buildIpv4({ src: VIP, dst: CLIENT, protocol: 6, dontFragment: true },
    buildTcp({ srcPort: 80, dstPort: cport, flags: 'A', seq: 7001, ack: 1001 }, VIP, CLIENT)).subarray(0, 28);
  return frameFrom('outside', '198.18.0.99', VIP, { icmp: { type: 3, code: 4, rest: 1400, payload: reply } });
}

/** The IPv6 twin: a Packet Too Big (MTU 1400) from a router on the client's side about the reply VIP6:80 -> CIP6:cport. */
function packetTooBigFromClientSide(cport: number, quoted = 1232): Buffer {
  const reply = buildIpv6({ src: VIP6, dst: CLIENT6, protocol: 6 },
    buildTcp({ srcPort: 80, dstPort: cport, flags: 'A', seq: 7001, ack: 1001, payload: Buffer.alloc(1400, 0x72) }, VIP6, CLIENT6));
  return frameFrom6('outside', '2001:db8:18::99', VIP6, { icmp6: { type: 2, rest: 1400, payload: reply.subarray(0, quoted) } });
}

const errorFromClientSide = (f: Family, cport: number) => (f.name === 'IPv4' ? fragNeededFromClientSide(cport) : packetTooBigFromClientSide(cport));

for (const f of FAMILIES) {
  const opener = (cport: number) => f.frame('outside', f.client, f.vip, { tcp: { srcPort: cport, dstPort: 80, flags: 'S', seq: 1000 } });

  test(`DR ${f.name}: an ICMP error about the server's direct reply goes to the server unchanged (PMTU of its path)`, async () => {
    await withLab((lab) => {
      lab.forward('outside', opener(40020));
      const icmp = errorFromClientSide(f, 40020);
      let out = lab.forward('outside', icmp);
      const d = lab.counterDelta(() => { out = lab.forward('outside', icmp); });
      assert.equal(only(out.inside, 'ICMP inside').raw, withMacs(icmp, hostMac(f.rip), PORT_MAC.inside));
      assert.equal([d.drops, d.events.icmp_errors_to_server], [{}, 1]);
    }, f.config('dr'));
  });

  test(`TUN ${f.name}: the same ICMP error reaches the server inside the tunnel`, async () => {
    await withLab((lab) => {
      lab.forward('outside', opener(40021));
      const icmp = errorFromClientSide(f, 40021);
      let out = lab.forward('outside', icmp);
      const d = lab.counterDelta(() => { out = lab.forward('outside', icmp); });
      assert.equal(only(out.inside, 'ICMP inside').raw, buildFrame({
        eth: { dst: hostMac(f.rip), src: PORT_MAC.inside },
        ...(f.name === 'IPv4'
          ? { ipv4: { src: INSIDE_ADDRESS, dst: RIP, protocol: 4, ttl: 64 } }
          : { ipv6: { src: INSIDE_ADDRESS6, dst: f.rip, protocol: 41, hopLimit: 64 } }),
        payload: icmp.subarray(14),
      }));
      assert.equal([d.drops, d.events.icmp_errors_to_server], [{}, 1]);
    }, f.config('tun'));
  });

  test(`TUN ${f.name}: an ICMP error too big for the tunnel is dropped, and no error answers it`, async () => {
    const ports = [
      { name: 'outside', device: 'ring', mac: PORT_MAC.outside },
      { name: 'inside', device: 'ring', mac: PORT_MAC.inside, mtu: 1300 },
    ];
    await withLab((lab) => {
      lab.forward('outside', opener(40022));
      // IPv4: a 1316-byte error with DF (+ 20 > 1300); IPv6: a 1280-byte one (+ 40 > 1300).
      const icmp = f.name === 'IPv4'
        ? frameFrom('outside', '198.18.0.99', VIP, {
          icmp: { type: 3, code: 4, rest: 1400, payload: Buffer.concat([fragNeededFromClientSide(40022).subarray(14 + 28, 14 + 56), Buffer.alloc(1260)]) },
        }, { dontFragment: true })
        : packetTooBigFromClientSide(40022);
      let out = lab.forward('outside', icmp);
      const d = lab.counterDelta(() => { out = lab.forward('outside', icmp); });
      assert.equal([out.inside, out.outside], [[], []]);
      expectDrops(d, { tunnel_frag_needed: 1 });
      assert.equal([d.events.icmp_frag_needed_sent, d.events.icmp6_packet_too_big_sent, d.events.icmp_errors_to_server],
        [undefined, undefined, undefined], 'no error sent, nothing to the server');
    }, f.config('tun'), { ports });
  });
}

test('NAT: a server\'s ICMP port-unreachable to the client is relayed from the VIP, quote translated', async () => {
  await withLab((lab) => {
    const payload = Buffer.from('anyone?');
    lab.forward('outside', clientUdp(5400, payload));
    // What the server's kernel quotes: the datagram it received, CIP:5400 -> RIP:7.
    const received = buildIpv4({ src: CLIENT, dst: RIP, protocol: 17, ttl: 63 }, buildUdp({ srcPort: 5400, dstPort: 7, payload }, CLIENT, RIP));
    const unreachable = frameFrom('inside', RIP, CLIENT, { icmp: { type: 3, code: 3, payload: received } });
    let out = lab.forward('inside', unreachable);
    const relayed = only(out.outside, 'ICMP outside');
    assert.equal([relayed.ipv4!.src, relayed.ipv4!.dst, relayed.icmp!.type, relayed.icmp!.code], [VIP, CLIENT, 3, 3]);
    assert.equal([relayed.icmp!.inner!.ipv4.src, relayed.icmp!.inner!.srcPort, relayed.icmp!.inner!.ipv4.dst, relayed.icmp!.inner!.dstPort],
      [CLIENT, 5400, VIP, 7]);
    assert.ok(relayed.icmp!.checksumOk && relayed.icmp!.inner!.ipv4.checksumOk, 'ICMP and quoted IP checksums');
    // An ICMP error to a foreign address about nothing we know is not ours.
    const stranger = frameFrom('inside', RIP, '198.18.0.77', { icmp: { type: 8, id: 1, sequence: 1 } });
    const d = lab.counterDelta(() => { out = lab.forward('inside', stranger); });
    assert.equal([out.outside, d.drops], [[], { not_for_us: 1 }]);
  }, modeConfig('nat'));
});

test('NAT with SYNPROXY: cookie SYN-ACK, then the backend SYN from the client\'s own address, replies translated', async () => {
  const config = modeConfig('nat');
  config.services[0]!.synproxy = true;
  await withLab((lab) => {
    let out = lab.forward('outside', syn(40030));
    const cookie = only(out.outside, 'cookie SYN-ACK');
    assert.equal(out.inside, []);
    out = lab.forward('outside', clientTcp(40030, { flags: 'A', seq: 1001, ack: (cookie.tcp!.seq + 1) >>> 0 }));
    const backendSyn = only(out.inside, 'backend SYN');
    assert.equal([backendSyn.ipv4!.src, backendSyn.tcp!.srcPort, backendSyn.ipv4!.dst, backendSyn.tcp!.dstPort, backendSyn.tcp!.flagNames],
      [CLIENT, 40030, RIP, 80, 'S']);
    out = lab.forward('inside', frameFrom('inside', RIP, CLIENT, {
      tcp: { srcPort: 80, dstPort: 40030, flags: 'SA', seq: 90000, ack: 1001, options: [{ kind: 'mss', value: 1460 }] },
    }));
    const ack = only(out.inside, 'ACK to the server');
    assert.equal([ack.tcp!.flagNames, ack.tcp!.ack], ['A', 90001]);
    out = lab.forward('inside', frameFrom('inside', RIP, CLIENT, {
      tcp: { srcPort: 80, dstPort: 40030, flags: 'PA', seq: 90001, ack: 1001, payload: Buffer.from('hi') },
    }));
    const data = only(out.outside, 'data to the client');
    assert.equal([data.ipv4!.src, data.tcp!.srcPort, data.tcp!.seq, data.tcp!.payload.toString()], [VIP, 80, (cookie.tcp!.seq + 1) >>> 0, 'hi']);
    assert.ok(data.tcp!.checksumOk, 'TCP checksum after translation');
  }, config);
});

test('trace: NAT shows CIP -> RIP and VIP -> CIP; DR keeps CIP -> VIP (the header the server gets)', async () => {
  await withLab((lab) => {
    lab.dp.traceSet({ enabled: true, serviceId: TCP_SERVICE_ID });
    lab.forward('outside', syn(40040));
    lab.forward('inside', frameFrom('inside', RIP, CLIENT, { tcp: { srcPort: 80, dstPort: 40040, flags: 'SA', seq: 1, ack: 1001 } }));
    const rows = lab.dp.traceRead().records.map((r) => [r.outSource, r.outSourcePort, r.outDestination, r.outDestinationPort, r.verdict]);
    assert.equal(rows, [[CLIENT, 40040, RIP, 80, 'forwarded'], [VIP, 80, CLIENT, 40040, 'forwarded']]);
  }, modeConfig('nat'));
  await withLab((lab) => {
    lab.dp.traceSet({ enabled: true, serviceId: TCP_SERVICE_ID });
    lab.forward('outside', syn(40041));
    const rows = lab.dp.traceRead().records.map((r) => [r.outSource, r.outSourcePort, r.outDestination, r.outDestinationPort, r.serverId]);
    assert.equal(rows, [[CLIENT, 40041, VIP, 80, 1]]);
  }, modeConfig('dr'));
});

test('the data plane itself refuses SYNPROXY for DR/TUN servers (the model is not the only guard)', async () => {
  for (const method of ['dr', 'tun'] as const) {
    const config = modeConfig(method);
    config.services[0]!.synproxy = true;
    await withLab((lab) => {
      try {
        lab.apply(config);
        assert.unreachable('applied');
      } catch (e) {
        assert.is((e as { code?: unknown }).code, 'CONFIG_REJECTED');
        assert.match(String((e as Error).message), /services\[0\]\.servers\[0\]\.forward: dr\/tun cannot be used with synproxy/);
      }
    }, null);
  }
});

test.run();
