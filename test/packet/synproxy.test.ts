// SYNPROXY golden packets: cookie SYN-ACKs with no state, the final ACK opening the backend
// handshake with the client's options, held data, and translation of sequence numbers,
// SACK blocks, timestamps and windows for the life of the connection. The scenarios IPv6
// shares (the final ACK, the server's SYN-ACK, bad cookies) are in synproxy-families.test.ts.
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import {
  CLIENT_ISN, CLIENT_TS, CLIENT_WSCALE, OUR_WSCALE, SERVER_ISN, SERVER_TS, SERVER_WSCALE, SYNPROXY_IPV4, cookieSynAck, finalAck,
  established, option, serverSynAck, u32, type Opened,
} from '../support/synproxy-flows.js';
import { allConnections, clientTcp, expectDrops, expectEvents, labConfig, only, serverTcp, show, withLab, type Lab } from '../support/golden.js';
import type { DecodedFrame, TcpOption } from '../support/packet.js';

const IPV4 = SYNPROXY_IPV4;
const SYNPROXY_CONFIG = IPV4.config;
const FULL_SYN_OPTIONS = IPV4.fullSynOptions;

test('a SYN is answered with a cookie SYN-ACK carrying the options in the timestamp; no state', async () => {
  await withLab((lab) => {
    let o: Opened | undefined;
    const d = lab.counterDelta(() => { o = cookieSynAck(IPV4, lab, 41000); });
    const t = o!.synAck.tcp!;
    assert.is(t.flagNames, 'SA');
    assert.is(t.ack, CLIENT_ISN + 1);
    assert.is(t.window, 3 * 1460);
    assert.is(o!.synAck.ipv4!.ttl, 64);
    // Both checksums are built incrementally from the SYN's (synproxy.cpp, rewrite_in_place).
    assert.ok(o!.synAck.ipv4!.checksumOk, 'SYN-ACK IPv4 header checksum');
    assert.ok(t.checksumOk, 'SYN-ACK TCP checksum');
    assert.equal(t.options, [
      { kind: 'mss', value: 1460 }, { kind: 'sackPermitted' }, { kind: 'timestamp', value: o!.ourTs, echo: CLIENT_TS },
      { kind: 'nop' }, { kind: 'ws', shift: OUR_WSCALE },
    ]);
    assert.is(o!.ourTs & 0x3f, CLIENT_WSCALE | 0x10, 'TSval low bits: client wscale + SACK');
    assert.is(t.payload.length, 0);
    assert.is(lab.stats().connections, 0, 'no connection for a SYN');
    expectEvents(d, { synproxy_syn_answered: 1 });
    assert.is(d.events.conns_created, undefined);
    expectDrops(d, {});
    // A retransmitted SYN gets the same cookie again, still without state.
    const again = cookieSynAck(IPV4, lab, 41000);
    assert.is(again.cookie, o!.cookie);
    assert.is(lab.stats().connections, 0);
  }, SYNPROXY_CONFIG);
});

test('without client timestamps only the MSS survives; the cookie rounds it down (msstab)', async () => {
  await withLab((lab) => {
    const opts: TcpOption[] = [{ kind: 'mss', value: 1400 }, { kind: 'sackPermitted' }, { kind: 'nop' }, { kind: 'ws', shift: 3 }];
    const b = finalAck(IPV4, lab, 41001, undefined, opts);
    assert.equal(b.synAck.tcp!.options, [{ kind: 'mss', value: 1400 }], 'no SACK/wscale offered without TS');
    assert.ok(b.synAck.ipv4!.checksumOk && b.synAck.tcp!.checksumOk, 'SYN-ACK checksums (options of another length)');
    const t = b.syn.tcp!;
    assert.is(t.flagNames, 'S');
    assert.is(t.seq, CLIENT_ISN, 'backend SYN uses the client ISN');
    assert.equal(t.options, [{ kind: 'mss', value: 1300 }], 'MSS index 1 (1300) from the cookie');
  }, SYNPROXY_CONFIG);
});

test('established: seq, SACK, timestamps and window translated both ways; FIN and RST pass', async () => {
  await withLab((lab) => {
    const { b } = established(IPV4, lab, 41004);
    const delta = u32(b.cookie - SERVER_ISN);
    // server -> client data
    const down = lab.forward('inside', serverTcp(b.server, 80, b.lip, b.lport, {
      flags: 'PA', seq: SERVER_ISN + 1, ack: CLIENT_ISN + 1, window: 100,
      options: [{ kind: 'nop' }, { kind: 'nop' }, { kind: 'timestamp', value: SERVER_TS + 10, echo: CLIENT_TS + 1 }],
      payload: Buffer.from('hello'),
    }));
    const toClient = only(down.outside, 'data to the client');
    IPV4.checkToClient(toClient, 41004);
    assert.is(toClient.tcp!.seq, u32(b.cookie + 1), 'seq in the cookie space');
    assert.is(toClient.tcp!.ack, CLIENT_ISN + 1);
    assert.is(toClient.tcp!.window, 100 << (SERVER_WSCALE - OUR_WSCALE), 'window rescaled to the scale the client was told');
    assert.equal(option(toClient, 'timestamp'), { kind: 'timestamp', value: b.ourTs + 10, echo: CLIENT_TS + 1 });
    // client -> server with SACK
    const sackLeft = u32(b.cookie + 1 + 1000), sackRight = u32(b.cookie + 1 + 2000);
    const up = lab.forward('outside', clientTcp(41004, {
      flags: 'A', seq: CLIENT_ISN + 1, ack: u32(b.cookie + 6),
      options: [{ kind: 'nop' }, { kind: 'nop' }, { kind: 'timestamp', value: CLIENT_TS + 2, echo: b.ourTs + 10 },
        { kind: 'nop' }, { kind: 'nop' }, { kind: 'sack', blocks: [[sackLeft, sackRight]] }],
    }));
    const toServer = only(up.inside, 'ACK to the server');
    assert.is(toServer.tcp!.ack, SERVER_ISN + 6);
    assert.equal(option(toServer, 'sack'), { kind: 'sack', blocks: [[u32(sackLeft - delta), u32(sackRight - delta)]] });
    assert.equal(option(toServer, 'sack')!.blocks[0], [SERVER_ISN + 1001, SERVER_ISN + 2001]);
    assert.equal(option(toServer, 'timestamp'), { kind: 'timestamp', value: CLIENT_TS + 2, echo: SERVER_TS + 10 });
    assert.ok(toServer.tcp!.checksumOk, 'checksum after SACK/TS rewrite');
    // FIN from the server, RST from the client
    const fin = only(lab.forward('inside', serverTcp(b.server, 80, b.lip, b.lport, {
      flags: 'FA', seq: SERVER_ISN + 6, ack: CLIENT_ISN + 1 })).outside, 'FIN');
    assert.is(fin.tcp!.seq, u32(b.cookie + 6));
    assert.is(fin.tcp!.flagNames, 'FA');
    const rst = only(lab.forward('outside', clientTcp(41004, { flags: 'R', seq: CLIENT_ISN + 1, ack: 0 })).inside, 'RST');
    assert.is(rst.tcp!.flagNames, 'R');
    assert.is(rst.tcp!.seq, CLIENT_ISN + 1);
    assert.ok(rst.tcp!.checksumOk);
  }, SYNPROXY_CONFIG);
});

test('synproxy_rst_on_bad_cookie: a forged or expired cookie ACK is answered with RST|ACK at its ack; still bad_cookie', async () => {
  await withLab((lab) => {
    const o = cookieSynAck(IPV4, lab, 41020, [{ kind: 'mss', value: 1460 }]);
    const payload = Buffer.from('GET / HTTP/1.0\r\n\r\n');
    const forgedAck = u32((o.cookie + 1) ^ 0x00400000);  // ^ yields a signed int32; keep it unsigned
    let rst: DecodedFrame | undefined;
    let d = lab.counterDelta(() => {
      const out = lab.forward('outside', clientTcp(41020, { flags: 'PA', seq: CLIENT_ISN + 1, ack: forgedAck, payload }));
      assert.is(out.inside.length, 0, `nothing to the servers: ${show(out.inside)}`);
      rst = only(out.outside, 'RST');
    });
    expectDrops(d, { bad_cookie: 1 }, 'still counted');
    IPV4.checkToClient(rst!, 41020);
    assert.is(rst!.tcp!.flagNames, 'RA');
    assert.is(rst!.tcp!.seq, forgedAck, 'seq = their ack');
    assert.is(rst!.tcp!.ack, u32(CLIENT_ISN + 1 + payload.length), 'ack = their seq + payload');
    assert.is(rst!.tcp!.window, 0);
    assert.is(rst!.tcp!.payload.length, 0, 'payload trimmed');
    assert.is(rst!.tcp!.options.length, 0);
    assert.is(rst!.ipv4!.totalLength, 40);
    lab.advance(121);
    d = lab.counterDelta(() => {
      rst = only(lab.forward('outside', clientTcp(41020, { flags: 'A', seq: CLIENT_ISN + 1, ack: u32(o.cookie + 1) })).outside, 'RST');
    });
    expectDrops(d, { bad_cookie: 1 }, 'expired');
    assert.equal([rst!.tcp!.flagNames, rst!.tcp!.seq, rst!.tcp!.ack], ['RA', u32(o.cookie + 1), CLIENT_ISN + 1]);
    assert.is(lab.stats().connections, 0);
  }, labConfig((c) => { c.services[0]!.synproxy = true; c.services[0]!.synproxyRstOnBadCookie = true; }));
});

test('held data is bounded; a server RST resets the client and drops what was held', async () => {
  await withLab((lab) => {
    const baseline = lab.stats().mbufsInUse;
    const b = finalAck(IPV4, lab, 41008, Buffer.from('one'));
    const seg = (n: number): Buffer => clientTcp(41008, {
      flags: 'PA', seq: CLIENT_ISN + 1 + 3 * n, ack: u32(b.cookie + 1), payload: Buffer.from('two'),
      options: [{ kind: 'nop' }, { kind: 'nop' }, { kind: 'timestamp', value: CLIENT_TS + 1, echo: b.ourTs }],
    });
    let d = lab.counterDelta(() => { lab.forward('outside', seg(1), seg(2), seg(3)); });
    expectDrops(d, { synproxy_hold_full: 1 }, 'three held, the fourth dropped');
    let out: ReturnType<Lab['forward']> | undefined;
    d = lab.counterDelta(() => {
      out = lab.forward('inside', serverTcp(b.server, 80, b.lip, b.lport, { flags: 'RA', seq: 0, ack: CLIENT_ISN + 1, window: 0 }));
    });
    assert.is(out!.inside.length, 0);
    const rst = only(out!.outside, 'RST to the client');
    IPV4.checkToClient(rst, 41008);
    assert.is(rst.tcp!.flagNames, 'RA');
    assert.is(rst.tcp!.seq, u32(b.cookie + 1), 'at the sequence number the client expects');
    expectDrops(d, { synproxy_server_failed: 3 });
    assert.is(lab.stats().mbufsInUse, baseline, 'nothing left held');
    expectEvents(d, { synproxy_client_resets: 1 });
    assert.is(allConnections(lab.dp)[0]!.state, 'CLOSE');
  }, SYNPROXY_CONFIG);
});

test('before the server answers: a client SYN or RST, a stray server ACK and a SYN-ACK acking the wrong ISN are dropped synproxy_handshake_pending', async () => {
  await withLab((lab) => {
    const b = finalAck(IPV4, lab, 41010);
    const baseline = lab.stats().mbufsInUse;
    const pending: { name: string; port: 'outside' | 'inside'; frame: Buffer }[] = [
      { name: 'client SYN again (not an ACK)', port: 'outside', frame: clientTcp(41010, { flags: 'S', seq: CLIENT_ISN, options: FULL_SYN_OPTIONS }) },
      { name: 'client RST without ACK', port: 'outside', frame: clientTcp(41010, { flags: 'R', seq: CLIENT_ISN + 1 }) },
      { name: 'server ACK before its SYN-ACK', port: 'inside', frame: serverTcp(b.server, 80, b.lip, b.lport, { flags: 'A', seq: SERVER_ISN + 1, ack: CLIENT_ISN + 1 }) },
      { name: 'server SYN-ACK acking another ISN', port: 'inside', frame: serverTcp(b.server, 80, b.lip, b.lport, { flags: 'SA', seq: SERVER_ISN, ack: CLIENT_ISN + 7 }) },
    ];
    for (const p of pending) {
      let out: ReturnType<Lab['forward']> | undefined;
      const d = lab.counterDelta(() => { out = lab.forward(p.port, p.frame); });
      assert.equal([out!.inside.length, out!.outside.length], [0, 0], `${p.name}: nothing sent: ${show([...out!.inside, ...out!.outside])}`);
      expectDrops(d, { synproxy_handshake_pending: 1 }, p.name);
    }
    assert.is(lab.stats().mbufsInUse, baseline, 'nothing held for them');
    // The handshake is still pending and completes with the server's real answer.
    const out = lab.forward('inside', serverSynAck(IPV4, b));
    const ack = only(out.inside, 'our ACK to the server');
    assert.is(ack.tcp!.flagNames, 'A');
    assert.is(out.outside.length, 0, 'the client never sees the server SYN-ACK');
  }, SYNPROXY_CONFIG);
});

test('a server that never answers: the client is reset and the connection freed', async () => {
  await withLab((lab) => {
    const baseline = lab.stats().mbufsInUse;
    const b = finalAck(IPV4, lab, 41009, Buffer.from('data'));
    assert.is(lab.stats().mbufsInUse, baseline + 1, 'the data segment is held');
    let rst: DecodedFrame | undefined;
    const d = lab.counterDelta(() => {
      lab.advance(4);
      rst = only(lab.resolveNeighbours().outside, 'RST to the client');
    });
    IPV4.checkToClient(rst!, 41009);
    assert.is(rst!.tcp!.flagNames, 'RA');
    assert.is(rst!.tcp!.seq, u32(b.cookie + 1));
    assert.is(rst!.tcp!.ack, CLIENT_ISN + 1);
    expectDrops(d, { synproxy_server_failed: 1 });
    expectEvents(d, { synproxy_client_resets: 1 });
    assert.is(lab.stats().connections, 0);
    assert.is(lab.stats().mbufsInUse, baseline, 'the held segment was freed');
  }, SYNPROXY_CONFIG);
});

test('a client retransmission a second later sends the backend SYN again (lost SYN or SYN-ACK)', async () => {
  await withLab((lab) => {
    const b = finalAck(IPV4, lab, 41011, Buffer.from('x'));
    const retransmit = (): Buffer => clientTcp(41011, { flags: 'PA', seq: CLIENT_ISN + 1, ack: u32(b.cookie + 1), payload: Buffer.from('x'),
      options: [{ kind: 'nop' }, { kind: 'nop' }, { kind: 'timestamp', value: CLIENT_TS + 1, echo: b.ourTs }] });
    lab.advance(1.2);
    let syn: DecodedFrame | undefined;
    const d = lab.counterDelta(() => { syn = only(lab.forward('outside', retransmit()).inside, 'backend SYN again'); });
    assert.equal(syn!.tcp!.options, b.syn.tcp!.options);
    assert.is(syn!.tcp!.seq, CLIENT_ISN);
    expectEvents(d, { synproxy_server_syns: 1 });
    // the server answers now: ACK, then the two held copies of the segment
    const out = lab.forward('inside', serverSynAck(IPV4, b));
    assert.is(out.inside.length, 3, show(out.inside));
  }, SYNPROXY_CONFIG);
});

test('toa with SYNPROXY: the MSS offered to the client leaves room for the 8-byte option', async () => {
  await withLab((lab) => {
    const o = cookieSynAck(IPV4, lab, 41012);
    assert.equal(o.synAck.tcp!.options[0], { kind: 'mss', value: 1460 - 8 });
  }, labConfig((c) => { c.services[0]!.synproxy = true; c.services[0]!.clientAddress = 'toa'; }));
});

test('services without synproxy are untouched (SYN goes straight to a server)', async () => {
  await withLab((lab) => {
    const out = lab.forward('outside', clientTcp(41010, { flags: 'S', seq: CLIENT_ISN, options: FULL_SYN_OPTIONS }));
    assert.is(out.outside.length, 0);
    assert.is(only(out.inside, 'SYN').tcp!.seq, CLIENT_ISN);
  });
});

test.run();
