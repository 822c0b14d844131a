// FullNAT TCP both ways: CIP:cport -> VIP:80 becomes LIP:lport -> RIP:80, and back.
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import {
  CLIENT, LIPS, PORT_MAC, SERVERS, TCP_SERVER_IDS, TCP_SERVICE_ID, VIP, allConnections, clientSegment, clientTcp,
  expectDrops, expectEvents, only, openTcp, serverSegment, serverTcp, show, withLab, type Flow,
} from '../support/golden.js';
import { hostMac, tcpFlagsToString, type DecodedFrame, type TcpOption } from '../support/packet.js';

const SYN_OPTIONS: TcpOption[] = [
  { kind: 'mss', value: 1460 }, { kind: 'sackPermitted' }, { kind: 'timestamp', value: 123456, echo: 0 },
  { kind: 'nop' }, { kind: 'ws', shift: 7 },
];

/** Options other than an inserted TOA (kind 254), which FullNAT may add on client->server segments. */
function withoutToa(frame: DecodedFrame): TcpOption[] {
  return frame.tcp!.options.filter((o) => o.kind !== 'toa');
}

/** If a TOA option is present it must carry the client's address and port. */
function checkToa(frame: DecodedFrame, cport: number): void {
  const toa = frame.tcp!.options.find((o) => o.kind === 'toa');
  if (toa && toa.kind === 'toa') assert.equal(toa, { kind: 'toa', port: cport, address: CLIENT }, 'TOA content');
}

function checkInbound(frame: DecodedFrame, sent: { ttl: number; flow?: Flow }): void {
  assert.ok(frame.ipv4 && frame.tcp, `TCP expected: ${show([frame])}`);
  assert.is(frame.eth.src, PORT_MAC.inside, 'src MAC = inside port');
  assert.is(frame.eth.dst, hostMac(frame.ipv4!.dst), 'dst MAC = the server\'s');
  assert.ok(LIPS.includes(frame.ipv4!.src), `src ${frame.ipv4!.src} is a LIP`);
  assert.ok(frame.tcp!.srcPort >= 1024, `lport ${frame.tcp!.srcPort} >= 1024`);
  assert.ok(SERVERS.includes(frame.ipv4!.dst), `dst ${frame.ipv4!.dst} is a real server`);
  assert.is(frame.tcp!.dstPort, 80);
  assert.is(frame.ipv4!.ttl, sent.ttl - 1, 'TTL decremented');
  assert.ok(frame.ipv4!.checksumOk, 'IP checksum');
  assert.ok(frame.tcp!.checksumOk, 'TCP checksum');
  if (sent.flow) {
    assert.is(frame.ipv4!.src, sent.flow.lip);
    assert.is(frame.tcp!.srcPort, sent.flow.lport);
    assert.is(frame.ipv4!.dst, sent.flow.server);
  }
}

function checkOutbound(frame: DecodedFrame, flow: Flow, ttl: number): void {
  assert.ok(frame.ipv4 && frame.tcp, `TCP expected: ${show([frame])}`);
  assert.equal(frame.eth, { dst: hostMac(CLIENT), src: PORT_MAC.outside, type: 0x0800 });
  assert.is(frame.ipv4!.src, VIP);
  assert.is(frame.tcp!.srcPort, 80);
  assert.is(frame.ipv4!.dst, CLIENT);
  assert.is(frame.tcp!.dstPort, flow.cport);
  assert.is(frame.ipv4!.ttl, ttl - 1, 'TTL decremented');
  assert.ok(frame.ipv4!.checksumOk, 'IP checksum');
  assert.ok(frame.tcp!.checksumOk, 'TCP checksum');
}

test('SYN CIP:cport -> VIP:80 leaves inside as LIP:lport -> RIP:80 after ARP, untouched otherwise', async () => {
  await withLab((lab) => {
    const payload = Buffer.from('syn-data');
    const syn = clientTcp(40001, { flags: 'S', seq: 0x11223344, window: 29200, options: SYN_OPTIONS, payload });
    let out: ReturnType<typeof lab.forward> = { outside: [], inside: [] };
    const d = lab.counterDelta(() => { out = lab.forward('outside', syn); });
    assert.is(out.outside.length, 0, `nothing back to the client: ${show(out.outside)}`);
    const sent = only(out.inside, 'SYN inside');
    checkInbound(sent, { ttl: 64 });
    // the data plane ARPed for the chosen server from the inside port, and nothing else
    assert.is(lab.arpRequests.length, 1, `one ARP request: ${show(lab.arpRequests)}`);
    const arp = lab.arpRequests[0]!.arp!;
    assert.is(arp.targetIp, sent.ipv4!.dst);
    assert.is(arp.senderMac, PORT_MAC.inside);
    assert.is(lab.arpRequests[0]!.eth.src, PORT_MAC.inside);
    const t = sent.tcp!;
    assert.is(t.seq, 0x11223344);
    assert.is(t.ack, 0);
    assert.is(t.flagNames, 'S');
    assert.is(t.window, 29200);
    assert.equal(t.options, SYN_OPTIONS);
    assert.is(t.payload.toString(), 'syn-data');
    expectDrops(d, {});
    expectEvents(d, { conns_created: 1 });
    assert.is(lab.stats().connections, 1);
    const conns = allConnections(lab.dp);
    assert.is(conns.length, 1);
    const c = conns[0]!;
    assert.equal(
      [c.protocol, c.client, c.clientPort, c.virtual, c.virtualPort, c.local, c.localPort, c.server, c.serverPort, c.serviceId],
      ['tcp', CLIENT, 40001, VIP, 80, sent.ipv4!.src, t.srcPort, sent.ipv4!.dst, 80, TCP_SERVICE_ID]);
    assert.is(c.state, 'SYN_RECV');
  });
});

test('reply path, handshake, data both ways; per-service and per-server counters match', async () => {
  await withLab((lab) => {
    const cport = 40002;
    const syn = lab.forward('outside', clientTcp(cport, { flags: 'S', seq: 1000, options: [{ kind: 'mss', value: 1460 }] }));
    const inSyn = only(syn.inside, 'SYN');
    const flow: Flow = {
      cport, lip: inSyn.ipv4!.src, lport: inSyn.tcp!.srcPort, server: inSyn.ipv4!.dst, sport: 80,
      clientIsn: 1000, serverIsn: 70000,
    };
    const serverId = TCP_SERVER_IDS[SERVERS.indexOf(flow.server)]!;
    let bytesIn = inSyn.ipv4!.totalLength; // as received: same as sent (no growth on SYN)
    let bytesOut = 0;

    // SYN-ACK RIP:80 -> LIP:lport comes out as VIP:80 -> CIP:cport
    const synAckFrame = serverTcp(flow.server, 80, flow.lip, flow.lport,
      { flags: 'SA', seq: 70000, ack: 1001, window: 64000, options: [{ kind: 'mss', value: 1400 }, { kind: 'nop' }, { kind: 'ws', shift: 6 }] });
    bytesOut += synAckFrame.length - 14;
    const synAck = only(lab.forward('inside', synAckFrame).outside, 'SYN-ACK');
    checkOutbound(synAck, flow, 64);
    assert.is(synAck.tcp!.flagNames, 'SA');
    assert.is(synAck.tcp!.seq, 70000);
    assert.is(synAck.tcp!.ack, 1001);
    assert.is(synAck.tcp!.window, 64000);
    // MSS may be lowered by the TOA length (8) when TOA is on; nothing else changes
    const mss = synAck.tcp!.options.find((o) => o.kind === 'mss');
    assert.ok(mss && mss.kind === 'mss' && (mss.value === 1400 || mss.value === 1392), `MSS ${JSON.stringify(mss)}`);
    assert.equal(synAck.tcp!.options.filter((o) => o.kind !== 'mss'), [{ kind: 'nop' }, { kind: 'ws', shift: 6 }]);

    // client ACK completes the handshake
    const ackFrame = clientSegment(flow, {});
    bytesIn += ackFrame.length - 14;
    const ack = only(lab.forward('outside', ackFrame).inside, 'ACK');
    checkInbound(ack, { ttl: 64, flow });
    assert.is(ack.tcp!.flagNames, 'A');
    assert.is(ack.tcp!.seq, 1001);
    assert.is(ack.tcp!.ack, 70001);
    assert.equal(withoutToa(ack), []);
    checkToa(ack, cport);
    assert.is(allConnections(lab.dp)[0]!.state, 'ESTABLISHED');

    // data client -> server
    const request = Buffer.from('GET / HTTP/1.1\r\nHost: portcullis\r\n\r\n');
    const dataInFrame = clientSegment(flow, { flags: 'PA', payload: request });
    bytesIn += dataInFrame.length - 14;
    const dataIn = only(lab.forward('outside', dataInFrame).inside, 'client data');
    checkInbound(dataIn, { ttl: 64, flow });
    assert.is(dataIn.tcp!.flagNames, 'PA');
    assert.is(dataIn.tcp!.seq, 1001);
    assert.is(dataIn.tcp!.payload.toString(), request.toString());
    checkToa(dataIn, cport);

    // data server -> client
    const response = Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    const dataOutFrame = serverSegment(flow, { flags: 'PA', ack: 1001 + request.length, payload: response });
    bytesOut += dataOutFrame.length - 14;
    const dataOut = only(lab.forward('inside', dataOutFrame).outside, 'server data');
    checkOutbound(dataOut, flow, 64);
    assert.is(dataOut.tcp!.seq, 70001);
    assert.is(dataOut.tcp!.ack, 1001 + request.length);
    assert.is(dataOut.tcp!.payload.toString(), response.toString());

    const stats = lab.stats();
    const service = stats.services.find((s) => s.id === TCP_SERVICE_ID)!;
    const server = stats.servers.find((s) => s.id === serverId)!;
    for (const [name, t] of [['service', service], ['server', server]] as const) {
      assert.ok(t, `${name} stats present`);
      assert.is(t.conns, 1, `${name} conns`);
      assert.is(t.inPackets, 3, `${name} inPackets (SYN, ACK, data)`);
      assert.is(t.outPackets, 2, `${name} outPackets (SYN-ACK, data)`);
      assert.is(t.inBytes, bytesIn, `${name} inBytes (IP total length as received)`);
      assert.is(t.outBytes, bytesOut, `${name} outBytes`);
      assert.is(t.activeConns, 1, `${name} activeConns`);
      assert.is(t.inactiveConns, 0, `${name} inactiveConns`);
    }
    for (const other of TCP_SERVER_IDS.filter((id) => id !== serverId)) {
      const s = stats.servers.find((x) => x.id === other)!;
      assert.is(s.inPackets + s.outPackets + s.conns, 0, `server ${other} untouched`);
    }
    expectEvents(stats, { packets_forwarded_in: 3 });
    expectEvents(stats, { packets_forwarded_out: 2 });
  });
});

test('a second SYN for the same client tuple reuses the connection (retransmission)', async () => {
  await withLab((lab) => {
    const first = only(lab.forward('outside', clientTcp(40003, { flags: 'S', seq: 5 })).inside, 'SYN');
    let again: DecodedFrame | undefined;
    const d = lab.counterDelta(() => {
      again = only(lab.forward('outside', clientTcp(40003, { flags: 'S', seq: 5 })).inside, 'SYN again');
    });
    assert.is(again!.ipv4!.src, first.ipv4!.src);
    assert.is(again!.tcp!.srcPort, first.tcp!.srcPort);
    assert.is(again!.ipv4!.dst, first.ipv4!.dst);
    assert.is(d.events.conns_created ?? 0, 0);
    assert.is(lab.stats().connections, 1);
  });
});

test('established flow keeps its LIP:lport and server for every packet', async () => {
  await withLab((lab) => {
    const flow = openTcp(lab, 40004);
    for (let i = 0; i < 5; i++) {
      const seg = only(lab.forward('outside', clientSegment(flow, { flags: 'PA', seq: 1001 + i, payload: Buffer.from([i]) })).inside, `seg ${i}`);
      checkInbound(seg, { ttl: 64, flow });
      const back = only(lab.forward('inside', serverSegment(flow, { ack: 1002 + i })).outside, `ack ${i}`);
      checkOutbound(back, flow, 64);
    }
  });
});

test('a RST from the server is relayed to the client, closes the connection and counts tcp_resets_from_server', async () => {
  await withLab((lab) => {
    const flow = openTcp(lab, 40005);
    let rst: DecodedFrame | undefined;
    const d = lab.counterDelta(() => {
      rst = only(lab.forward('inside', serverSegment(flow, { flags: 'R' })).outside, 'server RST');
    });
    checkOutbound(rst!, flow, 64);
    assert.ok(tcpFlagsToString(rst!.tcp!.flags).includes('R'), show([rst!]));
    expectEvents(d, { tcp_resets_from_server: 1 });
    assert.is(d.events.tcp_resets_from_client ?? 0, 0);
    const client = openTcp(lab, 40006);
    const d2 = lab.counterDelta(() => { only(lab.forward('outside', clientSegment(client, { flags: 'R' })).inside, 'client RST'); });
    expectEvents(d2, { tcp_resets_from_client: 1 });
  });
});

test.run();
