// Append-only audit log of defence changes: one JSON object per line, so `tail -f`,
// grep and jq all work. Lines are only ever appended (O_APPEND), never rewritten.
import { appendFile, mkdir, open, stat } from 'node:fs/promises';
import { dirname } from 'node:path';

/** AuditLogTail reads at most this much from the end of the file. */
const TAIL_WINDOW_BYTES = 4 * 1024 * 1024;
export const MAX_TAIL_LINES = 10_000;

/** 'unknown' only appears when reading back a line that is not valid JSON. */
export type AuditAction = 'block' | 'unblock' | 'set_limits' | 'clear' | 'expire' | 'unknown' | 'synproxy';

export interface AuditEntry {
  /** ISO 8601. */
  time: string;
  actor: string;
  action: AuditAction;
  /** Scope and what: "global deny 203.0.113.0/24", "udp/198.18.0.10:7 udp_per_source 100/s burst 200". */
  target: string;
  reason: string;
  /** ISO 8601, or null = until removed. */
  expiry: string | null;
  /** "ok" or "error: <message>". */
  result: string;
}

export class AuditLog {
  private ready: Promise<unknown> | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(readonly path: string) {}

  /** Appends lines in call order; a failure is reported to the caller, later appends still run. */
  append(entries: AuditEntry[]): Promise<void> {
    if (entries.length === 0) return Promise.resolve();
    this.ready ??= mkdir(dirname(this.path), { recursive: true, mode: 0o750 });
    const text = entries.map((e) => `${JSON.stringify(e)}\n`).join('');
    const run = this.queue.then(() => this.ready).then(() => appendFile(this.path, text, { mode: 0o640, flag: 'a' }));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** The last `count` entries, oldest first; [] when the log does not exist yet. */
  async tail(count: number): Promise<AuditEntry[]> {
    await this.queue;
    const size = await stat(this.path).then((s) => s.size, () => -1);
    if (size <= 0 || count <= 0) return [];
    const start = Math.max(0, size - TAIL_WINDOW_BYTES);
    const handle = await open(this.path, 'r');
    let text: string;
    try {
      const buffer = Buffer.alloc(size - start);
      await handle.read(buffer, 0, buffer.length, start);
      text = buffer.toString('utf8');
    } finally {
      await handle.close();
    }
    const lines = text.split('\n').filter((line) => line.trim() !== '');
    if (start > 0) lines.shift(); // the first line of the window may be cut
    return lines.slice(-count).map(parseLine);
  }
}

/** A line someone edited by hand must not break the tail: it comes back as an "unreadable" entry. */
function parseLine(line: string): AuditEntry {
  try {
    const value = JSON.parse(line) as Partial<AuditEntry>;
    return {
      time: String(value.time ?? ''), actor: String(value.actor ?? ''), action: (value.action ?? 'unknown') as AuditAction,
      target: String(value.target ?? ''), reason: String(value.reason ?? ''),
      expiry: value.expiry == null ? null : String(value.expiry), result: String(value.result ?? ''),
    };
  } catch {
    return { time: '', actor: '', action: 'unknown', target: line.slice(0, 200), reason: '', expiry: null, result: 'unreadable line' };
  }
}
