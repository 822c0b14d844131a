// The lab bench's figures as BenchRows, with issue 10's goals:
//   FullNAT (busy) conn/s, req/s, MB/s ≥ 0.9 × the DPDK bridge on the same ports;
//   FullNAT (busy) conn/s ≥ 1.2 × the kernel's nftables FullNAT.
// Every figure is the median over the interleaved rounds, with min–max in the note; a row
// passes only when its median meets the goal (issue 20: no best-of).
// Adaptive polling is reported against busy polling (no goal: it trades throughput
// for an idle core, and this table shows how much).
import type { BenchRow } from '../rows.js';
import type { LoadSettings } from './load.js';

export interface ScenarioFigures {
  connsPerSecond: number;
  requestsPerSecond: number;
  megabytesPerSecond: number;
  /** wrk socket errors + non-2xx replies over both wrk runs. */
  errors: number;
}

export interface LabFigures {
  bridge: ScenarioFigures;
  busy: ScenarioFigures;
  adaptive: ScenarioFigures;
  nftables: ScenarioFigures;
}

/** One measure over the rounds: the median (upper middle for an even count) and the range. */
export interface Spread { median: number; min: number; max: number }

export interface ScenarioSummary {
  connsPerSecond: Spread;
  requestsPerSecond: Spread;
  megabytesPerSecond: Spread;
  /** wrk socket errors + non-2xx replies, summed over the rounds. */
  errors: number;
}

export interface LabSummary {
  bridge: ScenarioSummary;
  busy: ScenarioSummary;
  adaptive: ScenarioSummary;
  nftables: ScenarioSummary;
  rounds: number;
}

export function spread(values: number[]): Spread {
  if (values.length === 0) throw new Error('lab bench: no rounds measured');
  const sorted = [...values].sort((a, b) => a - b);
  return { median: sorted[Math.floor(sorted.length / 2)]!, min: sorted[0]!, max: sorted[sorted.length - 1]! };
}

/** Per scenario and measure the median over the rounds with min and max; errors summed. */
export function summarise(rounds: LabFigures[]): LabSummary {
  if (rounds.length === 0) throw new Error('lab bench: no rounds measured');
  const one = (pick: (f: LabFigures) => ScenarioFigures): ScenarioSummary => ({
    connsPerSecond: spread(rounds.map((f) => pick(f).connsPerSecond)),
    requestsPerSecond: spread(rounds.map((f) => pick(f).requestsPerSecond)),
    megabytesPerSecond: spread(rounds.map((f) => pick(f).megabytesPerSecond)),
    errors: rounds.reduce((sum, f) => sum + pick(f).errors, 0),
  });
  return {
    bridge: one((f) => f.bridge), busy: one((f) => f.busy), adaptive: one((f) => f.adaptive), nftables: one((f) => f.nftables),
    rounds: rounds.length,
  };
}

type Measure = 'conns' | 'rps' | 'mbps';
const MEASURES: { key: Measure; field: 'connsPerSecond' | 'requestsPerSecond' | 'megabytesPerSecond'; unit: string; what: string }[] = [
  { key: 'conns', field: 'connsPerSecond', unit: 'conn/s', what: 'new connections' },
  { key: 'rps', field: 'requestsPerSecond', unit: 'req/s', what: 'kept-alive requests' },
  { key: 'mbps', field: 'megabytesPerSecond', unit: 'MB/s', what: 'one large download' },
];

const BRIDGE_GOAL = { kind: 'at-least' as const, on: 'ratio' as const, value: 0.9, source: 'issue 10: ≥ 0.9× the DPDK bridge' };
const NFT_GOAL = { kind: 'at-least' as const, on: 'ratio' as const, value: 1.2, source: 'issue 10: ≥ 1.2× nftables FullNAT conn/s' };

function errorsNote(figures: ScenarioSummary): string | undefined {
  return figures.errors > 0 ? `${figures.errors} wrk errors` : undefined;
}

function rangeNote(s: Spread, rounds: number): string {
  const digits = s.max >= 100 ? 0 : 1;
  return `median of ${rounds}, min–max ${s.min.toFixed(digits)}–${s.max.toFixed(digits)}`;
}

function joinNotes(...notes: (string | undefined)[]): string | undefined {
  const kept = notes.filter((note): note is string => note !== undefined && note !== '');
  return kept.length ? kept.join('; ') : undefined;
}

function compared(id: string, label: string, figure: number, unit: string, baseline: { label: string; figure: number }): BenchRow {
  return { group: 'lab', id, label, figure, unit, baseline, ratio: baseline.figure > 0 ? figure / baseline.figure : Number.NaN };
}

export function labRows(f: LabSummary, settings: LoadSettings): BenchRow[] {
  const load = `wrk -t${settings.threads} -c${settings.connections} ${settings.seconds} s`;
  const rows: BenchRow[] = [];
  const range = (x: ScenarioSummary, field: (typeof MEASURES)[number]['field']) => rangeNote(x[field], f.rounds);
  for (const m of MEASURES) {
    const bridge = { label: 'bridge', figure: f.bridge[m.field].median };
    rows.push({
      group: 'lab', id: `lab.bridge-${m.key}`, label: `DPDK L2 bridge, ${m.what}`, figure: bridge.figure, unit: m.unit,
      note: joinNotes(m.key === 'mbps' ? `curl of 1 GiB, ≤ ${settings.seconds} s` : load, range(f.bridge, m.field), errorsNote(f.bridge)),
    });
    rows.push({
      ...compared(`lab.fullnat-busy-${m.key}`, `FullNAT busy, ${m.what}`, f.busy[m.field].median, m.unit, bridge),
      goal: BRIDGE_GOAL, note: joinNotes(range(f.busy, m.field), errorsNote(f.busy)),
    });
  }
  for (const m of MEASURES) {
    rows.push({
      ...compared(`lab.fullnat-adaptive-${m.key}`, `FullNAT adaptive, ${m.what}`, f.adaptive[m.field].median, m.unit,
        { label: 'busy', figure: f.busy[m.field].median }),
      note: joinNotes(range(f.adaptive, m.field), errorsNote(f.adaptive)),
    });
  }
  for (const m of MEASURES) {
    rows.push({
      group: 'lab', id: `lab.nftables-${m.key}`, label: `nftables FullNAT, ${m.what}`, figure: f.nftables[m.field].median, unit: m.unit,
      note: joinNotes(range(f.nftables, m.field), errorsNote(f.nftables)),
    });
  }
  rows.push({
    ...compared('lab.fullnat-vs-nftables-conns', 'FullNAT busy vs nftables, new connections', f.busy.connsPerSecond.median, 'conn/s',
      { label: 'nftables', figure: f.nftables.connsPerSecond.median }),
    goal: NFT_GOAL,
    note: `medians of ${f.rounds} rounds; the bridge (I/O ceiling of these ports) did ${f.bridge.connsPerSecond.median.toFixed(0)} conn/s, `
      + `${(f.bridge.connsPerSecond.median / Math.max(1, f.nftables.connsPerSecond.median)).toFixed(2)}× nftables`,
  });
  rows.push({
    ...compared('lab.fullnat-vs-nftables-mbps', 'FullNAT busy vs nftables, large download', f.busy.megabytesPerSecond.median, 'MB/s',
      { label: 'nftables', figure: f.nftables.megabytesPerSecond.median }),
    note: 'on veth the kernel keeps GSO/GRO super-packets; af_packet moves 1500-byte frames (reported, not chased)',
  });
  return rows;
}
