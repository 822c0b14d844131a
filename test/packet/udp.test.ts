// FullNAT UDP both ways through the :7 service; a zero UDP checksum (none) stays zero.
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import {
  CLIENT, LIPS, PORT_MAC, SERVERS, UDP_SERVER_IDS, UDP_SERVICE_ID, VIP, allConnections, clientUdp, expectDrops,
  expectEvents, frameFrom, only, withLab,
} from '../support/golden.js';
import { hostMac } from '../support/packet.js';

const cases = [
  { name: 'with a checksum', checksum: undefined },
  { name: 'with checksum 0 (none), preserved as 0', checksum: 0 },
];

for (const c of cases) {
  test(`UDP CIP:cport -> VIP:7 and the echo back, ${c.name}`, async () => {
    await withLab((lab) => {
      const cport = 5353;
      const payload = Buffer.from('hello over udp');
      let out: ReturnType<typeof lab.forward> = { outside: [], inside: [] };
      const d = lab.counterDelta(() => { out = lab.forward('outside', clientUdp(cport, payload, { checksum: c.checksum })); });
      const inbound = only(out.inside, 'UDP inside');
      assert.equal(inbound.eth, { dst: hostMac(inbound.ipv4!.dst), src: PORT_MAC.inside, type: 0x0800 });
      assert.ok(LIPS.includes(inbound.ipv4!.src), `src ${inbound.ipv4!.src} is a LIP`);
      assert.ok(SERVERS.includes(inbound.ipv4!.dst), `dst ${inbound.ipv4!.dst} is a server`);
      const u = inbound.udp!;
      assert.ok(u.srcPort >= 1024, `lport ${u.srcPort}`);
      assert.is(u.dstPort, 7);
      assert.is(inbound.ipv4!.ttl, 63);
      assert.ok(inbound.ipv4!.checksumOk, 'IP checksum');
      assert.ok(u.checksumOk, 'UDP checksum');
      if (c.checksum === 0) assert.is(u.checksum, 0, 'zero UDP checksum stays zero');
      else assert.is.not(u.checksum, 0);
      assert.is(u.payload.toString(), payload.toString());
      expectEvents(d, { conns_created: 1 });
      expectDrops(d, {});
      const conn = allConnections(lab.dp)[0]!;
      assert.equal([conn.protocol, conn.state, conn.serviceId], ['udp', 'UDP', UDP_SERVICE_ID]);

      // the server echoes back to LIP:lport
      const echo = frameFrom('inside', inbound.ipv4!.dst, inbound.ipv4!.src,
        { udp: { srcPort: 7, dstPort: u.srcPort, payload, checksum: c.checksum } });
      const back = only(lab.forward('inside', echo).outside, 'UDP back outside');
      assert.equal(back.eth, { dst: hostMac(CLIENT), src: PORT_MAC.outside, type: 0x0800 });
      assert.equal([back.ipv4!.src, back.udp!.srcPort, back.ipv4!.dst, back.udp!.dstPort], [VIP, 7, CLIENT, cport]);
      assert.ok(back.ipv4!.checksumOk, 'IP checksum');
      assert.ok(back.udp!.checksumOk, 'UDP checksum');
      if (c.checksum === 0) assert.is(back.udp!.checksum, 0, 'zero UDP checksum stays zero');
      assert.is(back.udp!.payload.toString(), payload.toString());

      const serverId = UDP_SERVER_IDS[SERVERS.indexOf(inbound.ipv4!.dst)]!;
      const stats = lab.stats();
      for (const t of [stats.services.find((s) => s.id === UDP_SERVICE_ID)!, stats.servers.find((s) => s.id === serverId)!]) {
        assert.equal([t.conns, t.inPackets, t.outPackets], [1, 1, 1]);
      }
    });
  });
}

test('UDP: a second datagram on the same tuple uses the same connection; a new cport a new one', async () => {
  await withLab((lab) => {
    const a = only(lab.forward('outside', clientUdp(6000, Buffer.from('a'))).inside, 'first');
    const b = only(lab.forward('outside', clientUdp(6000, Buffer.from('b'))).inside, 'second');
    assert.equal([b.ipv4!.src, b.udp!.srcPort, b.ipv4!.dst], [a.ipv4!.src, a.udp!.srcPort, a.ipv4!.dst]);
    const c = only(lab.forward('outside', clientUdp(6001, Buffer.from('c'))).inside, 'new tuple');
    assert.is.not(c.ipv4!.dst, a.ipv4!.dst, 'rr moved on to the next server');
    assert.is(lab.stats().connections, 2);
  });
});

test('UDP reply to a LIP:lport with no connection -> no_conn', async () => {
  await withLab((lab) => {
    const stray = frameFrom('inside', SERVERS[0]!, LIPS[0]!, { udp: { srcPort: 7, dstPort: 2000, payload: Buffer.from('?') } });
    let n = 0;
    const d = lab.counterDelta(() => { const out = lab.forward('inside', stray); n = out.inside.length + out.outside.length; });
    assert.is(n, 0);
    expectDrops(d, { no_conn: 1 });
  });
});

test.run();
