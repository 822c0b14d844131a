// The forwarding methods other than FullNAT (dataplane/pipeline/forward/: nat, dr, tun), frame
// by frame: NAT both directions, DR's MAC rewrite (with ARP for the RIP), TUN's IPIP
// encapsulation and its fragmentation-needed, and the model refusing SYNPROXY for DR/TUN.
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import type { DataplaneConfig } from '../../src/dataplane/types.js';
import {
  CLIENT, INSIDE_ADDRESS, PORT_MAC, SERVERS, TCP_SERVICE_ID, UDP_SERVICE_ID, VIP, allConnections, clientTcp, clientUdp,
  expectDrops, expectEvents, frameFrom, labConfig, only, show, withLab,
} from '../support/golden.js';
import { buildFrame, buildIpv4, buildTcp, buildUdp, hostMac, type TcpSpec } from '../support/packet.js';
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

/** A frame's bytes re-addressed at L2 only: what DR must send. */
function withMacs(frame: Buffer, dst: string, src: string): Buffer {
  const out = Buffer.from(frame);
  buildFrame({ eth: { dst, src }, payload: Buffer.alloc(0) }).copy(out, 0, 0, 12);
  return out;
}

test('NAT: CIP:cport -> VIP:80 leaves as CIP:cport -> RIP:80 (TTL - 1), the reply as VIP:80 -> CIP:cport', async () => {
  await withLab((lab) => {
    let out = lab.forward('outside', syn(40000));
    const expectedIn = buildFrame({
      eth: { dst: hostMac(RIP), src: PORT_MAC.inside },
      ipv4: { src: CLIENT, dst: RIP, ttl: 63 },
      tcp: { srcPort: 40000, dstPort: 80, flags: 'S', seq: 1000, options: [{ kind: 'mss', value: 1460 }] },
    });
    assert.equal(only(out.inside, 'SYN inside').raw, expectedIn, show(out.inside));
    assert.equal(out.outside, []);

    // The server's reply is routed to us (its default route) but addressed to the client.
    const d = lab.counterDelta(() => {
      out = lab.forward('inside', frameFrom('inside', RIP, CLIENT, {
        tcp: { srcPort: 80, dstPort: 40000, flags: 'SA', seq: 7000, ack: 1001, options: [{ kind: 'mss', value: 1460 }] },
      }));
    });
    const expectedOut = buildFrame({
      eth: { dst: hostMac(CLIENT), src: PORT_MAC.outside },
      ipv4: { src: VIP, dst: CLIENT, ttl: 63 },
      tcp: { srcPort: 80, dstPort: 40000, flags: 'SA', seq: 7000, ack: 1001, options: [{ kind: 'mss', value: 1460 }] },
    });
    assert.equal(only(out.outside, 'SYN-ACK outside').raw, expectedOut, show(out.outside));
    expectDrops(d, {});
    expectEvents(d, { packets_forwarded_out: 1 });

    lab.forward('outside', clientTcp(40000, { flags: 'A', seq: 1001, ack: 7001 }));
    const [conn] = allConnections(lab.dp);
    assert.equal([conn!.client, conn!.server, conn!.local, conn!.state], [CLIENT, RIP, '0.0.0.0', 'ESTABLISHED']);
  }, modeConfig('nat'));
});

test('NAT: UDP both ways; a packet to an address we do not own that is no reply stays not_for_us', async () => {
  await withLab((lab) => {
    const payload = Buffer.from('masqueraded');
    let out = lab.forward('outside', clientUdp(5353, payload));
    const inbound = only(out.inside, 'UDP inside');
    assert.equal(inbound.raw, buildFrame({
      eth: { dst: hostMac(RIP), src: PORT_MAC.inside }, ipv4: { src: CLIENT, dst: RIP, ttl: 63 },
      udp: { srcPort: 5353, dstPort: 7, payload },
    }));
    out = lab.forward('inside', frameFrom('inside', RIP, CLIENT, { udp: { srcPort: 7, dstPort: 5353, payload } }));
    assert.equal(only(out.outside, 'UDP outside').raw, buildFrame({
      eth: { dst: hostMac(CLIENT), src: PORT_MAC.outside }, ipv4: { src: VIP, dst: CLIENT, ttl: 63 },
      udp: { srcPort: 7, dstPort: 5353, payload },
    }));
    const stray = frameFrom('inside', RIP, CLIENT, { udp: { srcPort: 7, dstPort: 5354, payload } });
    const d = lab.counterDelta(() => { out = lab.forward('inside', stray); });
    assert.equal([out.inside, out.outside], [[], []]);
    expectDrops(d, { not_for_us: 1 });
    assert.is(allConnections(lab.dp)[0]!.serviceId, UDP_SERVICE_ID);
  }, modeConfig('nat'));
});

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

test('DR: the client frame goes to the RIP\'s MAC unchanged (IP, TTL, ports), after ARP for the RIP', async () => {
  await withLab((lab) => {
    const frame = syn(40001);
    const out = lab.forward('outside', frame);
    assert.ok(lab.arpRequests.some((r) => r.arp!.targetIp === RIP && r.arp!.senderIp === INSIDE_ADDRESS),
      `ARP for ${RIP}: ${show(lab.arpRequests)}`);
    assert.equal(only(out.inside, 'SYN inside').raw, withMacs(frame, hostMac(RIP), PORT_MAC.inside));
    assert.equal(out.outside, []);
    const [conn] = allConnections(lab.dp);
    assert.equal([conn!.server, conn!.serverPort, conn!.local, conn!.state], [RIP, 80, '0.0.0.0', 'SYN_RECV']);
  }, modeConfig('dr'));
});

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

test('TUN: IPIP from the inside port address to the RIP, inner packet untouched, DF and id copied', async () => {
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

test('DR: an ICMP error about the server\'s direct reply goes to the server unchanged (PMTU of its path)', async () => {
  await withLab((lab) => {
    lab.forward('outside', syn(40020));
    const icmp = fragNeededFromClientSide(40020);
    let out = lab.forward('outside', icmp);
    const d = lab.counterDelta(() => { out = lab.forward('outside', icmp); });
    assert.equal(only(out.inside, 'ICMP inside').raw, withMacs(icmp, hostMac(RIP), PORT_MAC.inside));
    assert.equal([d.drops, d.events.icmp_errors_to_server], [{}, 1]);
  }, modeConfig('dr'));
});

test('TUN: the same ICMP error reaches the server inside the tunnel', async () => {
  await withLab((lab) => {
    lab.forward('outside', syn(40021));
    const icmp = fragNeededFromClientSide(40021);
    const out = lab.forward('outside', icmp);
    assert.equal(only(out.inside, 'ICMP inside').raw, buildFrame({
      eth: { dst: hostMac(RIP), src: PORT_MAC.inside },
      ipv4: { src: INSIDE_ADDRESS, dst: RIP, protocol: 4, ttl: 64 },
      payload: icmp.subarray(14),
    }));
  }, modeConfig('tun'));
});

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
