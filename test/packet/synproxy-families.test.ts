// The SYNPROXY scenarios that are the same for IPv4 and IPv6 but for addresses, header builders
// and the MSS, run once per family (test/support/synproxy-flows.ts): the final ACK opening the
// backend handshake, the server's SYN-ACK completing it with the held data, and bad cookies.
// What only one family has stays in synproxy.test.ts and synproxy-ipv6.test.ts.
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { allConnections, expectDrops, expectEvents, only, show, withLab } from '../support/golden.js';
import type { DecodedFrame } from '../support/packet.js';
import {
  CLIENT_ISN, CLIENT_TS, CLIENT_WSCALE, SERVER_ISN, SERVER_TS, SYNPROXY_FAMILIES, cookieSynAck, established, finalAck, option, u32,
  type Backend,
} from '../support/synproxy-flows.js';

for (const family of SYNPROXY_FAMILIES) {
  const { name } = family;

  test(`${name} valid final ACK: connection, backend SYN from a LIP to a server with the client options; a retransmitted ACK sends no second SYN`, async () => {
    await withLab((lab) => {
      let b: Backend | undefined;
      const d = lab.counterDelta(() => { b = finalAck(family, lab, 41002); });
      assert.ok(family.lips.includes(b!.lip), `LIP ${b!.lip}`);
      assert.ok(family.servers.includes(b!.server), `server ${b!.server}`);
      const t = b!.syn.tcp!;
      assert.is(t.seq, CLIENT_ISN);
      assert.is(t.ack, 0);
      assert.is(t.flagNames, 'S');
      assert.is(t.dstPort, 80);
      assert.equal(t.options, [
        { kind: 'mss', value: family.mss }, { kind: 'sackPermitted' }, { kind: 'timestamp', value: CLIENT_TS + 1, echo: 0 },
        { kind: 'nop' }, { kind: 'ws', shift: CLIENT_WSCALE },
      ]);
      expectEvents(d, { synproxy_cookies_accepted: 1 });
      expectEvents(d, { synproxy_server_syns: 1 });
      expectEvents(d, { conns_created: 1 });
      expectDrops(d, {});
      const conns = allConnections(lab.dp);
      assert.is(conns.length, 1);
      assert.equal([conns[0]!.client, conns[0]!.virtual, conns[0]!.local, conns[0]!.server], [family.client, family.vip, b!.lip, b!.server]);
      assert.is(conns[0]!.state, 'SYN_SENT');
      // Retransmitted final ACK: held, nothing sent anywhere.
      const out = lab.forward('outside', family.clientTcp(41002, { flags: 'A', seq: CLIENT_ISN + 1, ack: u32(b!.cookie + 1) }));
      assert.equal([out.inside.length, out.outside.length], [0, 0], `held: ${show([...out.inside, ...out.outside])}`);
      assert.is(lab.stats().connections, 1);
    }, family.config);
  });

  test(`${name} server SYN-ACK: ACKed toward the server, not shown to the client; held data follows translated`, async () => {
    await withLab((lab) => {
      const data = Buffer.from('GET / HTTP/1.0\r\n\r\n');
      let r: ReturnType<typeof established> | undefined;
      const d = lab.counterDelta(() => { r = established(family, lab, 41003, data); });
      const { b, out } = r!;
      assert.is(out.outside.length, 0, `SYN-ACK not relayed: ${show(out.outside)}`);
      assert.is(out.inside.length, 2, `ACK then data: ${show(out.inside)}`);
      const [ack, held] = out.inside as [DecodedFrame, DecodedFrame];
      family.checkOwnHeader(ack);
      const [ackSrc, ackDst] = family.addresses(ack);
      assert.equal([ackSrc, ack.tcp!.srcPort, ackDst, ack.tcp!.dstPort], [b.lip, b.lport, b.server, 80]);
      assert.is(ack.tcp!.flagNames, 'A');
      assert.is(ack.tcp!.seq, CLIENT_ISN + 1);
      assert.is(ack.tcp!.ack, SERVER_ISN + 1);
      assert.is(ack.tcp!.window, 502, 'the client window (already in its scale)');
      assert.equal(ack.tcp!.options, [{ kind: 'nop' }, { kind: 'nop' }, { kind: 'timestamp', value: CLIENT_TS + 1, echo: SERVER_TS }]);
      assert.equal(family.addresses(held), [b.lip, b.server]);
      assert.is(held.tcp!.payload.toString(), data.toString());
      assert.is(held.tcp!.seq, CLIENT_ISN + 1);
      assert.is(held.tcp!.ack, SERVER_ISN + 1, 'ack moved into the server sequence space');
      assert.equal(option(held, 'timestamp'), { kind: 'timestamp', value: CLIENT_TS + 1, echo: SERVER_TS }, 'TSecr in the server clock');
      assert.ok(held.tcp!.checksumOk, 'held data checksum');
      expectEvents(d, { synproxy_server_handshakes: 1 });
      expectDrops(d, {});
      assert.is(allConnections(lab.dp)[0]!.state, 'ESTABLISHED');
    }, family.config);
  });

  test(`${name} forged, another port's and expired cookies are dropped bad_cookie, no connection; one minute old is still good`, async () => {
    await withLab((lab) => {
      const mssOnly = [{ kind: 'mss' as const, value: family.mss }];
      const o = cookieSynAck(family, lab, 41005, mssOnly);
      const ack = (cport: number, cookie: number): Buffer => family.clientTcp(cport, { flags: 'A', seq: CLIENT_ISN + 1, ack: u32(cookie + 1) });
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
      const fresh = cookieSynAck(family, lab, 41007, mssOnly);
      lab.advance(61);
      d = lab.counterDelta(() => { only(lab.forward('outside', ack(41007, fresh.cookie)).inside, 'backend SYN'); });
      expectDrops(d, {});
      expectEvents(d, { synproxy_cookies_accepted: 1 }, 'one minute old is still good');
    }, family.config);
  });
}

test.run();
