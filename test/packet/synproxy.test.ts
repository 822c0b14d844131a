// SYNPROXY golden packets: cookie SYN-ACKs with no state, the final ACK opening the backend
// handshake with the client's options, held data, and translation of sequence numbers,
// SACK blocks, timestamps and windows for the life of the connection.
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import {
  CLIENT, PORT_MAC, VIP, allConnections, clientTcp, expectDrops, expectEvents, labConfig, only, serverTcp, show,
  withLab, type Lab,
} from '../support/golden.js';
import { hostMac, type DecodedFrame, type TcpOption } from '../support/packet.js';

const SYNPROXY_CONFIG = labConfig((c) => { c.services[0]!.synproxy = true; });
const CLIENT_ISN = 0x10000000;
const SERVER_ISN = 0x70000000;
const CLIENT_TS = 5000;
const SERVER_TS = 900000;
const CLIENT_WSCALE = 5;
const SERVER_WSCALE = 9;
const OUR_WSCALE = 7; // kSynproxyWscale

const FULL_SYN_OPTIONS: TcpOption[] = [
  { kind: 'mss', value: 1460 }, { kind: 'sackPermitted' }, { kind: 'timestamp', value: CLIENT_TS, echo: 0 },
  { kind: 'nop' }, { kind: 'ws', shift: CLIENT_WSCALE },
];

const u32 = (n: number): number => n >>> 0;
function option<K extends TcpOption['kind']>(f: DecodedFrame, kind: K): Extract<TcpOption, { kind: K }> | undefined {
  return f.tcp!.options.find((o) => o.kind === kind) as Extract<TcpOption, { kind: K }> | undefined;
}

function checkToClient(f: DecodedFrame, cport: number): void {
  assert.ok(f.ipv4 && f.tcp, `TCP expected: ${show([f])}`);
  assert.equal(f.eth, { dst: hostMac(CLIENT), src: PORT_MAC.outside, type: 0x0800 });
  assert.is(f.ipv4!.src, VIP);
  assert.is(f.ipv4!.dst, CLIENT);
  assert.is(f.tcp!.srcPort, 80);
  assert.is(f.tcp!.dstPort, cport);
  assert.ok(f.ipv4!.checksumOk, 'IP checksum');
  assert.ok(f.tcp!.checksumOk, 'TCP checksum');
}

interface Opened {
  cport: number;
  cookie: number;     // our ISN toward the client
  ourTs: number;      // TSval of our SYN-ACK
  synAck: DecodedFrame;
}

/** Client SYN → the gateway's SYN-ACK (asserts nothing went inside). */
function cookieSynAck(lab: Lab, cport: number, options: TcpOption[] = FULL_SYN_OPTIONS): Opened {
  const out = lab.forward('outside', clientTcp(cport, { flags: 'S', seq: CLIENT_ISN, window: 64240, options }));
  assert.is(out.inside.length, 0, `nothing to the servers: ${show(out.inside)}`);
  const synAck = only(out.outside, 'SYN-ACK');
  checkToClient(synAck, cport);
  const ts = option(synAck, 'timestamp');
  return { cport, cookie: synAck.tcp!.seq, ourTs: ts ? ts.value : 0, synAck };
}

interface Backend extends Opened {
  lip: string; lport: number; server: string;
  syn: DecodedFrame;
}

/** SYN-ACK then the final ACK (with optional data): returns the backend SYN. */
function finalAck(lab: Lab, cport: number, payload?: Buffer, options: TcpOption[] = FULL_SYN_OPTIONS): Backend {
  const o = cookieSynAck(lab, cport, options);
  const ts: TcpOption[] = o.ourTs ? [{ kind: 'nop' }, { kind: 'nop' }, { kind: 'timestamp', value: CLIENT_TS + 1, echo: o.ourTs }] : [];
  const out = lab.forward('outside', clientTcp(cport, {
    flags: payload ? 'PA' : 'A', seq: CLIENT_ISN + 1, ack: u32(o.cookie + 1), window: 502, options: ts, payload,
  }));
  assert.is(out.outside.length, 0, `nothing back to the client: ${show(out.outside)}`);
  const syn = only(out.inside, 'backend SYN');
  assert.ok(syn.tcp!.checksumOk && syn.ipv4!.checksumOk, 'backend SYN checksums');
  return { ...o, lip: syn.ipv4!.src, lport: syn.tcp!.srcPort, server: syn.ipv4!.dst, syn };
}

function serverSynAck(b: Backend, options: TcpOption[]): Buffer {
  return serverTcp(b.server, 80, b.lip, b.lport, { flags: 'SA', seq: SERVER_ISN, ack: CLIENT_ISN + 1, window: 65160, options });
}

const SERVER_SYNACK_OPTIONS: TcpOption[] = [
  { kind: 'mss', value: 1460 }, { kind: 'sackPermitted' }, { kind: 'timestamp', value: SERVER_TS, echo: CLIENT_TS + 1 },
  { kind: 'nop' }, { kind: 'ws', shift: SERVER_WSCALE },
];

/** Complete handshake on both sides: returns the backend state. */
function established(lab: Lab, cport: number, data?: Buffer): { b: Backend; out: ReturnType<Lab['forward']> } {
  const b = finalAck(lab, cport, data);
  const out = lab.forward('inside', serverSynAck(b, SERVER_SYNACK_OPTIONS));
  return { b, out };
}

test('a SYN is answered with a cookie SYN-ACK carrying the options in the timestamp; no state', async () => {
  await withLab((lab) => {
    let o: Opened | undefined;
    const d = lab.counterDelta(() => { o = cookieSynAck(lab, 41000); });
    const t = o!.synAck.tcp!;
    assert.is(t.flagNames, 'SA');
    assert.is(t.ack, CLIENT_ISN + 1);
    assert.is(t.window, 3 * 1460);
    assert.is(o!.synAck.ipv4!.ttl, 64);
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
    const again = cookieSynAck(lab, 41000);
    assert.is(again.cookie, o!.cookie);
    assert.is(lab.stats().connections, 0);
  }, SYNPROXY_CONFIG);
});

test('without client timestamps only the MSS survives; the cookie rounds it down (msstab)', async () => {
  await withLab((lab) => {
    const opts: TcpOption[] = [{ kind: 'mss', value: 1400 }, { kind: 'sackPermitted' }, { kind: 'nop' }, { kind: 'ws', shift: 3 }];
    const b = finalAck(lab, 41001, undefined, opts);
    assert.equal(b.synAck.tcp!.options, [{ kind: 'mss', value: 1400 }], 'no SACK/wscale offered without TS');
    const t = b.syn.tcp!;
    assert.is(t.flagNames, 'S');
    assert.is(t.seq, CLIENT_ISN, 'backend SYN uses the client ISN');
    assert.equal(t.options, [{ kind: 'mss', value: 1300 }], 'MSS index 1 (1300) from the cookie');
  }, SYNPROXY_CONFIG);
});

test('valid final ACK: connection, backend SYN with the client options; a retransmitted ACK sends no second SYN', async () => {
  await withLab((lab) => {
    let b: Backend | undefined;
    const d = lab.counterDelta(() => { b = finalAck(lab, 41002); });
    const t = b!.syn.tcp!;
    assert.is(t.seq, CLIENT_ISN);
    assert.is(t.ack, 0);
    assert.is(t.flagNames, 'S');
    assert.equal(t.options, [
      { kind: 'mss', value: 1460 }, { kind: 'sackPermitted' }, { kind: 'timestamp', value: CLIENT_TS + 1, echo: 0 },
      { kind: 'nop' }, { kind: 'ws', shift: CLIENT_WSCALE },
    ]);
    expectEvents(d, { synproxy_cookies_accepted: 1 });
    expectEvents(d, { synproxy_server_syns: 1 });
    expectEvents(d, { conns_created: 1 });
    const conns = allConnections(lab.dp);
    assert.is(conns.length, 1);
    assert.is(conns[0]!.state, 'SYN_SENT');
    // Retransmitted final ACK: held, nothing sent anywhere.
    const out = lab.forward('outside', clientTcp(41002, { flags: 'A', seq: CLIENT_ISN + 1, ack: u32(b!.cookie + 1) }));
    assert.equal([out.inside.length, out.outside.length], [0, 0], `held: ${show([...out.inside, ...out.outside])}`);
    assert.is(lab.stats().connections, 1);
  }, SYNPROXY_CONFIG);
});

test('server SYN-ACK: ACKed toward the server, not shown to the client; held data follows translated', async () => {
  await withLab((lab) => {
    const data = Buffer.from('GET / HTTP/1.0\r\n\r\n');
    let r: ReturnType<typeof established> | undefined;
    const d = lab.counterDelta(() => { r = established(lab, 41003, data); });
    const { b, out } = r!;
    assert.is(out.outside.length, 0, `SYN-ACK not relayed: ${show(out.outside)}`);
    assert.is(out.inside.length, 2, `ACK then data: ${show(out.inside)}`);
    const [ack, held] = out.inside as [DecodedFrame, DecodedFrame];
    assert.equal([ack.ipv4!.src, ack.tcp!.srcPort, ack.ipv4!.dst, ack.tcp!.dstPort], [b.lip, b.lport, b.server, 80]);
    assert.is(ack.tcp!.flagNames, 'A');
    assert.is(ack.tcp!.seq, CLIENT_ISN + 1);
    assert.is(ack.tcp!.ack, SERVER_ISN + 1);
    assert.is(ack.tcp!.window, 502, 'the client window (already in its scale)');
    assert.equal(ack.tcp!.options, [{ kind: 'nop' }, { kind: 'nop' }, { kind: 'timestamp', value: CLIENT_TS + 1, echo: SERVER_TS }]);
    assert.ok(ack.tcp!.checksumOk && ack.ipv4!.checksumOk);
    assert.is(held.tcp!.payload.toString(), data.toString());
    assert.is(held.tcp!.seq, CLIENT_ISN + 1);
    assert.is(held.tcp!.ack, SERVER_ISN + 1, 'ack moved into the server sequence space');
    assert.equal(option(held, 'timestamp'), { kind: 'timestamp', value: CLIENT_TS + 1, echo: SERVER_TS }, 'TSecr in the server clock');
    assert.ok(held.tcp!.checksumOk, 'held data checksum');
    expectEvents(d, { synproxy_server_handshakes: 1 });
    expectDrops(d, {});
    assert.is(allConnections(lab.dp)[0]!.state, 'ESTABLISHED');
  }, SYNPROXY_CONFIG);
});

test('established: seq, SACK, timestamps and window translated both ways; FIN and RST pass', async () => {
  await withLab((lab) => {
    const { b } = established(lab, 41004);
    const delta = u32(b.cookie - SERVER_ISN);
    // server -> client data
    const down = lab.forward('inside', serverTcp(b.server, 80, b.lip, b.lport, {
      flags: 'PA', seq: SERVER_ISN + 1, ack: CLIENT_ISN + 1, window: 100,
      options: [{ kind: 'nop' }, { kind: 'nop' }, { kind: 'timestamp', value: SERVER_TS + 10, echo: CLIENT_TS + 1 }],
      payload: Buffer.from('hello'),
    }));
    const toClient = only(down.outside, 'data to the client');
    checkToClient(toClient, 41004);
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

test('forged and expired cookies are dropped as bad_cookie; one minute old is still good', async () => {
  await withLab((lab) => {
    const o = cookieSynAck(lab, 41005, [{ kind: 'mss', value: 1460 }]);
    const ack = (cport: number, cookie: number): Buffer => clientTcp(cport, { flags: 'A', seq: CLIENT_ISN + 1, ack: u32(cookie + 1) });
    let d = lab.counterDelta(() => {
      const out = lab.forward('outside', ack(41005, o.cookie ^ 0x00400000));
      assert.equal([out.inside.length, out.outside.length], [0, 0]);
    });
    expectDrops(d, { bad_cookie: 1 }, 'forged');
    d = lab.counterDelta(() => { lab.forward('outside', ack(41006, o.cookie)); });
    expectDrops(d, { bad_cookie: 1 }, 'another client port');
    lab.advance(121);
    d = lab.counterDelta(() => { lab.forward('outside', ack(41005, o.cookie)); });
    expectDrops(d, { bad_cookie: 1 }, 'over 2 minutes old');
    assert.is(lab.stats().connections, 0);
    const fresh = cookieSynAck(lab, 41007, [{ kind: 'mss', value: 1460 }]);
    lab.advance(61);
    d = lab.counterDelta(() => { only(lab.forward('outside', ack(41007, fresh.cookie)).inside, 'backend SYN'); });
    expectDrops(d, {});
    expectEvents(d, { synproxy_cookies_accepted: 1 });
  }, SYNPROXY_CONFIG);
});

test('synproxy_rst_on_bad_cookie: a forged or expired cookie ACK is answered with RST|ACK at its ack; still bad_cookie', async () => {
  await withLab((lab) => {
    const o = cookieSynAck(lab, 41020, [{ kind: 'mss', value: 1460 }]);
    const payload = Buffer.from('GET / HTTP/1.0\r\n\r\n');
    const forgedAck = u32((o.cookie + 1) ^ 0x00400000);  // ^ yields a signed int32; keep it unsigned
    let rst: DecodedFrame | undefined;
    let d = lab.counterDelta(() => {
      const out = lab.forward('outside', clientTcp(41020, { flags: 'PA', seq: CLIENT_ISN + 1, ack: forgedAck, payload }));
      assert.is(out.inside.length, 0, `nothing to the servers: ${show(out.inside)}`);
      rst = only(out.outside, 'RST');
    });
    expectDrops(d, { bad_cookie: 1 }, 'still counted');
    checkToClient(rst!, 41020);
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
    const b = finalAck(lab, 41008, Buffer.from('one'));
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
    checkToClient(rst, 41008);
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
    const b = finalAck(lab, 41010);
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
    const out = lab.forward('inside', serverSynAck(b, SERVER_SYNACK_OPTIONS));
    const ack = only(out.inside, 'our ACK to the server');
    assert.is(ack.tcp!.flagNames, 'A');
    assert.is(out.outside.length, 0, 'the client never sees the server SYN-ACK');
  }, SYNPROXY_CONFIG);
});

test('a server that never answers: the client is reset and the connection freed', async () => {
  await withLab((lab) => {
    const baseline = lab.stats().mbufsInUse;
    const b = finalAck(lab, 41009, Buffer.from('data'));
    assert.is(lab.stats().mbufsInUse, baseline + 1, 'the data segment is held');
    let rst: DecodedFrame | undefined;
    const d = lab.counterDelta(() => {
      lab.advance(4);
      rst = only(lab.resolveNeighbours().outside, 'RST to the client');
    });
    checkToClient(rst!, 41009);
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
    const b = finalAck(lab, 41011, Buffer.from('x'));
    const retransmit = (): Buffer => clientTcp(41011, { flags: 'PA', seq: CLIENT_ISN + 1, ack: u32(b.cookie + 1), payload: Buffer.from('x'),
      options: [{ kind: 'nop' }, { kind: 'nop' }, { kind: 'timestamp', value: CLIENT_TS + 1, echo: b.ourTs }] });
    lab.advance(1.2);
    let syn: DecodedFrame | undefined;
    const d = lab.counterDelta(() => { syn = only(lab.forward('outside', retransmit()).inside, 'backend SYN again'); });
    assert.equal(syn!.tcp!.options, b.syn.tcp!.options);
    assert.is(syn!.tcp!.seq, CLIENT_ISN);
    expectEvents(d, { synproxy_server_syns: 1 });
    // the server answers now: ACK, then the two held copies of the segment
    const out = lab.forward('inside', serverSynAck(b, SERVER_SYNACK_OPTIONS));
    assert.is(out.inside.length, 3, show(out.inside));
  }, SYNPROXY_CONFIG);
});

test('toa with SYNPROXY: the MSS offered to the client leaves room for the 8-byte option', async () => {
  await withLab((lab) => {
    const o = cookieSynAck(lab, 41012);
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
