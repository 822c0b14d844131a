// Turning BenchRows into what `npm run bench` shows and keeps: one aligned table
// (Markdown, so the README can quote it as printed), the --compare column against a
// saved run, and a hand-written SVG bar chart of how far each row is from its goal.
// Pure functions over rows: test/unit/bench-report.test.ts drives them with made-up rows.
import { judge, type BenchGoal, type BenchRow } from './rows.js';

/** Where a run came from; the README quotes it under the table. */
export interface MachineInfo {
  cpuModel: string;
  cores: number;
  kernel: string;
  /** TSC frequency DPDK uses; 0 when it could not be read. */
  tscHz: number;
  dpdkVersion: string;
  node: string;
  /**
   * 1-minute load average when the run started and when it ended: on a shared box,
   * a load above the core count means neighbours took CPU from the figures.
   */
  loadAverage?: { start: number; end: number };
}

/** What bench/results/latest.json holds. */
export interface BenchRun {
  date: string;
  machine: MachineInfo;
  rows: BenchRow[];
  /** Scenario modules skipped or failed, one line each. */
  notes: string[];
}

/** A previous figure for the --compare column. */
export interface Comparison {
  previous: number;
  /** (figure - previous) / previous × 100; undefined when previous is 0. */
  changePercent?: number;
}

/** Figures by row id from a saved run, matched to the rows that have one. */
export function compareRows(rows: BenchRow[], previous: BenchRun): Map<string, Comparison> {
  const before = new Map(previous.rows.map((row) => [row.id, row.figure]));
  const out = new Map<string, Comparison>();
  for (const row of rows) {
    const old = before.get(row.id);
    if (old === undefined || !Number.isFinite(old)) continue;
    out.set(row.id, { previous: old, ...(old !== 0 ? { changePercent: ((row.figure - old) / old) * 100 } : {}) });
  }
  return out;
}

/** Reads a saved run, naming the file and what is wrong with it. */
export function parseRun(text: string, source: string): BenchRun {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new Error(`${source}: not JSON: ${(error as Error).message}`);
  }
  const run = parsed as Partial<BenchRun>;
  if (typeof parsed !== 'object' || parsed === null || !Array.isArray(run.rows)) {
    throw new Error(`${source}: expected a bench run ({ date, machine, rows: [...] })`);
  }
  for (const [i, row] of run.rows.entries()) {
    if (typeof row?.id !== 'string' || typeof row.figure !== 'number') {
      throw new Error(`${source}: rows[${i}]: expected { id: string, figure: number, ... }`);
    }
  }
  return { date: String(run.date ?? ''), machine: run.machine as MachineInfo, rows: run.rows, notes: run.notes ?? [] };
}

/** Three significant digits, thousands grouped: 17234 → "17,234", 0.912 → "0.912", 292.31 → "292". */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const magnitude = Math.abs(value);
  if (magnitude >= 100) return Math.round(value).toLocaleString('en-US');
  if (magnitude >= 10) return value.toFixed(1);
  if (magnitude >= 1) return value.toFixed(2);
  if (magnitude === 0) return '0';
  return value.toPrecision(3);
}

/** "≥ 0.9× baseline", "≤ 150 cycles/pkt". */
export function formatGoal(goal: BenchGoal, unit: string): string {
  const sign = goal.kind === 'at-least' ? '≥' : '≤';
  return goal.on === 'ratio' ? `${sign} ${goal.value}×` : `${sign} ${formatNumber(goal.value)} ${unit}`;
}

function formatChange(comparison: Comparison | undefined): string[] {
  if (!comparison) return ['-', '-'];
  const change = comparison.changePercent;
  return [formatNumber(comparison.previous), change === undefined ? '-' : `${change >= 0 ? '+' : ''}${change.toFixed(1)} %`];
}

const COLUMNS = ['group', 'scenario', 'figure', 'baseline', 'ratio', 'goal', 'result', 'note'];
const COMPARE_COLUMNS = ['previous', 'change'];

/** The cells of one row, in COLUMNS order (plus previous/change when comparing). */
export function rowCells(row: BenchRow, comparison?: Map<string, Comparison>): string[] {
  const cells = [
    row.group,
    row.label,
    `${formatNumber(row.figure)} ${row.unit}`,
    row.baseline ? `${formatNumber(row.baseline.figure)} ${row.unit} (${row.baseline.label})` : '-',
    row.ratio === undefined ? '-' : `${row.ratio.toFixed(2)}×`,
    row.goal ? formatGoal(row.goal, row.unit) : '-',
    judge(row) ?? '-',
    row.note ?? '',
  ];
  if (comparison) cells.splice(3, 0, ...formatChange(comparison.get(row.id)));
  return cells;
}

/**
 * One aligned Markdown table: group, scenario, figure + unit, [previous, change,]
 * baseline, ratio, goal, pass/miss, note. Pipes in free text are escaped.
 */
export function formatTable(rows: BenchRow[], comparison?: Map<string, Comparison>): string {
  const header = [...COLUMNS];
  if (comparison) header.splice(3, 0, ...COMPARE_COLUMNS);
  const body = rows.map((row) => rowCells(row, comparison).map((cell) => cell.replace(/\|/g, '\\|')));
  const widths = header.map((title, i) => Math.max(title.length, ...body.map((cells) => cells[i]!.length)));
  const numeric = new Set(['figure', 'previous', 'change', 'ratio']);
  const line = (cells: string[]): string =>
    `| ${cells.map((cell, i) => (numeric.has(header[i]!) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join(' | ')} |`;
  const rule = `|${widths.map((width, i) => (numeric.has(header[i]!) ? `${'-'.repeat(width + 1)}:` : '-'.repeat(width + 2))).join('|')}|`;
  return [line(header), rule, ...body.map(line)].join('\n');
}

/** "2-core AMD EPYC, Linux 6.1.0, TSC 2.45 GHz, DPDK 22.11.11": the line under the table. */
export function describeMachine(machine: MachineInfo): string {
  const tsc = machine.tscHz > 0 ? `, TSC ${(machine.tscHz / 1e9).toFixed(2)} GHz` : '';
  const load = machine.loadAverage ? `, load average ${machine.loadAverage.start.toFixed(1)} → ${machine.loadAverage.end.toFixed(1)}` : '';
  return `${machine.cores}-core ${machine.cpuModel}, Linux ${machine.kernel}${tsc}, DPDK ${machine.dpdkVersion}, Node ${machine.node}${load}`;
}

/**
 * How far a row is from its goal, > 1 meaning better than the goal whatever its kind:
 * value / goal for at-least, goal / value for at-most. Undefined without a goal or value.
 */
export function goalScore(row: BenchRow): number | undefined {
  if (!row.goal) return undefined;
  const value = row.goal.on === 'ratio' ? row.ratio : row.figure;
  if (value === undefined || !Number.isFinite(value) || row.goal.value === 0) return undefined;
  if (row.goal.kind === 'at-least') return value / row.goal.value;
  return value === 0 ? Number.POSITIVE_INFINITY : row.goal.value / value;
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const SVG_WIDTH = 900;
const SVG_LABEL_WIDTH = 360;
const SVG_BAR_HEIGHT = 18;
const SVG_ROW_GAP = 8;
const SVG_TOP = 40;
const SVG_SCORE_MAX = 2;

/**
 * A horizontal bar per row with a goal: its goalScore (capped at 2) against a line at
 * 1 = the goal; green bars pass, red ones miss. Rows without a goal are left out.
 */
export function renderSvg(rows: BenchRow[], title: string): string {
  const charted = rows.filter((row) => goalScore(row) !== undefined);
  const plotWidth = SVG_WIDTH - SVG_LABEL_WIDTH - 80;
  const xOf = (score: number): number => SVG_LABEL_WIDTH + (Math.min(score, SVG_SCORE_MAX) / SVG_SCORE_MAX) * plotWidth;
  const height = SVG_TOP + charted.length * (SVG_BAR_HEIGHT + SVG_ROW_GAP) + 40;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${SVG_WIDTH}" height="${height}" viewBox="0 0 ${SVG_WIDTH} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="20" font-size="14" font-weight="bold">${escapeXml(title)}</text>`,
  ];
  charted.forEach((row, i) => {
    const score = goalScore(row)!;
    const y = SVG_TOP + i * (SVG_BAR_HEIGHT + SVG_ROW_GAP);
    const pass = judge(row) === 'pass';
    const shown = row.goal!.on === 'ratio' ? `${row.ratio!.toFixed(2)}× (goal ${formatGoal(row.goal!, row.unit)})`
      : `${formatNumber(row.figure)} ${row.unit} (goal ${formatGoal(row.goal!, row.unit)})`;
    parts.push(
      `<text x="${SVG_LABEL_WIDTH - 8}" y="${y + 13}" text-anchor="end">${escapeXml(`${row.group}: ${row.label}`)}</text>`,
      `<rect x="${SVG_LABEL_WIDTH}" y="${y}" width="${(xOf(score) - SVG_LABEL_WIDTH).toFixed(1)}" height="${SVG_BAR_HEIGHT}" fill="${pass ? '#3a9d4a' : '#c8433a'}"><title>${escapeXml(shown)}</title></rect>`,
      `<text x="${(xOf(score) + 4).toFixed(1)}" y="${y + 13}">${escapeXml(score > SVG_SCORE_MAX ? `${score.toFixed(2)} ▸` : score.toFixed(2))}</text>`,
    );
  });
  const goalX = xOf(1).toFixed(1);
  const bottom = SVG_TOP + charted.length * (SVG_BAR_HEIGHT + SVG_ROW_GAP);
  parts.push(
    `<line x1="${goalX}" y1="${SVG_TOP - 6}" x2="${goalX}" y2="${bottom}" stroke="black" stroke-dasharray="4 3"/>`,
    `<text x="${goalX}" y="${bottom + 16}" text-anchor="middle">goal</text>`,
    `<text x="${SVG_LABEL_WIDTH}" y="${bottom + 32}">bar = figure against its goal (≥ 1 meets it; at-most goals inverted), capped at ${SVG_SCORE_MAX}</text>`,
    '</svg>',
  );
  return `${parts.join('\n')}\n`;
}
