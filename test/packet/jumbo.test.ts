// Jumbo frames (ports[].mtu up to 9000): receive buffers that hold a whole 9000-byte frame,
// FullNAT + TOA rewrites of 9000-byte segments in both directions, the MSS each side hears
// when the ports' MTUs differ, DF packets too big for the egress port, chained frames, and
// an MTU a device cannot take refused naming ports[i].mtu.
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import type { DataplaneAddon, StartOptions } from '../../src/dataplane/types.js';
import {
  CLIENT, EAL_ARGS, PORT_MAC, TCP_SERVICE_ID, clientTcp, expectDrops, expectEvents, labConfig, only, serverTcp, show,
  startOptions, synThrough, withLab, type Flow, type Lab,
} from '../support/golden.js';
import { hostMac, type DecodedFrame, type TcpOption } from '../support/packet.js';

// 9 KiB buffers: a small pool, so the suite fits beside the others in the shared 256 MB EAL.
const JUMBO_TEST_MBUFS = 2047;

const TOA_CONFIG = labConfig((config) => {
  config.services.find((s) => s.id === TCP_SERVICE_ID)!.clientAddress = 'toa';
});

function ports(outsideMtu: number, insideMtu: number): NonNullable<StartOptions['ports']> {
  return [
    { name: 'outside', device: 'ring', mac: PORT_MAC.outside, mtu: outsideMtu },
    { name: 'inside', device: 'ring', mac: PORT_MAC.inside, mtu: insideMtu },
  ];
}

const mssOf = (frame: DecodedFrame): number | undefined =>
  frame.tcp!.options.flatMap((o) => (o.kind === 'mss' ? [o.value] : []))[0];

/** SYN (client MSS) and SYN-ACK (server MSS) through the gateway, then the client's ACK. */
function handshake(lab: Lab, cport: number, clientMss: number, serverMss: number): { flow: Flow; syn: DecodedFrame; synAck: DecodedFrame } {
  const out = lab.forward('outside', clientTcp(cport, { flags: 'S', seq: 1000, options: [{ kind: 'mss', value: clientMss }] }));
  const syn = only(out.inside, 'SYN inside');
  const flow: Flow = { cport, lip: syn.ipv4!.src, lport: syn.tcp!.srcPort, server: syn.ipv4!.dst, sport: syn.tcp!.dstPort, clientIsn: 1000, serverIsn: 50000 };
  const synAck = only(lab.forward('inside', serverTcp(flow.server, flow.sport, flow.lip, flow.lport, {
    flags: 'SA', seq: flow.serverIsn, ack: flow.clientIsn + 1, options: [{ kind: 'mss', value: serverMss }],
  })).outside, 'SYN-ACK outside');
  only(lab.forward('outside', clientTcp(cport, { flags: 'A', seq: flow.clientIsn + 1, ack: flow.serverIsn + 1 })).inside, 'ACK inside');
  return { flow, syn, synAck };
}

function assertChecksums(frame: DecodedFrame, what: string): void {
  assert.ok(frame.ipv4!.checksumOk, `${what}: IPv4 header checksum`);
  assert.ok(frame.tcp!.checksumOk, `${what}: TCP checksum (pseudo-header and all ${frame.tcp!.payload.length} payload bytes)`);
}

test('MTU 9000 on both ports, TOA on: 9000-byte segments cross whole both ways, rewritten, checksums right', async () => {
  await withLab((lab) => {
    const { flow, syn, synAck } = handshake(lab, 42001, 8960, 8960);
    assert.is(mssOf(syn), 8960, 'the server hears the client MSS unclamped (both ports 9000)');
    assert.is(mssOf(synAck), 8952, 'the client hears the server MSS lowered for TOA only');

    // Client -> server: the first data segment, 8952 bytes of payload, grows by TOA to exactly 9000.
    const upload = Buffer.alloc(8952, 0x75);
    let inside: DecodedFrame[] = [];
    const up = lab.counterDelta(() => {
      inside = lab.forward('outside', clientTcp(flow.cport, { flags: 'PA', seq: flow.clientIsn + 1, ack: flow.serverIsn + 1, payload: upload })).inside;
    });
    expectDrops(up, {}, 'a 9014-byte frame on a 9000-MTU port');
    const toServer = only(inside, 'client segment inside');
    assert.is(toServer.ipv4!.totalLength, 9000);
    assert.is(toServer.raw.length, 14 + 9000);
    assert.equal([toServer.ipv4!.src, toServer.ipv4!.dst, toServer.tcp!.srcPort], [flow.lip, flow.server, flow.lport]);
    assert.equal(toServer.tcp!.options, [{ kind: 'toa', port: flow.cport, address: CLIENT }] satisfies TcpOption[]);
    assert.ok(toServer.tcp!.payload.equals(upload), 'payload intact');
    assertChecksums(toServer, 'client segment');
    expectEvents(up, { toa_added: 1 });

    // Server -> client: a full 9000-byte segment (DF, as Linux sends) back through FullNAT.
    const download = Buffer.alloc(8960);
    for (let i = 0; i < download.length; i++) download[i] = (i * 7) & 0xff;
    let outside: DecodedFrame[] = [];
    const down = lab.counterDelta(() => {
      outside = lab.forward('inside', serverTcp(flow.server, flow.sport, flow.lip, flow.lport,
        { flags: 'A', seq: flow.serverIsn + 1, ack: flow.clientIsn + 1 + upload.length, payload: download })).outside;
    });
    const toClient = only(outside, 'server segment outside');
    assert.is(toClient.ipv4!.totalLength, 9000);
    assert.equal([toClient.eth.dst, toClient.ipv4!.src, toClient.ipv4!.dst, toClient.tcp!.srcPort, toClient.tcp!.dstPort],
      [hostMac(CLIENT), '198.18.0.10', CLIENT, 80, flow.cport]);
    assert.ok(toClient.tcp!.payload.equals(download), 'payload intact');
    assertChecksums(toClient, 'server segment');
    expectDrops(down, {});
  }, TOA_CONFIG, { ports: ports(9000, 9000), mbufs: JUMBO_TEST_MBUFS });
});

test('inside 9000, outside 1500: the client hears MSS <= 1460, the server its own; TOA grows a 1500-byte client segment without toa_over_mtu', async () => {
  await withLab((lab) => {
    let result: ReturnType<typeof handshake> | undefined;
    const d = lab.counterDelta(() => { result = handshake(lab, 42002, 1460, 8960); });
    const { flow, syn, synAck } = result!;
    assert.is(mssOf(syn), 1460, 'client MSS passes (fits both ports)');
    assert.is(mssOf(synAck), 1452, 'server 8960 clamped to the outside port (1460), then lowered 8 for TOA');
    assertChecksums(synAck, 'clamped SYN-ACK');
    expectEvents(d, { mss_clamped: 1, toa_mss_lowered: 1 });

    // A client that ignores MSS clamping still gets its SYN clamped for the server's sake.
    const big = only(lab.forward('outside', clientTcp(42003, { flags: 'S', seq: 7, options: [{ kind: 'nop' }, { kind: 'mss', value: 8960 }] })).inside, 'SYN');
    assert.is(mssOf(big), 1460, 'a client MSS bigger than the outside port allows is clamped to it');
    assertChecksums(big, 'clamped SYN (MSS at an odd offset)');

    const payload = Buffer.alloc(1460, 0x61);  // 1500 bytes of IP: +8 still fits the 9000 inside port
    let inside: DecodedFrame[] = [];
    const up = lab.counterDelta(() => {
      inside = lab.forward('outside', clientTcp(flow.cport, { flags: 'PA', seq: flow.clientIsn + 1, ack: flow.serverIsn + 1, payload })).inside;
    });
    const segment = only(inside, 'first data segment');
    assert.is(segment.ipv4!.totalLength, 1508);
    assertChecksums(segment, 'TOA segment');
    expectEvents(up, { toa_added: 1 });
    assert.is(up.events.toa_over_mtu, undefined);
  }, TOA_CONFIG, { ports: ports(1500, 9000), mbufs: JUMBO_TEST_MBUFS });
});

test('inside 9000, outside 1500: a 9000-byte DF segment toward the client is refused with ICMP frag-needed (MTU 1500) to the server; without DF it is fragmented', async () => {
  await withLab((lab) => {
    const { flow } = handshake(lab, 42004, 1460, 1460);
    const payload = Buffer.alloc(8960, 0x62);
    const segment = (df: boolean) => serverTcp(flow.server, flow.sport, flow.lip, flow.lport,
      { flags: 'A', seq: flow.serverIsn + 1, ack: flow.clientIsn + 1, payload });
    let out: ReturnType<Lab['forward']> | undefined;
    const d = lab.counterDelta(() => { out = lab.forward('inside', withDontFragment(segment(true))); });
    assert.is(out!.outside.length, 0, `nothing oversize leaves outside: ${show(out!.outside)}`);
    const icmp = only(out!.inside, 'ICMP to the server');
    assert.equal([icmp.ipv4!.src, icmp.ipv4!.dst, icmp.icmp!.type, icmp.icmp!.code], [flow.lip, flow.server, 3, 4]);
    assert.is(icmp.icmp!.rest & 0xffff, 1500, 'next-hop MTU = the outside port MTU');
    assert.ok(icmp.icmp!.checksumOk);
    assert.equal([icmp.icmp!.inner!.ipv4.src, icmp.icmp!.inner!.ipv4.dst, icmp.icmp!.inner!.srcPort, icmp.icmp!.inner!.dstPort],
      [flow.server, flow.lip, flow.sport, flow.lport], 'quotes the segment as the server sent it');
    expectDrops(d, { egress_mtu_exceeded: 1 });
    expectEvents(d, { icmp_frag_needed_sent: 1 });

    const f = lab.counterDelta(() => { out = lab.forward('inside', segment(false)); });
    assert.ok(out!.outside.length >= 7, `fragments outside: ${out!.outside.length}`);
    for (const piece of out!.outside) assert.ok(piece.ipv4!.totalLength <= 1500 && piece.ipv4!.checksumOk);
    expectDrops(f, {});
    expectEvents(f, { frag_refragmented: 1 });
  }, TOA_CONFIG, { ports: ports(1500, 9000), mbufs: JUMBO_TEST_MBUFS });
});

/** The frame with the IPv4 DF bit set (header checksum fixed up). */
function withDontFragment(frame: Buffer): Buffer {
  const b = Buffer.from(frame);
  b[14 + 6] = b[14 + 6]! | 0x40;
  b.writeUInt16BE(0, 14 + 10);
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += b.readUInt16BE(14 + i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  b.writeUInt16BE(~sum & 0xffff, 14 + 10);
  return b;
}

test('a frame longer than the receive buffer arrives chained and drops as rx_segmented (1500 ports keep 2048-byte buffers)', async () => {
  for (const [mtu, length, whole] of [[1500, 2100, false], [9000, 2100, true], [9000, 9200, false]] as const) {
    await withLab((lab) => {
      const flow = synThrough(lab, 42010);
      const payload = Buffer.alloc(length - 14 - 40, 0x63);
      let out: ReturnType<Lab['forward']> | undefined;
      const d = lab.counterDelta(() => {
        out = lab.forward('outside', clientTcp(flow.cport, { flags: 'PA', seq: flow.clientIsn + 1, ack: 1, payload }));
      });
      if (whole) {
        expectDrops(d, {}, `MTU ${mtu}: a ${length}-byte frame fits one buffer`);
        assert.is(only(out!.inside, 'forwarded').ipv4!.totalLength, length - 14);
      } else {
        expectDrops(d, { rx_segmented: 1 }, `MTU ${mtu}: a ${length}-byte frame`);
        assert.is(out!.inside.length, 0);
      }
    }, labConfig(), { ports: ports(mtu, mtu), mbufs: JUMBO_TEST_MBUFS });
  }
});

test('an MTU the device cannot carry is refused naming ports[i].mtu; the next start works', async () => {
  let dp: DataplaneAddon | undefined;
  await withLab((lab) => { dp = lab.dp; }, null);
  const options: StartOptions = {
    ...startOptions(EAL_ARGS), mode: 'test',
    ports: [ports(1500, 1500)[0]!, { name: 'inside', device: 'net_af_packet9,iface=lo,framesz=2048', mtu: 9000 }],
  };
  assert.throws(() => dp!.start(options), (error: Error & { code?: string }) =>
    error.code === 'PORT_FAILED' && /^ports\[1\]\.mtu: 9000 cannot be honoured by port "inside".*framesz >= 9084.*framesz=2048/.test(error.message));
  assert.throws(() => dp!.stats(), /not started/, 'the refused start left nothing running');
  // Slots that do not tile the block would be misread by the PMD after the first block: refused too.
  const misTiled: StartOptions = { ...options, ports: [options.ports[0]!, { name: 'inside', device: 'net_af_packet9,iface=lo,blocksz=36864,framesz=9088', mtu: 9000 }] };
  assert.throws(() => dp!.start(misTiled), (error: Error & { code?: string }) =>
    error.code === 'PORT_FAILED' && /^ports\[1\]\.device: .*blocksz=36864 is not a multiple of framesz=9088/.test(error.message));
  await withLab((lab) => {
    const flow = synThrough(lab, 42020);
    assert.is(flow.server.startsWith('198.19.0.'), true);
  }, labConfig(), { ports: ports(1500, 9000), mbufs: JUMBO_TEST_MBUFS });
});

test.run();
