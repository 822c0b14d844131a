// portcullis.v1.Defense: proto ↔ the Mitigations operations. Input goes through the
// model's readers (same messages as every other door); times go out as ISO strings.
import { MAX_TAIL_LINES } from '../defense/audit-log.js';
import type { Mitigations } from '../defense/mitigations.js';
import {
  ACL_ACTIONS, CLEARABLE_KINDS, DEFENSE_LIMITS, FRAG_POLICIES, invalid, joinPath, readBlockPrefix, readChoice, readInteger, readIpv6SourcePrefixLength, readRateValue,
  SYNPROXY_AUTO_LIMITS, SYNPROXY_MODES, type FragPolicy, type Mitigation, type ServiceKey, type SynproxyAuto,
} from '../model/index.js';
import { keyFromProto, keyToProto } from './convert.js';
import { recordedOrigin as origin } from './actor.js';
import type { DefenseHandlers } from './generated/portcullis/v1/Defense.js';
import type { FragmentPolicy__Output } from './generated/portcullis/v1/FragmentPolicy.js';
import type { Mitigation as ProtoMitigation } from './generated/portcullis/v1/Mitigation.js';
import type { RateLimit__Output } from './generated/portcullis/v1/RateLimit.js';
import type { ServiceKey__Output } from './generated/portcullis/v1/ServiceKey.js';
import { unary } from './status.js';

const DEFAULT_TAIL_LINES = 20;


/** Unset key = global scope. */
function scope(key: ServiceKey__Output | null, path: string): ServiceKey | undefined {
  return key ? keyFromProto(key, path) : undefined;
}

function rate(value: RateLimit__Output | null, path: string): { pps: number; burst: number } | undefined {
  if (!value) return undefined;
  return { pps: readRateValue(value.pps, joinPath(path, 'pps')), burst: readRateValue(value.burst, joinPath(path, 'burst')) };
}

function fragmentPolicy(value: FragmentPolicy__Output | null, path: string): { policy: FragPolicy; pps?: number; burst?: number } | undefined {
  if (!value) return undefined;
  const policy = readChoice(value.policy, joinPath(path, 'policy'), FRAG_POLICIES);
  const perSource = rate(value.perSource, joinPath(path, 'per_source'));
  if (policy === 'limit') {
    if (!perSource) throw invalid(joinPath(path, 'per_source'), 'a per-source rate with policy limit', undefined);
    return { policy, ...perSource };
  }
  if (perSource) throw invalid(joinPath(path, 'per_source'), `no rate: policy ${policy} takes none`, perSource.pps);
  return { policy };
}

export function mitigationToProto(m: Mitigation, now = Date.now()): ProtoMitigation {
  return {
    ...(m.service ? { service: keyToProto(m.service) } : {}),
    kind: m.kind,
    prefix: m.prefix ?? '',
    ...(m.pps !== undefined ? { rate: { pps: m.pps, burst: m.burst ?? 0 } } : {}),
    maxConns: m.max ?? 0,
    fragmentPolicy: m.policy ?? '',
    udpIpv6SourcePrefixLength: m.kind === 'udp_per_source' ? m.ipv6PrefixLength ?? DEFENSE_LIMITS.defaultIpv6SourcePrefixLength : 0,
    synproxyMode: m.mode ?? '',
    ...(m.synRate !== undefined ? { synproxyAuto: { synRate: m.synRate, holdSeconds: m.holdSeconds ?? 0 } } : {}),
    actor: m.actor,
    reason: m.reason,
    createdAt: new Date(m.createdAt).toISOString(),
    expiresAt: m.expiresAt === undefined ? '' : new Date(m.expiresAt).toISOString(),
    expiresInMs: m.expiresAt === undefined ? 0 : Math.max(0, m.expiresAt - now),
  };
}

function listed(list: Mitigation[]) {
  const now = Date.now();
  return { mitigations: list.map((m) => mitigationToProto(m, now)) };
}

export function defenseHandlers(mitigations: Mitigations): DefenseHandlers {
  return {
    SetServiceDefense: unary(async (request, metadata) => {
      const perSource = rate(request.udpPerSource, 'udp_per_source');
      const v6Length = request.udpIpv6SourcePrefixLength;
      if (v6Length && !perSource) {
        throw invalid('udp_ipv6_source_prefix_length', '0 (unset) unless udp_per_source is set: it shapes that limit only', v6Length);
      }
      const limits = {
        udpPerSource: perSource && v6Length
          ? { ...perSource, ipv6PrefixLength: readIpv6SourcePrefixLength(v6Length, 'udp_ipv6_source_prefix_length') } : perSource,
        udpPerService: rate(request.udpPerService, 'udp_per_service'),
        connRate: rate(request.newConnRate, 'new_conn_rate'),
        connMax: request.maxConns ? readRateValue(request.maxConns, 'max_conns') : undefined,
        fragments: fragmentPolicy(request.fragments, 'fragments'),
      };
      return listed(await mitigations.setLimits(scope(request.service, 'service'), limits, origin(request.origin, 'origin', metadata)));
    }),
    ClearServiceDefense: unary(async (request, metadata) => {
      const kinds = request.kinds.map((k, i) => readChoice(k, joinPath('kinds', i), CLEARABLE_KINDS));
      return listed(await mitigations.clear(scope(request.service, 'service'), kinds, origin(request.origin, 'origin', metadata)));
    }),
    SetSynproxy: unary(async (request, metadata) => {
      if (!request.service) throw invalid('service', 'a TCP service key (SYNPROXY is per service)', request.service);
      const service = keyFromProto(request.service, 'service');
      const mode = readChoice(request.mode, 'mode', SYNPROXY_MODES);
      const auto: Partial<SynproxyAuto> = {};
      if (request.auto?.synRate) auto.synRate = readInteger(request.auto.synRate, 'auto.syn_rate', 1, SYNPROXY_AUTO_LIMITS.maxSynRate);
      if (request.auto?.holdSeconds) auto.holdSeconds = readInteger(request.auto.holdSeconds, 'auto.hold_seconds', 1, SYNPROXY_AUTO_LIMITS.maxHoldSeconds);
      if (mode !== 'auto' && (auto.synRate || auto.holdSeconds)) throw invalid('auto', 'unset unless mode is "auto"', request.auto);
      return listed(await mitigations.setSynproxy(service, mode, auto, origin(request.origin, 'origin', metadata)));
    }),
    Block: unary(async (request, metadata) => {
      const action = request.action === '' ? 'deny' : readChoice(request.action, 'action', ACL_ACTIONS);
      return listed(await mitigations.block(readBlockPrefix(request.prefix, 'prefix'), action, scope(request.service, 'service'), origin(request.origin, 'origin', metadata)));
    }),
    Unblock: unary(async (request, metadata) => {
      return listed(await mitigations.unblock(readBlockPrefix(request.prefix, 'prefix'), scope(request.service, 'service'), origin(request.origin, 'origin', metadata)));
    }),
    ListMitigations: unary(async () => listed(await mitigations.active())),
    AuditLogTail: unary(async (request) => {
      const lines = request.lines === 0 ? DEFAULT_TAIL_LINES : request.lines;
      if (lines > MAX_TAIL_LINES) throw invalid('lines', `at most ${MAX_TAIL_LINES}`, lines);
      const entries = await mitigations.auditTail(lines);
      return { path: mitigations.audit.path, entries: entries.map((e) => ({ ...e, expiry: e.expiry ?? '' })) };
    }),
  };
}
