// Rise/fall counting: a server changes state only after `fall` consecutive
// failures (up → down) or `rise` consecutive successes (down → up), so one
// lost probe never moves traffic. A probe whose outcome is `unknown` (it could
// not be made on our side) is no evidence either way: it changes nothing, not
// even the streak, so a host short of descriptors neither takes servers down
// nor brings them back.
import type { ProbeOutcome } from './probe.js';

export type HealthState = 'up' | 'down';

export interface HealthRecord {
  state: HealthState;
  /** Consecutive probe results disagreeing with `state`. */
  streak: number;
  lastDetail: string;
  /** Wall-clock ms of the last state change (0: never changed since start). */
  changedAt: number;
}

/** Servers start up: a new server takes traffic at once, as without checks (IPVS + keepalived do the same). */
export function initialRecord(): HealthRecord {
  return { state: 'up', streak: 0, lastDetail: 'not probed yet', changedAt: 0 };
}

export function nextRecord(current: HealthRecord, outcome: ProbeOutcome, detail: string, limits: { rise: number; fall: number }, now: number): HealthRecord {
  if (outcome === 'unknown') return current;
  const agrees = (outcome === 'pass') === (current.state === 'up');
  if (agrees) return { ...current, streak: 0, lastDetail: detail };
  const streak = current.streak + 1;
  const needed = current.state === 'up' ? limits.fall : limits.rise;
  if (streak < needed) return { ...current, streak, lastDetail: detail };
  return { state: current.state === 'up' ? 'down' : 'up', streak: 0, lastDetail: detail, changedAt: now };
}
