// One-packet scheduling (ipvsadm -o) on the UDP :7 service: each datagram of one client
// tuple is scheduled on its own with its own LIP:lport, its reply is translated back and
// ends the entry, a second reply is no_conn, and the table empties after the timeout.
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import {
  CLIENT, LIPS, SERVERS, UDP_SERVER_IDS, UDP_SERVICE_ID, VIP, allConnections, clientUdp, expectDrops, expectEvents,
  frameFrom, labConfig, only, withLab, type Lab,
} from '../support/golden.js';
import type { DecodedFrame } from '../support/packet.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DataplaneConfig } from '../../src/dataplane/types.js';

const CPORT = 5353;

function opsConfig(udpOnePacket?: number): DataplaneConfig {
  return labConfig((c) => {
    const udp = c.services.find((s) => s.id === UDP_SERVICE_ID)!;
    udp.onePacket = true;
    if (udpOnePacket !== undefined) udp.timeouts.udpOnePacket = udpOnePacket;
  });
}

/** n datagrams from CLIENT:CPORT, each forwarded on its own; what reached the servers. */
function burst(lab: Lab, n: number): DecodedFrame[] {
  const inbound: DecodedFrame[] = [];
  for (let i = 0; i < n; i++) inbound.push(only(lab.forward('outside', clientUdp(CPORT, Buffer.from(`query ${i}`))).inside, `datagram ${i}`));
  return inbound;
}

function replyTo(query: DecodedFrame, payload: string): Buffer {
  return frameFrom('inside', query.ipv4!.dst, query.ipv4!.src, { udp: { srcPort: 7, dstPort: query.udp!.srcPort, payload: Buffer.from(payload) } });
}

test('one-packet: 9 datagrams of one client:port spread by rr, each reply back, a second reply no_conn, table empty after the timeout', async () => {
  await withLab((lab) => {
    let inbound: DecodedFrame[] = [];
    const sent = lab.counterDelta(() => { inbound = burst(lab, 9); });
    expectEvents(sent, { conns_created: 9 });
    expectDrops(sent, {});
    // rr over three servers, one datagram at a time: 1 2 3 1 2 3 1 2 3.
    assert.equal(inbound.map((f) => SERVERS.indexOf(f.ipv4!.dst)), [0, 1, 2, 0, 1, 2, 0, 1, 2]);
    const locals = new Set(inbound.map((f) => `${f.ipv4!.src}:${f.udp!.srcPort}`));
    assert.is(locals.size, 9, 'every datagram has its own LIP:lport');
    assert.ok(inbound.every((f) => LIPS.includes(f.ipv4!.src) && f.udp!.checksumOk && f.ipv4!.checksumOk));
    assert.is(lab.stats().connections, 9, 'one entry per datagram in flight');
    assert.equal(allConnections(lab.dp).map((c) => c.state), Array(9).fill('UDP'));
    assert.equal(lab.dp.checkConnTables(), []);

    const answered = lab.counterDelta(() => {
      inbound.forEach((query, i) => {
        const back = only(lab.forward('inside', replyTo(query, `answer ${i}`)).outside, `reply ${i}`);
        assert.equal([back.ipv4!.src, back.udp!.srcPort, back.ipv4!.dst, back.udp!.dstPort], [VIP, 7, CLIENT, CPORT]);
        assert.ok(back.ipv4!.checksumOk && back.udp!.checksumOk, `reply ${i} checksums`);
        assert.is(back.udp!.payload.toString(), `answer ${i}`);
      });
    });
    expectEvents(answered, { conns_expired: 9, packets_forwarded_out: 9 });
    expectDrops(answered, {});
    assert.equal(lab.dp.checkConnTables(), [], 'answered records hold no entry, lport or gauge');
    assert.equal(allConnections(lab.dp), [], 'an answered datagram is no longer listed');

    // The server answers the first query again: its entry is gone.
    const again = lab.counterDelta(() => {
      const out = lab.forward('inside', replyTo(inbound[0]!, 'answer 0 again'));
      assert.is(out.outside.length + out.inside.length, 0);
    });
    expectDrops(again, { no_conn: 1 });

    // Two replies in one rx burst: the burst is looked up at once, so the second one still
    // found the entry the first one ended; it must be no_conn all the same.
    const [twice] = burst(lab, 1);
    const sameBurst = lab.counterDelta(() => {
      const out = lab.forward('inside', replyTo(twice!, 'first'), replyTo(twice!, 'duplicate'));
      assert.equal(out.outside.map((f) => f.udp!.payload.toString()), ['first']);
    });
    expectDrops(sameBurst, { no_conn: 1 });
    expectEvents(sameBurst, { conns_expired: 1, packets_forwarded_out: 1 });

    const stats = lab.stats();
    const service = stats.services.find((s) => s.id === UDP_SERVICE_ID)!;
    assert.equal([service.conns, service.inPackets, service.outPackets, service.activeConns, service.inactiveConns], [10, 10, 10, 0, 0]);
    UDP_SERVER_IDS.forEach((id, i) => {
      const server = stats.servers.find((s) => s.id === id)!;
      const n = i === 0 ? 4 : 3;  // the tenth datagram went to the first server again
      assert.equal([server.conns, server.inPackets, server.outPackets], [n, n, n], `server ${id}: every datagram counted`);
    });
    // The records themselves wait for their wheel slot: at most udp_one_packet (5 s) after the datagram.
    lab.advance(5.2);
    assert.is(lab.stats().connections, 0);
    assert.equal(lab.dp.checkConnTables(), []);
  }, opsConfig());
});

test('one-packet: a datagram without a reply leaves after timeouts.udp_one_packet; the late reply is no_conn', async () => {
  await withLab((lab) => {
    const [query] = burst(lab, 1);
    lab.advance(1.5);
    assert.is(lab.stats().connections, 1, 'still waiting at 1.5 s of 2');
    const expired = lab.counterDelta(() => lab.advance(0.7));
    expectEvents(expired, { conns_expired: 1 });
    assert.is(lab.stats().connections, 0);
    const service = lab.stats().services.find((s) => s.id === UDP_SERVICE_ID)!;
    assert.equal([service.activeConns, service.inactiveConns], [0, 0]);
    const late = lab.counterDelta(() => {
      const out = lab.forward('inside', replyTo(query!, 'too late'));
      assert.is(out.outside.length, 0);
    });
    expectDrops(late, { no_conn: 1 });
    assert.equal(lab.dp.checkConnTables(), []);
  }, opsConfig(2));
});

test('without one-packet the same datagrams stick to one server and one connection (the control)', async () => {
  await withLab((lab) => {
    const inbound = burst(lab, 9);
    assert.equal(new Set(inbound.map((f) => f.ipv4!.dst)).size, 1);
    assert.equal(new Set(inbound.map((f) => f.udp!.srcPort)).size, 1);
    assert.is(lab.stats().connections, 1);
  });
});

test('one_packet on a TCP service or with persistence is refused by the data plane, naming the field', async () => {
  await withLab((lab) => {
    const tcp = labConfig((c) => { c.services.find((s) => s.protocol === 'tcp')!.onePacket = true; });
    assert.throws(() => lab.apply(tcp), /services\[0\]\.one_packet: UDP services only/);
    const persistent = opsConfig();
    persistent.services.find((s) => s.id === UDP_SERVICE_ID)!.persistenceTimeout = 60;
    assert.throws(() => lab.apply(persistent), /services\[1\]\.one_packet: not with persistence_timeout/);
  });
});

test('one-packet across a restart on the connection region: the datagram in flight is adopted and answered, answered ones are gone', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-ops-region-'));
  try {
    const path = join(dir, 'conns');
    let queries: DecodedFrame[] = [];
    await withLab((lab) => {
      queries = burst(lab, 3);
      for (const query of queries.slice(0, 2)) assert.is(lab.forward('inside', replyTo(query, 'before')).outside.length, 1);
      assert.equal(lab.dp.checkConnTables(), []);
    }, opsConfig(), { connRegion: { path } });
    await withLab((lab) => {
      const report = lab.stats().connRegion!;
      assert.is(report.outcome, 'adopted');
      assert.is(report.adopted, 1, 'the one datagram still waiting for its reply');
      assert.equal(lab.dp.checkConnTables(), [], 'reply entry only, its lport and gauge rebuilt');
      assert.equal(allConnections(lab.dp).map((c) => `${c.localPort} ${c.state}`), [`${queries[2]!.udp!.srcPort} UDP`]);
      const back = only(lab.forward('inside', replyTo(queries[2]!, 'after')).outside, 'the adopted datagram\'s reply');
      assert.equal([back.ipv4!.src, back.udp!.srcPort, back.ipv4!.dst, back.udp!.dstPort], [VIP, 7, CLIENT, CPORT]);
      const stale = lab.counterDelta(() => { lab.forward('inside', replyTo(queries[0]!, 'answered before the restart')); });
      expectDrops(stale, { no_conn: 1 });
      assert.equal(lab.dp.checkConnTables(), []);
    }, opsConfig(), { connRegion: { path } });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
