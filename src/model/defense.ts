// Flood defences in the desired state: a flat list of mitigations, each one a deny/allow
// prefix or a limit, global or for one service, with who set it, why, and when it ends.
// A flat list keeps "list active mitigations", expiry and persistence one loop each.
// Expiry is an absolute time (ms since the epoch) so it means the same after a restart.
import { invalid, joinPath, ModelError } from './errors.js';
import { parsePrefix, readChoice, readInteger, readNetwork, readObject, readString } from './fields.js';
import { findService, type ChangeResult } from './ops.js';
import {
  SYNPROXY_AUTO_LIMITS, SYNPROXY_MODES, sameKey, serviceKeyText, type DesiredState, type ServiceKey, type SynproxyMode,
} from './types.js';

export type AclAction = 'deny' | 'allow';
export type LimitKind = 'udp_per_source' | 'udp_per_service' | 'conn_rate' | 'conn_max' | 'frag_policy';
/** synproxy: an on-call override of a service's SYNPROXY mode (off | on | auto). */
export type MitigationKind = AclAction | LimitKind | 'synproxy';
export const ACL_ACTIONS: readonly AclAction[] = ['deny', 'allow'];
export const LIMIT_KINDS: readonly LimitKind[] = ['udp_per_source', 'udp_per_service', 'conn_rate', 'conn_max', 'frag_policy'];
/** IPv4 fragments: drop them all (the default without a frag_policy), rate-limit them per
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
} as const;

export interface Mitigation {
  /** Absent = global (every VIP; limits then apply to each service without its own). */
  service?: ServiceKey;
  kind: MitigationKind;
  /** deny/allow: "a.b.c.d/len", host bits zero. */
  prefix?: string;
  /** udp_per_source, udp_per_service, conn_rate: tokens/s and bucket size. */
  pps?: number;
  burst?: number;
  /** conn_max: concurrent connections for the whole service. */
  max?: number;
  /** frag_policy: what happens to IPv4 fragments (limit also takes pps/burst, per source). */
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

/** Who and why, common to every change. */
export interface ChangeOrigin {
  actor: string;
  reason: string;
  /** ms; absent = no expiry. */
  durationMs?: number;
}

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "90s", "30m", "2h", "1d", "1h30m" → ms. Bare numbers are refused: "30" is ambiguous. */
export function parseDuration(text: string, path = 'duration'): number {
  const trimmed = text.trim();
  if (!/^(\d+[smhd])+$/.test(trimmed)) {
    throw invalid(path, 'a duration like 90s, 30m, 2h, 1d or 1h30m', text);
  }
  let total = 0;
  for (const [, amount, unit] of trimmed.matchAll(/(\d+)([smhd])/g)) total += Number(amount) * UNIT_MS[unit!]!;
  if (total <= 0 || total > DEFENSE_LIMITS.maxDurationMs) throw invalid(path, 'a duration from 1s to 366d', text);
  return total;
}

export function formatDuration(ms: number): string {
  let seconds = Math.max(0, Math.ceil(ms / 1000));
  const parts: string[] = [];
  for (const [unit, size] of [['d', 86400], ['h', 3600], ['m', 60]] as const) {
    if (seconds >= size) { parts.push(`${Math.floor(seconds / size)}${unit}`); seconds %= size; }
  }
  if (seconds || parts.length === 0) parts.push(`${seconds}s`);
  return parts.join('');
}

export function readOrigin(actor: unknown, reason: unknown, duration: unknown, path: string): ChangeOrigin {
  const origin: ChangeOrigin = {
    actor: readString(actor, joinPath(path, 'actor'), { nonEmpty: true, maxLength: DEFENSE_LIMITS.maxActor }),
    reason: readString(reason, joinPath(path, 'reason'), { nonEmpty: true, maxLength: DEFENSE_LIMITS.maxReason }),
  };
  if (duration !== undefined && duration !== '') {
    const text = readString(duration, joinPath(path, 'duration'), { maxLength: 32 });
    origin.durationMs = parseDuration(text, joinPath(path, 'duration'));
  }
  return origin;
}

export function readRateValue(value: unknown, path: string): number {
  return readInteger(value, path, 1, DEFENSE_LIMITS.maxRate);
}

/** Same prefix in the same scope = the same entry (a new block replaces it). */
function identity(m: Pick<Mitigation, 'service' | 'kind' | 'prefix'>): string {
  const scope = m.service ? serviceKeyText(m.service) : 'global';
  return m.kind === 'deny' || m.kind === 'allow' ? `${scope} acl ${m.prefix}` : `${scope} ${m.kind}`;
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
  return `${m.kind} ${m.pps}/s burst ${m.burst}`;
}

export function isExpired(m: Mitigation, now: number): boolean {
  return m.expiresAt !== undefined && m.expiresAt <= now;
}

/** Whole-list checks: values in range, services exist, lists within the data plane's bounds. */
export function checkMitigation(m: Mitigation, path: string): void {
  if (m.kind === 'deny' || m.kind === 'allow') {
    readNetwork(m.prefix, joinPath(path, 'prefix'));
  } else if (m.kind === 'conn_max') {
    readRateValue(m.max, joinPath(path, 'max'));
  } else if (m.kind === 'frag_policy') {
    const policy = readChoice(m.policy, joinPath(path, 'policy'), FRAG_POLICIES);
    if (policy === 'limit') {
      readRateValue(m.pps, joinPath(path, 'pps'));
      readRateValue(m.burst, joinPath(path, 'burst'));
    } else if (m.pps !== undefined || m.burst !== undefined) {
      throw invalid(joinPath(path, 'pps'), `no rate: only policy limit takes pps/burst, policy is ${policy}`, m.pps ?? m.burst);
    }
  } else if (m.kind === 'synproxy') {
    if (!m.service) throw invalid(joinPath(path, 'service'), 'a TCP service (SYNPROXY is per service)', m.service);
    if (m.service.protocol !== 'tcp') throw invalid(joinPath(path, 'service'), 'a TCP service (SYNPROXY answers TCP SYNs)', serviceKeyText(m.service));
    readChoice(m.mode, joinPath(path, 'mode'), SYNPROXY_MODES);
    if (m.mode === 'auto') {
      readInteger(m.synRate, joinPath(path, 'syn_rate'), 1, SYNPROXY_AUTO_LIMITS.maxSynRate);
      readInteger(m.holdSeconds, joinPath(path, 'hold_seconds'), 1, SYNPROXY_AUTO_LIMITS.maxHoldSeconds);
    }
  } else {
    readRateValue(m.pps, joinPath(path, 'pps'));
    readRateValue(m.burst, joinPath(path, 'burst'));
  }
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

/** A mitigation as requested, before time and origin are stamped. */
export type MitigationSpec = Omit<Mitigation, 'actor' | 'reason' | 'createdAt' | 'expiresAt'>;

/** Adds or replaces (same scope + prefix, or same scope + limit kind) mitigations. */
export function setMitigations(current: DesiredState, specs: MitigationSpec[], origin: ChangeOrigin, now: number, path = ''): ChangeResult<Mitigation[]> {
  if (specs.length === 0) throw new ModelError('INVALID_ARGUMENT', path, 'nothing to set: give at least one prefix or limit');
  const added = specs.map((spec, i): Mitigation => {
    const itemPath = specs.length > 1 ? joinPath(path, i) : path;
    const service = spec.service ? findService(current, spec.service, joinPath(itemPath, 'service')) : undefined;
    const m: Mitigation = { ...structuredClone(spec), actor: origin.actor, reason: origin.reason, createdAt: now };
    if (origin.durationMs !== undefined) m.expiresAt = now + origin.durationMs;
    checkMitigation(m, itemPath);
    // SYNPROXY must see the server's replies: DR and TUN servers answer the client directly.
    const oneWay = service?.servers.find((server) => server.forward === 'dr' || server.forward === 'tun');
    if (m.kind === 'synproxy' && m.mode !== 'off' && oneWay) {
      throw invalid(joinPath(itemPath, 'mode'), `off for a service with ${oneWay.forward} servers (the gateway never sees their replies)`, m.mode);
    }
    return m;
  });
  const replaced = new Set(added.map(identity));
  const kept = mitigationsOf(current).filter((m) => !replaced.has(identity(m)) && !isExpired(m, now));
  return { state: finish(current, [...kept, ...added]), result: added, warnings: [] };
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

export function sameScope(m: Mitigation, service: ServiceKey | undefined): boolean {
  return service ? m.service !== undefined && sameKey(m.service, service) : m.service === undefined;
}

/** A prefix as the CLI/gRPC gives it; a bare address means /32. */
export function readBlockPrefix(value: unknown, path: string): string {
  const text = typeof value === 'string' && value && !value.includes('/') ? `${value}/32` : value;
  if (typeof text === 'string' && !parsePrefix(text)) throw invalid(path, 'an IPv4 prefix like 203.0.113.0/24 or an address', value);
  return readNetwork(text, path);
}
