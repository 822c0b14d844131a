// Which SYNPROXY mode a service runs: its configured `synproxy`, unless an active `synproxy`
// mitigation (Defense SetSynproxy, `portcullis defend synproxy`) overrides it. The snapshot
// builds from effectiveSynproxy; the whole-state check (check-forwarding.ts) from synproxyModes.
import type { DesiredState } from './desired-state.js';
import { isExpired, sameScope, type Mitigation } from './mitigation-types.js';
import { DEFAULT_SYNPROXY_AUTO, type Service, type SynproxyAuto, type SynproxyMode } from './types.js';

/** The active override of a service's SYNPROXY mode; undefined = it runs its config. */
export function synproxyOverride(state: DesiredState, service: Service, now: number): Mitigation | undefined {
  return (state.mitigations ?? []).find((m) => m.kind === 'synproxy' && m.mode !== undefined && !isExpired(m, now) && sameScope(m, service));
}

/** The SYNPROXY mode a service runs now, with its auto thresholds. */
export function effectiveSynproxy(state: DesiredState, service: Service, now = Date.now()): { mode: SynproxyMode; auto: SynproxyAuto } {
  const override = synproxyOverride(state, service, now);
  if (override) {
    const auto = override.mode === 'auto' ? { synRate: override.synRate!, holdSeconds: override.holdSeconds! } : service.synproxyAuto ?? DEFAULT_SYNPROXY_AUTO;
    return { mode: override.mode!, auto };
  }
  return { mode: service.synproxy, auto: service.synproxyAuto ?? DEFAULT_SYNPROXY_AUTO };
}

/** A mode a service runs, and the override that sets it (absent: the service's config). */
export interface SynproxyModeSource {
  mode: SynproxyMode;
  override?: Mitigation;
}

/**
 * Every mode the service runs now or will run without another change being checked: the
 * override's while one is active, and its configured mode, which comes back when the override
 * ends or is cleared (neither can be refused, so the configured mode must be able to run too).
 */
export function synproxyModes(state: DesiredState, service: Service, now: number): SynproxyModeSource[] {
  const override = synproxyOverride(state, service, now);
  const configured: SynproxyModeSource = { mode: service.synproxy };
  return override ? [{ mode: override.mode!, override }, configured] : [configured];
}
