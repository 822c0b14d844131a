// The connection region (issue 18, dataplane/core/conn_region.h): the tables live in a shared file
// and a second start of the data plane adopts them. These run the real pipeline twice in one process
// (stop, start again on the same file): what one start made, the next one forwards, with the same
// LIP:lport, server and state; what no longer fits the configuration is dropped and counted.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import type { ConnRegionReport, DataplaneConfig, StartOptions } from '../../src/dataplane/types.js';
import { CLIENT_ISN, SERVER_ISN, SYNPROXY_IPV4, established, finalAck, u32 } from '../support/synproxy-flows.js';
import {
  CLIENT, LIPS, SERVERS, TCP_SERVICE_ID, VIP, allConnections, clientTcp, expectEvents, frameFrom, labConfig, serverTcp, withLab,
  type Lab,
} from '../support/golden.js';

function withRegionDir(fn: (path: string, dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-region-'));
  return fn(join(dir, 'conns'), dir).finally(() => rmSync(dir, { recursive: true, force: true }));
}

interface Opened { cport: number; server: string; lip: string; lport: number; serverIsn: number }

/** A client opens TCP through the gateway: SYN out, the server's SYN-ACK back, the client's ACK. */
function open(lab: Lab, cport: number): Opened {
  const out = lab.forward('outside', clientTcp(cport, { flags: 'S', seq: 1000 }));
  const syn = out.inside[0];
  assert.ok(syn?.tcp && syn.ipv4, `the SYN of ${cport} reached a server`);
  const opened = { cport, server: syn.ipv4.dst, lip: syn.ipv4.src, lport: syn.tcp.srcPort, serverIsn: 7000 + cport };
  const back = lab.forward('inside', serverTcp(opened.server, 80, opened.lip, opened.lport, { flags: 'SA', seq: opened.serverIsn, ack: 1001 }));
  assert.is(back.outside.length, 1, 'SYN-ACK to the client');
  lab.forward('outside', clientTcp(cport, { flags: 'A', seq: 1001, ack: opened.serverIsn + 1 }));
  return opened;
}

/** The client sends data on an open connection: where does it leave? */
function dataGoesTo(lab: Lab, o: Opened): { server: string; lip: string; lport: number } | undefined {
  const out = lab.forward('outside', clientTcp(o.cport, { flags: 'PA', seq: 1001, ack: o.serverIsn + 1, payload: Buffer.from('GET /') }));
  const seg = out.inside[0];
  return seg?.ipv4 && seg.tcp ? { server: seg.ipv4.dst, lip: seg.ipv4.src, lport: seg.tcp.srcPort } : undefined;
}

function region(lab: Lab): ConnRegionReport {
  const report = lab.stats().connRegion;
  assert.ok(report, 'stats() has connRegion when started with one');
  return report;
}

const noDrops = { uncommitted: 0, stale: 0, duplicate: 0, synproxyPending: 0, invalid: 0 };

test('restart: established connections are adopted with their LIP:lport and server, forward both ways, gauges and invariants hold', () =>
  withRegionDir(async (path) => {
    const opened: Opened[] = [];
    await withLab((lab) => {
      assert.is(region(lab).outcome, 'created');
      for (let k = 0; k < 6; k++) opened.push(open(lab, 40000 + k));
      assert.equal(lab.dp.checkConnTables(), []);
    }, labConfig(), { connRegion: { path } });
    assert.ok(existsSync(path), 'the region file outlives the data plane');

    await withLab((lab) => {
      const report = region(lab);
      assert.is(report.outcome, 'adopted');
      assert.is(report.adopted, 6, 'every connection adopted');
      assert.equal(report.dropped, noDrops);
      assert.equal(lab.dp.checkConnTables(), [], 'index, wheel, free list, lports and gauges rebuilt consistently');
      const tcp = lab.stats().services.find((s) => s.id === TCP_SERVICE_ID)!;
      assert.is(tcp.activeConns, 6, 'ActiveConn as before the restart');
      const listed = allConnections(lab.dp).map((c) => `${c.clientPort} ${c.local}:${c.localPort} ${c.server} ${c.state}`).sort();
      assert.equal(listed, opened.map((o) => `${o.cport} ${o.lip}:${o.lport} ${o.server} ESTABLISHED`).sort());
      for (const o of opened) {
        assert.equal(dataGoesTo(lab, o), { server: o.server, lip: o.lip, lport: o.lport }, `client ${o.cport}: same server, same LIP:lport`);
        const reply = lab.forward('inside', serverTcp(o.server, 80, o.lip, o.lport, { flags: 'PA', seq: o.serverIsn + 1, ack: 1006, payload: Buffer.from('200') }));
        assert.is(reply.outside[0]?.ipv4?.dst, CLIENT, `client ${o.cport}: the reply is translated back`);
        assert.is(reply.outside[0]?.ipv4?.src, VIP);
      }
      // A new connection takes an lport no adopted one holds.
      const fresh = open(lab, 41000);
      assert.ok(!opened.some((o) => o.lip === fresh.lip && o.lport === fresh.lport), 'lport bitmaps were rebuilt');
      assert.equal(lab.dp.checkConnTables(), []);
    }, labConfig(), { connRegion: { path } });
  }));

test('restart with a changed configuration: connections whose server or LIP left are dropped (counted stale), the rest adopted', () =>
  withRegionDir(async (path) => {
    const opened: Opened[] = [];
    await withLab((lab) => {
      for (let k = 0; k < 9; k++) opened.push(open(lab, 42000 + k));
    }, labConfig(), { connRegion: { path } });
    const removedServer = SERVERS[0]!;
    const removedLip = LIPS[1]!;
    const changed: DataplaneConfig = labConfig((c) => {
      const tcp = c.services.find((s) => s.id === TCP_SERVICE_ID)!;
      tcp.servers = tcp.servers.filter((s) => s.address !== removedServer);
      tcp.localAddresses = tcp.localAddresses.filter((a) => a !== removedLip);
    });
    const gone = opened.filter((o) => o.server === removedServer || o.lip === removedLip);
    assert.ok(gone.length > 0 && gone.length < opened.length, 'the change hits some connections, not all');
    await withLab((lab) => {
      const report = region(lab);
      assert.is(report.adopted, opened.length - gone.length);
      assert.equal(report.dropped, { ...noDrops, stale: gone.length });
      assert.equal(lab.dp.checkConnTables(), []);
      for (const o of opened.filter((x) => !gone.includes(x))) assert.is(dataGoesTo(lab, o)?.lport, o.lport);
    }, changed, { connRegion: { path } });
  }));

test('a region made for another table size is set aside (renamed, reason given), never reused; the start goes on with empty tables', () =>
  withRegionDir(async (path, dir) => {
    await withLab((lab) => { open(lab, 43000); }, labConfig(), { connRegion: { path }, connCapacity: 4096 });
    await withLab((lab) => {
      const report = region(lab);
      assert.is(report.outcome, 'created');
      assert.match(report.rejectedReason, /conn_capacity 4096, now 8192/);
      assert.ok(report.rejectedPath.startsWith(`${path}.rejected-`), report.rejectedPath);
      assert.ok(statSync(report.rejectedPath).size > 0, 'the old region is kept aside for a post-mortem');
      assert.is(allConnections(lab.dp).length, 0);
    }, labConfig(), { connRegion: { path }, connCapacity: 8192 });
    assert.is(readdirSync(dir).length, 2, 'the region and the one set aside');
  }));

test('takeover in test mode: held until release (what arrives is discarded and counted), then the tables are adopted', () =>
  withRegionDir(async (path) => {
    let o: Opened | undefined;
    await withLab((lab) => { o = open(lab, 44000); }, labConfig(), { connRegion: { path } });
    await withLab((lab) => {
      assert.is(region(lab).outcome, 'held');
      const d = lab.counterDelta(() => lab.send('outside', clientTcp(o!.cport, { flags: 'PA', seq: 1001, ack: o!.serverIsn + 1, payload: Buffer.from('x') })));
      expectEvents(d, { rx_packets: 1, takeover_discarded: 1 });
      assert.is(lab.recv('inside').length, 0, 'nothing forwarded while held');
      const report = lab.dp.release();
      assert.is(report.outcome, 'adopted');
      assert.is(report.adopted, 1);
      assert.equal(dataGoesTo(lab, o!), { server: o!.server, lip: o!.lip, lport: o!.lport });
      assert.throws(() => lab.dp.release(), /was not started to take over/);
    }, labConfig(), { connRegion: { path, holdUntilRelease: true } });
  }));

test('a takeover start refuses, touching nothing, when there is no region to take or it cannot be adopted', () =>
  withRegionDir(async (path, dir) => {
    const failure = (sizes: Parameters<typeof withLab>[2]) =>
      withLab(() => undefined, labConfig(), sizes).then(() => 'started', (e: Error) => e.message);
    assert.match(await failure({ connRegion: { path, holdUntilRelease: true } }), /no tables to take over there/);
    assert.equal(readdirSync(dir), [], 'no file left behind');
    await withLab((lab) => { open(lab, 48000); }, labConfig(), { connRegion: { path }, connCapacity: 4096 });
    assert.match(await failure({ connRegion: { path, holdUntilRelease: true }, connCapacity: 8192 }),
      /cannot be taken over: made for conn_capacity 4096, now 8192/);
    assert.equal(readdirSync(dir), ['conns'], 'nothing renamed: the running daemon keeps its tables');
    await withLab((lab) => { assert.is(region(lab).adopted, 1); }, labConfig(), { connRegion: { path }, connCapacity: 4096 });
  }));

test('hugetlbfs without enough free huge pages: start fails NOMEM naming the region, and leaves no file a next start would trip on', async () => {
  assert.ok(readFileSync('/proc/mounts', 'utf8').split('\n').some((l) => l.split(' ')[1] === '/dev/hugepages' && l.split(' ')[2] === 'hugetlbfs'),
    '/dev/hugepages must be a hugetlbfs mount (scripts/setup.sh mounts it)');
  const path = `/dev/hugepages/portcullis-test-${process.pid}.conns`;
  try {
    // 2^27 connections: about 20 GiB of huge pages, far beyond what is reserved.
    const error = await withLab(() => undefined, labConfig(), { connRegion: { path }, connCapacity: 1 << 27 }).then(() => undefined, (e: Error & { code?: string }) => e);
    assert.is(error?.code, 'NOMEM');
    assert.match(error!.message, /connection region: mmap\(\/dev\/hugepages\/portcullis-test-\d+\.conns\).*free huge pages/);
    assert.not.ok(existsSync(path), 'the file is gone');
  } finally {
    rmSync(path, { force: true });
  }
});

test('churn: connections made, closed and expired across three restarts keep every table invariant', () =>
  withRegionDir(async (path) => {
    let cport = 45000;
    for (let round = 0; round < 3; round++) {
      await withLab((lab) => {
        for (let k = 0; k < 20; k++) open(lab, cport++);
        lab.advance(200);  // some SYN_RECV / short states expire meanwhile
        for (let k = 0; k < 5; k++) {
          const o = open(lab, cport++);
          lab.forward('outside', clientTcp(o.cport, { flags: 'FA', seq: 1001, ack: o.serverIsn + 1 }));
        }
        assert.equal(lab.dp.checkConnTables(), [], `round ${round}`);
      }, labConfig(), { connRegion: { path } });
    }
  }));

test('restart with SYNPROXY: an established connection keeps its sequence translation; a handshake in progress is dropped and the client\'s retransmitted ACK starts it again', () =>
  withRegionDir(async (path) => {
    const family = SYNPROXY_IPV4;
    let done: ReturnType<typeof established>['b'] | undefined;
    let pendingCookie = 0;
    await withLab((lab) => {
      done = established(family, lab, 46000).b;
      pendingCookie = finalAck(family, lab, 46001).cookie;  // the server never answers before the restart
    }, family.config, { connRegion: { path } });
    await withLab((lab) => {
      const report = region(lab);
      assert.is(report.adopted, 1);
      assert.equal(report.dropped, { ...noDrops, synproxyPending: 1 });
      assert.equal(lab.dp.checkConnTables(), []);
      // Server data: its sequence space is shifted to the cookie's, as before the restart.
      const out = lab.forward('inside', family.serverTcp(done!, { flags: 'PA', seq: SERVER_ISN + 1, ack: CLIENT_ISN + 1, payload: Buffer.from('hello') }));
      const toClient = out.outside[0];
      assert.ok(toClient?.tcp, 'the server\'s data reaches the client');
      assert.is(toClient.tcp.seq, u32(done!.cookie + 1), 'seq translated by the adopted delta');
      family.checkToClient(toClient, 46000);
      // The pending one: the client retransmits its final ACK; the cookie is still good.
      const again = lab.forward('outside', family.clientTcp(46001, { flags: 'A', seq: CLIENT_ISN + 1, ack: u32(pendingCookie + 1), window: 502 }));
      assert.is(again.inside[0]?.tcp?.flags, 0x02, 'a new backend SYN (flags SYN only)');
    }, family.config, { connRegion: { path } });
  }));

test('three workers: each adopts its own slice; a reply arriving on another worker\'s queue still finds its owner (lport class) after the restart', () =>
  withRegionDir(async (path) => {
    const opened: { queue: number; o: Opened }[] = [];
    await withLab((lab) => {
      for (let queue = 0; queue < 3; queue++) {
        for (let k = 0; k < 4; k++) {
          const cport = 47000 + queue * 10 + k;
          lab.sendOn('outside', queue, clientTcp(cport, { flags: 'S', seq: 1000 }));
          const syn = lab.resolveNeighbours().inside[0]!;
          const o = { cport, server: syn.ipv4!.dst, lip: syn.ipv4!.src, lport: syn.tcp!.srcPort, serverIsn: 9000 };
          opened.push({ queue, o });
        }
      }
      assert.equal(lab.dp.checkConnTables(), []);
    }, labConfig(), { connRegion: { path }, workers: 3 });
    await withLab((lab) => {
      assert.is(region(lab).adopted, opened.length);
      assert.equal(lab.dp.checkConnTables(), []);
      for (const { queue, o } of opened) {
        // The server's SYN-ACK comes in on the next worker's queue: steered to the owner by its lport.
        lab.sendOn('inside', (queue + 1) % 3, serverTcp(o.server, 80, o.lip, o.lport, { flags: 'SA', seq: o.serverIsn, ack: 1001 }));
        const back = lab.resolveNeighbours().outside;
        assert.is(back.length, 1, `client ${o.cport}: the SYN-ACK is translated by the owner`);
        assert.is(back[0]!.ipv4!.dst, CLIENT);
      }
    }, labConfig(), { connRegion: { path }, workers: 3 });
    // Two workers would split the lports into other classes: that region cannot be adopted.
    await withLab((lab) => {
      assert.match(region(lab).rejectedReason, /made for 3 workers, now 2/);
      assert.is(allConnections(lab.dp).length, 0);
    }, labConfig(), { connRegion: { path }, workers: 2 });
  }));

test('three workers, NAT: connections adopted after a restart are still found by replies on any worker (the client endpoint names the owner)', () =>
  withRegionDir(async (path) => {
    const nat = labConfig((c) => {
      for (const service of c.services) { service.localAddresses = []; service.servers = [{ ...service.servers[0]!, forward: 'nat' }]; }
    });
    const rip = SERVERS[0]!;
    const cports = Array.from({ length: 9 }, (_, k) => 48000 + k);
    await withLab((lab) => {
      cports.forEach((cport, k) => {
        lab.sendOn('outside', k % 3, clientTcp(cport, { flags: 'S', seq: 1000 }));
        assert.is(lab.resolveNeighbours().inside.length, 1, `SYN of ${cport} forwarded`);
      });
      assert.equal(lab.dp.checkConnTables(), []);
    }, nat, { connRegion: { path }, workers: 3 });
    await withLab((lab) => {
      assert.is(region(lab).adopted, cports.length);
      for (const cport of cports) {
        for (let queue = 0; queue < 3; queue++) {
          lab.sendOn('inside', queue, frameFrom('inside', rip, CLIENT, { tcp: { srcPort: 80, dstPort: cport, flags: 'SA', seq: 9000, ack: 1001 } }));
          const back = lab.resolveNeighbours().outside;
          assert.is(back.length, 1, `client ${cport}, reply on queue ${queue}: translated by the adopting owner`);
          assert.equal([back[0]!.ipv4!.src, back[0]!.ipv4!.dst, back[0]!.tcp!.dstPort], [VIP, CLIENT, cport]);
        }
      }
      assert.is(lab.stats().drops.not_for_us, 0);
    }, nat, { connRegion: { path }, workers: 3 });
  }));

test('three workers, persistence: a client network\'s template is adopted on the worker it names, so after a restart its new connections on any worker keep their server', () =>
  withRegionDir(async (path) => {
    const persistent = labConfig((c) => {
      const svc = c.services.find((s) => s.id === TCP_SERVICE_ID)!;
      svc.persistenceTimeout = 300;
      svc.persistenceNetmask = '255.255.255.0';
    });
    const synOn = (lab: Lab, queue: number, client: string, cport: number): string => {
      lab.sendOn('outside', queue, clientTcp(cport, { flags: 'S', seq: 1000 }, VIP, 80, client));
      const inside = lab.resolveNeighbours().inside;
      assert.is(inside.length, 1, `SYN from ${client}:${cport} on queue ${queue}`);
      return inside[0]!.ipv4!.dst;
    };
    let first = '';
    await withLab((lab) => {
      first = synOn(lab, 0, '198.18.0.1', 49000);
      assert.is(synOn(lab, 1, '198.18.0.2', 49001), first);
    }, persistent, { connRegion: { path }, workers: 3 });
    await withLab((lab) => {
      assert.is(region(lab).adopted, 2);
      let servers: string[] = [];
      const d = lab.counterDelta(() => { servers = [0, 1, 2].map((queue) => synOn(lab, queue, `198.18.0.${10 + queue}`, 49010 + queue)); });
      assert.equal(servers, [first, first, first], 'the adopted template decides on every worker');
      expectEvents(d, { persist_template_hits: 3 });
      assert.is(d.events.persist_templates_created, undefined, 'no new template');
    }, persistent, { connRegion: { path }, workers: 3 });
  }));

test('bad options: a relative region path is refused with the field named', async () => {
  const error = await withLab(() => undefined, labConfig(), { connRegion: { path: 'relative/conns' } as StartOptions['connRegion'] })
    .then(() => undefined, (e: Error) => e);
  assert.match(error?.message ?? 'started', /options\.connRegion\.path: expected an absolute file path/);
});

test.run();
