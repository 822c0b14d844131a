// Rate estimation the way IPVS's estimator does it (net/netfilter/ipvs/ip_vs_est.c, facts
// only): every 2 s take the counter deltas, scale them to fixed point (counts ×2^10 per
// second, bytes ×2^5 per second), and fold them into an EWMA with weight 1/4; readers
// round the fixed-point value back to an integer. Pure: feed it samples, read rates.

/** The cumulative counters an estimator follows (one service or one real server). */
export interface CounterSample {
  conns: number;
  inPackets: number;
  outPackets: number;
  inBytes: number;
  outBytes: number;
}

export interface Rates {
  cps: number;
  inPps: number;
  outPps: number;
  inBps: number;
  outBps: number;
}

export const ESTIMATOR_INTERVAL_MS = 2000;
export const ZERO_RATES: Readonly<Rates> = { cps: 0, inPps: 0, outPps: 0, inBps: 0, outBps: 0 };

// For a 2 s interval: delta << 9 = (delta / 2 s) << 10, and delta << 4 = (delta / 2 s) << 5.
const COUNT_SHIFT_IN = 2 ** 9;
const BYTE_SHIFT_IN = 2 ** 4;
const COUNT_SCALE = 2 ** 10;
const BYTE_SCALE = 2 ** 5;

/** avg += (rate - avg) >> 2, with the arithmetic shift's rounding toward -infinity. */
function ewma(average: number, rate: number): number {
  return average + Math.floor((rate - average) / 4);
}

/** One estimator: the last sample and the five fixed-point averages. */
export class Estimator {
  private last: CounterSample;
  private cps = 0;
  private inPps = 0;
  private outPps = 0;
  private inBps = 0;
  private outBps = 0;

  constructor(first: CounterSample) {
    this.last = { ...first };
  }

  /** Folds one sample taken ESTIMATOR_INTERVAL_MS after the previous one. */
  sample(now: CounterSample): void {
    // Counters only grow; a smaller value means the object was recreated: restart from it.
    const delta = (key: keyof CounterSample) => Math.max(0, now[key] - this.last[key]);
    this.cps = ewma(this.cps, delta('conns') * COUNT_SHIFT_IN);
    this.inPps = ewma(this.inPps, delta('inPackets') * COUNT_SHIFT_IN);
    this.outPps = ewma(this.outPps, delta('outPackets') * COUNT_SHIFT_IN);
    this.inBps = ewma(this.inBps, delta('inBytes') * BYTE_SHIFT_IN);
    this.outBps = ewma(this.outBps, delta('outBytes') * BYTE_SHIFT_IN);
    this.last = { ...now };
  }

  /** ip_vs_read_estimator: (avg + 0x1FF) >> 10 for counts, (avg + 0xF) >> 5 for bytes. */
  rates(): Rates {
    const count = (v: number) => Math.floor((v + 0x1ff) / COUNT_SCALE);
    const bytes = (v: number) => Math.floor((v + 0xf) / BYTE_SCALE);
    return {
      cps: count(this.cps), inPps: count(this.inPps), outPps: count(this.outPps),
      inBps: bytes(this.inBps), outBps: bytes(this.outBps),
    };
  }

  /** ipvsadm -Z: rates back to zero, counting from the given sample. */
  reset(now: CounterSample): void {
    this.last = { ...now };
    this.cps = this.inPps = this.outPps = this.inBps = this.outBps = 0;
  }
}

/** Estimators keyed by object id; ids that disappear are forgotten. */
export class EstimatorSet {
  private readonly estimators = new Map<number, Estimator>();

  /** One tick: every id in `samples` is folded in (new ids start from their first sample). */
  sample(samples: Iterable<CounterSample & { id: number }>): void {
    const seen = new Set<number>();
    for (const s of samples) {
      seen.add(s.id);
      const existing = this.estimators.get(s.id);
      if (existing) existing.sample(s);
      else this.estimators.set(s.id, new Estimator(s));
    }
    for (const id of this.estimators.keys()) if (!seen.has(id)) this.estimators.delete(id);
  }

  rates(id: number): Rates {
    return this.estimators.get(id)?.rates() ?? { ...ZERO_RATES };
  }

  reset(id: number, now: CounterSample): void {
    this.estimators.get(id)?.reset(now);
  }
}
