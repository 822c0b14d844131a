// One-line logs on stderr: "<ISO time> <LEVEL> <message>". stdout is reserved for
// output other programs parse (the daemon's single "portcullis ready" line, CLI tables).

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

function thresholdFromEnv(): LogLevel {
  const wanted = (process.env.PORTCULLIS_LOG_LEVEL ?? 'info').toLowerCase();
  return wanted in ORDER ? (wanted as LogLevel) : 'info';
}

let threshold: LogLevel = thresholdFromEnv();

export function setLogLevel(level: LogLevel): void {
  threshold = level;
}

function write(level: LogLevel, message: string): void {
  if (ORDER[level] < ORDER[threshold]) return;
  // Keep each entry on one line so log collectors never split it.
  const oneLine = message.replace(/\r?\n/g, ' | ');
  process.stderr.write(`${new Date().toISOString()} ${level.toUpperCase()} ${oneLine}\n`);
}

/** Kinds of repeated lines remembered at most; past it the oldest is forgotten (its next line simply shows). */
const MAX_LIMITED_KEYS = 1024;
const limited = new Map<string, { lastAt: number; held: number }>();

/**
 * One line per `key` per `everyMs` at most: a fault that repeats every probe or every tick must not
 * flood the log (nor the disk under it). The lines held back are counted in the next one shown.
 */
function writeLimited(level: LogLevel, key: string, everyMs: number, message: string, now = Date.now()): void {
  const entry = limited.get(key);
  if (entry && now - entry.lastAt < everyMs) {
    entry.held++;
    return;
  }
  const held = entry?.held ?? 0;
  limited.delete(key);
  if (limited.size >= MAX_LIMITED_KEYS) limited.delete(limited.keys().next().value!);
  limited.set(key, { lastAt: now, held: 0 });
  write(level, held ? `${message} (${held} more like it in the last ${Math.round((now - entry!.lastAt) / 1000)} s not shown)` : message);
}

export const log = {
  debug: (message: string) => write('debug', message),
  info: (message: string) => write('info', message),
  warn: (message: string) => write('warn', message),
  error: (message: string) => write('error', message),
  /** Like log[level], but at most one line per `key` every `everyMs` (default 10 s). */
  limited: (level: LogLevel, key: string, message: string, everyMs = 10_000) => writeLimited(level, key, everyMs, message),
};
