// NAT64 (forward/nat64.h): an IPv6 client reaches an IPv6 VIP served by IPv4 servers through
// IPv4 LIPs. Client packets leave as IPv4 (RFC 7915: TTL = hop limit - 1, DF set, fresh header
// checksum, L4 checksum over the IPv4 pseudo-header), the servers' replies come back as IPv6;
// the server's SYN-ACK MSS is lowered by the 20 bytes the header grows; ICMP errors cross the
// families both ways (forward/icmp_relay.h); family mixes other than NAT64 are refused by field.
// Every frame is decoded from what came out of the ports.
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import type { DataplaneConfig, DataplaneService, StartOptions } from '../../src/dataplane/types.js';
import {
  CLIENT6, IPVS_TIMEOUTS, LIPS, PORT_MAC, SERVERS, VIP6, allConnections, dualStackConfig, expectDrops, expectEvents,
  frameFrom, frameFrom6, only, withLab, type Lab,
} from '../support/golden.js';
import {
  ICMP_TYPE, decodeIpv6, hostMac, packetTooBig, type DecodedFrame, type Ipv6Extension, type TcpOption,
} from '../support/packet.js';

const TCP64_SERVICE_ID = 64;
const UDP64_SERVICE_ID = 65;
const ROUTER6 = '2001:db8:18::99';  // a router on the client's side of the gateway

function nat64Service(id: number, protocol: 'tcp' | 'udp', port: number, firstServerId: number): DataplaneService {
  return {
    id, protocol, vip: VIP6, port, scheduler: 'rr', localAddresses: [...LIPS], timeouts: { ...IPVS_TIMEOUTS },
    servers: SERVERS.map((address, i) => ({ id: firstServerId + i, address, port, weight: 1 })),
  };
}

function nat64Config(edit?: (c: DataplaneConfig) => void): DataplaneConfig {
  return dualStackConfig((c) => {
    c.services.push(nat64Service(TCP64_SERVICE_ID, 'tcp', 80, 81), nat64Service(UDP64_SERVICE_ID, 'udp', 7, 91));
    edit?.(c);
  });
}

function ports(outsideMtu: number, insideMtu: number): NonNullable<StartOptions['ports']> {
  return [
    { name: 'outside', device: 'ring', mac: PORT_MAC.outside, mtu: outsideMtu },
    { name: 'inside', device: 'ring', mac: PORT_MAC.inside, mtu: insideMtu },
  ];
}

const mssOf = (frame: DecodedFrame): number | undefined =>
  frame.tcp!.options.flatMap((o) => (o.kind === 'mss' ? [o.value] : []))[0];
const MSS = (value: number): TcpOption => ({ kind: 'mss', value });

interface Flow64 { cport: number; lip: string; lport: number; server: string; syn: DecodedFrame; synAck: DecodedFrame }

/** SYN in (IPv6 -> IPv4) and SYN-ACK back (IPv4 -> IPv6). */
function handshake(lab: Lab, cport: number, clientMss = 1440, serverMss = 1460): Flow64 {
  const syn = only(lab.forward('outside', frameFrom6('outside', CLIENT6, VIP6,
    { tcp: { srcPort: cport, dstPort: 80, flags: 'S', seq: 1000, options: [MSS(clientMss)] } })).inside, 'SYN inside');
  const flow = { cport, lip: syn.ipv4!.src, lport: syn.tcp!.srcPort, server: syn.ipv4!.dst };
  const synAck = only(lab.forward('inside', frameFrom('inside', flow.server, flow.lip,
    { tcp: { srcPort: 80, dstPort: flow.lport, flags: 'SA', seq: 5000, ack: 1001, options: [MSS(serverMss)] } })).outside, 'SYN-ACK outside');
  return { ...flow, syn, synAck };
}

/** The quoted packet of an ICMPv6 error, decoded: its IPv6 header and the ports after it. */
function quoted6(frame: DecodedFrame): { src: string; dst: string; protocol: number; payloadLength: number; hopLimit: number; sport: number; dport: number } {
  const inner = decodeIpv6(frame.icmp6!.payload, true).ipv6!;
  assert.ok(inner, 'an IPv6 header is quoted');
  return { src: inner.src, dst: inner.dst, protocol: inner.protocol, payloadLength: inner.payloadLength, hopLimit: inner.hopLimit,
    sport: inner.payload.readUInt16BE(0), dport: inner.payload.readUInt16BE(2) };
}

test('TCP: SYN CIP6 -> VIP6:80 leaves as IPv4 LIP4:lport -> RIP4:80 (TTL = hop limit - 1, DF, checksums); the SYN-ACK returns as IPv6 with its MSS lowered by 20', async () => {
  await withLab((lab) => {
    const cport = 40000;
    let flow: Flow64 | undefined;
    const d = lab.counterDelta(() => { flow = handshake(lab, cport); });
    const { syn, synAck } = flow!;
    assert.equal(syn.eth, { dst: hostMac(syn.ipv4!.dst), src: PORT_MAC.inside, type: 0x0800 });
    assert.ok(LIPS.includes(syn.ipv4!.src), `src ${syn.ipv4!.src} is an IPv4 LIP`);
    assert.ok(SERVERS.includes(syn.ipv4!.dst), `dst ${syn.ipv4!.dst} is an IPv4 server`);
    assert.is(syn.ipv4!.ttl, 63, 'TTL = hop limit 64 - 1');
    assert.ok(syn.ipv4!.dontFragment, 'DF set (RFC 7915 5.1)');
    assert.not.ok(syn.ipv4!.moreFragments);
    assert.is(syn.ipv4!.protocol, 6);
    assert.is(syn.ipv4!.totalLength, 20 + syn.tcp!.dataOffset * 4, 'IPv4 total length');
    assert.ok(syn.ipv4!.checksumOk, 'IPv4 header checksum');
    assert.ok(syn.tcp!.checksumOk, 'TCP checksum over the IPv4 pseudo-header');
    assert.is(syn.tcp!.dstPort, 80);
    assert.ok(syn.tcp!.srcPort >= 1024, `lport ${syn.tcp!.srcPort}`);
    assert.is(syn.tcp!.seq, 1000);
    assert.is(mssOf(syn), 1440, "the client's MSS (sized for IPv6) stays");
    const conn = allConnections(lab.dp).find((c) => c.client === CLIENT6)!;
    assert.equal([conn.client, conn.virtual, conn.local, conn.server], [CLIENT6, VIP6, syn.ipv4!.src, syn.ipv4!.dst],
      'the record holds both families');

    assert.equal(synAck.eth, { dst: hostMac(CLIENT6), src: PORT_MAC.outside, type: 0x86dd });
    assert.equal([synAck.ipv6!.src, synAck.tcp!.srcPort, synAck.ipv6!.dst, synAck.tcp!.dstPort], [VIP6, 80, CLIENT6, cport]);
    assert.is(synAck.ipv6!.hopLimit, 63, 'hop limit = TTL 64 - 1');
    assert.is(synAck.ipv6!.protocol, 6);
    assert.equal(synAck.ipv6!.extensions, []);
    assert.ok(synAck.tcp!.checksumOk, 'TCP checksum over the IPv6 pseudo-header');
    assert.equal([synAck.tcp!.seq, synAck.tcp!.ack], [5000, 1001]);
    assert.is(mssOf(synAck), 1440, "the server's 1460 lowered by the 20 bytes the header grows");
    expectEvents(d, { conns_created: 1, nat64_mss_lowered: 1, packets_forwarded_in: 1, packets_forwarded_out: 1 });
    expectDrops(d, {});

    // Data both ways on the established connection; the traffic class becomes the TOS and back.
    const payload = Buffer.from('GET / HTTP/1.1\r\n\r\n');
    const data = only(lab.forward('outside', frameFrom6('outside', CLIENT6, VIP6,
      { tcp: { srcPort: cport, dstPort: 80, flags: 'PA', seq: 1001, ack: 5001, payload } }, { trafficClass: 0x28, hopLimit: 9 })).inside, 'data inside');
    assert.equal([data.ipv4!.src, data.tcp!.srcPort, data.ipv4!.dst, data.tcp!.dstPort], [flow!.lip, flow!.lport, flow!.server, 80]);
    assert.equal([data.ipv4!.tos, data.ipv4!.ttl, data.ipv4!.totalLength], [0x28, 8, 20 + 20 + payload.length]);
    assert.ok(data.ipv4!.checksumOk && data.tcp!.checksumOk, 'checksums');
    assert.is(data.tcp!.payload.toString(), payload.toString());
    const answer = Buffer.from('HTTP/1.1 200 OK\r\n\r\n');
    const back = only(lab.forward('inside', frameFrom('inside', flow!.server, flow!.lip,
      { tcp: { srcPort: 80, dstPort: flow!.lport, flags: 'PA', seq: 5001, ack: 1001 + payload.length, payload: answer } },
      { tos: 0x10, dontFragment: true })).outside, 'data outside');
    assert.equal([back.ipv6!.src, back.ipv6!.dst, back.tcp!.dstPort, back.ipv6!.trafficClass], [VIP6, CLIENT6, cport, 0x10]);
    assert.is(back.ipv6!.payloadLength, 20 + answer.length);
    assert.ok(back.tcp!.checksumOk, 'TCP checksum');
    assert.is(back.tcp!.payload.toString(), answer.toString());
    const svc = lab.stats().services.find((s) => s.id === TCP64_SERVICE_ID)!;
    assert.equal([svc.conns, svc.inPackets, svc.outPackets], [1, 2, 2]);
  }, nat64Config());
});

test('extension headers of the client and IPv4 options of the server do not survive the translation', async () => {
  await withLab((lab) => {
    const payload = Buffer.from('with options');
    const inbound = only(lab.forward('outside', frameFrom6('outside', CLIENT6, VIP6, { udp: { srcPort: 5454, dstPort: 7, payload } },
      { extensions: [{ type: 'destOptions' }] satisfies Ipv6Extension[] })).inside, 'UDP inside');
    assert.equal([inbound.ipv4!.ihl, inbound.ipv4!.totalLength, inbound.ipv4!.ttl], [5, 20 + 8 + payload.length, 63],
      'a 20-byte IPv4 header, the destination options gone');
    assert.ok(inbound.ipv4!.checksumOk && inbound.udp!.checksumOk, 'checksums');
    assert.is(inbound.udp!.payload.toString(), payload.toString());
    const recordRoute = Buffer.from([7, 7, 4, 0, 0, 0, 0, 1]);  // record route with one empty slot + end of list
    const back = only(lab.forward('inside', frameFrom('inside', inbound.ipv4!.dst, inbound.ipv4!.src,
      { udp: { srcPort: 7, dstPort: inbound.udp!.srcPort, payload } }, { options: recordRoute })).outside, 'UDP back');
    assert.equal([back.ipv6!.payloadLength, back.ipv6!.extensions.length, back.ipv6!.protocol], [8 + payload.length, 0, 17],
      'IPv4 options dropped (RFC 7915 4.1)');
    assert.equal([back.ipv6!.src, back.ipv6!.dst, back.udp!.dstPort], [VIP6, CLIENT6, 5454]);
    assert.ok(back.udp!.checksumOk);
    assert.is(back.udp!.payload.toString(), payload.toString());
  }, nat64Config());
});

test('UDP both ways: checksum over the other pseudo-header; an IPv4 reply without checksum gets a computed IPv6 one', async () => {
  await withLab((lab) => {
    const payload = Buffer.from('hello nat64');
    const inbound = only(lab.forward('outside', frameFrom6('outside', CLIENT6, VIP6, { udp: { srcPort: 5353, dstPort: 7, payload } })).inside, 'UDP inside');
    assert.ok(LIPS.includes(inbound.ipv4!.src) && SERVERS.includes(inbound.ipv4!.dst), `${inbound.ipv4!.src} -> ${inbound.ipv4!.dst}`);
    assert.equal([inbound.udp!.dstPort, inbound.ipv4!.ttl, inbound.ipv4!.dontFragment], [7, 63, true]);
    assert.ok(inbound.udp!.checksum !== 0 && inbound.udp!.checksumOk, 'UDP checksum over the IPv4 pseudo-header');
    assert.ok(inbound.ipv4!.checksumOk);
    assert.is(inbound.udp!.payload.toString(), payload.toString());

    const reply = (checksum?: number) => frameFrom('inside', inbound.ipv4!.dst, inbound.ipv4!.src,
      { udp: { srcPort: 7, dstPort: inbound.udp!.srcPort, payload, ...(checksum === undefined ? {} : { checksum }) } });
    const back = only(lab.forward('inside', reply()).outside, 'UDP back');
    assert.equal([back.ipv6!.src, back.udp!.srcPort, back.ipv6!.dst, back.udp!.dstPort, back.ipv6!.hopLimit], [VIP6, 7, CLIENT6, 5353, 63]);
    assert.ok(back.udp!.checksum !== 0 && back.udp!.checksumOk, 'UDP checksum');
    const unchecked = only(lab.forward('inside', reply(0)).outside, 'UDP back, sent without checksum');
    assert.ok(unchecked.udp!.checksum !== 0, 'IPv6 requires a UDP checksum (RFC 7915 4.5): computed');
    assert.ok(unchecked.udp!.checksumOk, 'and right');
    assert.is(unchecked.udp!.payload.toString(), payload.toString());
    const svc = lab.stats().services.find((s) => s.id === UDP64_SERVICE_ID)!;
    assert.equal([svc.conns, svc.inPackets, svc.outPackets], [1, 1, 2]);
  }, nat64Config());
});

test('ICMPv4 port unreachable from the server reaches the client as ICMPv6 port unreachable quoting its own packet', async () => {
  await withLab((lab) => {
    const payload = Buffer.from('anyone?');
    const sent = only(lab.forward('outside', frameFrom6('outside', CLIENT6, VIP6, { udp: { srcPort: 5400, dstPort: 7, payload } })).inside, 'UDP inside');
    const server = sent.ipv4!.dst, lip = sent.ipv4!.src;
    const quote = sent.raw.subarray(14, 14 + 20 + 8);  // what a router quotes at least (RFC 792)
    let out = { outside: [], inside: [] } as ReturnType<Lab['forward']>;
    const d = lab.counterDelta(() => {
      out = lab.forward('inside', frameFrom('inside', server, lip, { icmp: { type: ICMP_TYPE.DEST_UNREACH, code: 3, rest: 0, payload: quote } }));
    });
    const error = only(out.outside, 'ICMPv6 to the client');
    assert.equal(error.eth, { dst: hostMac(CLIENT6), src: PORT_MAC.outside, type: 0x86dd });
    assert.equal([error.ipv6!.src, error.ipv6!.dst, error.ipv6!.protocol], [VIP6, CLIENT6, 58]);
    assert.equal([error.icmp6!.type, error.icmp6!.code, error.icmp6!.rest], [1, 4, 0], 'destination unreachable, port unreachable');
    assert.ok(error.icmp6!.checksumOk, 'ICMPv6 checksum over the pseudo-header');
    assert.is(error.ipv6!.payloadLength, 8 + 40 + 8, 'the quote: an IPv6 header and the 8 bytes quoted');
    const q = quoted6(error);
    assert.equal([q.src, q.dst, q.protocol, q.sport, q.dport], [CLIENT6, VIP6, 17, 5400, 7], "the client's own packet");
    assert.is(q.payloadLength, 8 + payload.length, 'its length as the client sent it');
    expectEvents(d, { icmp_errors_to_client: 1 });
    expectDrops(d, {});
  }, nat64Config());
});

test('ICMPv4 fragmentation needed from the server reaches the client as Packet Too Big with MTU + 20', async () => {
  await withLab((lab) => {
    const flow = handshake(lab, 40100);
    const quote = flow.syn.raw.subarray(14, 14 + 20 + 8);
    let out = { outside: [], inside: [] } as ReturnType<Lab['forward']>;
    const d = lab.counterDelta(() => {
      out = lab.forward('inside', frameFrom('inside', '198.19.0.77', flow.lip, { icmp: { type: ICMP_TYPE.DEST_UNREACH, code: 4, rest: 1400, payload: quote } }));
    });
    const ptb = only(out.outside, 'Packet Too Big to the client');
    assert.equal([ptb.ipv6!.src, ptb.ipv6!.dst], [VIP6, CLIENT6]);
    assert.equal([ptb.icmp6!.type, ptb.icmp6!.code, ptb.icmp6!.rest], [2, 0, 1420], 'Packet Too Big, MTU 1400 + 20');
    assert.ok(ptb.icmp6!.checksumOk, 'ICMPv6 checksum');
    const q = quoted6(ptb);
    assert.equal([q.src, q.dst, q.protocol, q.sport, q.dport, q.hopLimit], [CLIENT6, VIP6, 6, 40100, 80, 63]);
    expectEvents(d, { icmp_errors_to_client: 1 });
    expectDrops(d, {});

    // A router that does not say (MTU 0, pre-RFC 1191): the IPv6 minimum.
    const vague = only(lab.forward('inside', frameFrom('inside', '198.19.0.77', flow.lip,
      { icmp: { type: ICMP_TYPE.DEST_UNREACH, code: 4, rest: 0, payload: quote } })).outside, 'PTB, no MTU given');
    assert.is(vague.icmp6!.rest, 1280);
  }, nat64Config());
});

test('ICMPv6 Packet Too Big from the client side reaches the server as fragmentation needed with MTU - 20', async () => {
  await withLab((lab) => {
    const flow = handshake(lab, 40200);
    const quote = flow.synAck.raw.subarray(14);  // our VIP6 -> CIP6 packet, whole
    let out = { outside: [], inside: [] } as ReturnType<Lab['forward']>;
    const d = lab.counterDelta(() => {
      out = lab.forward('outside', frameFrom6('outside', ROUTER6, VIP6, { icmp6: packetTooBig(1400, quote) }));
    });
    const error = only(out.inside, 'ICMPv4 to the server');
    assert.equal(error.eth, { dst: hostMac(flow.server), src: PORT_MAC.inside, type: 0x0800 });
    assert.equal([error.ipv4!.src, error.ipv4!.dst, error.ipv4!.protocol], [flow.lip, flow.server, 1]);
    assert.ok(error.ipv4!.checksumOk, 'IPv4 header checksum');
    assert.equal([error.icmp!.type, error.icmp!.code, error.icmp!.rest & 0xffff], [3, 4, 1380], 'frag needed, MTU 1400 - 20');
    assert.ok(error.icmp!.checksumOk, 'ICMP checksum');
    const inner = error.icmp!.inner!;
    assert.equal([inner.ipv4.src, inner.ipv4.dst, inner.ipv4.protocol, inner.srcPort, inner.dstPort], [flow.server, flow.lip, 6, 80, flow.lport],
      "the server's own SYN-ACK");
    assert.ok(inner.ipv4.checksumOk && inner.ipv4.dontFragment, 'the quoted header is a well-formed DF packet');
    expectEvents(d, { icmp_errors_to_server: 1 });
    expectDrops(d, {});
  }, nat64Config());
});

test('ICMP errors with no counterpart in the other family are counted drops (nat64_icmp_untranslatable)', async () => {
  await withLab((lab) => {
    const flow = handshake(lab, 40300);
    // ICMPv4 parameter problem: its pointer names an IPv4 header field.
    const d4 = lab.counterDelta(() => {
      const out = lab.forward('inside', frameFrom('inside', flow.server, flow.lip,
        { icmp: { type: 12, code: 0, rest: 0x08000000, payload: flow.syn.raw.subarray(14, 14 + 28) } }));
      assert.equal([out.outside.length, out.inside.length], [0, 0], 'nothing sent');
    });
    expectDrops(d4, { nat64_icmp_untranslatable: 1 });
    // ICMPv6 parameter problem, erroneous header field: no IPv4 counterpart either.
    const d6 = lab.counterDelta(() => {
      const out = lab.forward('outside', frameFrom6('outside', ROUTER6, VIP6,
        { icmp6: { type: 4, code: 0, rest: 7, payload: flow.synAck.raw.subarray(14) } }));
      assert.equal([out.outside.length, out.inside.length], [0, 0], 'nothing sent');
    });
    expectDrops(d6, { nat64_icmp_untranslatable: 1 });
  }, nat64Config());
});

test('a server packet that would not fit the outside MTU as IPv6 gets frag-needed with MTU - 20; a client packet too big for the inside as IPv4 gets Packet Too Big', async () => {
  await withLab((lab) => {
    const flow = handshake(lab, 40400);
    const segment = (payloadBytes: number) => frameFrom('inside', flow.server, flow.lip,
      { tcp: { srcPort: 80, dstPort: flow.lport, flags: 'A', seq: 5001, ack: 1001, payload: Buffer.alloc(payloadBytes, 0x61) } },
      { dontFragment: true });
    // 1480 bytes of IPv4 become 1500 of IPv6: they fit.
    const fits = only(lab.forward('inside', segment(1440)).outside, 'a 1480-byte IPv4 segment');
    assert.is(fits.raw.length, 14 + 1500);
    let out = { outside: [], inside: [] } as ReturnType<Lab['forward']>;
    const d = lab.counterDelta(() => { out = lab.forward('inside', segment(1460)); });
    assert.is(out.outside.length, 0, 'a 1500-byte IPv4 segment (1520 as IPv6) is not sent');
    const needed = only(out.inside, 'frag needed to the server');
    assert.equal([needed.ipv4!.src, needed.ipv4!.dst, needed.icmp!.type, needed.icmp!.code, needed.icmp!.rest & 0xffff],
      [flow.lip, flow.server, 3, 4, 1480]);
    assert.ok(needed.icmp!.checksumOk);
    assert.equal([needed.icmp!.inner!.srcPort, needed.icmp!.inner!.dstPort], [80, flow.lport], 'quoting the server its own packet');
    expectDrops(d, { egress_mtu_exceeded: 1 });
    expectEvents(d, { icmp_frag_needed_sent: 1 });
  }, nat64Config());

  // Inside 1280: a 1340-byte IPv6 client packet is 1320 bytes as IPv4.
  await withLab((lab) => {
    const flow = handshake(lab, 40500, 1440, 1240);
    let out = { outside: [], inside: [] } as ReturnType<Lab['forward']>;
    const d = lab.counterDelta(() => {
      out = lab.forward('outside', frameFrom6('outside', CLIENT6, VIP6,
        { tcp: { srcPort: flow.cport, dstPort: 80, flags: 'A', seq: 1001, ack: 5001, payload: Buffer.alloc(1280, 0x62) } }));
    });
    assert.is(out.inside.length, 0);
    const ptb = only(out.outside, 'Packet Too Big to the client');
    assert.equal([ptb.ipv6!.src, ptb.ipv6!.dst, ptb.icmp6!.type, ptb.icmp6!.rest], [VIP6, CLIENT6, 2, 1300], 'MTU 1280 + 20');
    expectDrops(d, { egress_mtu_exceeded: 1 });
    expectEvents(d, { icmp6_packet_too_big_sent: 1 });
  }, nat64Config(), { ports: ports(1500, 1280) });
});

test('family mixes other than NAT64 are refused by the data plane, naming the field', async () => {
  const refused: { field: string; edit: (c: DataplaneConfig) => void; message: string }[] = [
    {
      field: 'services[2].local_addresses[1]',
      edit: (c) => { c.services[2]!.localAddresses[1] = '2001:db8:19::201'; },
      message: 'local address 2001:db8:19::201 is IPv6 but server 198.19.0.1 is IPv4; a NAT64 service (IPv6 VIP, IPv4 servers) reaches its IPv4 servers through IPv4 local addresses only',
    },
    {
      field: 'services[2].servers[2].address',
      edit: (c) => { c.services[2]!.servers[2]!.address = '2001:db8:19::3'; },
      message: 'server 2001:db8:19::3 is IPv6 but server 198.19.0.1 is IPv4; a NAT64 service (IPv6 VIP, IPv4 servers) reaches its IPv4 servers through IPv4 local addresses only',
    },
    {
      field: 'services[2].servers[1].forward',
      edit: (c) => { c.services[2]!.servers[1]!.forward = 'dr'; },
      message: 'dr cannot be used with NAT64 (IPv6 VIP 2001:db8:18::10, IPv4 server 198.19.0.2): only fullnat translates between families',
    },
    {
      field: 'services[0].servers[0].address',
      edit: (c) => { c.services[0]!.servers[0]!.address = '2001:db8:19::1'; },
      message: 'server 2001:db8:19::1 is IPv6 but the VIP 198.18.0.10 is IPv4; a service\'s VIP, local addresses and servers share one family (NAT64 takes an IPv6 VIP with IPv4 servers, not the reverse)',
    },
  ];
  await withLab((lab) => {
    const version = lab.stats().snapshotVersion;
    for (const c of refused) {
      let thrown: (Error & { code?: string }) | undefined;
      try { lab.apply(nat64Config(c.edit)); } catch (e) { thrown = e as Error & { code?: string }; }
      assert.ok(thrown, `${c.field}: accepted`);
      assert.is(thrown.code, 'CONFIG_REJECTED', c.field);
      assert.is(thrown.message, `${c.field}: ${c.message}`);
    }
    lab.dp.step();
    assert.is(lab.stats().snapshotVersion, version, 'no new snapshot');
    handshake(lab, 40600);  // the NAT64 service still forwards
  }, nat64Config());
});

test.run();
