// SYNPROXY auto golden packets: below the SYN-rate threshold SYNs go to a server as plain
// FullNAT; from the threshold on they get cookie SYN-ACKs; the service stays engaged while
// SYNs keep coming fast and disengages only after the hold time below. Connections keep the
// mode they were made in. Also: SYNPROXY applies the new-connection caps at the final ACK.
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import type { DataplaneConfig } from '../../src/dataplane/types.js';
import {
  CLIENT, TCP_SERVICE_ID, VIP, clientTcp, expectDrops, expectEvents, labConfig, only, serverTcp, show, withLab,
  type Lab,
} from '../support/golden.js';
import type { DecodedFrame } from '../support/packet.js';
import { createMetrics } from '../../src/metrics/prometheus.js';
import { StatsHub } from '../../src/metrics/stats-hub.js';
import { createService, readServiceSpec } from '../../src/model/index.js';
import { ringPortsState } from '../support/desired-state.js';

const SYN_RATE = 5;
const HOLD_MS = 3000;
const AUTO_CONFIG = labConfig((c) => { c.services[0]!.synproxyAuto = { synRate: SYN_RATE, holdMs: HOLD_MS }; });
const CLIENT_ISN = 0x20000000;
const SERVER_ISN = 0x60000000;
const u32 = (n: number): number => n >>> 0;

type SynOutcome = { plain: DecodedFrame } | { cookie: DecodedFrame };

/** One client SYN: either it went to a server unchanged (plain FullNAT) or it was answered with a cookie. */
function syn(lab: Lab, cport: number): SynOutcome {
  const out = lab.forward('outside', clientTcp(cport, { flags: 'S', seq: CLIENT_ISN, options: [{ kind: 'mss', value: 1460 }] }));
  if (out.inside.length === 1 && out.outside.length === 0) return { plain: out.inside[0]! };
  if (out.outside.length === 1 && out.inside.length === 0 && out.outside[0]!.tcp?.flagNames === 'SA') return { cookie: out.outside[0]! };
  throw new Error(`SYN from ${cport}: neither plain nor cookie: inside ${show(out.inside)} outside ${show(out.outside)}`);
}
const isCookie = (o: SynOutcome): boolean => 'cookie' in o;

/** portcullis_service_synproxy_engaged_workers as a scrape reads it from this data plane (service id 1 = TCP_SERVICE_ID). */
async function engagedGauge(lab: Lab): Promise<string | undefined> {
  const { state } = createService(ringPortsState(), readServiceSpec({
    protocol: 'tcp', vip: VIP, port: 80, local_addresses: ['198.19.0.200'], servers: [{ address: '198.19.0.1', port: 80 }],
  }, 'service'));
  assert.is(state.services[0]!.id, TCP_SERVICE_ID);
  const metrics = createMetrics({ hub: new StatsHub(lab.dp), state: () => state, connectionCapacity: 1024 });
  metrics.refresh();
  return /^portcullis_service_synproxy_engaged_workers\{protocol="tcp",vip="198\.18\.0\.10",port="80"\} (\d+)$/m.exec(await metrics.registry.metrics())?.[1];
}

function engagedWorkers(lab: Lab): number {
  return lab.stats().defense.find((d) => d.id === TCP_SERVICE_ID)?.synproxyEngagedWorkers ?? 0;
}

/** SYNs from cports first.. until `count` were sent; returns which got cookies. */
function burst(lab: Lab, first: number, count: number): boolean[] {
  return Array.from({ length: count }, (_, i) => isCookie(syn(lab, first + i)));
}

/** Final ACK for a cookie SYN-ACK: returns the backend SYN it opened. */
function finalAck(lab: Lab, cport: number, synAck: DecodedFrame): DecodedFrame {
  const out = lab.forward('outside', clientTcp(cport, { flags: 'A', seq: CLIENT_ISN + 1, ack: u32(synAck.tcp!.seq + 1) }));
  return only(out.inside, `backend SYN for ${cport}`);
}

test('below the threshold SYNs pass as plain FullNAT; at the threshold cookies; engaged while high; off only after the hold time', async () => {
  await withLab(async (lab) => {
    const d = lab.counterDelta(() => {
      assert.equal(burst(lab, 10000, SYN_RATE - 1), [false, false, false, false], 'below the threshold: plain FullNAT');
      assert.is(engagedWorkers(lab), 0);
      assert.equal(burst(lab, 10100, 3), [true, true, true], 'the SYN that reaches the threshold and the ones after: cookies');
      assert.is(engagedWorkers(lab), 1);
    });
    assert.is(await engagedGauge(lab), '1', 'Prometheus shows it engaged (the alert PortcullisSynproxyEngaged reads this)');
    expectEvents(d, { synproxy_auto_engaged: 1 });
    expectEvents(d, { synproxy_syn_answered: 3 });
    expectEvents(d, { conns_created: SYN_RATE - 1 }, 'only the plain SYNs made connections');

    // Still high a second later: stays engaged.
    lab.advance(1);
    assert.equal(burst(lab, 10200, SYN_RATE), [true, true, true, true, true]);
    // The rate falls below the threshold: a trickle keeps getting cookies until the hold time has passed.
    lab.advance(1);
    assert.ok(isCookie(syn(lab, 10300)), '1 s after the last high window: still engaged');
    lab.advance(HOLD_MS / 1000 - 1.5);
    assert.ok(isCookie(syn(lab, 10301)), 'just inside the hold time: still engaged');
    const off = lab.counterDelta(() => {
      lab.advance(1);
      assert.is(engagedWorkers(lab), 0, 'the timer disengaged it without waiting for a SYN');
      assert.not.ok(isCookie(syn(lab, 10302)), 'after the hold time below: plain FullNAT again');
    });
    expectEvents(off, { synproxy_auto_disengaged: 1 });
    assert.is(await engagedGauge(lab), '0', 'and no longer once disengaged');
    assert.is(off.events.synproxy_auto_engaged, undefined);
  }, AUTO_CONFIG);
});

test('connections keep their mode: a plain one works while engaged, a SYNPROXY one keeps its translation after', async () => {
  await withLab((lab) => {
    // A plain connection made before engaging.
    const before = syn(lab, 20000);
    assert.ok('plain' in before);
    const plainSyn = (before as { plain: DecodedFrame }).plain;
    const lip = plainSyn.ipv4!.src, lport = plainSyn.tcp!.srcPort, server = plainSyn.ipv4!.dst;
    lab.forward('inside', serverTcp(server, 80, lip, lport, { flags: 'SA', seq: SERVER_ISN, ack: CLIENT_ISN + 1 }));
    lab.forward('outside', clientTcp(20000, { flags: 'A', seq: CLIENT_ISN + 1, ack: SERVER_ISN + 1 }));

    // Engage, and make a SYNPROXY connection.
    burst(lab, 20100, SYN_RATE);
    assert.is(engagedWorkers(lab), 1);
    const cookie = syn(lab, 20200);
    assert.ok('cookie' in cookie);
    const synAck = (cookie as { cookie: DecodedFrame }).cookie;
    const backendSyn = finalAck(lab, 20200, synAck);
    assert.is(backendSyn.tcp!.seq, CLIENT_ISN, 'backend SYN carries the client ISN');
    const proxied = { lip: backendSyn.ipv4!.src, lport: backendSyn.tcp!.srcPort, server: backendSyn.ipv4!.dst };
    const handshake = lab.forward('inside', serverTcp(proxied.server, 80, proxied.lip, proxied.lport, { flags: 'SA', seq: SERVER_ISN, ack: CLIENT_ISN + 1 }));
    only(handshake.inside, 'our ACK completing the server handshake');

    // The plain connection still forwards untranslated data while engaged.
    const plainData = lab.forward('inside', serverTcp(server, 80, lip, lport, { flags: 'PA', seq: SERVER_ISN + 1, ack: CLIENT_ISN + 1, payload: Buffer.from('plain') }));
    const toClient = only(plainData.outside, 'plain data to the client');
    assert.is(toClient.tcp!.seq, SERVER_ISN + 1, 'plain FullNAT: sequence numbers unchanged');
    assert.is(toClient.ipv4!.src, VIP);

    // Disengage; the SYNPROXY connection keeps shifting the server's sequence numbers into the cookie's.
    lab.advance(HOLD_MS / 1000 + 1);
    assert.is(engagedWorkers(lab), 0);
    const proxiedData = lab.forward('inside', serverTcp(proxied.server, 80, proxied.lip, proxied.lport,
      { flags: 'PA', seq: SERVER_ISN + 1, ack: CLIENT_ISN + 1, payload: Buffer.from('proxied') }));
    const translated = only(proxiedData.outside, 'SYNPROXY data to the client');
    assert.is(translated.ipv4!.dst, CLIENT);
    assert.is(translated.tcp!.seq, u32(synAck.tcp!.seq + 1), 'still translated into the cookie sequence space');
  }, AUTO_CONFIG);
});

test('a cookie answered just before disengaging is still accepted after', async () => {
  await withLab((lab) => {
    burst(lab, 30000, SYN_RATE);
    const o = syn(lab, 30100);
    assert.ok('cookie' in o);
    lab.advance(HOLD_MS / 1000 + 0.5);
    assert.is(engagedWorkers(lab), 0);
    const backendSyn = finalAck(lab, 30100, (o as { cookie: DecodedFrame }).cookie);
    assert.is(backendSyn.tcp!.flagNames, 'S');
    // Long after the cookie lifetime, a stray ACK is plain FullNAT's no_conn again.
    lab.advance(200);
    const d = lab.counterDelta(() => lab.forward('outside', clientTcp(30200, { flags: 'A', seq: 1, ack: 1 })));
    expectDrops(d, { no_conn: 1 });
  }, AUTO_CONFIG);
});

test('config changes: a new threshold applies at once, mode off forgets the engaged state', async () => {
  await withLab((lab) => {
    burst(lab, 40000, SYN_RATE);
    assert.is(engagedWorkers(lab), 1);
    const raised: DataplaneConfig = labConfig((c) => { c.services[0]!.synproxyAuto = { synRate: 100, holdMs: HOLD_MS }; });
    lab.apply(raised);
    lab.advance(0); // the worker adopts the snapshot at its next step
    assert.is(engagedWorkers(lab), 1, 'same service, new threshold: still engaged');
    lab.apply(labConfig());
    lab.advance(0);
    assert.is(engagedWorkers(lab), 0);
    assert.not.ok(isCookie(syn(lab, 40100)), 'auto removed: plain FullNAT');
  }, AUTO_CONFIG);
});

test('SYNPROXY applies the concurrent-connection cap at the final ACK (conn_limit_reached)', async () => {
  const config = labConfig((c) => {
    c.services[0]!.synproxy = true;
    c.defense = { services: [{ serviceId: TCP_SERVICE_ID, maxConns: 1 }] };
  });
  await withLab((lab) => {
    const first = syn(lab, 50000) as { cookie: DecodedFrame };
    finalAck(lab, 50000, first.cookie);
    const second = syn(lab, 50001) as { cookie: DecodedFrame };
    assert.ok(second.cookie, 'SYNs are still answered: they cost no state');
    const d = lab.counterDelta(() => {
      const out = lab.forward('outside', clientTcp(50001, { flags: 'A', seq: CLIENT_ISN + 1, ack: u32(second.cookie.tcp!.seq + 1) }));
      assert.is(out.inside.length, 0, `no backend SYN over the cap: ${show(out.inside)}`);
    });
    expectDrops(d, { conn_limit_reached: 1 });
    assert.is(lab.stats().connections, 1);
    assert.is(lab.stats().defense.find((x) => x.id === TCP_SERVICE_ID)!.dropped.conn_limit_reached, 1);
  }, config);
});

test('SYNPROXY applies the new-connection rate cap at the final ACK (conn_rate_limited)', async () => {
  const config = labConfig((c) => {
    c.services[0]!.synproxy = true;
    c.defense = { services: [{ serviceId: TCP_SERVICE_ID, newConnRate: { pps: 1, burst: 1 } }] };
  });
  await withLab((lab) => {
    const a = syn(lab, 51000) as { cookie: DecodedFrame };
    const b = syn(lab, 51001) as { cookie: DecodedFrame };
    finalAck(lab, 51000, a.cookie);
    const ackB = clientTcp(51001, { flags: 'A', seq: CLIENT_ISN + 1, ack: u32(b.cookie.tcp!.seq + 1) });
    const d = lab.counterDelta(() => { assert.is(lab.forward('outside', ackB).inside.length, 0); });
    expectDrops(d, { conn_rate_limited: 1 });
    lab.advance(1);
    only(lab.forward('outside', ackB).inside, 'the retransmitted ACK gets in once the bucket refills');
  }, config);
});

test.run();
