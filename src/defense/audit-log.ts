// Append-only audit log of defence changes: one JSON object per line, so `tail -f`,
// grep and jq all work. Lines are only ever appended (O_APPEND), never rewritten, and each
// append is fsynced (the directory too when the file is new) before it resolves: the caller
// writes a change's line BEFORE the change takes effect (src/defense/mitigations.ts).
import { mkdir, open, stat } from 'node:fs/promises';
import { dirname } from 'node:path';

/** The calls an append makes: node:fs/promises, or a test's wrapper that fails one step. */
export interface AuditFs {
  mkdir(path: string, options: { recursive: true; mode: number }): Promise<unknown>;
  open(path: string, flags: string, mode?: number): Promise<AuditFileHandle>;
}

export interface AuditFileHandle {
  stat(): Promise<{ size: number }>;
  writeFile(data: string, encoding: 'utf8'): Promise<void>;
  sync(): Promise<void>;
  truncate(length: number): Promise<void>;
  close(): Promise<void>;
}

export const NODE_AUDIT_FS: AuditFs = { mkdir, open };

/** AuditLogTail reads at most this much from the end of the file. */
const TAIL_WINDOW_BYTES = 4 * 1024 * 1024;
export const MAX_TAIL_LINES = 10_000;

/** 'unknown' only appears when reading back a line that is not valid JSON. */
export type AuditAction = 'block' | 'unblock' | 'set_limits' | 'clear' | 'expire' | 'unknown' | 'synproxy' | 'takeover';

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
  /**
   * "pending": written and fsynced before the change takes effect; then a second line with the
   * same action and target says "ok" or "error: <message>". A refused change has only its
   * "error: …" line. A "pending" line without an outcome means the daemon stopped in between:
   * the state file (ListMitigations) says whether the change is in force.
   */
  result: string;
}

export const AUDIT_PENDING = 'pending';

export class AuditLog {
  private queue: Promise<unknown> = Promise.resolve();
  /** Whether this process already fsynced the directory after the file existed. */
  private directorySynced = false;

  constructor(readonly path: string, private readonly fs: AuditFs = NODE_AUDIT_FS) {}

  /**
   * Appends lines in call order and resolves once they are on disk (file fsynced; the
   * directory too, the first time). A failure is reported to the caller and the lines it may
   * have half-written are cut off again; later appends still run.
   */
  append(entries: AuditEntry[]): Promise<void> {
    if (entries.length === 0) return Promise.resolve();
    const text = entries.map((e) => `${JSON.stringify(e)}\n`).join('');
    const run = this.queue.then(() => this.appendNow(text));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async appendNow(text: string): Promise<void> {
    const directory = dirname(this.path);
    await this.fs.mkdir(directory, { recursive: true, mode: 0o750 });
    const handle = await this.fs.open(this.path, 'a', 0o640);
    try {
      const sizeBefore = (await handle.stat()).size;
      try {
        await handle.writeFile(text, 'utf8');
        await handle.sync();
      } catch (error) {
        // A full disk can take half a line: cut it so the next line starts on its own (the
        // reader copes with a torn line anyway, should this fail too).
        await handle.truncate(sizeBefore).catch(() => undefined);
        throw error;
      }
    } catch (error) {
      await handle.close().catch(() => undefined);
      throw error;
    }
    await handle.close();
    if (!this.directorySynced) {
      // The file may have just been created: its directory entry must reach the disk too.
      const dirHandle = await this.fs.open(directory, 'r');
      try {
        await dirHandle.sync();
      } finally {
        await dirHandle.close().catch(() => undefined);
      }
      this.directorySynced = true;
    }
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
