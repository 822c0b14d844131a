// Stable id allocation. Ids are searched from a moving cursor rather than from 1,
// so an id freed a moment ago is not reused at once (the data plane keys per-worker
// state such as rr cursors and counters by id).
import { ModelError } from './errors.js';
import type { DesiredState } from './desired-state.js';
import { LIMITS } from './types.js';

export interface Allocation {
  ids: number[];
  /** Cursor to store for the next search. */
  next: number;
}

/** Finds `count` ids in 1..max not in `used`, starting at `cursor` and wrapping once. */
export function allocateIds(used: ReadonlySet<number>, count: number, cursor: number, max: number, what: string): Allocation {
  const ids: number[] = [];
  let candidate = cursor >= 1 && cursor <= max ? cursor : 1;
  for (let tried = 0; tried < max && ids.length < count; tried++) {
    if (!used.has(candidate)) ids.push(candidate);
    candidate = candidate >= max ? 1 : candidate + 1;
  }
  if (ids.length < count) {
    throw new ModelError('RESOURCE_EXHAUSTED', '', `no free ${what} id: all ${max} are in use`);
  }
  return { ids, next: candidate };
}

export function usedServiceIds(state: DesiredState): Set<number> {
  return new Set(state.services.map((s) => s.id));
}

export function usedServerIds(state: DesiredState): Set<number> {
  return new Set(state.services.flatMap((s) => s.servers.map((r) => r.id)));
}

export const SERVICE_ID_MAX = LIMITS.maxServiceId;
export const SERVER_ID_MAX = LIMITS.maxServerId;
