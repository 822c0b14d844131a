// ovf and twos as IPVS defines them (ip_vs_ovf.c, ip_vs_twos.c; PROTOCOL.md §5, docs/schedulers.md),
// observed through the SYNs leaving inside. Handshake done = an active connection; SYN only =
// inactive. twos draws from the worker's random source, which test mode seeds from the worker
// index, so every run sees the same draws; the bounds below come from the probabilities the
// definition gives, not from one run's figures.
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import type { DataplaneConfig, DataplaneService } from '../../src/dataplane/types.js';
import {
  SERVERS, TCP_SERVICE_ID, VIP, clientTcp, expectDrops, labConfig, openTcp, synThrough, withLab, type Lab,
} from '../support/golden.js';

const [A, B, C] = SERVERS as [string, string, string];

function withWeights(scheduler: DataplaneService['scheduler'], weights: number[]): DataplaneConfig {
  return labConfig((c) => {
    const svc = c.services.find((s) => s.id === TCP_SERVICE_ID)!;
    svc.scheduler = scheduler;
    weights.forEach((w, i) => { svc.servers[i]!.weight = w; });
  });
}

const syns = (lab: Lab, count: number, firstPort: number) =>
  Array.from({ length: count }, (_, i) => synThrough(lab, firstPort + i).server);

function tally(picks: string[]): [number, number, number] {
  return [A, B, C].map((s) => picks.filter((p) => p === s).length) as [number, number, number];
}

// ovf 1/3/2: B (weight 3) is usable while its active conns <= 3, so it takes 4; then C
// (weight 2) takes 3, A (weight 1) takes 2, and then every server is full.
test('ovf 1/3/2: fills the highest weight first, overflows down the weights, then no server', async () => {
  await withLab((lab) => {
    const picks = Array.from({ length: 9 }, (_, i) => openTcp(lab, 46000 + i).server);
    assert.equal(picks, [B, B, B, B, C, C, C, A, A]);
    let inside = -1;
    const d = lab.counterDelta(() => {
      inside = lab.forward('outside', clientTcp(46100, { flags: 'S', seq: 1000 }, VIP, 80)).inside.length;
    });
    assert.is(inside, 0, 'every server is over its weight');
    expectDrops(d, { no_real_server: 1 });
  }, withWeights('ovf', [1, 3, 2]));
});

test('ovf counts only active connections: SYN-only ones all stay on the highest weight', async () => {
  await withLab((lab) => assert.equal(syns(lab, 8, 46200), Array(8).fill(B)), withWeights('ovf', [1, 3, 2]));
});

test('ovf skips a quiesced server; equal weights go to the first in the list', async () => {
  await withLab((lab) => {
    assert.equal(syns(lab, 2, 46300), [C, C]);  // B (3) quiesced: C (2) is the highest usable
    lab.apply(withWeights('ovf', [2, 0, 2]));
    lab.dp.step();
    assert.equal(Array.from({ length: 4 }, (_, i) => openTcp(lab, 46310 + i).server), [A, A, A, C]);
  }, withWeights('ovf', [1, 0, 2]));
});

// twos 1/2/3 over SYN-only connections: the less loaded of two weighted draws, load being
// inactive conns / weight, so the shares follow the weights: 100/200/300 of 600.
test('twos 1/2/3: 600 connections spread by weight (each share within 10% of it)', async () => {
  await withLab((lab) => {
    const [a, b, c] = tally(syns(lab, 600, 47000));
    assert.ok(Math.abs(a - 100) <= 10 && Math.abs(b - 200) <= 20 && Math.abs(c - 300) <= 30, `A ${a} B ${b} C ${c}`);
  }, withWeights('twos', [1, 2, 3]));
});

test('twos never picks a quiesced server', async () => {
  await withLab((lab) => {
    const [a, b, c] = tally(syns(lab, 200, 47700));
    assert.is(b, 0, `B (weight 0) took ${b}`);
    assert.is(a + c, 200);
    assert.ok(a > 0 && c > 0, `A ${a} C ${c}`);
  }, withWeights('twos', [1, 0, 1]));
});

// A holds 4 established connections (overhead 4*256) when B and C come in at weight 1 each.
// Draws r in [0, 3]: A has r 0..1 (1/2: the first server gets weight + 1 values), B and C 1/4
// each. The less loaded of the two wins, so A is picked only when both draws name it: 1/4 of
// 120 = 30 (sd 4.7), against 60 for a single weighted draw. Bound: A < 45.
test('twos prefers the less loaded of its two draws', async () => {
  await withLab((lab) => {
    assert.equal(Array.from({ length: 4 }, (_, i) => openTcp(lab, 48000 + i).server), [A, A, A, A]);
    lab.apply(withWeights('twos', [1, 1, 1]));
    lab.dp.step();
    const [a, b, c] = tally(syns(lab, 120, 48100));
    assert.ok(a < 45, `A (busy) took ${a} of 120; a single draw would give about 60`);
    assert.ok(b > 20 && c > 20, `B ${b} C ${c}`);
  }, withWeights('twos', [1, 0, 0]));
});

test.run();
