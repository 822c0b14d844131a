// UOA (DPVS's UDP option of address) on FullNAT UDP: the exact frames a UOA module reads.
// uoa_ipo: IPv4 option 31, length 8, client port + address, right after the fixed header.
// uoa_opp: protocol 248 header (version, protocol 17, length) + the same option (length 8,
// or 20 for an IPv6 client) between the IP and UDP headers. The first uoa_datagrams datagrams
// of a connection carry it, the next ones do not; no room / over the MTU = counted and sent
// without (the count only moves when it went in). Checksums: every expected frame is built
// by the test codec (IP header checksum over the options, UDP over the ordinary pseudo-header
// with protocol 17) and compared byte for byte, and decoded again on their own.
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import type { DataplaneConfig } from '../../src/dataplane/types.js';
import {
  CLIENT, CLIENT6, PORT_MAC, UDP_SERVICE_ID, VIP6, clientUdp, dualStackConfig, expectDrops, expectEvents, expectSameFrame, forwardOne, frameFrom,
  frameFrom6, labConfig, VIP, withLab, } from '../support/golden.js';
import { buildFrame, buildUdp, decodeUdp, hostMac, ip, ip6, type DecodedFrame, type Ipv6Extension } from '../support/packet.js';
import { UDP6_SERVICE_ID, v6Service } from '../support/flow6.js';

const OPP = 248;

function uoaConfig(mode: 'uoa_ipo' | 'uoa_opp', uoaDatagrams?: number): DataplaneConfig {
  return dualStackConfig((c) => {
    const udp = c.services.find((s) => s.id === UDP_SERVICE_ID)!;
    udp.clientAddress = mode;
    if (uoaDatagrams !== undefined) udp.uoaDatagrams = uoaDatagrams;
    if (mode === 'uoa_opp') c.services.push(v6Service(UDP6_SERVICE_ID, 'udp', 7, 71, { clientAddress: 'uoa_opp', ...(uoaDatagrams ? { uoaDatagrams } : {}) }));
  });
}

/** The UOA option: type 31, length, port, address (IPv4: 8 bytes, IPv6: 20). */
function uoaOption(client: string, cport: number): Buffer {
  const address = client.includes(':') ? ip6(client) : Buffer.from(ip(client).toString(16).padStart(8, '0'), 'hex');
  return Buffer.concat([Buffer.from([31, 4 + address.length, cport >> 8, cport & 255]), address]);
}

/** The protocol-248 header + option: version (1 IPv4, 2 IPv6) << 4, protocol 17, length. */
function oppHeader(client: string, cport: number): Buffer {
  const option = uoaOption(client, cport);
  const length = 4 + option.length;
  return Buffer.concat([Buffer.from([(client.includes(':') ? 2 : 1) << 4, 17, length >> 8, length & 255]), option]);
}

interface Leg { lip: string; lport: number; server: string }
function legOf(frame: DecodedFrame): Leg {
  const l3 = frame.ipv4 ?? frame.ipv6!;
  return { lip: l3.src, server: l3.dst, lport: frame.udp ? frame.udp.srcPort : readLport(frame) };
}
/** The lport of a frame whose UDP header sits behind a 248 header. */
function readLport(frame: DecodedFrame): number {
  const payload = (frame.ipv4 ?? frame.ipv6!).payload;
  return payload.readUInt16BE(payload.readUInt16BE(2));
}

/** What the server must receive: the client's datagram translated, carrying `carriage`. */
function expected(leg: Leg, payload: Buffer, carriage: 'none' | 'ipo' | 'opp', client = CLIENT, cport = 0): Buffer {
  const v6 = leg.server.includes(':');
  const eth = { dst: hostMac(leg.server), src: PORT_MAC.inside };
  const udp = { srcPort: leg.lport, dstPort: 7, payload };
  if (carriage === 'opp') {
    const l4 = Buffer.concat([oppHeader(client, cport), buildUdp(udp, leg.lip, leg.server)]);
    return v6
      ? buildFrame({ eth, ipv6: { src: leg.lip, dst: leg.server, hopLimit: 63, protocol: OPP }, payload: l4 })
      : buildFrame({ eth, ipv4: { src: leg.lip, dst: leg.server, ttl: 63, protocol: OPP }, payload: l4 });
  }
  if (v6) return buildFrame({ eth, ipv6: { src: leg.lip, dst: leg.server, hopLimit: 63 }, udp });
  const options = carriage === 'ipo' ? uoaOption(client, cport) : undefined;
  return buildFrame({ eth, ipv4: { src: leg.lip, dst: leg.server, ttl: 63, ...(options ? { options } : {}) }, udp });
}



/** The UDP header + payload behind a 248 header, decoded with its checksum checked over protocol 17. */
function udpBehindOpp(frame: DecodedFrame) {
  const l3 = frame.ipv4 ?? frame.ipv6!;
  const oppLength = l3.payload.readUInt16BE(2);
  const { udp, error } = decodeUdp(l3.payload.subarray(oppLength), l3.src, l3.dst);
  assert.ok(udp && !error, `UDP behind the 248 header: ${error}`);
  return udp!;
}

test('uoa_ipo: the first 3 datagrams (DPVS\'s default) carry option 31/8 with the client\'s port and address, the 4th goes without; IP and UDP checksums right', async () => {
  await withLab((lab) => {
    const cport = 40001;
    let leg: Leg | undefined;
    for (let n = 1; n <= 4; n++) {
      const payload = Buffer.from(`datagram ${n}`);
      const { out, d } = forwardOne(lab, clientUdp(cport, payload), `datagram ${n}`);
      leg ??= legOf(out);
      expectSameFrame(out, expected(leg, payload, n <= 3 ? 'ipo' : 'none', CLIENT, cport), `datagram ${n}`);
      assert.ok(out.ipv4!.checksumOk && out.udp!.checksumOk, 'IP and UDP checksums');
      if (n <= 3) {
        assert.equal([out.ipv4!.ihl, out.ipv4!.totalLength], [7, 20 + 8 + 8 + payload.length], 'IHL 7, total length grown by 8');
        expectEvents(d, n === 1 ? { conns_created: 1, uoa_added: 1 } : { uoa_added: 1 });
      } else {
        expectEvents(d, {});
      }
      expectDrops(d, {});
    }
  }, uoaConfig('uoa_ipo'));
});

test('uoa_ipo with uoa_datagrams 1: only the first datagram carries it; every new connection starts again', async () => {
  await withLab((lab) => {
    for (const cport of [40011, 40012]) {
      const first = forwardOne(lab, clientUdp(cport, Buffer.from('a')), 'first');
      expectSameFrame(first.out, expected(legOf(first.out), Buffer.from('a'), 'ipo', CLIENT, cport), 'first');
      const second = forwardOne(lab, clientUdp(cport, Buffer.from('b')), 'second');
      expectSameFrame(second.out, expected(legOf(first.out), Buffer.from('b'), 'none'), 'second');
      expectEvents(second.d, {});
    }
  }, uoaConfig('uoa_ipo', 1));
});

test('uoa_ipo: no option room (40 bytes of client options) = uoa_no_room, sent without, and the next datagram still gets it', async () => {
  await withLab((lab) => {
    const cport = 40021;
    const options = Buffer.alloc(40, 1);  // 40 NOPs: the IPv4 header is full
    const full = frameFrom('outside', CLIENT, VIP, { udp: { srcPort: cport, dstPort: 7, payload: Buffer.from('full') } }, { options });
    const { out, d } = forwardOne(lab, full, 'full header');
    const leg = legOf(out);
    const translated = buildFrame({
      eth: { dst: hostMac(leg.server), src: PORT_MAC.inside },
      ipv4: { src: leg.lip, dst: leg.server, ttl: 63, options },
      udp: { srcPort: leg.lport, dstPort: 7, payload: Buffer.from('full') },
    });
    expectSameFrame(out, translated, 'without UOA');
    expectEvents(d, { conns_created: 1, uoa_no_room: 1 });
    for (let n = 0; n < 3; n++) {
      const next = forwardOne(lab, clientUdp(cport, Buffer.from('next')), 'next');
      expectSameFrame(next.out, expected(leg, Buffer.from('next'), 'ipo', CLIENT, cport), `next ${n}: the count moved only when it went in`);
      expectEvents(next.d, { uoa_added: 1 });
    }
  }, uoaConfig('uoa_ipo'));
});

test('uoa_ipo: 1492 bytes of IP get the option (1500 after), 1493 go without as uoa_over_mtu (port MTU 1500)', async () => {
  await withLab((lab) => {
    const over = forwardOne(lab, clientUdp(40031, Buffer.alloc(1493 - 28, 0x62)), 'over');
    expectSameFrame(over.out, expected(legOf(over.out), Buffer.alloc(1493 - 28, 0x62), 'none'), 'unchanged');
    expectEvents(over.d, { conns_created: 1, uoa_over_mtu: 1 });
    const fits = forwardOne(lab, clientUdp(40031, Buffer.alloc(1492 - 28, 0x61)), 'fits');
    assert.is(fits.out.ipv4!.totalLength, 1500);
    expectSameFrame(fits.out, expected(legOf(over.out), Buffer.alloc(1492 - 28, 0x61), 'ipo', CLIENT, 40031), 'grown to 1500');
    expectEvents(fits.d, { uoa_added: 1 });
  }, uoaConfig('uoa_ipo'));
});

test('a client\'s own option 31 never reaches a server: NOPs on any UDP service (uoa_client_option_removed), ours first on a UOA one', async () => {
  const forged = Buffer.from([31, 8, 0x01, 0x02, 10, 9, 8, 7]);
  const blanked = Buffer.alloc(8, 1);
  for (const mode of ['none', 'uoa_ipo'] as const) {
    await withLab((lab) => {
      const frame = frameFrom('outside', CLIENT, VIP, { udp: { srcPort: 40041, dstPort: 7, payload: Buffer.from('x') } }, { options: forged });
      const { out, d } = forwardOne(lab, frame, 'forged');
      const leg = legOf(out);
      const options = mode === 'uoa_ipo' ? Buffer.concat([uoaOption(CLIENT, 40041), blanked]) : blanked;
      expectSameFrame(out, buildFrame({
        eth: { dst: hostMac(leg.server), src: PORT_MAC.inside },
        ipv4: { src: leg.lip, dst: leg.server, ttl: 63, options },
        udp: { srcPort: leg.lport, dstPort: 7, payload: Buffer.from('x') },
      }), `${mode}: forged option blanked`);
      assert.ok(out.ipv4!.checksumOk, 'header checksum follows');
      if (mode === 'uoa_ipo') expectEvents(d, { conns_created: 1, uoa_client_option_removed: 1, uoa_added: 1 });
      else expectEvents(d, { conns_created: 1, uoa_client_option_removed: 1 });
    }, mode === 'none' ? labConfig() : uoaConfig('uoa_ipo'));
  }
});

test('uoa_opp IPv4: protocol 248, header 0x10 17 len 12 + option 31/8; UDP checksum over protocol 17 verifies; the 4th datagram is plain UDP', async () => {
  await withLab((lab) => {
    const cport = 40051;
    let leg: Leg | undefined;
    for (let n = 1; n <= 4; n++) {
      const payload = Buffer.from(`opp ${n}`);
      const { out, d } = forwardOne(lab, clientUdp(cport, payload), `datagram ${n}`);
      leg ??= legOf(out);
      expectSameFrame(out, expected(leg, payload, n <= 3 ? 'opp' : 'none', CLIENT, cport), `datagram ${n}`);
      assert.ok(out.ipv4!.checksumOk, 'IP header checksum');
      if (n <= 3) {
        assert.equal([out.ipv4!.protocol, out.ipv4!.totalLength], [OPP, 20 + 12 + 8 + payload.length]);
        const udp = udpBehindOpp(out);
        assert.ok(udp.checksumOk, 'UDP checksum (pseudo-header protocol 17, UDP length)');
        assert.is(udp.payload.toString(), payload.toString());
      } else {
        assert.ok(out.udp!.checksumOk);
      }
      expectEvents(d, n === 1 ? { conns_created: 1, uoa_added: 1 } : n <= 3 ? { uoa_added: 1 } : {});
    }
  }, uoaConfig('uoa_opp'));
});

test('uoa_opp IPv4: 1488 bytes of IP get the 12-byte header, 1489 go without as uoa_over_mtu; a UDP checksum of 0 stays 0', async () => {
  await withLab((lab) => {
    const over = forwardOne(lab, clientUdp(40061, Buffer.alloc(1489 - 28, 0x62)), 'over');
    const leg = legOf(over.out);
    expectSameFrame(over.out, expected(leg, Buffer.alloc(1489 - 28, 0x62), 'none'), 'unchanged');
    expectEvents(over.d, { conns_created: 1, uoa_over_mtu: 1 });
    const fits = forwardOne(lab, clientUdp(40061, Buffer.alloc(1488 - 28, 0x61)), 'fits');
    assert.is(fits.out.ipv4!.totalLength, 1500);
    expectSameFrame(fits.out, expected(leg, Buffer.alloc(1488 - 28, 0x61), 'opp', CLIENT, 40061), 'grown to 1500');
    const none = forwardOne(lab, clientUdp(40061, Buffer.from('no sum'), { checksum: 0 }), 'no checksum');
    assert.is(none.out.ipv4!.payload.readUInt16BE(12 + 6), 0, 'UDP checksum 0 (none) stays 0');
    expectEvents(none.d, { uoa_added: 1 });
  }, uoaConfig('uoa_opp'));
});

test('uoa_opp IPv6: next header 248, header 0x20 17 len 24 + option 31/20 with the 16-byte client; UDP checksum over the IPv6 pseudo-header verifies', async () => {
  await withLab((lab) => {
    const cport = 40071;
    const payload = Buffer.from('over ipv6');
    const { out, d } = forwardOne(lab, frameFrom6('outside', CLIENT6, VIP6, { udp: { srcPort: cport, dstPort: 7, payload } }), 'v6');
    assert.equal([out.ipv6!.nextHeader, out.ipv6!.payloadLength], [OPP, 24 + 8 + payload.length]);
    const leg = legOf(out);
    expectSameFrame(out, expected(leg, payload, 'opp', CLIENT6, cport), 'exact frame');
    assert.ok(udpBehindOpp(out).checksumOk, 'UDP checksum');
    expectEvents(d, { conns_created: 1, uoa_added: 1 });
    // 1500 - 40 - 24 = 1436 bytes of UDP fit; one more does not.
    const over = forwardOne(lab, frameFrom6('outside', CLIENT6, VIP6, { udp: { srcPort: cport, dstPort: 7, payload: Buffer.alloc(1437 - 8) } }), 'over');
    expectSameFrame(over.out, expected(leg, Buffer.alloc(1437 - 8), 'none'), 'over the MTU: unchanged');
    expectEvents(over.d, { uoa_over_mtu: 1 });
    const fits = forwardOne(lab, frameFrom6('outside', CLIENT6, VIP6, { udp: { srcPort: cport, dstPort: 7, payload: Buffer.alloc(1436 - 8) } }), 'fits');
    assert.is(40 + fits.out.ipv6!.payloadLength, 1500);
    expectEvents(fits.d, { uoa_added: 1 });
  }, uoaConfig('uoa_opp'));
});

test('uoa_opp IPv6 behind an extension header (a destination-options header, an atomic fragment) = uoa_no_room, forwarded without', async () => {
  const extensions: Ipv6Extension[][] = [[{ type: 'destOptions' }], [{ type: 'fragment', offset: 0, more: false, id: 7 }]];
  for (const chain of extensions) {
    await withLab((lab) => {
      const { out, d } = forwardOne(lab, frameFrom6('outside', CLIENT6, VIP6, { udp: { srcPort: 40081, dstPort: 7, payload: Buffer.from('ext') } }, { extensions: chain }), chain[0]!.type);
      assert.is(out.ipv6!.protocol, 17, 'plain UDP');
      assert.ok(out.udp!.checksumOk);
      expectEvents(d, { conns_created: 1, uoa_no_room: 1 });
    }, uoaConfig('uoa_opp'));
  }
});

test.run();
