// Reading a service's passive health settings: the one validator (YAML, gRPC and the state
// file all come through readPassiveHealth, so bad input fails the same way), and the way back.
import { joinPath, ModelError } from './errors.js';
import { readInteger, readObject, rejectUnknownKeys } from './fields.js';
import { PASSIVE_HEALTH_DEFAULTS, PASSIVE_HEALTH_LIMITS, type PassiveHealth } from './passive-health-types.js';

const KEYS = ['rate', 'interval_ms', 'backoff_ms', 'max_backoff_ms'] as const;

/** Reads the snake_case spelling (config file, state file, gRPC through rawPassiveHealth); absent fields take the defaults, except rate. */
export function readPassiveHealth(value: unknown, path: string): PassiveHealth {
  const raw = readObject(value, path);
  rejectUnknownKeys(raw, KEYS, path);
  const d = PASSIVE_HEALTH_DEFAULTS;
  const l = PASSIVE_HEALTH_LIMITS;
  if (raw.rate === undefined || raw.rate === null) {
    throw new ModelError('INVALID_ARGUMENT', joinPath(path, 'rate'), `is required: refusals per second above which a server is quiesced (integer 1..${l.maxRate})`);
  }
  const settings: PassiveHealth = {
    rate: readInteger(raw.rate, joinPath(path, 'rate'), 1, l.maxRate),
    intervalMs: raw.interval_ms === undefined ? d.intervalMs : readInteger(raw.interval_ms, joinPath(path, 'interval_ms'), l.minIntervalMs, l.maxIntervalMs),
    backoffMs: raw.backoff_ms === undefined ? d.backoffMs : readInteger(raw.backoff_ms, joinPath(path, 'backoff_ms'), l.minBackoffMs, l.maxBackoffMs),
    maxBackoffMs: 0,
  };
  // Without max_backoff_ms, the default unless backoff_ms is already above it (then no doubling).
  settings.maxBackoffMs = raw.max_backoff_ms === undefined
    ? Math.max(d.maxBackoffMs, settings.backoffMs)
    : readInteger(raw.max_backoff_ms, joinPath(path, 'max_backoff_ms'), l.minBackoffMs, l.maxBackoffMs);
  if (settings.maxBackoffMs < settings.backoffMs) {
    throw new ModelError('INVALID_ARGUMENT', joinPath(path, 'max_backoff_ms'), `must be at least backoff_ms (${settings.backoffMs}), got ${settings.maxBackoffMs}`);
  }
  return settings;
}

/** Back to the spelling readPassiveHealth reads. */
export function passiveHealthToRaw(settings: PassiveHealth): Record<string, number> {
  return { rate: settings.rate, interval_ms: settings.intervalMs, backoff_ms: settings.backoffMs, max_backoff_ms: settings.maxBackoffMs };
}
