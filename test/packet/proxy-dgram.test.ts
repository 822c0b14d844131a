// PROXY protocol v2 over UDP (client_address proxy_v2 on a UDP service): every datagram toward
// the server starts with a v2 header — command PROXY (0x21), family/transport 0x12 (UDP over
// IPv4, length 12) or 0x22 (UDP over IPv6, length 36), client and VIP addresses and ports —
// then the client's payload. Replies pass as the server sent them. Over the MTU = counted
// (proxy_dgram_skipped) and sent without. Expected frames are built by the test codec (UDP
// length and checksum computed by it) and compared byte for byte.
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import type { DataplaneConfig } from '../../src/dataplane/types.js';
import {
  CLIENT, CLIENT6, PORT_MAC, UDP_SERVICE_ID, VIP, VIP6, clientUdp, dualStackConfig, expectDrops, expectEvents, expectSameFrame, forwardOne, frameFrom,
  frameFrom6, only, withLab, } from '../support/golden.js';
import { buildFrame, hostMac, ip, ip6, type DecodedFrame } from '../support/packet.js';
import { UDP6_SERVICE_ID, v6Service } from '../support/flow6.js';

const SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);

const CONFIG: DataplaneConfig = dualStackConfig((c) => {
  c.services.find((s) => s.id === UDP_SERVICE_ID)!.clientAddress = 'proxy_v2';
  c.services.push(v6Service(UDP6_SERVICE_ID, 'udp', 7, 71, { clientAddress: 'proxy_v2' }));
});

/** The v2 header spelled out: signature, 0x21, 0x12/0x22, length, addresses, ports. */
function v2Dgram(client: string, cport: number, vip: string, vport: number): Buffer {
  const v6 = client.includes(':');
  const address = (a: string) => (v6 ? ip6(a) : Buffer.from(ip(a).toString(16).padStart(8, '0'), 'hex'));
  const ports = Buffer.from([cport >> 8, cport & 255, vport >> 8, vport & 255]);
  const body = Buffer.concat([address(client), address(vip), ports]);
  return Buffer.concat([SIGNATURE, Buffer.from([0x21, v6 ? 0x22 : 0x12, 0, body.length]), body]);
}

function expectedInside(out: DecodedFrame, payload: Buffer, header: Buffer | null, checksum?: number): Buffer {
  const l3 = out.ipv4 ?? out.ipv6!;
  const udp = { srcPort: out.udp!.srcPort, dstPort: 7, payload: header ? Buffer.concat([header, payload]) : payload, ...(checksum !== undefined ? { checksum } : {}) };
  const eth = { dst: hostMac(l3.dst), src: PORT_MAC.inside };
  return out.ipv6
    ? buildFrame({ eth, ipv6: { src: l3.src, dst: l3.dst, hopLimit: 63 }, udp })
    : buildFrame({ eth, ipv4: { src: l3.src, dst: l3.dst, ttl: 63 }, udp });
}



test('proxy_v2 UDP over IPv4: every datagram (not only the first) starts with the 28-byte DGRAM header (0x21 0x12, length 12); UDP length and checksum right', async () => {
  await withLab((lab) => {
    const cport = 41001;
    for (let n = 1; n <= 5; n++) {
      const payload = Buffer.from(`query ${n}`);
      const { out, d } = forwardOne(lab, clientUdp(cport, payload), `datagram ${n}`);
      expectSameFrame(out, expectedInside(out, payload, v2Dgram(CLIENT, cport, VIP, 7)), `datagram ${n}`);
      assert.ok(out.ipv4!.checksumOk && out.udp!.checksumOk, 'IP and UDP checksums');
      assert.equal([out.udp!.length, out.ipv4!.totalLength], [8 + 28 + payload.length, 20 + 8 + 28 + payload.length]);
      expectEvents(d, n === 1 ? { conns_created: 1, proxy_dgram_added: 1 } : { proxy_dgram_added: 1 });
      expectDrops(d, {});
    }
  }, CONFIG);
});

test('proxy_v2 UDP over IPv4: a UDP checksum of 0 (none) stays 0', async () => {
  await withLab((lab) => {
    const payload = Buffer.from('unchecked');
    const { out } = forwardOne(lab, clientUdp(41011, payload, { checksum: 0 }), 'no checksum');
    expectSameFrame(out, expectedInside(out, payload, v2Dgram(CLIENT, 41011, VIP, 7), 0), 'checksum 0 kept');
  }, CONFIG);
});

test('proxy_v2 UDP over IPv6: 52-byte header (0x21 0x22, length 36, 16-byte addresses) on every datagram; checksum over the IPv6 pseudo-header', async () => {
  await withLab((lab) => {
    for (let n = 1; n <= 2; n++) {
      const payload = Buffer.from(`v6 query ${n}`);
      const { out, d } = forwardOne(lab, frameFrom6('outside', CLIENT6, VIP6, { udp: { srcPort: 41021, dstPort: 7, payload } }), `v6 ${n}`);
      expectSameFrame(out, expectedInside(out, payload, v2Dgram(CLIENT6, 41021, VIP6, 7)), `v6 datagram ${n}`);
      assert.ok(out.udp!.checksumOk);
      expectEvents(d, n === 1 ? { conns_created: 1, proxy_dgram_added: 1 } : { proxy_dgram_added: 1 });
    }
  }, CONFIG);
});

test('proxy_v2 UDP: 1472 bytes of IP + 28 = 1500 carry it; 1473 go without, counted proxy_dgram_skipped (IPv6: 1448 + 52 / 1449)', async () => {
  await withLab((lab) => {
    const fits = forwardOne(lab, clientUdp(41031, Buffer.alloc(1472 - 28, 0x61)), 'fits');
    assert.is(fits.out.ipv4!.totalLength, 1500);
    expectEvents(fits.d, { conns_created: 1, proxy_dgram_added: 1 });
    const over = forwardOne(lab, clientUdp(41031, Buffer.alloc(1473 - 28, 0x62)), 'over');
    expectSameFrame(over.out, expectedInside(over.out, Buffer.alloc(1473 - 28, 0x62), null), 'unchanged');
    expectEvents(over.d, { proxy_dgram_skipped: 1 });
    const fits6 = forwardOne(lab, frameFrom6('outside', CLIENT6, VIP6, { udp: { srcPort: 41032, dstPort: 7, payload: Buffer.alloc(1448 - 48, 0x61) } }), 'fits v6');
    assert.is(40 + fits6.out.ipv6!.payloadLength, 1500);
    expectEvents(fits6.d, { conns_created: 1, proxy_dgram_added: 1 });
    const over6 = forwardOne(lab, frameFrom6('outside', CLIENT6, VIP6, { udp: { srcPort: 41032, dstPort: 7, payload: Buffer.alloc(1449 - 48, 0x62) } }), 'over v6');
    expectSameFrame(over6.out, expectedInside(over6.out, Buffer.alloc(1449 - 48, 0x62), null), 'unchanged v6');
    expectEvents(over6.d, { proxy_dgram_skipped: 1 });
  }, CONFIG);
});

test('proxy_v2 UDP: replies pass as the server sent them, even one that starts with a v2 header (never guessed at, never stripped)', async () => {
  await withLab((lab) => {
    const { out } = forwardOne(lab, clientUdp(41041, Buffer.from('hi')), 'request');
    const l3 = out.ipv4!;
    for (const reply of [Buffer.from('plain answer'), Buffer.concat([v2Dgram('203.0.113.9', 9, VIP, 7), Buffer.from('echoed')])]) {
      const back = only(lab.forward('inside', frameFrom('inside', l3.dst, l3.src, { udp: { srcPort: 7, dstPort: out.udp!.srcPort, payload: reply } })).outside, 'reply');
      assert.equal([back.ipv4!.src, back.udp!.srcPort, back.ipv4!.dst, back.udp!.dstPort], [VIP, 7, CLIENT, 41041]);
      assert.is(back.udp!.payload.toString('hex'), reply.toString('hex'), 'payload untouched');
      assert.ok(back.udp!.checksumOk);
    }
  }, CONFIG);
});

test.run();
