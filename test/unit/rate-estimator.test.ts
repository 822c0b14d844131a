// The IPVS-style estimator: fixed-point EWMA over 2 s samples (ip_vs_est.c).
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { Estimator, EstimatorSet } from '../../src/metrics/estimator.js';

const at = (conns: number, packets: number, bytes: number) =>
  ({ conns, inPackets: packets, outPackets: packets / 2, inBytes: bytes, outBytes: bytes / 2 });

test('a steady rate converges to the true per-second figure from below', () => {
  const e = new Estimator(at(0, 0, 0));
  const seen: number[] = [];
  // 100 conns/s, 1000 pkt/s, 1 MB/s for 160 s = 80 samples (the integer EWMA settles within 3 units).
  for (let i = 1; i <= 80; i++) {
    e.sample(at(200 * i, 2000 * i, 2_000_000 * i));
    seen.push(e.rates().cps);
  }
  // First sample: avg = rate/4 (EWMA weight 1/4) → 25 conn/s.
  assert.is(seen[0], 25);
  for (let i = 1; i < seen.length; i++) assert.ok(seen[i]! >= seen[i - 1]!, `not monotonic at ${i}: ${seen}`);
  assert.equal(e.rates(), { cps: 100, inPps: 1000, outPps: 500, inBps: 1_000_000, outBps: 500_000 });
});

test('rates decay to zero when traffic stops; reset() zeroes at once', () => {
  const e = new Estimator(at(0, 0, 0));
  for (let i = 1; i <= 30; i++) e.sample(at(20 * i, 0, 0));
  assert.is(e.rates().cps, 10);
  for (let i = 0; i < 30; i++) e.sample(at(600, 0, 0));
  assert.is(e.rates().cps, 0);
  e.sample(at(800, 0, 0));
  assert.ok(e.rates().cps > 0);
  e.reset(at(800, 0, 0));
  assert.equal(e.rates(), { cps: 0, inPps: 0, outPps: 0, inBps: 0, outBps: 0 });
});

test('EstimatorSet follows ids: new ones start at their first sample, gone ones are forgotten', () => {
  const set = new EstimatorSet();
  set.sample([{ id: 1, ...at(1000, 0, 0) }]);
  set.sample([{ id: 1, ...at(1200, 0, 0) }, { id: 2, ...at(5000, 0, 0) }]);
  assert.is(set.rates(1).cps, 25);
  assert.is(set.rates(2).cps, 0, 'a new id must not count its history as a burst');
  set.sample([{ id: 2, ...at(5000, 0, 0) }]);
  assert.is(set.rates(1).cps, 0);
  set.sample([{ id: 1, ...at(0, 0, 0) }]);
  assert.is(set.rates(1).cps, 0, 'a recreated id restarts');
});

test.run();
