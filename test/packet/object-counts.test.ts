// The counts pcadm prints beside each object, from the data plane: PersistConn (ipvsadm
// --persistent-conn: live persistence templates per real server, IPVS dest->persistconns) and
// DPVS --get-laddr's CONNS (connections using each LIP of a service) and CONFLICTS (new
// connections that found every lport of a LIP taken). Each must rise, fall back to zero and
// never inherit the numbers of an object that left.
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import type { DataplaneConfig, DataplaneService, DataplaneStats, LocalAddressStats } from '../../src/dataplane/types.js';
import {
  CLIENT, IPVS_TIMEOUTS, LIPS, SERVERS, TCP_SERVER_IDS, TCP_SERVICE_ID, VIP, clientTcp, expectDrops, labConfig, only,
  openTcp, synThrough, withLab, type Lab,
} from '../support/golden.js';

const [A, B, C] = SERVERS as [string, string, string];
const [ID_A, ID_B, ID_C] = TCP_SERVER_IDS as [number, number, number];
const [L0, L1] = LIPS as [string, string];
const SYN_RECV = IPVS_TIMEOUTS.tcpSynRecv;

function tcpService(edit: (svc: DataplaneService) => void): DataplaneConfig {
  return labConfig((c) => edit(c.services.find((s) => s.id === TCP_SERVICE_ID)!));
}

/** A SYN from client:cport (received by worker `queue`); the server it was sent to, or null. */
function serverFor(lab: Lab, client: string, cport: number, queue = 0): string | null {
  lab.sendOn('outside', queue, clientTcp(cport, { flags: 'S', seq: 1000 }, VIP, 80, client));
  const inside = lab.resolveNeighbours().inside;
  return inside.length ? only(inside, `SYN from ${client}:${cport}`).ipv4!.dst : null;
}

/** PersistConn of each TCP server (A, B, C) as stats() reports it. */
function persistConns(stats: DataplaneStats): (number | undefined)[] {
  return [ID_A, ID_B, ID_C].map((id) => stats.servers.find((s) => s.id === id)?.persistentConns);
}

/** service id's LIPs as [address, connections, conflicts]. */
function lipCounts(stats: DataplaneStats, serviceId = TCP_SERVICE_ID): [string, number, number][] {
  return (stats.localAddresses ?? [])
    .filter((l: LocalAddressStats) => l.serviceId === serviceId)
    .map((l) => [l.address, l.connections, l.conflicts]);
}

test('PersistConn: one per template, summed over servers; falls to 0 when the templates expire', async () => {
  // SYN-only connections live 60 s (SYN_RECV); a template 100 s after its last use.
  await withLab((lab) => {
    assert.equal(persistConns(lab.stats()), [0, 0, 0], 'no templates yet');
    assert.is(serverFor(lab, '198.18.0.1', 50001), A);
    assert.is(serverFor(lab, '198.18.0.2', 50002), B);
    assert.is(serverFor(lab, '198.18.0.1', 50003), A, 'through the template: no second one');
    assert.equal(persistConns(lab.stats()), [1, 1, 0]);
    lab.advance(SYN_RECV + 1);  // t=61: the connections are gone, the templates live until t=100
    assert.is(lab.stats().connections, 0);
    assert.equal(persistConns(lab.stats()), [1, 1, 0], 'templates outlive their connections');
    lab.advance(40);            // t=101
    assert.equal(persistConns(lab.stats()), [0, 0, 0], 'expired templates no longer count');
    assert.is(serverFor(lab, '198.18.0.1', 50004), C, 'and the scheduler decides again (rr after B)');
    assert.equal(persistConns(lab.stats()), [0, 0, 1]);
  }, tcpService((svc) => { svc.persistenceTimeout = 100; }));
});

test('PersistConn: a template held by an established connection keeps counting past its timeout', async () => {
  await withLab((lab) => {
    assert.is(openTcp(lab, 50100).server, A);  // ESTABLISHED: 900 s
    lab.advance(35);                           // 3.5 timeouts
    assert.equal(persistConns(lab.stats()), [1, 0, 0]);
    lab.advance(900);                          // the connection ended; the template lives out its period
    lab.advance(10);
    assert.equal(persistConns(lab.stats()), [0, 0, 0]);
  }, tcpService((svc) => { svc.persistenceTimeout = 10; }));
});

test('PersistConn: one template per client over both workers, and the workers\' templates add up', async () => {
  await withLab((lab) => {
    // The same client on both workers: one template, on the worker its address names (conn/client_owner.h).
    assert.is(serverFor(lab, CLIENT, 50200, 0), A);
    assert.is(serverFor(lab, CLIENT, 50201, 1), A);
    assert.equal(persistConns(lab.stats()), [1, 0, 0]);
    // Six more clients, every SYN on worker 0: those another worker names are handed over, so both
    // workers hold templates, and PersistConn is their sum.
    const d = lab.counterDelta(() => {
      for (let n = 2; n < 8; n++) assert.ok(serverFor(lab, `198.18.0.${n}`, 50202 + n, 0), `client .${n} scheduled`);
    });
    const handed = d.events.client_flows_handed_over ?? 0;
    assert.ok(handed > 0 && handed < 6, `both workers made templates (${handed} of 6 handed over)`);
    assert.is(persistConns(lab.stats()).reduce((a, b) => a! + b!, 0), 7);
    lab.advance(SYN_RECV + 100);
    assert.equal(persistConns(lab.stats()), [0, 0, 0]);
  }, tcpService((svc) => { svc.persistenceTimeout = 100; }), { workers: 2 });
});

test('PersistConn: a server removed and added back starts from 0; its old template is not counted again', async () => {
  const persistent = tcpService((svc) => { svc.persistenceTimeout = 100; });
  await withLab((lab) => {
    assert.is(serverFor(lab, '198.18.0.1', 50300), A);
    assert.is(serverFor(lab, '198.18.0.2', 50301), B);
    lab.apply(tcpService((svc) => { svc.persistenceTimeout = 100; svc.servers = svc.servers.slice(1); }));
    lab.dp.step();
    lab.apply(persistent);  // A again, same id: a new server as far as counters go
    lab.dp.step();
    assert.equal(persistConns(lab.stats()), [0, 1, 0], 'A\'s old template belongs to the server that left');
    const next = serverFor(lab, '198.18.0.1', 50302);  // the old template is invalid: scheduled afresh
    const expected = [0, 1, 0];
    expected[[A, B, C].indexOf(next!)]! += 1;
    assert.equal(persistConns(lab.stats()), expected, `rescheduled to ${next}`);
    lab.advance(SYN_RECV + 101);
    assert.equal(persistConns(lab.stats()), [0, 0, 0], 'never below zero (the stale template expired uncounted)');
  }, persistent);
});

test('--get-laddr CONNS: connections per LIP of the service rise with new flows and fall to 0 at expiry', async () => {
  await withLab((lab) => {
    assert.equal(lipCounts(lab.stats()), [[L0, 0, 0], [L1, 0, 0]]);
    const lips = [1, 2, 3].map((k) => synThrough(lab, 51000 + k).lip);
    assert.equal(lips, [L0, L1, L0], 'round robin over the LIPs');
    assert.equal(lipCounts(lab.stats()), [[L0, 2, 0], [L1, 1, 0]]);
    assert.equal(lipCounts(lab.stats(), 2), LIPS.map((l) => [l, 0, 0]), 'the UDP service shares the addresses, not the counts');
    lab.advance(SYN_RECV + 1);
    assert.equal(lipCounts(lab.stats()), [[L0, 0, 0], [L1, 0, 0]]);
  }, tcpService((svc) => { svc.localAddresses = [L0, L1]; }));
});

test('--get-laddr CONNS: a LIP removed and added back counts the connections really on it, never stale or negative', async () => {
  await withLab((lab) => {
    const established = [openTcp(lab, 52001), openTcp(lab, 52002)];  // 900 s, one per LIP
    assert.equal(established.map((f) => f.lip), [L0, L1]);
    lab.apply(tcpService((svc) => { svc.localAddresses = [L0]; }));
    lab.dp.step();
    assert.equal(lipCounts(lab.stats()), [[L0, 1, 0]]);
    assert.is(synThrough(lab, 52003).lip, L0, 'new connections only on the LIPs left');
    lab.apply(tcpService((svc) => { svc.localAddresses = [L0, L1]; }));
    lab.dp.step();
    // The connection made through L1 before it left still holds its lport there.
    assert.equal(lipCounts(lab.stats()), [[L0, 2, 0], [L1, 1, 0]]);
    lab.advance(SYN_RECV + 1);   // the SYN-only one ends
    assert.equal(lipCounts(lab.stats()), [[L0, 1, 0], [L1, 1, 0]]);
    lab.advance(IPVS_TIMEOUTS.tcpEstablished);
    assert.equal(lipCounts(lab.stats()), [[L0, 0, 0], [L1, 0, 0]]);

    // Removed while its connection lives, that connection ends, then added back: 0.
    assert.equal([synThrough(lab, 52004).lip, synThrough(lab, 52005).lip].sort(), [L0, L1]);
    lab.apply(tcpService((svc) => { svc.localAddresses = [L0]; }));
    lab.dp.step();
    lab.advance(SYN_RECV + 1);
    lab.apply(tcpService((svc) => { svc.localAddresses = [L0, L1]; }));
    lab.dp.step();
    assert.equal(lipCounts(lab.stats()), [[L0, 0, 0], [L1, 0, 0]]);
  }, tcpService((svc) => { svc.localAddresses = [L0, L1]; }));
});

test('--get-laddr CONNS: a service deleted and created again (same id) starts from 0; the old connections never count', async () => {
  const withL0 = tcpService((svc) => { svc.localAddresses = [L0]; });
  await withLab((lab) => {
    openTcp(lab, 53001);
    synThrough(lab, 53002);
    assert.equal(lipCounts(lab.stats()), [[L0, 2, 0]]);
    lab.apply(labConfig((c) => { c.services = c.services.filter((svc) => svc.id !== TCP_SERVICE_ID); }));
    lab.dp.step();
    lab.apply(withL0);
    lab.dp.step();
    assert.equal(lipCounts(lab.stats()), [[L0, 0, 0]], 'a new service');
    synThrough(lab, 53003);
    assert.equal(lipCounts(lab.stats()), [[L0, 1, 0]]);
    lab.advance(SYN_RECV + 1);  // the new one and the old SYN-only one end
    assert.equal(lipCounts(lab.stats()), [[L0, 0, 0]]);
    lab.advance(IPVS_TIMEOUTS.tcpEstablished);
    assert.equal(lipCounts(lab.stats()), [[L0, 0, 0]], 'the old established one ended without touching the new count');
  }, withL0);
});

test('--get-laddr CONFLICTS: each new connection that finds a LIP\'s lports all taken; per service; restarts when the LIP is re-added', async () => {
  // Four workers, every frame on worker 0: its lport share of a LIP is (65536 - 1024) / 4.
  const share = (65536 - 1024) / 4;
  const config = labConfig((c) => {
    const tcp = c.services.find((s) => s.id === TCP_SERVICE_ID)!;
    tcp.localAddresses = [L0, L1];
    tcp.servers = tcp.servers.slice(0, 1);
    // Service 3 (port 81) takes every lport of L0: the pool is per address, shared by services.
    c.services.push({ ...tcp, id: 3, port: 81, localAddresses: [L0], servers: [{ id: 31, address: A, port: 81, weight: 1 }] });
  });
  await withLab((lab) => {
    openTcp(lab, 40000, 81);  // resolves A's MAC
    for (let i = 0; i < share - 1; i += 1024) {
      const cports = Array.from({ length: Math.min(1024, share - 1 - i) }, (_, k) => 1024 + i + k);
      lab.send('outside', ...cports.map((cport) => clientTcp(cport, { flags: 'S', seq: 7 }, VIP, 81, '198.18.0.2')));
      lab.dp.capture('inside');
      lab.dp.capture('outside');
    }
    assert.equal(lipCounts(lab.stats(), 3), [[L0, share, 0]]);

    // Service 1 tries L0 first (its round robin starts there), finds it full, takes L1.
    let d = lab.counterDelta(() => assert.is(synThrough(lab, 40001).lip, L1));
    expectDrops(d, {});
    assert.equal(lipCounts(lab.stats()), [[L0, 0, 1], [L1, 1, 0]]);
    // Next: L0 (cursor) full again, then L1: two more connections on L1, two more conflicts.
    assert.is(synThrough(lab, 40002).lip, L1);
    assert.is(synThrough(lab, 40003).lip, L1);
    assert.equal(lipCounts(lab.stats()), [[L0, 0, 3], [L1, 3, 0]]);
    // Service 3 has no other LIP: the connection is dropped, and counted as a conflict on its L0.
    d = lab.counterDelta(() => lab.send('outside', clientTcp(40004, { flags: 'S', seq: 7 }, VIP, 81)));
    expectDrops(d, { lport_exhausted: 1 });
    assert.equal(lipCounts(lab.stats(), 3), [[L0, share, 1]]);

    // L0 leaves service 1 and comes back: a new pair, its conflicts start again; service 3's stay.
    const withoutL0 = structuredClone(config);
    withoutL0.services.find((s) => s.id === TCP_SERVICE_ID)!.localAddresses = [L1];
    lab.apply(withoutL0);
    lab.dp.step();
    lab.apply(config);
    lab.dp.step();
    assert.equal(lipCounts(lab.stats()), [[L0, 0, 0], [L1, 3, 0]]);
    assert.equal(lipCounts(lab.stats(), 3), [[L0, share, 1]]);

    lab.advance(SYN_RECV + 1);
    assert.equal(lipCounts(lab.stats()), [[L0, 0, 0], [L1, 0, 0]]);
    assert.equal(lipCounts(lab.stats(), 3), [[L0, 1, 1]], 'the established flow of service 3 remains');
  }, config, { workers: 4, connCapacity: share + 64 });
});

test.run();
