// SYNPROXY on an IPv6 service, golden packets: the cookie SYN-ACK with an IPv6 header of its
// own (no extension header of the client's echoed) and no state, the final ACK opening the
// backend handshake to an IPv6 server, the server's SYN-ACK completing it, sequence
// translation both ways, bad cookies, a spoofed flood, and cookies over the whole 16-byte
// addresses (IPv6 sources that fold alike, and an IPv4 tuple that folds alike, get their own).
// The scenarios IPv4 shares (the final ACK, the server's SYN-ACK, bad cookies) are in
// synproxy-families.test.ts.
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import {
  ATTACKER6, CLIENT, CLIENT6, SERVERS6, TCP_SERVICE_ID, VIP, VIP6, clientTcp, dualStackConfig, expectDrops, expectEvents,
  frameFrom6, only, seededRandom, show, withLab, type Lab,
} from '../support/golden.js';
import { hostMac, type DecodedFrame, type TcpOption } from '../support/packet.js';
import {
  CLIENT_ISN, CLIENT_TS, CLIENT_WSCALE, OUR_WSCALE, SERVER_ISN, SERVER_TS, SERVER_WSCALE, SERVICE6_ID, SYNPROXY_IPV6, clientTcp6,
  cookieSynAck, established, finalAck, option, synproxyConfig6, synproxyService6, u32,
} from '../support/synproxy-flows.js';

const IPV6 = SYNPROXY_IPV6;
const SYNPROXY6 = IPV6.config;
const checkOwnHeader = IPV6.checkOwnHeader;

test('IPv6 SYN (with extension headers, a traffic class and a flow label) → cookie SYN-ACK with a bare IPv6 header, MSS 1440; no state', async () => {
  await withLab((lab) => {
    const syn = frameFrom6('outside', CLIENT6, VIP6,
      { tcp: { srcPort: 41000, dstPort: 80, flags: 'S', seq: CLIENT_ISN, window: 64240, options: IPV6.fullSynOptions } },
      { trafficClass: 0xb8, flowLabel: 0x12345, extensions: [{ type: 'hopByHop' }, { type: 'destOptions', options: Buffer.from([1, 4, 0, 0, 0, 0]) }] });
    let out: ReturnType<Lab['forward']> | undefined;
    const d = lab.counterDelta(() => { out = lab.forward('outside', syn); });
    assert.is(out!.inside.length, 0, `nothing to the servers: ${show(out!.inside)}`);
    const synAck = only(out!.outside, 'SYN-ACK');
    checkOwnHeader(synAck);
    IPV6.checkToClient(synAck, 41000);
    const t = synAck.tcp!;
    assert.is(t.flagNames, 'SA');
    assert.is(t.ack, CLIENT_ISN + 1);
    assert.is(t.window, 3 * 1460);
    const ourTs = option(synAck, 'timestamp')!.value;
    assert.equal(t.options, [
      { kind: 'mss', value: 1440 }, { kind: 'sackPermitted' }, { kind: 'timestamp', value: ourTs, echo: CLIENT_TS },
      { kind: 'nop' }, { kind: 'ws', shift: OUR_WSCALE },
    ]);
    assert.is(ourTs & 0x3f, CLIENT_WSCALE | 0x10, 'TSval low bits: client wscale + SACK');
    assert.is(synAck.ipv6!.payloadLength, 20 + 20, 'TCP header and options only');
    assert.is(lab.stats().connections, 0, 'no connection for a SYN');
    expectEvents(d, { synproxy_syn_answered: 1 });
    assert.is(d.events.conns_created, undefined);
    expectDrops(d, {});
    const again = cookieSynAck(IPV6, lab, 41000);
    assert.is(again.cookie, t.seq, 'a retransmitted SYN gets the same cookie');
    assert.is(lab.stats().connections, 0);
  }, SYNPROXY6);
});

test('IPv6 MSS: the SYN-ACK offers at most 1500 - 60; the cookie keeps the IPv6 table (1220/1420/1440/8940); no MSS option = 1220', async () => {
  await withLab((lab) => {
    const noTs: TcpOption[] = [{ kind: 'mss', value: 1430 }, { kind: 'sackPermitted' }, { kind: 'nop' }, { kind: 'ws', shift: 3 }];
    const b = finalAck(IPV6, lab, 41001, undefined, noTs);
    assert.equal(b.synAck.tcp!.options, [{ kind: 'mss', value: 1430 }], 'no SACK/wscale offered without TS');
    assert.is(b.syn.tcp!.seq, CLIENT_ISN, 'backend SYN uses the client ISN');
    assert.equal(b.syn.tcp!.options, [{ kind: 'mss', value: 1420 }], 'MSS index 1 of the IPv6 table (the IPv4 one has 1300)');
    const jumbo = cookieSynAck(IPV6, lab, 41002, [{ kind: 'mss', value: 8960 }]);
    assert.equal(jumbo.synAck.tcp!.options, [{ kind: 'mss', value: 1440 }], 'our MSS toward a 1500-byte port');
    const none = finalAck(IPV6, lab, 41003, undefined, []);
    assert.equal(none.synAck.tcp!.options, [{ kind: 'mss', value: 1220 }], 'RFC 9293: 1220 when an IPv6 SYN has no MSS');
    assert.equal(none.syn.tcp!.options, [{ kind: 'mss', value: 1220 }]);
  }, SYNPROXY6);
});

test('established over IPv6: seq, SACK, timestamps and window translated both ways; FIN and RST pass', async () => {
  await withLab((lab) => {
    const { b } = established(IPV6, lab, 41006);
    const delta = u32(b.cookie - SERVER_ISN);
    const down = lab.forward('inside', IPV6.serverTcp(b, {
      flags: 'PA', seq: SERVER_ISN + 1, ack: CLIENT_ISN + 1, window: 100,
      options: [{ kind: 'nop' }, { kind: 'nop' }, { kind: 'timestamp', value: SERVER_TS + 10, echo: CLIENT_TS + 1 }],
      payload: Buffer.from('hello'),
    }));
    const toClient = only(down.outside, 'data to the client');
    IPV6.checkToClient(toClient, 41006);
    assert.is(toClient.ipv6!.hopLimit, 63, 'forwarded, not written by us');
    assert.is(toClient.tcp!.payload.toString(), 'hello');
    assert.equal([toClient.tcp!.seq, toClient.tcp!.ack], [u32(b.cookie + 1), CLIENT_ISN + 1], 'seq in the cookie space');
    assert.is(toClient.tcp!.window, 100 << (SERVER_WSCALE - OUR_WSCALE), 'window rescaled to the scale the client was told');
    assert.equal(option(toClient, 'timestamp'), { kind: 'timestamp', value: b.ourTs + 10, echo: CLIENT_TS + 1 });
    const sackLeft = u32(b.cookie + 1 + 1000), sackRight = u32(b.cookie + 1 + 2000);
    const up = lab.forward('outside', clientTcp6(41006, {
      flags: 'PA', seq: CLIENT_ISN + 1, ack: u32(b.cookie + 6), payload: Buffer.from('more'),
      options: [{ kind: 'nop' }, { kind: 'nop' }, { kind: 'timestamp', value: CLIENT_TS + 2, echo: b.ourTs + 10 },
        { kind: 'nop' }, { kind: 'nop' }, { kind: 'sack', blocks: [[sackLeft, sackRight]] }],
    }));
    const toServer = only(up.inside, 'data to the server');
    assert.equal([toServer.ipv6!.src, toServer.ipv6!.dst], [b.lip, b.server]);
    assert.equal([toServer.tcp!.seq, toServer.tcp!.ack], [CLIENT_ISN + 1, SERVER_ISN + 6]);
    assert.equal(option(toServer, 'sack'), { kind: 'sack', blocks: [[u32(sackLeft - delta), u32(sackRight - delta)]] });
    assert.equal(option(toServer, 'timestamp'), { kind: 'timestamp', value: CLIENT_TS + 2, echo: SERVER_TS + 10 });
    assert.is(toServer.tcp!.payload.toString(), 'more');
    assert.ok(toServer.tcp!.checksumOk, 'checksum after SACK/TS rewrite');
    const fin = only(lab.forward('inside', IPV6.serverTcp(b, { flags: 'FA', seq: SERVER_ISN + 6, ack: CLIENT_ISN + 5 })).outside, 'FIN');
    assert.equal([fin.tcp!.flagNames, fin.tcp!.seq], ['FA', u32(b.cookie + 6)]);
    const rst = only(lab.forward('outside', clientTcp6(41006, { flags: 'R', seq: CLIENT_ISN + 5 })).inside, 'RST');
    assert.equal([rst.tcp!.flagNames, rst.tcp!.seq], ['R', CLIENT_ISN + 5]);
    assert.ok(rst.tcp!.checksumOk);
  }, SYNPROXY6);
});

test('synproxy_rst_on_bad_cookie on IPv6: RST|ACK at the forged ack, a bare 20-byte IPv6 segment; still bad_cookie', async () => {
  await withLab((lab) => {
    const payload = Buffer.from('GET / HTTP/1.0\r\n\r\n');
    const forgedAck = 0x5eed0001;
    let rst: DecodedFrame | undefined;
    const forged = frameFrom6('outside', CLIENT6, VIP6,
      { tcp: { srcPort: 41010, dstPort: 80, flags: 'PA', seq: CLIENT_ISN + 1, ack: forgedAck, payload } },
      { extensions: [{ type: 'destOptions' }] });
    const d = lab.counterDelta(() => {
      const out = lab.forward('outside', forged);
      assert.is(out.inside.length, 0, `nothing to the servers: ${show(out.inside)}`);
      rst = only(out.outside, 'RST');
    });
    expectDrops(d, { bad_cookie: 1 }, 'still counted');
    checkOwnHeader(rst!);
    IPV6.checkToClient(rst!, 41010);
    assert.equal([rst!.tcp!.flagNames, rst!.tcp!.seq, rst!.tcp!.ack], ['RA', forgedAck, u32(CLIENT_ISN + 1 + payload.length)]);
    assert.equal([rst!.tcp!.window, rst!.tcp!.payload.length, rst!.tcp!.options.length, rst!.ipv6!.payloadLength], [0, 0, 0, 20]);
    assert.is(lab.stats().connections, 0);
  }, synproxyConfig6({ synproxyRstOnBadCookie: true }));
});

test('a spoofed IPv6 SYN flood gets cookies only: no connection, no held memory', async () => {
  await withLab((lab) => {
    const random = seededRandom(16);
    const hex = (): string => Math.floor(random() * 0x10000).toString(16);
    const baseline = lab.stats().mbufsInUse;
    const FLOOD = 2000;
    let answered = 0;
    const d = lab.counterDelta(() => {
      // One SYN first, so the router's neighbour entry is resolved before whole batches queue on it.
      for (let sent = 0, size = 1; sent < FLOOD; sent += size, size = Math.min(50, FLOOD - sent)) {
        const frames = Array.from({ length: size }, () => frameFrom6('outside', `2001:db8:66:${hex()}:${hex()}::${hex()}`, VIP6,
          { tcp: { srcPort: 1024 + Math.floor(random() * 60000), dstPort: 80, flags: 'S', seq: Math.floor(random() * 2 ** 32) } }));
        const out = lab.forward('outside', ...frames);
        assert.is(out.inside.length, 0, 'nothing reaches a server');
        for (const f of out.outside) {
          assert.equal([f.tcp?.flagNames, f.ipv6?.src, f.eth.dst], ['SA', VIP6, hostMac(ATTACKER6)], 'a SYN-ACK via the attacker-side router');
        }
        answered += out.outside.length;
      }
    });
    assert.is(answered, FLOOD);
    expectEvents(d, { synproxy_syn_answered: FLOOD });
    assert.is(d.events.conns_created, undefined);
    expectDrops(d, {});
    assert.is(lab.stats().connections, 0);
    assert.is(lab.stats().mbufsInUse, baseline, 'each SYN became its SYN-ACK; nothing kept');
    // The real client still gets through.
    const b = finalAck(IPV6, lab, 41011);
    assert.ok(SERVERS6.includes(b.server));
    assert.is(lab.stats().connections, 1);
  }, synproxyConfig6({}, (c) => { c.routes.push({ prefix: '2001:db8:66::/48', via: ATTACKER6, port: 'outside' }); }));
});

// --- cookies over the whole address --------------------------------------------------------

/** 16 bytes of an IPv6 address (full or :: form). */
function bytes6(address: string): Buffer {
  const [head, tail] = address.includes('::') ? address.split('::') as [string, string] : [address, undefined];
  const words = (s: string | undefined): number[] => (s ? s.split(':').map((w) => parseInt(w, 16)) : []);
  const front = words(head), back = words(tail);
  const all = [...front, ...Array<number>(8 - front.length - back.length).fill(0), ...back];
  const out = Buffer.alloc(16);
  all.forEach((w, i) => out.writeUInt16BE(w, 2 * i));
  return out;
}
/** RFC 5952 text of 16 bytes (as the decoder prints addresses). */
function text6(b: Buffer): string {
  const full = Array.from({ length: 8 }, (_, i) => b.readUInt16BE(2 * i).toString(16)).join(':');
  return new URL(`http://[${full}]/`).hostname.slice(1, -1);
}
/** An address in 2001:db8:18::/64 whose four 32-bit words XOR to the IPv4 address v4 (a 32-bit fold of it). */
function foldingTo(v4: string): string {
  const b = bytes6('2001:db8:18::');
  const target = Buffer.from(v4.split('.').map(Number));
  for (let i = 0; i < 4; i++) b[12 + i] = target[i]! ^ b[i]! ^ b[4 + i]! ^ b[8 + i]!;
  return text6(b);
}

test('IPv6 sources that fold to the same 32 bits get different cookies; one cannot use the other\'s', async () => {
  await withLab((lab) => {
    // 2001:db8:18::1 and 2001:db8:18:0:0:1:0:0: the 1 moves from the fourth 32-bit word to the third.
    const twin = '2001:db8:18::1:0:0';
    const noOptions: TcpOption[] = [];
    const mine = cookieSynAck(IPV6, lab, 41012, noOptions, CLIENT6);
    const theirs = cookieSynAck(IPV6, lab, 41012, noOptions, twin);
    assert.is.not(theirs.cookie, mine.cookie, 'same port, ISN and minute, addresses that fold alike');
    const d = lab.counterDelta(() => {
      const out = lab.forward('outside', clientTcp6(41012, { flags: 'A', seq: CLIENT_ISN + 1, ack: u32(mine.cookie + 1) }, twin));
      assert.equal([out.inside.length, out.outside.length], [0, 0], `spoofed ACK opens nothing: ${show(out.inside)}`);
    });
    expectDrops(d, { bad_cookie: 1 });
    assert.is(lab.stats().connections, 0);
  }, SYNPROXY6);
});

test('an IPv4 and an IPv6 tuple that fold alike get different cookies, and neither opens the other', async () => {
  const vip6 = foldingTo(VIP), client6 = foldingTo(CLIENT);
  await withLab((lab) => {
    const syn4 = lab.forward('outside', clientTcp(41013, { flags: 'S', seq: CLIENT_ISN }));
    const v4 = only(syn4.outside, 'IPv4 SYN-ACK');
    assert.equal([v4.ipv4?.src, v4.tcp!.flagNames, v4.tcp!.options], [VIP, 'SA', [{ kind: 'mss', value: 536 }]]);
    const syn6 = lab.forward('outside', clientTcp6(41013, { flags: 'S', seq: CLIENT_ISN }, client6, vip6));
    const v6 = only(syn6.outside, 'IPv6 SYN-ACK');
    assert.equal([v6.ipv6?.src, v6.tcp!.flagNames, v6.tcp!.options], [vip6, 'SA', [{ kind: 'mss', value: 1220 }]], 'MSS index 0 in both tables');
    assert.is.not(v6.tcp!.seq, v4.tcp!.seq, 'the IPv6 cookie hashes the 16-byte addresses');
    const d = lab.counterDelta(() => {
      const out = lab.forward('outside', clientTcp6(41013, { flags: 'A', seq: CLIENT_ISN + 1, ack: u32(v4.tcp!.seq + 1) }, client6, vip6));
      assert.equal([out.inside.length, out.outside.length], [0, 0]);
    });
    expectDrops(d, { bad_cookie: 1 }, 'the IPv4 cookie on the IPv6 tuple');
    assert.is(lab.stats().connections, 0);
  }, dualStackConfig((c) => {
    c.services.find((s) => s.id === TCP_SERVICE_ID)!.synproxy = true;
    c.services.push(synproxyService6({}, vip6));
  }));
});

test('SYNPROXY auto on an IPv6 service: plain FullNAT below the SYN rate, cookies from the threshold on', async () => {
  await withLab((lab) => {
    const outcomes: string[] = [];
    const d = lab.counterDelta(() => {
      for (let i = 0; i < 5; i++) {
        const out = lab.forward('outside', clientTcp6(42000 + i, { flags: 'S', seq: CLIENT_ISN, options: [{ kind: 'mss', value: 1440 }] }));
        if (out.inside.length === 1 && out.outside.length === 0) outcomes.push('plain');
        else if (out.outside.length === 1 && out.inside.length === 0) {
          checkOwnHeader(out.outside[0]!);
          outcomes.push(out.outside[0]!.tcp!.flagNames === 'SA' ? 'cookie' : 'other');
        } else outcomes.push(`? ${show([...out.inside, ...out.outside])}`);
      }
    });
    assert.equal(outcomes, ['plain', 'plain', 'cookie', 'cookie', 'cookie']);
    expectEvents(d, { synproxy_auto_engaged: 1 });
    expectEvents(d, { synproxy_syn_answered: 3 });
    expectEvents(d, { conns_created: 2 });
    assert.is(lab.stats().defense.find((s) => s.id === SERVICE6_ID)?.synproxyEngagedWorkers, 1);
  }, synproxyConfig6({ synproxy: false, synproxyAuto: { synRate: 3, holdMs: 3000 } }));
});

test('toa with SYNPROXY on IPv6: the MSS offered to the client leaves room for the 20-byte IPv6 TOA option', async () => {
  await withLab((lab) => {
    const o = cookieSynAck(IPV6, lab, 41014, [{ kind: 'mss', value: 1440 }]);
    assert.equal(o.synAck.tcp!.options, [{ kind: 'mss', value: 1440 - 20 }]);
  }, synproxyConfig6({ clientAddress: 'toa' }));
});

test('after IPv6 through FullNAT and SYNPROXY, node\'s garbage collector still runs (no MMX state left behind in the x87 unit)', async () => {
  await withLab((lab) => {
    const synAck = only(lab.forward('outside', clientTcp6(43000, { flags: 'S', seq: CLIENT_ISN })).outside, 'cookie SYN-ACK');
    assert.is(synAck.tcp!.flagNames, 'SA');
    const plain = only(lab.forward('outside', frameFrom6('outside', CLIENT6, VIP6, { tcp: { srcPort: 43002, dstPort: 81, flags: 'S', seq: CLIENT_ISN } })).inside, 'FullNAT SYN');
    assert.ok(SERVERS6.includes(plain.ipv6!.dst));
    // Allocation churn: enough for V8 to run minor collections, whose pretenuring step sizes a
    // hash table with x87 arithmetic. A build that used MMX registers without emms made it
    // throw std::bad_alloc here (the process aborted).
    let kept = 0;
    for (let round = 0; round < 30; round++) {
      const batch = Array.from({ length: 10_000 }, (_, i) => ({ i, text: `${round}-${i}`.repeat(8) }));
      kept += batch.length;
    }
    assert.is(kept, 300_000);
  }, synproxyConfig6({}, (c) => {
    c.services.push({ ...synproxyService6({ synproxy: false }), id: SERVICE6_ID + 1, port: 81,
      servers: SERVERS6.map((address, i) => ({ id: 71 + i, address, port: 81, weight: 1 })) });
  }));
});

test.run();
