// Accounting invariants: each received frame counts once in rx_packets (and the port's
// rxPackets), each transmitted frame once in tx_packets (and the port's txPackets).
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { VIP, clientSegment, clientTcp, echoRequest, expectEvents, openTcp, show, withLab, type Lab } from '../support/golden.js';

function portPackets(lab: Lab, name: string): { rx: number; tx: number } {
  const p = lab.stats().ports.find((x) => x.name === name)!;
  return { rx: p.rxPackets, tx: p.txPackets };
}

const cases: { name: string; frame: (lab: Lab) => Buffer; tx: number; }[] = [
  { name: 'established data segment (forwarded)', frame: (lab) => clientSegment(openTcp(lab, 48000), { payload: Buffer.from('x') }), tx: 1 },
  { name: 'echo request to the VIP (answered)', frame: () => echoRequest(VIP, 1, 1, Buffer.from('x')), tx: 1 },
  { name: 'SYN to an unknown port (dropped)', frame: () => clientTcp(48001, { flags: 'S' }, VIP, 81), tx: 0 },
];

for (const c of cases) {
  test(`one frame in -> rx_packets +1, tx_packets +${c.tx}: ${c.name}`, async () => {
    await withLab((lab) => {
      const frame = c.frame(lab);
      lab.resolveNeighbours(); // settle anything the set-up left pending
      if (c.tx) { // make sure no ARP is needed for the measured frame
        lab.send('outside', frame);
        lab.resolveNeighbours();
      }
      const before = { outside: portPackets(lab, 'outside'), inside: portPackets(lab, 'inside') };
      let sent: ReturnType<Lab['recv']> = [];
      const d = lab.counterDelta(() => {
        lab.send('outside', frame);
        sent = [...lab.recv('outside'), ...lab.recv('inside')];
      });
      assert.is(sent.length, c.tx, show(sent));
      expectEvents(d, { rx_packets: 1 }, `rx_packets delta ${d.events.rx_packets}`);
      if (c.tx) expectEvents(d, { tx_packets: c.tx });
      else assert.is(d.events.tx_packets, undefined, `tx_packets delta ${d.events.tx_packets}`);
      const after = { outside: portPackets(lab, 'outside'), inside: portPackets(lab, 'inside') };
      assert.is(after.outside.rx - before.outside.rx, 1, 'port rxPackets +1');
      assert.is(after.outside.tx + after.inside.tx - before.outside.tx - before.inside.tx, c.tx, 'ports txPackets');
    });
  });
}


// The drop reasons and events are declared once in C++ (dataplane/common/drop_reasons.h); the
// TypeScript unions and the gRPC maps are written from them. This catches a reason added on one
// side only: the addon reports exactly the names the control plane knows, no more, no fewer.
test('the addon reports exactly the drop reasons and events src/api/stats.ts knows', async () => {
  const { ALL_DROP_REASONS, ALL_DEFENSE_DROP_REASONS, ALL_EVENTS } = await import('../../src/api/stats.js');
  await withLab((lab) => {
    const stats = lab.stats();
    const defenseReasons = new Set<string>(ALL_DEFENSE_DROP_REASONS);
    const coreReasons = ALL_DROP_REASONS.filter((r) => !defenseReasons.has(r)).sort();
    const reported = Object.keys(stats.drops).sort();
    const reportedCore = reported.filter((r) => !defenseReasons.has(r));
    assert.equal(reportedCore, coreReasons, 'core drop reasons');
    assert.equal(Object.keys(stats.events).sort(), [...ALL_EVENTS].sort(), 'events');
  });
});

test.run();
