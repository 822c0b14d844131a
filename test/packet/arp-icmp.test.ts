// ARP answers for owned addresses (port addresses, VIPs, LIPs — each on its own side only)
// and ICMP echo for owned addresses.
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import {
  CLIENT, INSIDE_ADDRESS, LIPS, OUTSIDE_ADDRESS, PORT_MAC, SERVERS, VIP, arpRequest, expectDrops, expectEvents,
  frameFrom, show, withLab, type PortName,
} from '../support/golden.js';
import { ARP_OP, ICMP_TYPE, hostMac } from '../support/packet.js';

const arpCases: { name: string; port: PortName; asker: string; target: string; answered: boolean }[] = [
  { name: 'VIP on outside', port: 'outside', asker: CLIENT, target: VIP, answered: true },
  { name: 'outside port address', port: 'outside', asker: CLIENT, target: OUTSIDE_ADDRESS, answered: true },
  { name: 'LIP on inside', port: 'inside', asker: SERVERS[0]!, target: LIPS[0]!, answered: true },
  { name: 'last LIP on inside', port: 'inside', asker: SERVERS[2]!, target: LIPS[3]!, answered: true },
  { name: 'inside port address', port: 'inside', asker: SERVERS[1]!, target: INSIDE_ADDRESS, answered: true },
  { name: 'unowned address on outside', port: 'outside', asker: CLIENT, target: '198.18.0.77', answered: false },
  { name: 'unowned address on inside', port: 'inside', asker: SERVERS[0]!, target: '198.19.0.99', answered: false },
  { name: 'LIP asked on outside', port: 'outside', asker: CLIENT, target: LIPS[0]!, answered: false },
];

for (const c of arpCases) {
  test(`ARP request for ${c.name} -> ${c.answered ? 'reply with the port MAC' : 'no reply, arp_not_for_us'}`, async () => {
    await withLab((lab) => {
      let out: ReturnType<typeof lab.recv> = [];
      const d = lab.counterDelta(() => {
        lab.send(c.port, arpRequest(c.port, c.asker, c.target));
        out = lab.recv(c.port);
      });
      const other = lab.recv(c.port === 'outside' ? 'inside' : 'outside');
      assert.is(other.length, 0, `nothing on the other port: ${show(other)}`);
      if (!c.answered) {
        assert.is(out.length, 0, `no reply expected, got ${show(out)}`);
        expectDrops(d, { arp_not_for_us: 1 });
        return;
      }
      assert.is(out.length, 1, `one reply expected, got ${show(out)}`);
      const reply = out[0]!;
      assert.equal(reply.eth, { dst: hostMac(c.asker), src: PORT_MAC[c.port], type: 0x0806 });
      assert.equal(reply.arp, {
        hardwareType: 1, protocolType: 0x0800, hardwareLength: 6, protocolLength: 4, op: ARP_OP.REPLY,
        senderMac: PORT_MAC[c.port], senderIp: c.target, targetMac: hostMac(c.asker), targetIp: c.asker,
      });
      expectDrops(d, {});
      expectEvents(d, { arp_requests_answered: 1 });
    });
  });
}

const echoCases: { name: string; port: PortName; src: string; dst: string }[] = [
  { name: 'outside port address', port: 'outside', src: CLIENT, dst: OUTSIDE_ADDRESS },
  { name: 'VIP', port: 'outside', src: CLIENT, dst: VIP },
  { name: 'inside port address', port: 'inside', src: SERVERS[0]!, dst: INSIDE_ADDRESS },
];

for (const c of echoCases) {
  test(`ICMP echo to the ${c.name} -> echo reply, id/seq/payload kept, checksums OK`, async () => {
    await withLab((lab) => {
      const payload = Buffer.from('portcullis echo payload 0123456789');
      const request = frameFrom(c.port, c.src, c.dst,
        { icmp: { type: ICMP_TYPE.ECHO_REQUEST, id: 0xbeef, sequence: 7, payload } });
      let out: ReturnType<typeof lab.forward> = { outside: [], inside: [] };
      const d = lab.counterDelta(() => { out = lab.forward(c.port, request); });
      assert.is(out[c.port].length, 1, `one reply expected, got ${show(out[c.port])}`);
      const reply = out[c.port][0]!;
      assert.equal(reply.eth, { dst: hostMac(c.src), src: PORT_MAC[c.port], type: 0x0800 });
      assert.is(reply.ipv4!.src, c.dst);
      assert.is(reply.ipv4!.dst, c.src);
      assert.ok(reply.ipv4!.checksumOk, 'IP checksum');
      assert.ok(reply.ipv4!.ttl > 0);
      const icmp = reply.icmp!;
      assert.is(icmp.type, ICMP_TYPE.ECHO_REPLY);
      assert.is(icmp.code, 0);
      assert.is(icmp.id, 0xbeef);
      assert.is(icmp.sequence, 7);
      assert.is(icmp.payload.toString('hex'), payload.toString('hex'));
      assert.ok(icmp.checksumOk, 'ICMP checksum');
      expectDrops(d, {});
      expectEvents(d, { icmp_echo_answered: 1 });
    });
  });
}

test('ICMP echo to an unowned address is not answered', async () => {
  await withLab((lab) => {
    const request = frameFrom('outside', CLIENT, '198.18.0.77',
      { icmp: { type: ICMP_TYPE.ECHO_REQUEST, id: 1, sequence: 1, payload: Buffer.from('x') } });
    let out: ReturnType<typeof lab.forward> = { outside: [], inside: [] };
    const d = lab.counterDelta(() => { out = lab.forward('outside', request); });
    assert.is(out.outside.length + out.inside.length, 0, show([...out.outside, ...out.inside]));
    expectDrops(d, { not_for_us: 1 });
  });
});

test.run();
