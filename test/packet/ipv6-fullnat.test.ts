// FullNAT v6 -> v6: an IPv6 client reaches an IPv6 VIP, leaves from an IPv6 LIP to an IPv6
// server, and the replies come back; TCP and UDP checksums over the IPv6 pseudo-header, hop
// limit decremented, no IPv4 anywhere. Every rewrite is decoded from the frames that came out.
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import type { DataplaneConfig, DataplaneService } from '../../src/dataplane/types.js';
import {
  CLIENT6, IPVS_TIMEOUTS, LIPS6, PORT_MAC, SERVERS6, VIP6, allConnections, dualStackConfig, expectDrops, expectEvents,
  frameFrom6, only, withLab, type Lab,
} from '../support/golden.js';
import { hostMac } from '../support/packet.js';

const TCP6_SERVICE_ID = 61;
const UDP6_SERVICE_ID = 62;

function v6Service(id: number, protocol: 'tcp' | 'udp', port: number, firstServerId: number): DataplaneService {
  return {
    id, protocol, vip: VIP6, port, scheduler: 'rr', localAddresses: [...LIPS6], timeouts: { ...IPVS_TIMEOUTS },
    servers: SERVERS6.map((address, i) => ({ id: firstServerId + i, address, port, weight: 1 })),
  };
}

function ipv6Config(): DataplaneConfig {
  return dualStackConfig((c) => {
    c.services.push(v6Service(TCP6_SERVICE_ID, 'tcp', 80, 61), v6Service(UDP6_SERVICE_ID, 'udp', 7, 71));
  });
}

/** Forwards a frame; neighbour solicitations the gateway sends on the way are answered. */
function forward(lab: Lab, port: 'outside' | 'inside', frame: Buffer): ReturnType<Lab['forward']> {
  return lab.forward(port, frame);
}

test('TCP over IPv6: SYN CIP6 -> VIP6:80 leaves LIP6:lport -> RIP6:80, the SYN-ACK comes back VIP6:80 -> CIP6', async () => {
  await withLab((lab) => {
    const cport = 40000;
    let out = { outside: [], inside: [] } as ReturnType<Lab['forward']>;
    const d = lab.counterDelta(() => {
      out = forward(lab, 'outside', frameFrom6('outside', CLIENT6, VIP6, { tcp: { srcPort: cport, dstPort: 80, flags: 'S', seq: 1000 } }));
    });
    const syn = only(out.inside, 'SYN inside');
    assert.equal(syn.eth, { dst: hostMac(syn.ipv6!.dst), src: PORT_MAC.inside, type: 0x86dd });
    assert.ok(LIPS6.includes(syn.ipv6!.src), `src ${syn.ipv6!.src} is an IPv6 LIP`);
    assert.ok(SERVERS6.includes(syn.ipv6!.dst), `dst ${syn.ipv6!.dst} is an IPv6 server`);
    assert.is(syn.ipv6!.hopLimit, 63, 'hop limit decremented');
    assert.is(syn.tcp!.dstPort, 80);
    assert.ok(syn.tcp!.srcPort >= 1024, `lport ${syn.tcp!.srcPort}`);
    assert.is(syn.tcp!.seq, 1000);
    assert.ok(syn.tcp!.checksumOk, 'TCP checksum over the IPv6 pseudo-header');
    expectEvents(d, { conns_created: 1 }, 'and the neighbour discovery on the way');
    expectDrops(d, {});
    const conn = allConnections(lab.dp)[0]!;
    assert.equal([conn.client, conn.virtual, conn.local, conn.server], [CLIENT6, VIP6, syn.ipv6!.src, syn.ipv6!.dst]);

    const synAck = frameFrom6('inside', syn.ipv6!.dst, syn.ipv6!.src,
      { tcp: { srcPort: 80, dstPort: syn.tcp!.srcPort, flags: 'SA', seq: 5000, ack: 1001 } });
    const back = only(forward(lab, 'inside', synAck).outside, 'SYN-ACK outside');
    assert.equal(back.eth, { dst: hostMac(CLIENT6), src: PORT_MAC.outside, type: 0x86dd });
    assert.equal([back.ipv6!.src, back.tcp!.srcPort, back.ipv6!.dst, back.tcp!.dstPort], [VIP6, 80, CLIENT6, cport]);
    assert.is(back.ipv6!.hopLimit, 63);
    assert.ok(back.tcp!.checksumOk, 'TCP checksum');
  }, ipv6Config());
});

test('UDP over IPv6 both ways: checksum rewritten over the pseudo-header; an IPv4 service beside it is untouched', async () => {
  await withLab((lab) => {
    const payload = Buffer.from('hello over udp6');
    const out = forward(lab, 'outside', frameFrom6('outside', CLIENT6, VIP6, { udp: { srcPort: 5353, dstPort: 7, payload } }));
    const inbound = only(out.inside, 'UDP inside');
    assert.ok(LIPS6.includes(inbound.ipv6!.src) && SERVERS6.includes(inbound.ipv6!.dst), `${inbound.ipv6!.src} -> ${inbound.ipv6!.dst}`);
    assert.ok(inbound.udp!.checksumOk, 'UDP checksum');
    assert.is(inbound.udp!.payload.toString(), payload.toString());
    const echo = frameFrom6('inside', inbound.ipv6!.dst, inbound.ipv6!.src, { udp: { srcPort: 7, dstPort: inbound.udp!.srcPort, payload } });
    const back = only(forward(lab, 'inside', echo).outside, 'UDP back outside');
    assert.equal([back.ipv6!.src, back.udp!.srcPort, back.ipv6!.dst, back.udp!.dstPort], [VIP6, 7, CLIENT6, 5353]);
    assert.ok(back.udp!.checksumOk, 'UDP checksum');
    const stats = lab.stats();
    const svc = stats.services.find((s) => s.id === UDP6_SERVICE_ID)!;
    assert.equal([svc.conns, svc.inPackets, svc.outPackets], [1, 1, 1]);
  }, ipv6Config());
});

test('IPv6 hop limit 1 is not forwarded (ttl_exceeded), as IPv4 TTL 1', async () => {
  await withLab((lab) => {
    const d = lab.counterDelta(() => {
      lab.forward('outside', frameFrom6('outside', CLIENT6, VIP6, { tcp: { srcPort: 40001, dstPort: 80, flags: 'S' } }, { hopLimit: 1 }));
    });
    expectDrops(d, { ttl_exceeded: 1 });
  }, ipv6Config());
});

test('an IPv6 packet over the egress MTU is never fragmented: Packet Too Big (MTU 1500) to its sender, quoting it', async () => {
  await withLab((lab) => {
    const syn = only(lab.forward('outside', frameFrom6('outside', CLIENT6, VIP6, { tcp: { srcPort: 40002, dstPort: 80, flags: 'S', seq: 1000 } })).inside, 'SYN');
    const [server, lip, lport] = [syn.ipv6!.dst, syn.ipv6!.src, syn.tcp!.srcPort];
    lab.forward('inside', frameFrom6('inside', server, lip, { tcp: { srcPort: 80, dstPort: lport, flags: 'SA', seq: 5000, ack: 1001 } }));
    const big = frameFrom6('inside', server, lip, { tcp: { srcPort: 80, dstPort: lport, flags: 'A', seq: 5001, ack: 1001, payload: Buffer.alloc(8000, 0x62) } });
    let out = { outside: [], inside: [] } as ReturnType<Lab['forward']>;
    const d = lab.counterDelta(() => { out = lab.forward('inside', big); });
    assert.is(out.outside.length, 0, 'nothing oversize leaves outside');
    const ptb = only(out.inside, 'Packet Too Big to the server');
    assert.equal([ptb.ipv6!.src, ptb.ipv6!.dst, ptb.icmp6!.type, ptb.icmp6!.code, ptb.icmp6!.rest], [lip, server, 2, 0, 1500]);
    assert.ok(ptb.icmp6!.checksumOk, 'ICMPv6 checksum over the pseudo-header');
    assert.ok(ptb.ipv6!.payloadLength + 40 <= 1280, 'the error fits the IPv6 minimum MTU');
    assert.is(ptb.icmp6!.payload.subarray(8, 24).equals(big.subarray(14 + 8, 14 + 24)), true, 'quotes the packet as the server sent it');
    expectDrops(d, { egress_mtu_exceeded: 1 });
    expectEvents(d, { icmp6_packet_too_big_sent: 1 });
  }, ipv6Config(), {
    ports: [
      { name: 'outside', device: 'ring', mac: PORT_MAC.outside, mtu: 1500 },
      { name: 'inside', device: 'ring', mac: PORT_MAC.inside, mtu: 9000 },
    ],
    mbufs: 2047,
  });
});

test.run();
