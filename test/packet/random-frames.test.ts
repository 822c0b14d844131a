// Robustness (issue 8): a seeded stream of malformed and random frames through the whole pipeline.
// No crash, every frame accounted for (transmitted, dropped with a reason, or an ARP reply learned),
// the mbuf pool back to its baseline, and an established flow still forwarding afterwards.
// Size: PORTCULLIS_RANDOM_FRAMES (default 100 000; `npm run test:asan` runs 10 M under ASan+UBSan),
// seed: PORTCULLIS_RANDOM_SEED.
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import {
  PORTS, arpReply, clientSegment, dualStackConfig, neighborAdvertisementFor, only, openTcp, seededRandom, withLab, type PortName,
} from '../support/golden.js';
import { ARP_OP, ETHERTYPE, ICMP6_TYPE, decodeFrame } from '../support/packet.js';
import { frameAccounting, noteInsideFrame, randomFrame, type SeenFlow } from '../support/random-frames.js';

const FRAMES = Number(process.env['PORTCULLIS_RANDOM_FRAMES'] ?? 100_000);
const SEED = Number(process.env['PORTCULLIS_RANDOM_SEED'] ?? 0x8badf00d);
const BATCH = 128;
const CLOCK_TICK_EVERY_BATCHES = 32;
/** Longer than ARP's retries (3 x 1 s): anything still held awaiting a neighbour is dropped by then. */
const DRAIN_SECONDS = 10;

test(`${FRAMES} seeded malformed/random frames (seed ${SEED}): all accounted for, no mbuf leaked, flows survive`, async () => {
  await withLab((lab) => {
    const flow = openTcp(lab, 40000);
    const baseline = lab.stats().mbufsInUse;
    const rnd = seededRandom(SEED);
    let injected = 0;
    let arpAnswered = 0;
    const seen: SeenFlow[] = [];

    /** Drains both tx rings; answers ARP requests and NS so held packets can go (the replies are rx frames too). */
    const drainAndAnswer = (): void => {
      for (const port of PORTS) {
        const replies: Buffer[] = [];
        for (const bytes of lab.dp.capture(port)) {
          const b = Buffer.from(bytes);
          if (port === 'inside') noteInsideFrame(b, seen);
          if (b.length >= 22 && b.readUInt16BE(12) === ETHERTYPE.ARP && b.readUInt16BE(20) === ARP_OP.REQUEST)
            replies.push(arpReply(decodeFrame(b), port));
          else if (b.length >= 14 + 40 + 24 && b.readUInt16BE(12) === ETHERTYPE.IPV6 && b[14 + 40] === ICMP6_TYPE.NEIGHBOR_SOLICITATION)
            replies.push(neighborAdvertisementFor(decodeFrame(b), port));
        }
        if (replies.length) injected += lab.dp.inject(port, replies);
        arpAnswered += replies.length;
      }
    };

    for (let sent = 0, batch = 0; sent < FRAMES; batch++) {
      const perPort: Record<PortName, Buffer[]> = { outside: [], inside: [] };
      const n = Math.min(BATCH, FRAMES - sent);
      for (let i = 0; i < n; i++) {
        const { port, frame } = randomFrame(rnd, seen);
        perPort[port].push(frame);
      }
      for (const port of PORTS) {
        const queued = lab.dp.inject(port, perPort[port]);
        assert.is(queued, perPort[port].length, `inject(${port}) at frame ${sent}`);
        injected += queued;
      }
      sent += n;
      lab.dp.step();
      drainAndAnswer();
      if (batch % CLOCK_TICK_EVERY_BATCHES === 0) lab.dp.advanceClock(Math.floor(rnd() * 2000));
    }
    // Let every neighbour still resolving give up (its held packets become neigh_unresolved drops).
    for (let s = 0; s < DRAIN_SECONDS * 2; s++) {
      lab.dp.advanceClock(500);
      lab.dp.step();
      lab.dp.capture('outside');
      lab.dp.capture('inside');
    }

    const stats = lab.stats();
    assert.ok(stats.events.rx_packets >= injected, `rx ${stats.events.rx_packets} < injected ${injected}`);
    const { arrived, accounted } = frameAccounting(stats);
    assert.is(accounted, arrived, `frames arrived (rx + generated ARP) vs accounted (tx + drops + learned); drops ${JSON.stringify(stats.drops)}`);
    assert.is(stats.mbufsInUse, baseline, 'mbufs in use after the storm vs before');

    // The gateway still serves: the flow opened before the storm (unless the storm's clock aged it
    // out) and a new one.
    const out = lab.forward('outside', clientSegment(flow, { flags: 'PA', payload: Buffer.from('after') }));
    if (stats.connections > 0 && out.inside.length) only(out.inside, 'segment on the pre-storm flow');
    const fresh = openTcp(lab, 40001);
    only(lab.forward('outside', clientSegment(fresh, { flags: 'PA', payload: Buffer.from('x') })).inside, `data after the storm (answered ${arpAnswered} ARPs)`);
  }, dualStackConfig());
});

test.run();
