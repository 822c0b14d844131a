// Passive health's state machine for one real server, fed one sample of its refusal counter
// (ICMP unreachable + resets, summed over workers) per interval. Pure: the watcher
// (passive.ts) applies the actions it returns.
//
// - up: more refusals in one sample than rate × elapsed seconds → quiesced for the current
//   back-off; the next back-off is twice as long (up to the max).
// - backed off: refusals are not looked at (existing connections go on and may still refuse;
//   the back-off is what they get); when it ends the server is restored.
// - a server restored and below the rate for as long as its last back-off is forgiven: its next
//   back-off starts from backoff_ms again. So one that keeps refusing backs off 5 s, 10 s, 20 s…,
//   one that refused once long ago starts at 5 s.
import type { PassiveHealth } from '../model/index.js';

export interface PassiveRecord {
  state: 'up' | 'backed_off';
  /** The counter at the last sample; undefined before the first (which only sets the baseline). */
  count?: number;
  at: number;
  /** The back-off the next quiesce uses. */
  nextBackoffMs: number;
  /** The back-off last served (0: none since start). */
  lastBackoffMs: number;
  /** backed_off: when it ends; up: when it came back (0: never backed off). */
  since: number;
  until: number;
}

export type PassiveAction =
  | { kind: 'none' }
  | { kind: 'quiesce'; refusals: number; elapsedMs: number; backoffMs: number }
  | { kind: 'restore'; backoffMs: number };

export function initialPassiveRecord(settings: PassiveHealth, now: number): PassiveRecord {
  return { state: 'up', at: now, nextBackoffMs: settings.backoffMs, lastBackoffMs: 0, since: 0, until: 0 };
}

/**
 * One sample. `count` is the server's refusal counter now; a counter that went backwards (the
 * server was removed and added again under its id) only sets a new baseline.
 */
export function passiveStep(record: PassiveRecord, count: number, now: number, settings: PassiveHealth): { record: PassiveRecord; action: PassiveAction } {
  const previous = record.count;
  const elapsedMs = now - record.at;
  const next: PassiveRecord = { ...record, count, at: now };
  if (record.state === 'backed_off') {
    if (now < record.until) return { record: next, action: { kind: 'none' } };
    return { record: { ...next, state: 'up', since: now, until: 0 }, action: { kind: 'restore', backoffMs: record.lastBackoffMs } };
  }
  const refusals = previous === undefined || count < previous ? 0 : count - previous;
  if (elapsedMs > 0 && refusals > settings.rate * elapsedMs / 1000) {
    const backoffMs = Math.min(record.nextBackoffMs, settings.maxBackoffMs);
    return {
      record: { ...next, state: 'backed_off', since: now, until: now + backoffMs, lastBackoffMs: backoffMs, nextBackoffMs: Math.min(backoffMs * 2, settings.maxBackoffMs) },
      action: { kind: 'quiesce', refusals, elapsedMs, backoffMs },
    };
  }
  if (record.lastBackoffMs > 0 && now - record.since >= record.lastBackoffMs) next.nextBackoffMs = settings.backoffMs;
  return { record: next, action: { kind: 'none' } };
}
