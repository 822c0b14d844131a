// IPv6 neighbour discovery (RFC 4861) and ICMPv6 echo for owned IPv6 addresses: NS answered
// with an NA (to the address or its solicited-node group), DAD probes and router messages
// consumed, invalid messages dropped, NA learned, next hops resolved with the bounded hold queue.
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import {
  CLIENT6, CLIENTS6, INSIDE_ADDRESS, INSIDE_ADDRESS6, OUTSIDE_ADDRESS6, PORT_MAC, SERVERS6, clientSegment, dualStackConfig,
  echoRequest6, expectDrops, expectEvents, frameFrom6, neighborAdvertisementFor, only, show, solicitation, synThrough, withLab,
  type Lab, type PortName,
} from '../support/golden.js';
import {
  ICMP6_TYPE, NA_FLAG, ND_OPT, hostMac, internetChecksum, ip6, multicastMac, neighborAdvertisement, pseudoHeaderSum6, routerAdvertisement,
  solicitedNode, type DecodedFrame,
} from '../support/packet.js';

/** Checks an NA the data plane sent for target on port to asker. */
function assertAdvertisement(reply: DecodedFrame, port: PortName, target: string, asker: string): void {
  assert.equal(reply.eth, { dst: hostMac(asker), src: PORT_MAC[port], type: 0x86dd }, show([reply]));
  assert.ok(reply.ipv6, show([reply]));
  assert.is(reply.ipv6!.src, target);
  assert.is(reply.ipv6!.dst, asker);
  assert.is(reply.ipv6!.hopLimit, 255, 'ND messages leave with hop limit 255');
  assert.is(reply.ipv6!.extensions.length, 0);
  const na = reply.icmp6!;
  assert.is(na.type, ICMP6_TYPE.NEIGHBOR_ADVERTISEMENT);
  assert.is(na.code, 0);
  assert.ok(na.checksumOk, 'NA checksum (pseudo-header) verifies');
  assert.is(na.nd!.target, target);
  assert.is(na.nd!.flags, NA_FLAG.SOLICITED | NA_FLAG.OVERRIDE, 'solicited + override, not a router');
  assert.equal(na.nd!.options, [{ type: ND_OPT.TARGET_LL, length: 8, mac: PORT_MAC[port] }]);
}

const nsCases: { name: string; port: PortName; asker: string; target: string; unicast: boolean }[] = [
  { name: 'outside port address, to its solicited-node group', port: 'outside', asker: CLIENT6, target: OUTSIDE_ADDRESS6, unicast: false },
  { name: 'outside port address, unicast', port: 'outside', asker: CLIENT6, target: OUTSIDE_ADDRESS6, unicast: true },
  { name: 'inside port address, to its solicited-node group', port: 'inside', asker: SERVERS6[0]!, target: INSIDE_ADDRESS6, unicast: false },
];

for (const c of nsCases) {
  test(`NS for the ${c.name} -> NA with the port MAC`, async () => {
    await withLab((lab) => {
      let out: DecodedFrame[] = [];
      const d = lab.counterDelta(() => {
        lab.send(c.port, solicitation(c.port, c.asker, c.target, { unicast: c.unicast }));
        out = lab.recv(c.port);
      });
      assertAdvertisement(only(out, 'NA'), c.port, c.target, c.asker);
      assert.is(lab.recv(c.port === 'outside' ? 'inside' : 'outside').length, 0);
      expectDrops(d, {});
      expectEvents(d, { nd_solicitations_answered: 1 });
    }, dualStackConfig());
  });
}

test('solicited-node group frames are accepted at L2 (33:33:ff:00:02:54 for ::254)', () => {
  assert.is(solicitedNode(OUTSIDE_ADDRESS6), 'ff02::1:ff00:254');
  assert.is(multicastMac(solicitedNode(OUTSIDE_ADDRESS6)), '33:33:ff:00:02:54');
});

test('NS for an address we do not own, or for the outside address on the inside port -> nd_not_for_us', async () => {
  await withLab((lab) => {
    const d = lab.counterDelta(() => {
      // Unicast to our address (so the packet is ours) asking about a stranger.
      lab.send('outside', frameFrom6('outside', CLIENT6, OUTSIDE_ADDRESS6,
        { icmp6: { type: ICMP6_TYPE.NEIGHBOR_SOLICITATION, rest: 0, payload: ip6('2001:db8:18::77') } },
        { hopLimit: 255 }));
      lab.send('inside', solicitation('inside', SERVERS6[0]!, OUTSIDE_ADDRESS6, { unicast: true }));
    });
    assert.is(lab.recv('outside').length + lab.recv('inside').length, 0);
    // The second is to an address owned, but not on the inside port's prefix.
    expectDrops(d, { nd_not_for_us: 2 });
  }, dualStackConfig());
});

test('NS to a solicited-node group that is not one of ours -> not_for_us', async () => {
  await withLab((lab) => {
    const d = lab.counterDelta(() => lab.send('outside', solicitation('outside', CLIENT6, '2001:db8:18::77')));
    assert.is(lab.recv('outside').length, 0);
    expectDrops(d, { not_for_us: 1 });
  }, dualStackConfig());
});

test('DAD probe (NS from ::) for our address -> not answered, not learned (nd_dad_probes_ignored)', async () => {
  await withLab((lab) => {
    const d = lab.counterDelta(() => lab.send('outside', solicitation('outside', '::', OUTSIDE_ADDRESS6)));
    assert.is(lab.recv('outside').length, 0, 'no NA to a DAD probe');
    expectDrops(d, {});
    expectEvents(d, { nd_dad_probes_ignored: 1 });
  }, dualStackConfig());
});

test('ND with a hop limit below 255 (it crossed a router) -> nd_invalid, no answer', async () => {
  await withLab((lab) => {
    const d = lab.counterDelta(() => {
      lab.send('outside', solicitation('outside', CLIENT6, OUTSIDE_ADDRESS6, { hopLimit: 254 }));
      lab.send('outside', solicitation('outside', CLIENT6, OUTSIDE_ADDRESS6, { hopLimit: 64, unicast: true }));
    });
    assert.is(lab.recv('outside').length, 0);
    expectDrops(d, { nd_invalid: 2 });
  }, dualStackConfig());
});

test('NS with an option of length 0, or a multicast target -> nd_invalid', async () => {
  await withLab((lab) => {
    const zeroOption = solicitation('outside', CLIENT6, OUTSIDE_ADDRESS6, { unicast: true, withSourceMac: false });
    const withOption = Buffer.concat([zeroOption, Buffer.from([1, 0, 0, 0, 0, 0, 0, 0])]);
    fixIcmp6(withOption);
    const multicastTarget = frameFrom6('outside', CLIENT6, OUTSIDE_ADDRESS6,
      { icmp6: { type: ICMP6_TYPE.NEIGHBOR_SOLICITATION, rest: 0, payload: ip6('ff02::1') } }, { hopLimit: 255 });
    const d = lab.counterDelta(() => lab.send('outside', withOption, multicastTarget));
    assert.is(lab.recv('outside').length, 0);
    expectDrops(d, { nd_invalid: 2 });
  }, dualStackConfig());
});

/** Grows the IPv6 payload length to the frame and recomputes the ICMPv6 checksum (no extension headers). */
function fixIcmp6(frame: Buffer): void {
  const l4 = frame.subarray(14 + 40);
  frame.writeUInt16BE(l4.length, 14 + 4);
  l4.writeUInt16BE(0, 2);
  l4.writeUInt16BE(internetChecksum(l4, pseudoHeaderSum6(CLIENT6, OUTSIDE_ADDRESS6, 58, l4.length)), 2);
}

test('ND with a wrong ICMPv6 checksum -> icmp6_bad_checksum', async () => {
  await withLab((lab) => {
    const frame = solicitation('outside', CLIENT6, OUTSIDE_ADDRESS6);
    frame[14 + 40 + 2] = frame.readUInt8(14 + 40 + 2) ^ 0x5a;
    const d = lab.counterDelta(() => lab.send('outside', frame));
    assert.is(lab.recv('outside').length, 0);
    expectDrops(d, { icmp6_bad_checksum: 1 });
  }, dualStackConfig());
});

test('router advertisement and router solicitation -> consumed unread (nd_router_messages_ignored)', async () => {
  await withLab((lab) => {
    const router = '2001:db8:18::fe';
    const ra = frameFrom6('outside', router, 'ff02::1', { icmp6: routerAdvertisement(hostMac(router)) }, { hopLimit: 255 },
      multicastMac('ff02::1'));
    const rs = frameFrom6('outside', CLIENT6, 'ff02::1', { icmp6: { type: ICMP6_TYPE.ROUTER_SOLICITATION, rest: 0 } },
      { hopLimit: 255 }, multicastMac('ff02::1'));
    const d = lab.counterDelta(() => lab.send('outside', ra, rs));
    assert.is(lab.recv('outside').length, 0);
    expectDrops(d, {});
    expectEvents(d, { nd_router_messages_ignored: 2 });
  }, dualStackConfig());
});

// ---------------------------------------------------------------- resolution and learning

/** An echo request from an on-link client: its reply needs the client's MAC. */
const ping = (n: number, src = CLIENT6) => echoRequest6(OUTSIDE_ADDRESS6, 7, n, Buffer.from(`ping ${n}`), src);

/**
 * Sends an echo request whose reply needs `nextHop` resolved and checks the resolution: one NS for
 * it to its solicited-node group from the outside port address, the reply held, then released to
 * the next hop's MAC by its NA. Returns the reply for the caller's own checks.
 */
function echoResolvedThroughNs(lab: Lab, echo: Buffer, nextHop: string): DecodedFrame {
  let ns: DecodedFrame[] = [];
  const asked = lab.counterDelta(() => {
    lab.send('outside', echo);
    ns = lab.recv('outside');
  });
  const request = only(ns, `NS for ${nextHop}`);
  const group = solicitedNode(nextHop);
  assert.equal(request.eth, { dst: multicastMac(group), src: PORT_MAC.outside, type: 0x86dd });
  assert.is(request.ipv6!.src, OUTSIDE_ADDRESS6);
  assert.is(request.ipv6!.dst, group);
  assert.is(request.ipv6!.hopLimit, 255);
  assert.is(request.icmp6!.type, ICMP6_TYPE.NEIGHBOR_SOLICITATION);
  assert.ok(request.icmp6!.checksumOk);
  assert.is(request.icmp6!.nd!.target, nextHop);
  assert.equal(request.icmp6!.nd!.options, [{ type: ND_OPT.SOURCE_LL, length: 8, mac: PORT_MAC.outside }]);
  expectDrops(asked, {});
  expectEvents(asked, { nd_solicitations_sent: 1, neigh_queued: 1, icmp6_echo_answered: 1 });

  let out: DecodedFrame[] = [];
  const learned = lab.counterDelta(() => {
    lab.send('outside', neighborAdvertisementFor(request, 'outside'));
    out = lab.recv('outside');
  });
  const reply = only(out, `echo reply released by the NA of ${nextHop}`);
  assert.equal(reply.eth, { dst: hostMac(nextHop), src: PORT_MAC.outside, type: 0x86dd });
  assert.is(reply.icmp6!.type, ICMP6_TYPE.ECHO_REPLY);
  expectDrops(learned, {});
  expectEvents(learned, { nd_advertisements_learned: 1 });
  return reply;
}

test('echo from an unknown on-link host: NS to its solicited-node group, reply held, released on NA', async () => {
  await withLab((lab) => {
    // CLIENT6 is 2001:db8:18::1: its group is ff02::1:ff00:1, on 33:33:ff:00:00:01.
    assert.equal([solicitedNode(CLIENT6), multicastMac(solicitedNode(CLIENT6))], ['ff02::1:ff00:1', '33:33:ff:00:00:01']);
    const reply = echoResolvedThroughNs(lab, ping(1), CLIENT6);
    assert.is(reply.icmp6!.sequence, 1);

    // Learned: the next echo is answered at once.
    const again = lab.counterDelta(() => lab.send('outside', ping(2)));
    assert.is(only(lab.recv('outside'), 'second reply').icmp6!.sequence, 2);
    expectDrops(again, {});
  }, dualStackConfig());
});

test('an NS with a source link-layer option teaches the asker: the echo that follows needs no NS', async () => {
  await withLab((lab) => {
    lab.send('outside', solicitation('outside', CLIENTS6[1]!, OUTSIDE_ADDRESS6));
    only(lab.recv('outside'), 'NA');
    const d = lab.counterDelta(() => lab.send('outside', ping(1, CLIENTS6[1]!)));
    const reply = only(lab.recv('outside'), 'echo reply');
    assert.is(reply.icmp6!.type, ICMP6_TYPE.ECHO_REPLY);
    assert.is(reply.eth.dst, hostMac(CLIENTS6[1]!));
    expectDrops(d, {});
    expectEvents(d, { icmp6_echo_answered: 1 });
    assert.is(d.events.nd_solicitations_sent, undefined);
  }, dualStackConfig());
});

test('hold queue: 8 packets wait per unresolved neighbour, the 9th is neigh_queue_full; unanswered NS -> neigh_unresolved', async () => {
  await withLab((lab) => {
    const held = lab.counterDelta(() => lab.send('outside', ...Array.from({ length: 9 }, (_, i) => ping(i))));
    assert.is(only(lab.recv('outside'), 'one NS for the 9 echoes').icmp6!.type, ICMP6_TYPE.NEIGHBOR_SOLICITATION);
    expectDrops(held, { neigh_queue_full: 1 });
    expectEvents(held, { neigh_queued: 8, nd_solicitations_sent: 1 });
    let retries: DecodedFrame[] = [];
    const gaveUp = lab.counterDelta(() => {
      for (let s = 0; s < 4; s++) { lab.advance(1.1); retries.push(...lab.recv('outside')); }
    });
    assert.is(retries.length, 2, `two retries before giving up: ${show(retries)}`);
    expectDrops(gaveUp, { neigh_unresolved: 8 });
    expectEvents(gaveUp, { nd_solicitations_sent: 2 });
  }, dualStackConfig());
});

test('NA from off-link, NA for our own address, unsolicited NA without a link-layer option -> nd_not_for_us', async () => {
  await withLab((lab) => {
    const stranger = '2001:db8:77::1';
    const offLink = frameFrom6('outside', stranger, OUTSIDE_ADDRESS6,
      { icmp6: neighborAdvertisement(stranger, NA_FLAG.SOLICITED, [{ type: ND_OPT.TARGET_LL, mac: hostMac(stranger) }]) }, { hopLimit: 255 });
    const claimsOurs = frameFrom6('outside', CLIENT6, 'ff02::1',
      { icmp6: neighborAdvertisement(OUTSIDE_ADDRESS6, NA_FLAG.OVERRIDE, [{ type: ND_OPT.TARGET_LL, mac: hostMac(CLIENT6) }]) },
      { hopLimit: 255 }, multicastMac('ff02::1'));
    const noOption = frameFrom6('outside', CLIENT6, OUTSIDE_ADDRESS6, { icmp6: neighborAdvertisement(CLIENT6, NA_FLAG.SOLICITED) }, { hopLimit: 255 });
    const d = lab.counterDelta(() => lab.send('outside', offLink, claimsOurs, noOption));
    expectDrops(d, { nd_not_for_us: 3 });
  }, dualStackConfig());
});

test('unsolicited NA from an on-link host is learned: an echo from it is answered at once', async () => {
  await withLab((lab: Lab) => {
    const host = CLIENTS6[4]!;
    const na = frameFrom6('outside', host, 'ff02::1',
      { icmp6: neighborAdvertisement(host, NA_FLAG.OVERRIDE, [{ type: ND_OPT.TARGET_LL, mac: hostMac(host) }]) },
      { hopLimit: 255 }, multicastMac('ff02::1'));
    const learned = lab.counterDelta(() => lab.send('outside', na));
    expectEvents(learned, { nd_advertisements_learned: 1 });
    const d = lab.counterDelta(() => lab.send('outside', ping(3, host)));
    assert.is(only(lab.recv('outside'), 'echo reply').eth.dst, hostMac(host));
    expectDrops(d, {});
  }, dualStackConfig());
});

test('a solicited NA to a multicast destination -> nd_invalid', async () => {
  await withLab((lab) => {
    const na = frameFrom6('outside', CLIENT6, 'ff02::1',
      { icmp6: neighborAdvertisement(CLIENT6, NA_FLAG.SOLICITED, [{ type: ND_OPT.TARGET_LL, mac: hostMac(CLIENT6) }]) },
      { hopLimit: 255 }, multicastMac('ff02::1'));
    const d = lab.counterDelta(() => lab.send('outside', na));
    expectDrops(d, { nd_invalid: 1 });
  }, dualStackConfig());
});
// One neighbour table holds both families (output/neigh.h), keyed by IPv4-mapped addresses for
// IPv4: an ND message naming a mapped target must not reach an IPv4 neighbour (nor claim one of
// our IPv4 addresses). A mapped address is never an IPv6 node's (RFC 4291 2.5.5.2).
test('NA or NS whose target is IPv4-mapped -> nd_invalid; the IPv4 neighbour keeps its ARP-learned MAC', async () => {
  await withLab((lab) => {
    const flow = synThrough(lab, 4100);
    assert.is(lab.arpRequests.length, 1, 'the server was resolved by ARP');
    const poison = '02:66:66:66:66:66';
    const na = frameFrom6('inside', SERVERS6[1]!, 'ff02::1',
      { icmp6: neighborAdvertisement(`::ffff:${flow.server}`, NA_FLAG.OVERRIDE, [{ type: ND_OPT.TARGET_LL, mac: poison }]) },
      { hopLimit: 255 }, multicastMac('ff02::1'));
    // Unicast to our IPv6 address (the group of a mapped target is none of ours), asking about our IPv4 address.
    const ns = frameFrom6('inside', SERVERS6[1]!, INSIDE_ADDRESS6,
      { icmp6: { type: ICMP6_TYPE.NEIGHBOR_SOLICITATION, rest: 0, payload: ip6(`::ffff:${INSIDE_ADDRESS}`) } }, { hopLimit: 255 });
    const d = lab.counterDelta(() => lab.send('inside', na, ns));
    assert.is(lab.recv('inside').length, 0, 'no NA claims an IPv4 address');
    expectDrops(d, { nd_invalid: 2 });
    expectEvents(d, {});
    const out = lab.forward('outside', clientSegment(flow, { payload: Buffer.from('after the NA') }));
    assert.is(only(out.inside, 'the segment to the server').eth.dst, hostMac(flow.server), 'the ARP-learned MAC');
  }, dualStackConfig());
});

test('a route via a link-local next hop (fe80::1, as routers advertise): NS for it from the port address, the reply released to its MAC on NA', async () => {
  const far = '2001:db8:500::9';
  const farPing = (sequence: number) => frameFrom6('outside', far, OUTSIDE_ADDRESS6,
    { icmp6: { type: ICMP6_TYPE.ECHO_REQUEST, id: 7, sequence, payload: Buffer.from('far') } });
  await withLab((lab) => {
    const reply = echoResolvedThroughNs(lab, farPing(1), 'fe80::1');
    assert.is(reply.ipv6!.dst, far);
  }, dualStackConfig((c) => { c.routes.push({ prefix: '::/0', via: 'fe80::1', port: 'outside' }); }));
});

test.run();
