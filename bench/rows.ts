// The one shape every benchmark scenario reports in (issue 10): `npm run bench`
// (bench/run.ts) collects these from each scenario module, prints one table,
// writes bench/results/latest.json + latest.svg and can --compare a saved JSON.
// Figures are ratios against a baseline measured in the same run where one exists.

/** How a row's figure is judged against its goal. */
export type GoalKind = 'at-most' | 'at-least';

export interface BenchGoal {
  kind: GoalKind;
  /** Which number the goal constrains: the absolute figure or the ratio to the baseline. */
  on: 'figure' | 'ratio';
  value: number;
  /** Where the goal comes from, e.g. "issue 10: ≤150 cycles/packet". */
  source: string;
}

export interface BenchRow {
  /** Scenario group: "pipeline", "memory", "lab", "flood", "synflood". */
  group: string;
  /** Stable identifier used by --compare, e.g. "pipeline.fullnat-tcp-established". */
  id: string;
  /** What a reader sees in the table. */
  label: string;
  figure: number;
  /** "cycles/pkt", "B/conn", "conn/s", "req/s", "MB/s", "%", "pps" ... */
  unit: string;
  /** The same-run baseline this figure is compared with, if any. */
  baseline?: { label: string; figure: number };
  /** figure / baseline.figure when a baseline exists. */
  ratio?: number;
  goal?: BenchGoal;
  /** Free text: what limited the figure, what would close a miss. */
  note?: string;
}

/** pass / miss against the goal, or undefined when the row has no goal. */
export function judge(row: BenchRow): 'pass' | 'miss' | undefined {
  if (!row.goal) return undefined;
  const value = row.goal.on === 'ratio' ? row.ratio : row.figure;
  if (value === undefined || !Number.isFinite(value)) return 'miss';
  return row.goal.kind === 'at-most' ? (value <= row.goal.value ? 'pass' : 'miss')
    : (value >= row.goal.value ? 'pass' : 'miss');
}
