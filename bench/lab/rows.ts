// The lab bench's figures as BenchRows, with issue 10's goals:
//   FullNAT (busy) conn/s, req/s, MB/s ≥ 0.9 × the DPDK bridge on the same ports;
//   FullNAT (busy) conn/s ≥ 1.2 × the kernel's nftables FullNAT.
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

/** Per scenario and measure the best figure over the rounds; errors summed. */
export function bestOf(rounds: LabFigures[]): LabFigures {
  if (rounds.length === 0) throw new Error('lab bench: no rounds measured');
  const best = (pick: (f: LabFigures) => ScenarioFigures): ScenarioFigures => ({
    connsPerSecond: Math.max(...rounds.map((f) => pick(f).connsPerSecond)),
    requestsPerSecond: Math.max(...rounds.map((f) => pick(f).requestsPerSecond)),
    megabytesPerSecond: Math.max(...rounds.map((f) => pick(f).megabytesPerSecond)),
    errors: rounds.reduce((sum, f) => sum + pick(f).errors, 0),
  });
  return { bridge: best((f) => f.bridge), busy: best((f) => f.busy), adaptive: best((f) => f.adaptive), nftables: best((f) => f.nftables) };
}

type Measure = 'conns' | 'rps' | 'mbps';
const MEASURES: { key: Measure; field: keyof ScenarioFigures; unit: string; what: string }[] = [
  { key: 'conns', field: 'connsPerSecond', unit: 'conn/s', what: 'new connections' },
  { key: 'rps', field: 'requestsPerSecond', unit: 'req/s', what: 'kept-alive requests' },
  { key: 'mbps', field: 'megabytesPerSecond', unit: 'MB/s', what: 'one large download' },
];

const BRIDGE_GOAL = { kind: 'at-least' as const, on: 'ratio' as const, value: 0.9, source: 'issue 10: ≥ 0.9× the DPDK bridge' };
const NFT_GOAL = { kind: 'at-least' as const, on: 'ratio' as const, value: 1.2, source: 'issue 10: ≥ 1.2× nftables FullNAT conn/s' };

function errorsNote(figures: ScenarioFigures): string | undefined {
  return figures.errors > 0 ? `${figures.errors} wrk errors` : undefined;
}

function joinNotes(...notes: (string | undefined)[]): string | undefined {
  const kept = notes.filter((note): note is string => note !== undefined && note !== '');
  return kept.length ? kept.join('; ') : undefined;
}

function compared(id: string, label: string, figure: number, unit: string, baseline: { label: string; figure: number }): BenchRow {
  return { group: 'lab', id, label, figure, unit, baseline, ratio: baseline.figure > 0 ? figure / baseline.figure : Number.NaN };
}

export function labRows(f: LabFigures, settings: LoadSettings & { rounds: number }): BenchRow[] {
  const best = settings.rounds > 1 ? `, best of ${settings.rounds}` : '';
  const load = `wrk -t${settings.threads} -c${settings.connections} ${settings.seconds} s${best}`;
  const rows: BenchRow[] = [];
  for (const m of MEASURES) {
    const bridge = { label: 'bridge', figure: f.bridge[m.field] };
    rows.push({
      group: 'lab', id: `lab.bridge-${m.key}`, label: `DPDK L2 bridge, ${m.what}`, figure: bridge.figure, unit: m.unit,
      note: joinNotes(m.key === 'mbps' ? `curl of 1 GiB, ≤ ${settings.seconds} s${best}` : load, errorsNote(f.bridge)),
    });
    rows.push({
      ...compared(`lab.fullnat-busy-${m.key}`, `FullNAT busy, ${m.what}`, f.busy[m.field], m.unit, bridge),
      goal: BRIDGE_GOAL, ...(errorsNote(f.busy) ? { note: errorsNote(f.busy) } : {}),
    });
  }
  for (const m of MEASURES) {
    rows.push({
      ...compared(`lab.fullnat-adaptive-${m.key}`, `FullNAT adaptive, ${m.what}`, f.adaptive[m.field], m.unit,
        { label: 'busy', figure: f.busy[m.field] }),
      ...(errorsNote(f.adaptive) ? { note: errorsNote(f.adaptive) } : {}),
    });
  }
  for (const m of MEASURES) {
    rows.push({
      group: 'lab', id: `lab.nftables-${m.key}`, label: `nftables FullNAT, ${m.what}`, figure: f.nftables[m.field], unit: m.unit,
      ...(errorsNote(f.nftables) ? { note: errorsNote(f.nftables) } : {}),
    });
  }
  rows.push({
    ...compared('lab.fullnat-vs-nftables-conns', 'FullNAT busy vs nftables, new connections', f.busy.connsPerSecond, 'conn/s',
      { label: 'nftables', figure: f.nftables.connsPerSecond }),
    goal: NFT_GOAL,
  });
  rows.push({
    ...compared('lab.fullnat-vs-nftables-mbps', 'FullNAT busy vs nftables, large download', f.busy.megabytesPerSecond, 'MB/s',
      { label: 'nftables', figure: f.nftables.megabytesPerSecond }),
    note: 'on veth the kernel keeps GSO/GRO super-packets; af_packet moves 1500-byte frames (reported, not chased)',
  });
  return rows;
}
