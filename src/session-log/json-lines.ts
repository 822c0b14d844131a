// The JSON lines sink: one object per line, appended by one write at a time off the drain's
// path (the drain only queues). Bounded: at most maxLines wait; beyond that lines are dropped
// and counted (session_log_json_lines_dropped). The file is reopened on reopen() (SIGHUP) and
// whenever its path no longer names the open file (moved or deleted by log rotation).
import { open, stat, type FileHandle } from 'node:fs/promises';
import { countControlEvent } from '../metrics/control-events.js';
import { log } from '../log.js';

const WARN_EVERY_MS = 60_000;

export class JsonLinesWriter {
  private queue: string[] = [];
  private handle: FileHandle | undefined;
  private identity: { dev: number; ino: number } | undefined;
  private reopenWanted = false;
  private pumping: Promise<void> | undefined;
  private lastWarning = 0;

  constructor(readonly path: string, readonly maxLines: number) {}

  /** Lines waiting now. */
  get queued(): number {
    return this.queue.length;
  }

  /** Queues lines (each without its newline); what does not fit the bound is dropped and counted. */
  push(lines: string[]): void {
    const room = Math.max(0, this.maxLines - this.queue.length);
    if (lines.length > room) countControlEvent('session_log_json_lines_dropped', lines.length - room);
    for (let i = 0; i < Math.min(room, lines.length); i++) this.queue.push(lines[i]!);
    if (this.queue.length > 0) this.pumping ??= this.pump().finally(() => { this.pumping = undefined; });
  }

  /** The next write goes to a freshly opened file at path (SIGHUP after rotation). */
  reopen(): void {
    this.reopenWanted = true;
  }

  /** Waits until everything queued is written (or dropped on a write error). */
  async flush(): Promise<void> {
    while (this.pumping) await this.pumping;
  }

  async close(): Promise<void> {
    await this.flush();
    await this.closeHandle();
  }

  private async pump(): Promise<void> {
    while (this.queue.length > 0) {
      const lines = this.queue;
      this.queue = [];
      try {
        const handle = await this.current();
        await handle.write(lines.join('\n') + '\n');
        countControlEvent('session_log_json_lines_written', lines.length);
      } catch (error) {
        countControlEvent('session_log_json_write_errors');
        countControlEvent('session_log_json_lines_dropped', lines.length);
        this.warn(`session_log.json_file ${this.path}: ${(error as Error).message}; ${lines.length} line(s) dropped`);
        await this.closeHandle();
      }
    }
  }

  /** The open file, reopened first when asked to or when the path now names another file (or none). */
  private async current(): Promise<FileHandle> {
    if (this.handle && !this.reopenWanted) {
      const now = await stat(this.path).catch(() => undefined);
      if (now && this.identity && now.dev === this.identity.dev && now.ino === this.identity.ino) return this.handle;
    }
    this.reopenWanted = false;
    await this.closeHandle();
    const handle = await open(this.path, 'a', 0o640);
    const info = await handle.stat();
    this.handle = handle;
    this.identity = { dev: info.dev, ino: info.ino };
    countControlEvent('session_log_json_file_opens');
    return handle;
  }

  private async closeHandle(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    this.identity = undefined;
    await handle?.close().catch(() => undefined);
  }

  private warn(message: string): void {
    const now = Date.now();
    if (now - this.lastWarning < WARN_EVERY_MS) return;
    this.lastWarning = now;
    log.warn(message);
  }
}
