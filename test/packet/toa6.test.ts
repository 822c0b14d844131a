// TOA for IPv6 clients on FullNAT v6: kind 254, length 20 (port + 16-byte address, the layout
// DPVS's TOA module reads), the checksum over the IPv6 pseudo-header, the SYN-ACK MSS lowered
// by 20, the room and MTU checks with 20 bytes, and no client-made TOA option (253/254) passing.
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import type { DataplaneConfig } from '../../src/dataplane/types.js';
import { CLIENT6, PORT_MAC, dualStackConfig, expectDrops, expectEvents, expectSameFrame, only, withLab, type Flow } from '../support/golden.js';
import { buildFrame, hostMac, ip6, type DecodedFrame, type TcpOption, type TcpSpec } from '../support/packet.js';
import { clientSegment6, serverSegment6, TCP6_SERVICE_ID, untilSynAck6, v6Service } from '../support/flow6.js';
import { toaKindBytes, toaModuleReads } from '../support/tcp-receiver.js';

const TOA6_CONFIG: DataplaneConfig = dualStackConfig((c) => {
  c.services.push(v6Service(TCP6_SERVICE_ID, 'tcp', 80, 61, { clientAddress: 'toa' }));
});

/** The frame the gateway must send inside for a client segment on flow, carrying `options`. */
function expectedInside(flow: Flow, tcp: Partial<TcpSpec>, options: TcpOption[] | Buffer): Buffer {
  return buildFrame({
    eth: { dst: hostMac(flow.server), src: PORT_MAC.inside },
    ipv6: { src: flow.lip, dst: flow.server, hopLimit: 63 },
    tcp: { srcPort: flow.lport, dstPort: flow.sport, flags: 'A', seq: flow.clientIsn + 1, ack: flow.serverIsn + 1, ...tcp, options },
  });
}

/** The 20 option bytes spelled out: kind 254, length 20, port, the client's 16 address bytes. */
function toaBytes(cport: number): Buffer {
  return Buffer.concat([Buffer.from([254, 20, cport >> 8, cport & 255]), ip6(CLIENT6)]);
}


test('TOA v6: the handshake ACK grows by the 20-byte option: exact bytes, doff 10, payload length 40, TCP checksum', async () => {
  await withLab((lab) => {
    const { flow } = untilSynAck6(lab, 43001);
    let inside: DecodedFrame[] = [];
    const d = lab.counterDelta(() => { inside = lab.forward('outside', clientSegment6(flow, {})).inside; });
    const ack = only(inside, 'ACK inside');
    expectSameFrame(ack, expectedInside(flow, {}, [{ kind: 'toa', port: flow.cport, address: CLIENT6 }]), 'exact frame');
    assert.equal(ack.tcp!.optionBytes, toaBytes(flow.cport), 'kind 254, length 20, port, IPv6 address');
    assert.is(ack.tcp!.dataOffset, 10);
    assert.is(ack.ipv6!.payloadLength, 20 + 20);
    assert.ok(ack.tcp!.checksumOk, 'TCP checksum over the IPv6 pseudo-header');
    assert.equal(toaModuleReads([ack]).address, `${CLIENT6}:${flow.cport}`, 'what the server\'s TOA module reads');
    expectEvents(d, { toa_added: 1 });
    expectDrops(d, {});
  }, TOA6_CONFIG);
});

test('TOA v6: the first data segment carries it in front of its own options; later segments do not', async () => {
  await withLab((lab) => {
    const { flow } = untilSynAck6(lab, 43002);
    only(lab.forward('outside', clientSegment6(flow, {})).inside, 'handshake ACK');
    const timestamp: TcpOption[] = [{ kind: 'nop' }, { kind: 'nop' }, { kind: 'timestamp', value: 7, echo: 9 }];
    const payload = Buffer.from('GET / HTTP/1.1\r\n\r\n');
    let first: DecodedFrame[] = [];
    const d = lab.counterDelta(() => { first = lab.forward('outside', clientSegment6(flow, { flags: 'PA', options: timestamp, payload })).inside; });
    const segment = only(first, 'first data segment');
    expectSameFrame(segment, expectedInside(flow, { flags: 'PA', payload }, [{ kind: 'toa', port: flow.cport, address: CLIENT6 }, ...timestamp]), 'exact frame');
    assert.is(segment.tcp!.dataOffset, 13);
    expectEvents(d, { toa_added: 1 });
    const next = only(lab.forward('outside', clientSegment6(flow, { flags: 'PA', seq: flow.clientIsn + 1 + payload.length, options: timestamp, payload })).inside, 'second');
    assert.equal(next.tcp!.options, timestamp, 'no TOA on the second data segment');
    assert.ok(next.tcp!.checksumOk);
  }, TOA6_CONFIG);
});

test('TOA v6: the server SYN-ACK MSS is lowered by 20 (1440 -> 1420), checksum kept right', async () => {
  await withLab((lab) => {
    let synAck: DecodedFrame | undefined;
    const d = lab.counterDelta(() => { synAck = untilSynAck6(lab, 43003, 1440).synAck; });
    assert.equal(synAck!.tcp!.options.filter((o) => o.kind === 'mss'), [{ kind: 'mss', value: 1420 }]);
    assert.ok(synAck!.tcp!.checksumOk, 'TCP checksum after the MSS change');
    expectEvents(d, { toa_mss_lowered: 1 });
  }, TOA6_CONFIG);
});

test('TOA v6: room for 20 option bytes — 20 bytes of client options fit (doff 15), 24 do not (toa_no_room), then the next segment carries it', async () => {
  await withLab((lab) => {
    const { flow } = untilSynAck6(lab, 43004);
    const tight = lab.counterDelta(() => {
      const ack = only(lab.forward('outside', clientSegment6(flow, { options: Buffer.alloc(24, 1) })).inside, 'ACK with 24 option bytes');
      expectSameFrame(ack, expectedInside(flow, {}, Buffer.alloc(24, 1)), 'forwarded unchanged (an IPv4 client\'s 8 bytes would have fit)');
    });
    expectEvents(tight, { toa_no_room: 1 });
    assert.is(tight.events.toa_added, undefined);
    const fits = lab.counterDelta(() => {
      const ack = only(lab.forward('outside', clientSegment6(flow, { options: Buffer.alloc(20, 1) })).inside, 'ACK with 20 option bytes');
      expectSameFrame(ack, expectedInside(flow, {}, Buffer.concat([toaBytes(flow.cport), Buffer.alloc(20, 1)])), 'ours in front');
      assert.is(ack.tcp!.dataOffset, 15);
    });
    expectEvents(fits, { toa_added: 1 });
  }, TOA6_CONFIG);
});

test('TOA v6: a segment that would exceed the port MTU (1500) with 20 more bytes passes without it (toa_over_mtu); one that fits exactly gets it', async () => {
  await withLab((lab) => {
    const { flow } = untilSynAck6(lab, 43005);
    const over = Buffer.alloc(1500 - 40 - 20 - 19, 0x61);  // 1481 bytes of IPv6: 1501 with the option
    const d = lab.counterDelta(() => {
      const segment = only(lab.forward('outside', clientSegment6(flow, { flags: 'PA', payload: over })).inside, 'segment');
      expectSameFrame(segment, expectedInside(flow, { flags: 'PA', payload: over }, []), 'unchanged');
    });
    expectEvents(d, { toa_over_mtu: 1 });
    assert.is(d.events.toa_added, undefined);
    const exact = Buffer.alloc(1500 - 40 - 20 - 20, 0x62);  // 1480 bytes: 1500 with the option
    const e = lab.counterDelta(() => {
      const segment = only(lab.forward('outside', clientSegment6(flow, { flags: 'PA', payload: exact })).inside, 'segment');
      assert.is(40 + segment.ipv6!.payloadLength, 1500);
      assert.equal(segment.tcp!.optionBytes, toaBytes(flow.cport));
      assert.ok(segment.tcp!.checksumOk);
    });
    expectEvents(e, { toa_added: 1 });
  }, TOA6_CONFIG);
});

test('TOA v6: client-made options of kinds 254 (IPv4 and IPv6 shapes) and 253 are blanked; ours goes in front; the server reads the real client', async () => {
  await withLab((lab) => {
    const { flow } = untilSynAck6(lab, 43006);
    const forged: TcpOption[] = [
      { kind: 'toa', port: 6666, address: '2001:db8:66::6' },            // 254/20, DPVS IPv6 layout
      { kind: 'raw', type: 253, data: Buffer.alloc(18, 7) },             // 253/20, Alibaba LVS IPv6 layout
    ];
    let inside: DecodedFrame[] = [];
    const full = lab.counterDelta(() => { inside = lab.forward('outside', clientSegment6(flow, { options: forged })).inside; });
    const ack = only(inside, 'handshake ACK with 40 forged bytes');
    expectSameFrame(ack, expectedInside(flow, {}, Buffer.alloc(40, 1)), 'both blanked to NOPs, no room for ours');
    assert.is(toaModuleReads([ack]).address, undefined, 'the server reads nothing forged');
    expectEvents(full, { toa_client_option_removed: 2 });
    expectEvents(full, { toa_no_room: 1 });
    assert.ok(ack.tcp!.checksumOk);

    const one: TcpOption[] = [{ kind: 'toa', port: 6666, address: '6.6.6.6' }, { kind: 'nop' }, { kind: 'nop' }, { kind: 'nop' }, { kind: 'nop' }];
    const next = lab.counterDelta(() => { inside = lab.forward('outside', clientSegment6(flow, { options: one })).inside; });
    const carried = only(inside, 'next ACK');
    expectSameFrame(carried, expectedInside(flow, {}, Buffer.concat([toaBytes(flow.cport), Buffer.alloc(12, 1)])), 'ours in front, the client\'s blanked');
    assert.equal(toaKindBytes(carried, { address: CLIENT6, port: flow.cport }), [], 'no other TOA-kind byte');
    assert.equal(toaModuleReads([carried]).address, `${CLIENT6}:${flow.cport}`);
    expectEvents(next, { toa_client_option_removed: 1 });
    expectEvents(next, { toa_added: 1 });
  }, TOA6_CONFIG);
});

test('TOA v6: server segments pass unchanged apart from the translation (no option, no MSS change after the SYN-ACK)', async () => {
  await withLab((lab) => {
    const { flow } = untilSynAck6(lab, 43007);
    const payload = Buffer.from('HTTP/1.1 200 OK\r\n\r\n');
    const back = only(lab.forward('inside', serverSegment6(flow, { flags: 'PA', payload, options: [{ kind: 'mss', value: 1440 }] })).outside, 'reply');
    assert.equal(back.tcp!.options, [{ kind: 'mss', value: 1440 }], 'an MSS option outside a SYN-ACK is left alone');
    assert.equal(back.tcp!.payload, payload);
    assert.ok(back.tcp!.checksumOk);
  }, TOA6_CONFIG);
});

test.run();
