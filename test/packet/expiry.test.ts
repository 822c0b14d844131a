// Connection timeouts on the injected clock, with IPVS default timeouts (PROTOCOL.md §4.1) and
// the IPVS TCP state table (§4.2): INPUT = client -> server, OUTPUT = server -> client.
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import {
  IPVS_TIMEOUTS, TCP_SERVICE_ID, UDP_SERVICE_ID, allConnections, clientSegment, clientUdp, expectDrops, expectEvents,
  frameFrom, only, openTcp, serverSegment, show, synThrough, withLab, type Lab,
} from '../support/golden.js';
import { tcpFlags } from '../support/packet.js';

/** Margin either side of a timeout: the timer wheel may round to its tick. */
const MARGIN_S = 5;

function states(lab: Lab): string[] {
  return allConnections(lab.dp).map((c) => c.state);
}

/** Alive MARGIN_S before `timeout` seconds from now, gone MARGIN_S after, counted as expired. */
function expectExpiry(lab: Lab, timeout: number, what: string): void {
  lab.advance(timeout - MARGIN_S);
  assert.is(lab.stats().connections, 1, `${what}: still there ${MARGIN_S}s before ${timeout}s`);
  const d = lab.counterDelta(() => lab.advance(2 * MARGIN_S));
  assert.is(lab.stats().connections, 0, `${what}: gone ${MARGIN_S}s after ${timeout}s`);
  expectEvents(d, { conns_expired: 1 }, `${what}: conns_expired +1`);
  assert.equal(allConnections(lab.dp), []);
}

test('UDP conn expires after 300 s idle; the late reply is dropped no_conn', async () => {
  await withLab((lab) => {
    const inbound = only(lab.forward('outside', clientUdp(7000, Buffer.from('ping'))).inside, 'UDP inside');
    const reply = frameFrom('inside', inbound.ipv4!.dst, inbound.ipv4!.src,
      { udp: { srcPort: 7, dstPort: inbound.udp!.srcPort, payload: Buffer.from('pong') } });
    only(lab.forward('inside', reply).outside, 'first reply');
    assert.equal(states(lab), ['UDP']);
    const conn = allConnections(lab.dp)[0]!;
    assert.ok(conn.expiresInMs <= IPVS_TIMEOUTS.udp * 1000 && conn.expiresInMs > (IPVS_TIMEOUTS.udp - MARGIN_S) * 1000,
      `expiresInMs ${conn.expiresInMs}`);
    expectExpiry(lab, IPVS_TIMEOUTS.udp, 'UDP');
    let n = 0;
    const d = lab.counterDelta(() => { const out = lab.forward('inside', reply); n = out.inside.length + out.outside.length; });
    assert.is(n, 0, 'late reply not forwarded');
    expectDrops(d, { no_conn: 1 });
    const service = lab.stats().services.find((s) => s.id === UDP_SERVICE_ID)!;
    assert.equal([service.activeConns, service.inactiveConns], [0, 0]);
  });
});

test('UDP activity re-arms the timer', async () => {
  await withLab((lab) => {
    only(lab.forward('outside', clientUdp(7001, Buffer.from('1'))).inside, 'first');
    lab.advance(200);
    only(lab.forward('outside', clientUdp(7001, Buffer.from('2'))).inside, 'second at 200 s');
    lab.advance(200); // 400 s after the first datagram, 200 s after the last
    assert.is(lab.stats().connections, 1, 'alive 200 s after the last packet');
    expectExpiry(lab, IPVS_TIMEOUTS.udp - 200, 'UDP after activity');
  });
});

test('TCP ESTABLISHED expires after 900 s', async () => {
  await withLab((lab) => {
    openTcp(lab, 44000);
    assert.equal(states(lab), ['ESTABLISHED']);
    expectExpiry(lab, IPVS_TIMEOUTS.tcpEstablished, 'ESTABLISHED');
    const service = lab.stats().services.find((s) => s.id === TCP_SERVICE_ID)!;
    assert.equal([service.activeConns, service.inactiveConns], [0, 0]);
  });
});

test('TCP SYN-only conn (SYN_RECV) expires after the syn_recv timeout (60 s)', async () => {
  await withLab((lab) => {
    synThrough(lab, 44001);
    assert.equal(states(lab), ['SYN_RECV']);
    expectExpiry(lab, IPVS_TIMEOUTS.tcpSynRecv, 'SYN_RECV');
  });
});

type Step = { from: 'client' | 'server'; flags: string; state: string };
const closeCases: { name: string; steps: Step[]; timeout: number }[] = [
  { name: 'client FIN: ES -> CLOSE_WAIT (60 s)', timeout: IPVS_TIMEOUTS.tcpCloseWait,
    steps: [{ from: 'client', flags: 'FA', state: 'CLOSE_WAIT' }] },
  { name: 'server FIN: ES -> FIN_WAIT (120 s)', timeout: IPVS_TIMEOUTS.tcpFinWait,
    steps: [{ from: 'server', flags: 'FA', state: 'FIN_WAIT' }] },
  { name: 'server FIN, client FIN: FIN_WAIT -> TIME_WAIT (120 s)', timeout: IPVS_TIMEOUTS.tcpTimeWait,
    steps: [{ from: 'server', flags: 'FA', state: 'FIN_WAIT' }, { from: 'client', flags: 'FA', state: 'TIME_WAIT' },
      { from: 'server', flags: 'A', state: 'TIME_WAIT' }] },
  { name: 'client FIN, server FIN: CLOSE_WAIT -> TIME_WAIT (120 s)', timeout: IPVS_TIMEOUTS.tcpTimeWait,
    steps: [{ from: 'client', flags: 'FA', state: 'CLOSE_WAIT' }, { from: 'server', flags: 'FA', state: 'TIME_WAIT' },
      { from: 'client', flags: 'A', state: 'TIME_WAIT' }] },
  { name: 'client RST: ES -> CLOSE (10 s)', timeout: IPVS_TIMEOUTS.tcpClose,
    steps: [{ from: 'client', flags: 'R', state: 'CLOSE' }] },
  { name: 'server RST: ES -> CLOSE (10 s)', timeout: IPVS_TIMEOUTS.tcpClose,
    steps: [{ from: 'server', flags: 'RA', state: 'CLOSE' }] },
];

for (const c of closeCases) {
  test(`TCP ${c.name}; packets still forwarded`, async () => {
    await withLab((lab) => {
      const flow = openTcp(lab, 44100);
      c.steps.forEach((s, i) => {
        const frame = s.from === 'client'
          ? clientSegment(flow, { flags: s.flags, seq: flow.clientIsn + 1 + (i > 0 ? 1 : 0) })
          : serverSegment(flow, { flags: s.flags });
        const out = lab.forward(s.from === 'client' ? 'outside' : 'inside', frame);
        const forwarded = s.from === 'client' ? out.inside : out.outside;
        assert.is(forwarded.length, 1, `step ${i} (${s.from} ${s.flags}) forwarded: ${show(forwarded)}`);
        assert.is(forwarded[0]!.tcp!.flags, tcpFlags(s.flags), 'flags untouched');
        assert.equal(states(lab), [s.state], `after step ${i} (${s.from} ${s.flags})`);
      });
      const conn = allConnections(lab.dp)[0]!;
      assert.ok(conn.expiresInMs <= c.timeout * 1000, `expiresInMs ${conn.expiresInMs} <= ${c.timeout} s`);
      expectExpiry(lab, c.timeout, c.name);
    });
  });
}

test.run();
