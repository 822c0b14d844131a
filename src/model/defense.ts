// Changes to the flood defences of the desired state: set (add or replace), remove, and prune
// what has expired or lost its service. Like every change in ops.ts, each returns a new state
// and ends with the whole-state checks, which decide whether a SYNPROXY override can run with
// the service's servers (check-forwarding.ts).
import { joinPath, ModelError } from './errors.js';
import { checkState, type CheckFocus } from './check.js';
import { checkMitigation } from './defense-fields.js';
import type { ChangeResult, DesiredState } from './desired-state.js';
import {
  DEFENSE_LIMITS, isExpired, mitigationScope, type ChangeOrigin, type Mitigation, type MitigationSpec,
} from './mitigation-types.js';
import { findService } from './ops.js';
import { sameKey } from './types.js';

/** Same prefix in the same scope = the same entry (a new block replaces it). */
function identity(m: Pick<Mitigation, 'service' | 'kind' | 'prefix'>): string {
  const scope = mitigationScope(m);
  return m.kind === 'deny' || m.kind === 'allow' ? `${scope} acl ${m.prefix}` : `${scope} ${m.kind}`;
}

function mitigationsOf(state: DesiredState): Mitigation[] {
  return state.mitigations ?? [];
}

/** Drops entries for services that no longer exist and enforces per-list bounds. */
function finish(state: DesiredState, list: Mitigation[]): DesiredState {
  const live = list.filter((m) => !isOrphaned(state, m));
  const perList = new Map<string, number>();
  for (const m of live) {
    if (m.kind !== 'deny' && m.kind !== 'allow') continue;
    const scope = mitigationScope(m);
    const count = (perList.get(scope) ?? 0) + 1;
    perList.set(scope, count);
    if (count > DEFENSE_LIMITS.maxAclEntries) {
      throw new ModelError('RESOURCE_EXHAUSTED', 'prefix', `the ${scope} list already has ${DEFENSE_LIMITS.maxAclEntries} entries`);
    }
  }
  return { ...state, mitigations: live };
}

/** Adds or replaces (same scope + prefix, or same scope + limit kind) mitigations. */
export function setMitigations(current: DesiredState, specs: MitigationSpec[], origin: ChangeOrigin, now: number, path = ''): ChangeResult<Mitigation[]> {
  if (specs.length === 0) throw new ModelError('INVALID_ARGUMENT', path, 'nothing to set: give at least one prefix or limit');
  // A SYNPROXY override that cannot run is blamed on the request's mode, not on the servers.
  let focus: CheckFocus | undefined;
  const added = specs.map((spec, i): Mitigation => {
    const itemPath = specs.length > 1 ? joinPath(path, i) : path;
    const service = spec.service ? findService(current, spec.service, joinPath(itemPath, 'service')) : undefined;
    const m: Mitigation = { ...structuredClone(spec), actor: origin.actor, reason: origin.reason, createdAt: now };
    if (origin.durationMs !== undefined) m.expiresAt = now + origin.durationMs;
    checkMitigation(m, itemPath);
    if (m.kind === 'synproxy' && service) focus = { serviceId: service.id, overridePath: itemPath };
    return m;
  });
  const replaced = new Set(added.map(identity));
  const kept = mitigationsOf(current).filter((m) => !replaced.has(identity(m)) && !isExpired(m, now));
  const state = finish(current, [...kept, ...added]);
  return { state, result: added, warnings: checkState(state, focus, now) };
}

/** Removes the mitigations `match` selects; NOT_FOUND (naming `what`) when there are none. */
export function removeMitigations(current: DesiredState, match: (m: Mitigation) => boolean, what: string, path = ''): ChangeResult<Mitigation[]> {
  const list = mitigationsOf(current);
  const removed = list.filter(match);
  if (removed.length === 0) throw new ModelError('NOT_FOUND', path, `no active mitigation ${what}`);
  return { state: finish(current, list.filter((m) => !match(m))), result: removed, warnings: [] };
}

/** True when the mitigation's service was deleted (a service re-created later must not inherit it). */
export function isOrphaned(state: DesiredState, m: Mitigation): boolean {
  return m.service !== undefined && !state.services.some((s) => sameKey(s, m.service!));
}

/** Removes what has expired by `now` and what belonged to a deleted service (result empty = nothing to do). */
export function pruneExpired(current: DesiredState, now: number): ChangeResult<Mitigation[]> {
  const list = mitigationsOf(current);
  const gone = (m: Mitigation) => isExpired(m, now) || isOrphaned(current, m);
  return { state: { ...current, mitigations: list.filter((m) => !gone(m)) }, result: list.filter(gone), warnings: [] };
}
