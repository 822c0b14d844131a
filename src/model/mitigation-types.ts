// What a flood-defence mitigation is: a deny/allow prefix or a limit, global or for one service,
// with who set it, why, and when it ends. Vocabulary at the bottom of the model, beside types.ts;
// reading mitigations is defense-fields.ts, changing the list defense.ts.
// A flat list keeps "list active mitigations", expiry and persistence one loop each.
// Expiry is an absolute time (ms since the epoch) so it means the same after a restart.
import { sameKey, serviceKeyText, type ServiceKey, type SynproxyMode } from './types.js';

export type AclAction = 'deny' | 'allow';
export type LimitKind = 'udp_per_source' | 'udp_per_service' | 'conn_rate' | 'conn_max' | 'frag_policy';
/** synproxy: an on-call override of a service's SYNPROXY mode (off | on | auto). */
export type MitigationKind = AclAction | LimitKind | 'synproxy';
export const ACL_ACTIONS: readonly AclAction[] = ['deny', 'allow'];
export const LIMIT_KINDS: readonly LimitKind[] = ['udp_per_source', 'udp_per_service', 'conn_rate', 'conn_max', 'frag_policy'];
/** IPv4 and IPv6 fragments: drop them all (the default without a frag_policy), rate-limit them per
 *  source (pps/burst; what passes is reassembled), or reassemble them (bounded table) before FullNAT. */
export type FragPolicy = 'drop' | 'limit' | 'reassemble';
export const FRAG_POLICIES: readonly FragPolicy[] = ['drop', 'limit', 'reassemble'];
/** What ClearServiceDefense can name: a limit, or the SYNPROXY override (back to the service's config). */
export type ClearableKind = LimitKind | 'synproxy';
export const CLEARABLE_KINDS: readonly ClearableKind[] = [...LIMIT_KINDS, 'synproxy'];

export const DEFENSE_LIMITS = {
  /** dataplane/common/defense_config.h kMaxAclEntries (per list). */
  maxAclEntries: 65536,
  /** The data plane accepts ttlMs up to 366 days. */
  maxDurationMs: 366 * 86400 * 1000,
  maxActor: 64,
  /** What the daemon records: "unix:<actor>" or "<identity> (as <actor>)" (src/api/actor.ts). */
  maxRecordedActor: 2 * 64 + 16,
  maxReason: 512,
  maxRate: 0xffffffff,
  /** udp_per_source: IPv6 clients share a bucket per prefix of this length unless set (one attacker holds a /64). */
  defaultIpv6SourcePrefixLength: 64,
} as const;

export interface Mitigation {
  /** Absent = global (every VIP; limits then apply to each service without its own). */
  service?: ServiceKey;
  kind: MitigationKind;
  /** deny/allow: "a.b.c.d/len" or an IPv6 prefix, host bits zero, canonical. */
  prefix?: string;
  /** udp_per_source, udp_per_service, conn_rate: tokens/s and bucket size. */
  pps?: number;
  burst?: number;
  /** udp_per_source: IPv6 sources aggregated per prefix of this length, 1..128; absent = 64. */
  ipv6PrefixLength?: number;
  /** conn_max: concurrent connections for the whole service. */
  max?: number;
  /** frag_policy: what happens to IPv4 and IPv6 fragments (limit also takes pps/burst, per source). */
  policy?: FragPolicy;
  /** synproxy: the mode the service runs while this is active; auto with its threshold and hold time. */
  mode?: SynproxyMode;
  synRate?: number;
  holdSeconds?: number;
  actor: string;
  reason: string;
  createdAt: number;
  /** Absent = until removed. */
  expiresAt?: number;
}

/** A mitigation as requested, before time and origin are stamped. */
export type MitigationSpec = Omit<Mitigation, 'actor' | 'reason' | 'createdAt' | 'expiresAt'>;

/** Who and why, common to every change. */
export interface ChangeOrigin {
  actor: string;
  reason: string;
  /** ms; absent = no expiry. */
  durationMs?: number;
}

export function isExpired(m: Mitigation, now: number): boolean {
  return m.expiresAt !== undefined && m.expiresAt <= now;
}

/** True when `m` belongs to `service`'s own list (undefined: the global list). */
export function sameScope(m: Mitigation, service: ServiceKey | undefined): boolean {
  return service ? m.service !== undefined && sameKey(m.service, service) : m.service === undefined;
}

export function mitigationScope(m: Pick<Mitigation, 'service'>): string {
  return m.service ? serviceKeyText(m.service) : 'global';
}

/** One line naming what a mitigation does: "deny 10.0.0.0/8", "udp_per_source 100pps burst 200". */
export function mitigationTarget(m: MitigationSpec): string {
  if (m.kind === 'deny' || m.kind === 'allow') return `${m.kind} ${m.prefix}`;
  if (m.kind === 'conn_max') return `conn_max ${m.max}`;
  if (m.kind === 'frag_policy') return m.policy === 'limit' ? `fragments limit ${m.pps}/s burst ${m.burst}` : `fragments ${m.policy}`;
  if (m.kind === 'synproxy') return m.mode === 'auto' ? `synproxy auto ${m.synRate} syn/s hold ${m.holdSeconds}s` : `synproxy ${m.mode}`;
  const v6 = m.ipv6PrefixLength !== undefined ? ` per IPv6 /${m.ipv6PrefixLength}` : '';
  return `${m.kind} ${m.pps}/s burst ${m.burst}${v6}`;
}
