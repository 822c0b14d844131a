// Persistence templates (ipvsadm -p/-M, PROTOCOL.md §4.3) and server thresholds (-x/-y,
// PROTOCOL.md §5), observed through the SYNs leaving inside. Scheduler rr throughout, so
// "what rr would have chosen" is easy to tell apart from "what the template chose".
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import type { DataplaneConfig, DataplaneService } from '../../src/dataplane/types.js';
import {
  SERVERS, TCP_SERVICE_ID, VIP, clientTcp, expectDrops, expectEvents, labConfig, only, openTcp, withLab, type Lab,
} from '../support/golden.js';

const [A, B, C] = SERVERS as [string, string, string];

function config(edit: (svc: DataplaneService) => void): DataplaneConfig {
  return labConfig((c) => edit(c.services.find((s) => s.id === TCP_SERVICE_ID)!));
}

function serverFor(lab: Lab, client: string, cport: number): string | null {
  const out = lab.forward('outside', clientTcp(cport, { flags: 'S', seq: 1000 }, VIP, 80, client));
  return out.inside.length ? only(out.inside, `SYN from ${client}:${cport}`).ipv4!.dst : null;
}

test('persistence: every connection of a client goes to its first server; other clients are scheduled', async () => {
  await withLab((lab) => {
    const d = lab.counterDelta(() => {
      assert.equal([1, 2, 3, 4].map((k) => serverFor(lab, '198.18.0.1', 50000 + k)), [A, A, A, A]);
      assert.is(serverFor(lab, '198.18.0.2', 50010), B);
      assert.is(serverFor(lab, '198.18.0.2', 50011), B);
    });
    expectEvents(d, { persist_templates_created: 2 });
    expectEvents(d, { persist_template_hits: 4 });
  }, config((svc) => { svc.persistenceTimeout = 300; }));
});

/** Templates per worker (dataplane/pipeline/conn/persist.h kPersistCapacity). */
const PERSIST_CAPACITY = 1 << 16;

/** The n-th of a run of client addresses 10.0.0.0 + n (each its own /32 client network). */
function clientAddress(n: number): string {
  return `10.${(n >> 16) & 0xff}.${(n >> 8) & 0xff}.${n & 0xff}`;
}

test('persistence table full: more client networks than template slots -> persist_table_full, each connection still scheduled', async () => {
  // More live templates than slots cannot fit whatever the hash does: at least the extra 1000 get none.
  const clients = PERSIST_CAPACITY + 1000;
  await withLab((lab) => {
    for (const n of [0, 1, 2]) serverFor(lab, clientAddress(n), 40000); // resolve the three servers first
    let forwarded = 0;
    const d = lab.counterDelta(() => {
      for (let first = 3; first < clients + 3; first += 1024) {
        const frames: Buffer[] = [];
        for (let n = first; n < Math.min(first + 1024, clients + 3); n++) frames.push(clientTcp(40000, { flags: 'S', seq: 1000 }, VIP, 80, clientAddress(n)));
        lab.send('outside', ...frames);
        forwarded += lab.dp.capture('inside').length;
        lab.dp.capture('outside');
      }
    });
    assert.is(forwarded, clients, 'every SYN left for a server, with or without a template');
    const templates = d.events.persist_templates_created ?? 0;
    assert.ok(templates <= PERSIST_CAPACITY - 3, `${templates} templates made (capacity ${PERSIST_CAPACITY})`);
    expectDrops(d, {});
    expectEvents(d, { conns_created: clients, persist_table_full: clients - templates });
  }, config((svc) => { svc.persistenceTimeout = 300; }), { connCapacity: 1 << 17 });
});

test('persistence netmask 255.255.255.0: a whole /24 shares one server', async () => {
  await withLab((lab) => {
    assert.equal(['198.18.0.1', '198.18.0.2', '198.18.0.77'].map((c, i) => serverFor(lab, c, 50100 + i)), [A, A, A]);
    assert.is(serverFor(lab, '198.18.1.1', 50110), B);  // another network
  }, config((svc) => { svc.persistenceTimeout = 300; svc.persistenceNetmask = '255.255.255.0'; }));
});

test('template expiry: it lives `timeout` after its last connection was made, then rr decides again', async () => {
  // SYN-only connections live 60 s (SYN_RECV); the template 100 s from its last use.
  await withLab((lab) => {
    assert.is(serverFor(lab, '198.18.0.1', 50200), A);  // t=0 template -> A
    assert.is(serverFor(lab, '198.18.0.9', 50201), B);  // rr cursor now at B
    lab.advance(50);
    assert.is(serverFor(lab, '198.18.0.1', 50202), A);  // t=50: hit, re-armed to t=150
    lab.advance(61);                                     // t=111: both conns of .1 expired
    assert.is(serverFor(lab, '198.18.0.1', 50203), A);  // still inside 150: hit (re-armed to 211)
    lab.advance(161);                                    // t=272: conn gone at 171, template at 211
    assert.is(serverFor(lab, '198.18.0.1', 50204), C, 'expired template: rr continues after B');
  }, config((svc) => { svc.persistenceTimeout = 100; }));
});

test('a template outlives its timeout while a connection made through it lives', async () => {
  await withLab((lab) => {
    assert.is(openTcp(lab, 50300).server, A);             // established: 900 s
    assert.is(serverFor(lab, '198.18.0.9', 50301), B);
    lab.advance(30);                                       // 3 x the persistence timeout
    assert.is(serverFor(lab, '198.18.0.1', 50302), A);   // rr would give C
  }, config((svc) => { svc.persistenceTimeout = 10; }));
});

test('a template whose server left is invalid: the client is scheduled again', async () => {
  const base = config((svc) => { svc.persistenceTimeout = 300; });
  await withLab((lab) => {
    assert.is(serverFor(lab, '198.18.0.1', 50400), A);
    lab.apply(config((svc) => { svc.persistenceTimeout = 300; svc.servers = svc.servers.slice(1); }));
    lab.dp.step();
    const next = serverFor(lab, '198.18.0.1', 50401);
    assert.ok(next === B || next === C, `rescheduled to ${next}`);
    assert.is(serverFor(lab, '198.18.0.1', 50402), next, 'and sticks to the new server');
  }, base);
});

// Thresholds with rr over A (upper 3, lower as given) and B (none): A takes every other
// connection until it holds 3; then OVERLOAD until its count falls below the lower threshold.
function thresholdConfig(lower: number): DataplaneConfig {
  return config((svc) => {
    svc.servers = svc.servers.slice(0, 2);
    svc.servers[0]!.upperThreshold = 3;
    if (lower) svc.servers[0]!.lowerThreshold = lower;
  });
}

function fillA(lab: Lab): void {
  assert.is(openTcp(lab, 51000).server, A);  // established, lives on (900 s)
  const picks = [1, 2, 3, 4, 5, 6, 7].map((k) => serverFor(lab, '198.18.0.1', 51000 + k));
  // B A B A(=3: overloaded from now) B B B
  assert.equal(picks, [B, A, B, A, B, B, B]);
}

test('upper threshold: no new connections at 3; lower 1 keeps A out while it still has 1', async () => {
  await withLab((lab) => {
    fillA(lab);
    lab.advance(61);  // the SYN-only conns expire: A has 1 (established), not below lower 1
    assert.equal([1, 2].map((k) => serverFor(lab, '198.18.0.1', 51100 + k)), [B, B]);
  }, thresholdConfig(1));
});

test('lower threshold 0 = 3/4 of upper: at 1 of 3 A takes connections again', async () => {
  await withLab((lab) => {
    fillA(lab);
    lab.advance(61);
    assert.equal([1, 2].map((k) => serverFor(lab, '198.18.0.1', 51200 + k)), [A, B]);
  }, thresholdConfig(0));
});

test.run();
