// Mitigations in the state file: snake_case JSON with ISO times, read back through
// the same checks as every other door so a hand-edited file cannot smuggle bad values.
import { invalid, joinPath } from './errors.js';
import { readChoice, readList, readNetwork, readObject, readString } from './fields.js';
import { checkMitigation } from './defense-fields.js';
import { ACL_ACTIONS, DEFENSE_LIMITS, LIMIT_KINDS, type Mitigation, type MitigationKind } from './mitigation-types.js';
import { readServiceKey } from './validate.js';

const KINDS: readonly MitigationKind[] = [...ACL_ACTIONS, ...LIMIT_KINDS, 'synproxy'];

export function mitigationToRaw(m: Mitigation): Record<string, unknown> {
  return {
    ...(m.service ? { service: { protocol: m.service.protocol, vip: m.service.vip, port: m.service.port } } : {}),
    kind: m.kind,
    ...(m.prefix !== undefined ? { prefix: m.prefix } : {}),
    ...(m.pps !== undefined ? { pps: m.pps, burst: m.burst } : {}),
    ...(m.ipv6PrefixLength !== undefined ? { ipv6_prefix_length: m.ipv6PrefixLength } : {}),
    ...(m.max !== undefined ? { max: m.max } : {}),
    ...(m.policy !== undefined ? { policy: m.policy } : {}),
    ...(m.mode !== undefined ? { mode: m.mode } : {}),
    ...(m.synRate !== undefined ? { syn_rate: m.synRate, hold_seconds: m.holdSeconds } : {}),
    actor: m.actor,
    reason: m.reason,
    created_at: new Date(m.createdAt).toISOString(),
    ...(m.expiresAt !== undefined ? { expires_at: new Date(m.expiresAt).toISOString() } : {}),
  };
}

function readTime(value: unknown, path: string): number {
  const text = readString(value, path, { nonEmpty: true, maxLength: 40 });
  const ms = Date.parse(text);
  if (!Number.isFinite(ms)) throw invalid(path, 'an ISO 8601 time like 2026-01-01T00:00:00.000Z', value);
  return ms;
}

export function readMitigations(value: unknown, path: string): Mitigation[] {
  return readList(value, path, DEFENSE_LIMITS.maxAclEntries * 2).map((item, i) => {
    const itemPath = joinPath(path, i);
    const raw = readObject(item, itemPath);
    const m: Mitigation = {
      kind: readChoice(raw.kind, joinPath(itemPath, 'kind'), KINDS),
      actor: readString(raw.actor, joinPath(itemPath, 'actor'), { nonEmpty: true, maxLength: DEFENSE_LIMITS.maxRecordedActor }),
      reason: readString(raw.reason, joinPath(itemPath, 'reason'), { nonEmpty: true, maxLength: DEFENSE_LIMITS.maxReason }),
      createdAt: readTime(raw.created_at, joinPath(itemPath, 'created_at')),
    };
    if (raw.service !== undefined) m.service = readServiceKey(raw.service, joinPath(itemPath, 'service'));
    // Canonical again: a hand-edited file may spell an IPv6 prefix another way.
    if (raw.prefix !== undefined) m.prefix = readNetwork(raw.prefix, joinPath(itemPath, 'prefix'));
    if (raw.pps !== undefined) m.pps = raw.pps as number;
    if (raw.burst !== undefined) m.burst = raw.burst as number;
    if (raw.ipv6_prefix_length !== undefined) m.ipv6PrefixLength = raw.ipv6_prefix_length as number;
    if (raw.max !== undefined) m.max = raw.max as number;
    if (raw.policy !== undefined) m.policy = raw.policy as Mitigation['policy'];
    if (raw.mode !== undefined) m.mode = raw.mode as Mitigation['mode'];
    if (raw.syn_rate !== undefined) m.synRate = raw.syn_rate as number;
    if (raw.hold_seconds !== undefined) m.holdSeconds = raw.hold_seconds as number;
    if (raw.expires_at !== undefined) m.expiresAt = readTime(raw.expires_at, joinPath(itemPath, 'expires_at'));
    checkMitigation(m, itemPath);
    return m;
  });
}
