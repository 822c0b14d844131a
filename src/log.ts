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

export const log = {
  debug: (message: string) => write('debug', message),
  info: (message: string) => write('info', message),
  warn: (message: string) => write('warn', message),
  error: (message: string) => write('error', message),
};
