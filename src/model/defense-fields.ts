// Reading defence input from any door (gRPC, `portcullis defend`, the state file): durations,
// who and why, rates, prefixes, and the field checks of one mitigation. Whether a mitigation
// fits the rest of the state (its service exists, its SYNPROXY mode can run) is check.ts's job.
import { invalid, joinPath } from './errors.js';
import { readChoice, readInteger, readNetwork, readString } from './fields.js';
import { parseIp, parsePrefix } from './ip-address.js';
import { DEFENSE_LIMITS, FRAG_POLICIES, type ChangeOrigin, type Mitigation } from './mitigation-types.js';
import { SYNPROXY_AUTO_LIMITS, SYNPROXY_MODES, serviceKeyText } from './types.js';

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

/** A prefix as the CLI/gRPC gives it; a bare address means /32 (IPv4) or /128 (IPv6). Canonical. */
export function readBlockPrefix(value: unknown, path: string): string {
  const bare = typeof value === 'string' && value && !value.includes('/') ? parseIp(value) : undefined;
  const text = bare ? `${value as string}/${bare.family === 4 ? 32 : 128}` : value;
  if (typeof text !== 'string' || !parsePrefix(text)) {
    throw invalid(path, 'an IPv4 or IPv6 prefix like 203.0.113.0/24 or 2001:db8:66::/64, or an address', value);
  }
  return readNetwork(text, path);
}

/** udp_per_source's IPv6 aggregation, 1..128. */
export function readIpv6SourcePrefixLength(value: unknown, path: string): number {
  return readInteger(value, path, 1, 128);
}

/** The fields of one mitigation: values in range, and those its kind needs. */
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
  if (m.ipv6PrefixLength !== undefined) {
    if (m.kind !== 'udp_per_source') {
      throw invalid(joinPath(path, 'ipv6_prefix_length'), `no IPv6 prefix length: only udp_per_source aggregates sources, kind is ${m.kind}`, m.ipv6PrefixLength);
    }
    readIpv6SourcePrefixLength(m.ipv6PrefixLength, joinPath(path, 'ipv6_prefix_length'));
  }
}
