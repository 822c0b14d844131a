// ICMPv6 echo (RFC 4443 4.1/4.2) for owned IPv6 addresses: the reply is built in the request's
// buffer, its checksum covers the IPv6 pseudo-header, extension headers are not echoed back,
// Ethernet padding is not either. On-link requesters are resolved by neighbour discovery first.
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import {
  CLIENT6, INSIDE_ADDRESS6, OUTSIDE_ADDRESS6, PORT_MAC, SERVERS6, dualStackConfig, echoRequest6, expectDrops, expectEvents,
  frameFrom6, only, show, withLab, type PortName,
} from '../support/golden.js';
import { ICMP6_TYPE, hostMac, type Ipv6Extension } from '../support/packet.js';

const cases: { name: string; port: PortName; src: string; dst: string }[] = [
  { name: 'outside port address from an on-link client', port: 'outside', src: CLIENT6, dst: OUTSIDE_ADDRESS6 },
  { name: 'inside port address from an on-link server', port: 'inside', src: SERVERS6[2]!, dst: INSIDE_ADDRESS6 },
];

for (const c of cases) {
  test(`ICMPv6 echo to the ${c.name} -> NS resolves it, echo reply with id/seq/payload kept, checksum OK`, async () => {
    await withLab((lab) => {
      const payload = Buffer.from('portcullis echo6 payload 0123456789');
      const request = frameFrom6(c.port, c.src, c.dst, { icmp6: { type: ICMP6_TYPE.ECHO_REQUEST, id: 0x1234, sequence: 9, payload } });
      let out: ReturnType<typeof lab.forward> = { outside: [], inside: [] };
      const d = lab.counterDelta(() => { out = lab.forward(c.port, request); });
      assert.is(lab.ndSolicitations.length, 1, 'the requester was resolved first');
      const reply = only(out[c.port], 'echo reply');
      assert.equal(reply.eth, { dst: hostMac(c.src), src: PORT_MAC[c.port], type: 0x86dd });
      assert.is(reply.ipv6!.src, c.dst);
      assert.is(reply.ipv6!.dst, c.src);
      assert.is(reply.ipv6!.hopLimit, 64);
      assert.is(reply.ipv6!.payloadLength, 8 + payload.length);
      assert.equal(reply.icmp6 && { type: reply.icmp6.type, code: reply.icmp6.code, id: reply.icmp6.id, sequence: reply.icmp6.sequence },
        { type: ICMP6_TYPE.ECHO_REPLY, code: 0, id: 0x1234, sequence: 9 });
      assert.ok(reply.icmp6!.checksumOk, 'checksum over the pseudo-header verifies');
      assert.equal(reply.icmp6!.payload, payload);
      expectDrops(d, {});
      expectEvents(d, { icmp6_echo_answered: 1, nd_solicitations_sent: 1, nd_advertisements_learned: 1 });
    }, dualStackConfig());
  });
}

test('echo from off-link (no IPv6 route yet): the reply goes back to the MAC it came from, no NS', async () => {
  await withLab((lab) => {
    const far = '2001:db8:77::5';
    const d = lab.counterDelta(() => lab.send('outside', echoRequest6(OUTSIDE_ADDRESS6, 1, 2, Buffer.from('far'), far)));
    const reply = only(lab.recv('outside'), 'echo reply');
    assert.equal(reply.eth, { dst: hostMac(far), src: PORT_MAC.outside, type: 0x86dd });
    assert.is(reply.ipv6!.dst, far);
    assert.ok(reply.icmp6!.checksumOk);
    expectDrops(d, {});
    expectEvents(d, { icmp6_echo_answered: 1 });
  }, dualStackConfig());
});

test('echo with extension headers (destination options with a skippable option, routing with 0 segments left) and Ethernet padding -> bare reply', async () => {
  await withLab((lab) => {
    const far = '2001:db8:77::6';
    const extensions: Ipv6Extension[] = [
      { type: 'hopByHop' },
      { type: 'destOptions', options: Buffer.from([0x1e, 2, 0xaa, 0xbb]) }, // unknown, top bits 00: skip
      { type: 'routing', routingType: 4, segmentsLeft: 0 },
    ];
    const request = Buffer.concat([echoRequest6(OUTSIDE_ADDRESS6, 5, 6, Buffer.from('ab'), far, { extensions }), Buffer.alloc(20)]);
    const d = lab.counterDelta(() => lab.send('outside', request));
    const reply = only(lab.recv('outside'), 'echo reply');
    assert.is(reply.ipv6!.extensions.length, 0, show([reply]));
    assert.is(reply.ipv6!.nextHeader, 58);
    assert.is(reply.raw.length, 14 + 40 + 8 + 2, 'neither the extension headers nor the padding came back');
    assert.is(reply.icmp6!.type, ICMP6_TYPE.ECHO_REPLY);
    assert.equal(reply.icmp6!.payload, Buffer.from('ab'));
    assert.ok(reply.icmp6!.checksumOk);
    expectDrops(d, {});
    expectEvents(d, { icmp6_echo_answered: 1 });
  }, dualStackConfig());
});

test.run();
