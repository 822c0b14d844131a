// One-line logs on stderr, every line the daemon writes goes through here. Two formats (config
// `log.format`): text, "<ISO time> <LEVEL> <message>[ key=value…]" for people, and json, one object
// per line {"level","time","message",…fields} for log collectors. stdout is reserved for output
// other programs parse (the daemon's single "portcullis ready" line, CLI tables).

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFormat = 'text' | 'json';
export const LOG_FORMATS: readonly LogFormat[] = ['text', 'json'];
/** Structured details of a line: plain values only, so both formats can show them. */
export type LogFields = Record<string, string | number | boolean>;
/** Names the json format uses itself: a field by one of these names is written with a "field_" prefix instead. */
const RESERVED = new Set(['level', 'time', 'message']);

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

function thresholdFromEnv(): LogLevel {
  const wanted = (process.env.PORTCULLIS_LOG_LEVEL ?? 'info').toLowerCase();
  return wanted in ORDER ? (wanted as LogLevel) : 'info';
}

let threshold: LogLevel = thresholdFromEnv();

export function setLogLevel(level: LogLevel): void {
  threshold = level;
}

let format: LogFormat = 'text';

export function setLogFormat(wanted: LogFormat): void {
  format = wanted;
}

/** Text form of a field value: quoted when it has a space, a quote or an equals sign, so key=value pairs stay parseable. */
function textValue(value: string | number | boolean): string {
  const text = String(value);
  return /[\s"=]/.test(text) || text === '' ? JSON.stringify(text) : text;
}

/** One log entry as the line written, without its newline. */
export function formatLine(level: LogLevel, message: string, fields: LogFields | undefined, at: Date, as: LogFormat): string {
  if (as === 'json') {
    const entry: Record<string, unknown> = { level, time: at.toISOString(), message };
    for (const [key, value] of Object.entries(fields ?? {})) entry[RESERVED.has(key) ? `field_${key}` : key] = value;
    // JSON.stringify escapes newlines: one object per line whatever the message holds.
    return JSON.stringify(entry);
  }
  // Keep each entry on one line so log collectors never split it.
  const oneLine = message.replace(/\r?\n/g, ' | ');
  const pairs = Object.entries(fields ?? {}).map(([key, value]) => ` ${key}=${textValue(value).replace(/\r?\n/g, ' | ')}`).join('');
  return `${at.toISOString()} ${level.toUpperCase()} ${oneLine}${pairs}`;
}

function write(level: LogLevel, message: string, fields?: LogFields): void {
  if (ORDER[level] < ORDER[threshold]) return;
  process.stderr.write(`${formatLine(level, message, fields, new Date(), format)}\n`);
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
  debug: (message: string, fields?: LogFields) => write('debug', message, fields),
  info: (message: string, fields?: LogFields) => write('info', message, fields),
  warn: (message: string, fields?: LogFields) => write('warn', message, fields),
  error: (message: string, fields?: LogFields) => write('error', message, fields),
  /** Like log[level], but at most one line per `key` every `everyMs` (default 10 s). */
  limited: (level: LogLevel, key: string, message: string, everyMs = 10_000) => writeLimited(level, key, everyMs, message),
};
