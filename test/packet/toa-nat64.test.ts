// TOA on NAT64: an IPv6 client reaches an IPv6 VIP served by IPv4 servers; the segments that
// reach the IPv4 server carry kind 254 length 20 with the client's IPv6 port and address (the
// DPVS TOA layout, whatever family the server's own header has), inside an IPv4 header whose
// lengths and checksums hold; the server's SYN-ACK MSS is lowered by the option's 20 bytes and
// by NAT64's 20 header bytes; the room and MTU checks count the IPv4 segment as it leaves.
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import type { DataplaneConfig, DataplaneService } from '../../src/dataplane/types.js';
import {
  CLIENT6, IPVS_TIMEOUTS, LIPS, PORT_MAC, SERVERS, VIP6, dualStackConfig, expectDrops, expectEvents, frameFrom, frameFrom6,
  only, show, withLab, type Lab,
} from '../support/golden.js';
import { buildFrame, hostMac, ip6, type DecodedFrame, type TcpOption, type TcpSpec } from '../support/packet.js';
import { toaModuleReads } from '../support/tcp-receiver.js';

const TOA64_SERVICE_ID = 64;
const CLIENT_ISN = 1000;
const SERVER_ISN = 5000;

function toa64Config(edit?: (s: DataplaneService) => void): DataplaneConfig {
  return dualStackConfig((c) => {
    const service: DataplaneService = {
      id: TOA64_SERVICE_ID, protocol: 'tcp', vip: VIP6, port: 80, scheduler: 'rr', localAddresses: [...LIPS],
      timeouts: { ...IPVS_TIMEOUTS }, clientAddress: 'toa',
      servers: SERVERS.map((address, i) => ({ id: 81 + i, address, port: 80, weight: 1 })),
    };
    edit?.(service);
    c.services.push(service);
  });
}

interface Flow64 { cport: number; lip: string; lport: number; server: string; syn: DecodedFrame; synAck: DecodedFrame }

const fromClient = (cport: number, tcp: Partial<TcpSpec>): Buffer =>
  frameFrom6('outside', CLIENT6, VIP6, { tcp: { srcPort: cport, dstPort: 80, ...tcp } });
const fromServer = (f: Flow64, tcp: Partial<TcpSpec>): Buffer =>
  frameFrom('inside', f.server, f.lip, { tcp: { srcPort: 80, dstPort: f.lport, ...tcp } });
const clientSegment = (f: Flow64, tcp: Partial<TcpSpec>): Buffer =>
  fromClient(f.cport, { flags: 'A', seq: CLIENT_ISN + 1, ack: SERVER_ISN + 1, ...tcp });

/** SYN in (IPv6 → IPv4) and the server's SYN-ACK (MSS serverMss) back as IPv6. */
function untilSynAck(lab: Lab, cport: number, serverMss = 1460): Flow64 {
  const syn = only(lab.forward('outside', fromClient(cport, { flags: 'S', seq: CLIENT_ISN, options: [{ kind: 'mss', value: 1440 }] })).inside, 'SYN inside');
  assert.ok(syn.ipv4, `the SYN leaves as IPv4: ${show([syn])}`);
  const flow = { cport, lip: syn.ipv4!.src, lport: syn.tcp!.srcPort, server: syn.ipv4!.dst, syn };
  const synAck = only(lab.forward('inside', fromServer({ ...flow, synAck: syn },
    { flags: 'SA', seq: SERVER_ISN, ack: CLIENT_ISN + 1, options: [{ kind: 'mss', value: serverMss }] })).outside, 'SYN-ACK outside');
  return { ...flow, synAck };
}

/** The IPv4 frame the server must receive for a client segment on flow, carrying `options`. */
function expectedInside(f: Flow64, tcp: Partial<TcpSpec>, options: TcpOption[] | Buffer): Buffer {
  return buildFrame({
    eth: { dst: hostMac(f.server), src: PORT_MAC.inside },
    ipv4: { src: f.lip, dst: f.server, ttl: 63, dontFragment: true },
    tcp: { srcPort: f.lport, dstPort: 80, flags: 'A', seq: CLIENT_ISN + 1, ack: SERVER_ISN + 1, ...tcp, options },
  });
}

/** Kind 254, length 20, the client's port, its 16 address bytes. */
const toaBytes = (cport: number): Buffer => Buffer.concat([Buffer.from([254, 20, cport >> 8, cport & 255]), ip6(CLIENT6)]);

function checkIpv4(f: DecodedFrame, what: string): void {
  assert.ok(f.ipv4 && f.tcp, `${what}: IPv4 TCP expected: ${show([f])}`);
  assert.ok(f.ipv4!.checksumOk, `${what}: IPv4 header checksum`);
  assert.ok(f.tcp!.checksumOk, `${what}: TCP checksum over the IPv4 pseudo-header`);
  assert.is(f.ipv4!.totalLength, 20 + f.tcp!.dataOffset * 4 + f.tcp!.payload.length, `${what}: IPv4 total length`);
}

test('TOA on NAT64: the server SYN-ACK MSS is lowered by 20 for the option and 20 for the IPv6 header (1460 → 1420); the SYN goes without the option', async () => {
  await withLab((lab) => {
    let flow: Flow64 | undefined;
    const d = lab.counterDelta(() => { flow = untilSynAck(lab, 44001, 1460); });
    assert.equal(flow!.syn.tcp!.options, [{ kind: 'mss', value: 1440 }], 'a SYN carries no TOA (TOA modules read the ACK that completes the handshake)');
    checkIpv4(flow!.syn, 'SYN');
    const synAck = flow!.synAck;
    assert.ok(synAck.ipv6, 'the SYN-ACK returns as IPv6');
    assert.equal(synAck.tcp!.options, [{ kind: 'mss', value: 1420 }]);
    assert.ok(synAck.tcp!.checksumOk, 'TCP checksum after both MSS changes and the translation');
    expectEvents(d, { toa_mss_lowered: 1 });
    expectEvents(d, { nat64_mss_lowered: 1 });
    expectDrops(d, {});
    // What the client may send with the MSS it was offered fits the inside MTU with the option.
    const largest = Buffer.alloc(1420, 0x61);
    const e = lab.counterDelta(() => {
      const segment = only(lab.forward('outside', clientSegment(flow!, { flags: 'PA', payload: largest })).inside, 'a full-size segment');
      checkIpv4(segment, 'full-size segment');
      assert.equal(segment.tcp!.optionBytes, toaBytes(flow!.cport));
      assert.ok(segment.ipv4!.totalLength <= 1500, `${segment.ipv4!.totalLength} bytes`);
    });
    expectEvents(e, { toa_added: 1 });
  }, toa64Config());
});

test('TOA on NAT64: the handshake ACK reaches the IPv4 server with kind 254 length 20 (port + IPv6 address): exact bytes, doff 10, IPv4 lengths and checksums', async () => {
  await withLab((lab) => {
    const flow = untilSynAck(lab, 44002);
    let inside: DecodedFrame[] = [];
    const d = lab.counterDelta(() => { inside = lab.forward('outside', clientSegment(flow, {})).inside; });
    const ack = only(inside, 'ACK inside');
    assert.is(ack.raw.toString('hex'), expectedInside(flow, {}, [{ kind: 'toa', port: flow.cport, address: CLIENT6 }]).toString('hex'), `exact frame: ${show([ack])}`);
    checkIpv4(ack, 'handshake ACK');
    assert.equal(ack.tcp!.optionBytes, toaBytes(flow.cport), 'kind 254, length 20, port, IPv6 address');
    assert.is(ack.tcp!.dataOffset, 10);
    assert.is(ack.ipv4!.totalLength, 20 + 40);
    assert.equal(toaModuleReads([ack]).address, `${CLIENT6}:${flow.cport}`, 'what the server\'s TOA module reads');
    expectEvents(d, { toa_added: 1 });
    expectDrops(d, {});
  }, toa64Config());
});

test('TOA on NAT64: the first data segment carries it in front of its own options (handshake ACK lost); later segments and server segments do not', async () => {
  await withLab((lab) => {
    const flow = untilSynAck(lab, 44003);
    const timestamp: TcpOption[] = [{ kind: 'nop' }, { kind: 'nop' }, { kind: 'timestamp', value: 7, echo: 9 }];
    const payload = Buffer.from('GET / HTTP/1.1\r\n\r\n');
    let inside: DecodedFrame[] = [];
    const d = lab.counterDelta(() => { inside = lab.forward('outside', clientSegment(flow, { flags: 'PA', options: timestamp, payload })).inside; });
    const first = only(inside, 'first data');
    assert.is(first.raw.toString('hex'),
      expectedInside(flow, { flags: 'PA', payload }, [{ kind: 'toa', port: flow.cport, address: CLIENT6 }, ...timestamp]).toString('hex'), `exact frame: ${show([first])}`);
    checkIpv4(first, 'first data');
    assert.is(first.tcp!.dataOffset, 13);
    assert.equal(toaModuleReads([first]).address, `${CLIENT6}:${flow.cport}`);
    expectEvents(d, { toa_added: 1 });
    const next = only(lab.forward('outside', clientSegment(flow, { flags: 'PA', seq: CLIENT_ISN + 1 + payload.length, options: timestamp, payload })).inside, 'second data');
    assert.equal(next.tcp!.options, timestamp, 'no TOA on the second data segment');
    checkIpv4(next, 'second data');
    const back = only(lab.forward('inside', fromServer(flow, { flags: 'PA', seq: SERVER_ISN + 1, ack: CLIENT_ISN + 1 + 2 * payload.length, payload })).outside, 'reply');
    assert.ok(back.ipv6, 'the reply returns as IPv6');
    assert.equal(back.tcp!.options, [], 'nothing added toward the client');
    assert.ok(back.tcp!.checksumOk);
  }, toa64Config());
});

test('TOA on NAT64: client-made kind 254/253 options are blanked before ours goes in front; a bad checksum on the segment that would carry it is dropped', async () => {
  await withLab((lab) => {
    const flow = untilSynAck(lab, 44004);
    const forged: TcpOption[] = [{ kind: 'toa', port: 6666, address: '6.6.6.6' }, { kind: 'nop' }, { kind: 'nop' }, { kind: 'nop' }, { kind: 'nop' }];
    const bad = Buffer.from(clientSegment(flow, { options: forged }));
    const checksumAt = 14 + 40 + 16;
    bad[checksumAt] = bad[checksumAt]! ^ 0x5a;
    let seen: DecodedFrame[] = [];
    const d = lab.counterDelta(() => { seen = lab.forward('outside', bad).inside; });
    assert.is(seen.length, 0, `a corrupted segment is not blessed with a fresh checksum: ${show(seen)}`);
    expectDrops(d, { client_address_bad_checksum: 1 });
    const e = lab.counterDelta(() => { seen = lab.forward('outside', clientSegment(flow, { options: forged })).inside; });
    const ack = only(seen, 'retransmitted ACK');
    assert.is(ack.raw.toString('hex'), expectedInside(flow, {}, Buffer.concat([toaBytes(flow.cport), Buffer.alloc(12, 1)])).toString('hex'),
      `ours in front, the client's blanked to NOPs: ${show([ack])}`);
    assert.equal(toaModuleReads([ack]).address, `${CLIENT6}:${flow.cport}`);
    expectEvents(e, { toa_client_option_removed: 1 });
    expectEvents(e, { toa_added: 1 });
  }, toa64Config());
});

test('TOA on NAT64: the MTU check counts the IPv4 segment as it leaves (inside MTU 1400) — 1380 bytes of IPv4 get the option, 1381 go without it (toa_over_mtu)', async () => {
  await withLab((lab) => {
    const flow = untilSynAck(lab, 44005);
    const over = Buffer.alloc(1400 - 20 - 20 - 19, 0x61);  // 1381 bytes as IPv4 (1401 as IPv6): 1401 with the option
    const d = lab.counterDelta(() => {
      const segment = only(lab.forward('outside', clientSegment(flow, { flags: 'PA', payload: over })).inside, 'segment');
      assert.is(segment.raw.toString('hex'), expectedInside(flow, { flags: 'PA', payload: over }, []).toString('hex'), 'unchanged but for the translation');
    });
    expectEvents(d, { toa_over_mtu: 1 });
    assert.is(d.events.toa_added, undefined);
    const exact = Buffer.alloc(1400 - 20 - 20 - 20, 0x62);
    const e = lab.counterDelta(() => {
      const segment = only(lab.forward('outside', clientSegment(flow, { flags: 'PA', payload: exact })).inside, 'segment');
      checkIpv4(segment, 'exact fit');
      assert.is(segment.ipv4!.totalLength, 1400);
      assert.equal(segment.tcp!.optionBytes, toaBytes(flow.cport));
    });
    expectEvents(e, { toa_added: 1 });
  }, toa64Config(), { ports: [
    { name: 'outside', device: 'ring', mac: PORT_MAC.outside, mtu: 1500 },
    { name: 'inside', device: 'ring', mac: PORT_MAC.inside, mtu: 1400 },
  ] });
});

test.run();
