// Mitigations → DataplaneConfig.defense. Global limits are defaults for every service
// without its own. Entries already expired are left out; the rest carry their time left
// as ttlMs so the data plane stops them on time even if the control plane is late.
import type { DataplaneAcl, DataplaneDefense, DataplaneFragmentPolicy, DataplaneRate, DataplaneServiceDefense, DataplaneSourceRate } from '../dataplane/types.js';
import type { DesiredState } from './desired-state.js';
import { DEFENSE_LIMITS, isExpired, sameScope, type LimitKind, type Mitigation } from './mitigation-types.js';
import type { Service } from './types.js';

function acl(list: Mitigation[], now: number): DataplaneAcl | undefined {
  const entries = list
    .filter((m) => m.kind === 'deny' || m.kind === 'allow')
    .map((m) => ({
      prefix: m.prefix!,
      action: m.kind as 'deny' | 'allow',
      ...(m.expiresAt !== undefined ? { ttlMs: Math.max(1, m.expiresAt - now) } : {}),
    }));
  return entries.length ? { entries } : undefined;
}

function limit(own: Mitigation[], global: Mitigation[], kind: LimitKind): Mitigation | undefined {
  return own.find((m) => m.kind === kind) ?? global.find((m) => m.kind === kind);
}

function rate(m: Mitigation | undefined): DataplaneRate | undefined {
  return m ? { pps: m.pps!, burst: m.burst! } : undefined;
}

/** Always says how IPv6 sources aggregate, so the data plane never needs a default of its own. */
function sourceRate(m: Mitigation | undefined): DataplaneSourceRate | undefined {
  return m ? { pps: m.pps!, burst: m.burst!, ipv6PrefixLength: m.ipv6PrefixLength ?? DEFENSE_LIMITS.defaultIpv6SourcePrefixLength } : undefined;
}

function fragments(m: Mitigation | undefined): DataplaneFragmentPolicy | undefined {
  if (!m) return undefined;
  return m.policy === 'limit' ? { policy: 'limit', perSource: { pps: m.pps!, burst: m.burst! } } : { policy: m.policy! };
}

function serviceDefense(service: Service, own: Mitigation[], global: Mitigation[], now: number): DataplaneServiceDefense | undefined {
  const result: DataplaneServiceDefense = { serviceId: service.id };
  const list = acl(own, now);
  if (list) result.acl = list;
  if (service.protocol === 'udp') {
    const perSource = sourceRate(limit(own, global, 'udp_per_source'));
    const perService = rate(limit(own, global, 'udp_per_service'));
    if (perSource) result.udpPerSource = perSource;
    if (perService) result.udpPerService = perService;
  }
  const connRate = rate(limit(own, global, 'conn_rate'));
  if (connRate) result.newConnRate = connRate;
  const max = limit(own, global, 'conn_max')?.max;
  if (max) result.maxConns = max;
  const frag = fragments(limit(own, global, 'frag_policy'));
  if (frag) result.fragments = frag;
  return Object.keys(result).length > 1 ? result : undefined;
}

/** undefined when no mitigation is active (the snapshot then has no defence at all). */
export function buildDefenseConfig(state: DesiredState, now = Date.now()): DataplaneDefense | undefined {
  const active = (state.mitigations ?? []).filter((m) => !isExpired(m, now));
  if (active.length === 0) return undefined;
  const global = active.filter((m) => sameScope(m, undefined));
  const defense: DataplaneDefense = {};
  const globalAcl = acl(global, now);
  if (globalAcl) defense.acl = globalAcl;
  const globalFragments = fragments(global.find((m) => m.kind === 'frag_policy'));
  if (globalFragments) defense.fragments = globalFragments;
  const services = state.services
    .map((s) => serviceDefense(s, active.filter((m) => sameScope(m, s)), global, now))
    .filter((d): d is DataplaneServiceDefense => d !== undefined);
  if (services.length) defense.services = services;
  return defense;
}
