// `portcullis defend …`: on-call mitigation commands over the Defense gRPC service.
// Every argument is checked here with the model's own readers before anything is sent,
// so a typo gets a message naming the problem (exit 2) instead of a half-applied change.
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { table } from '../api/format.js';
import type { AuditLogTailResponse__Output } from '../api/generated/portcullis/v1/AuditLogTailResponse.js';
import type { DefenseClient } from '../api/generated/portcullis/v1/Defense.js';
import type { GetStatsResponse__Output } from '../api/generated/portcullis/v1/GetStatsResponse.js';
import type { MitigationsResponse__Output } from '../api/generated/portcullis/v1/MitigationsResponse.js';
import type { Mitigation__Output } from '../api/generated/portcullis/v1/Mitigation.js';
import type { ServiceKey } from '../api/generated/portcullis/v1/ServiceKey.js';
import { loadPortcullisProto } from '../api/proto.js';
import {
  CLEARABLE_KINDS, formatDuration, FRAG_POLICIES, invalid, LIMIT_KINDS, ModelError, parseDuration, addressPort, readBlockPrefix, readChoice, readIpAddress, readIpv6SourcePrefixLength, readOrigin,
  readRateValue, SYNPROXY_AUTO_LIMITS, SYNPROXY_MODES, type ClearableKind,
} from '../model/index.js';
import { connect, rpc } from './client.js';
import { commandFailureExit, ENDPOINT_OPTIONS, resolveEndpoint, type Endpoint, type EndpointFlags } from './endpoint.js';

export const DEFEND_USAGE = `  portcullis defend show [--audit N] [--json]
                                 active mitigations (who, why, time left) and what the defences dropped
  portcullis defend block PREFIX [--service SVC] [--allow] [--for 30m] --reason "…"
  portcullis defend unblock PREFIX [--service SVC] --reason "…"
  portcullis defend limit udp [--service SVC] --pps N --burst N [--per source|service] [--ipv6-prefix 64] [--for D] --reason "…"
                                 per source: IPv6 clients share one bucket per /64 (or the --ipv6-prefix given)
  portcullis defend limit conns [--service SVC] [--rate N [--burst N]] [--max N] [--for D] --reason "…"
  portcullis defend fragments drop|limit|reassemble [--service SVC] [--pps N [--burst N]] [--for D] --reason "…"
                                 IPv4/IPv6 fragments: drop (the default), limit (per source, --pps required; the
                                 rest reassembled) or reassemble before FullNAT
  portcullis defend clear [udp|conns|fragments|all] [--service SVC] --reason "…"
  portcullis defend synproxy SVC on|off|auto [--syn-rate N] [--hold 30s] [--for D] --reason "…"
                                 override the service's SYNPROXY mode (auto: engage at N SYNs/s,
                                 disengage after the hold time below); clear synproxy = back to config
  portcullis defend clear [udp|conns|synproxy|all] [--service SVC] --reason "…"
  portcullis defend audit [--lines N]
                                 SVC = VIP:PORT/PROTO (198.18.0.10:53/udp, [2001:db8:18::10]:53/udp); no --service = every VIP.
                                 PREFIX = 203.0.113.0/24, 2001:db8:66::/64 or an address (/32, /128)
                                 --actor NAME (default $SUDO_USER, $USER or "cli"; over TCP the daemon records
                                 the authenticated identity, "ops (as NAME)"); every command takes the
                                 connection flags (--socket, or --server with TLS and a token/certificate)`;

class DefendUsageError extends Error {}

const COMMON = {
  ...ENDPOINT_OPTIONS,
  service: { type: 'string' },
  reason: { type: 'string' },
  actor: { type: 'string' },
  for: { type: 'string' },
} as const;

function parse<T extends Record<string, { type: 'string' | 'boolean' }>>(args: string[], options: T, positionals: number) {
  let parsed;
  try {
    parsed = parseArgs({ args, options: { ...COMMON, ...options }, strict: true, allowPositionals: true });
  } catch (error) {
    throw new DefendUsageError((error as Error).message);
  }
  if (parsed.positionals.length !== positionals) {
    throw new DefendUsageError(`expected ${positionals} argument(s) before the options, got ${parsed.positionals.length}${parsed.positionals.length ? ` (${parsed.positionals.join(' ')})` : ''}`);
  }
  return parsed;
}

/** "198.18.0.10:53/udp", "udp/198.18.0.10:53" or "[2001:db8:18::10]:53/udp" → proto key (VIP canonical). */
export function parseServiceArgument(text: string): ServiceKey {
  const match = /^(?:(tcp|udp)\/)?([0-9.]+|\[[0-9A-Fa-f:.]+\]):(\d{1,5})(?:\/(tcp|udp))?$/i.exec(text.trim());
  const protocol = (match?.[1] ?? match?.[4])?.toLowerCase();
  if (!match || !protocol || (match[1] && match[4])) {
    throw invalid('--service', 'VIP:PORT/PROTO like 198.18.0.10:53/udp or [2001:db8:18::10]:53/udp', text);
  }
  const vip = readIpAddress(match[2]!.replace(/^\[(.*)\]$/, '$1'), '--service');
  const port = Number(match[3]);
  if (port < 1 || port > 65535) throw invalid('--service', 'a port 1..65535', match[3]);
  return { protocol: protocol === 'tcp' ? 'TCP' : 'UDP', vip, port };
}

export function defaultActor(env: NodeJS.ProcessEnv = process.env): string {
  return env.SUDO_USER || env.USER || 'cli';
}

function positiveInteger(text: string | undefined, option: string): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text)) throw invalid(option, 'a whole number', text);
  return readRateValue(Number(text), option);
}

interface Values { service?: string; reason?: string; actor?: string; for?: string }

/** actor/reason/duration, checked the same way the daemon checks them. */
function origin(values: Values) {
  if (!values.reason) throw new DefendUsageError('--reason "…" is required: say why, for whoever reads the audit log next');
  if (values.for !== undefined) parseDuration(values.for, '--for');
  const checked = readOrigin(values.actor ?? defaultActor(), values.reason, values.for, '');
  return { actor: checked.actor, reason: checked.reason, duration: values.for ?? '' };
}

function scope(values: Values): { service?: ServiceKey } {
  return values.service ? { service: parseServiceArgument(values.service) } : {};
}

const CLEAR_GROUPS: Record<string, ClearableKind[]> = {
  udp: ['udp_per_source', 'udp_per_service'],
  conns: ['conn_rate', 'conn_max'],
  fragments: ['frag_policy'],
  synproxy: ['synproxy'],
  all: [],
};

function serviceText(key: { protocol: string; vip: string; port: number } | null | undefined): string {
  return key ? `${addressPort(key.vip, key.port)}/${key.protocol.toLowerCase()}` : 'global';
}

function describe(m: Mitigation__Output): string {
  if (m.kind === 'deny' || m.kind === 'allow') return `${m.kind} ${m.prefix}`;
  if (m.kind === 'conn_max') return `conn_max ${m.maxConns}`;
  if (m.kind === 'frag_policy') return `fragments ${m.fragmentPolicy}${m.rate ? ` ${m.rate.pps}/s burst ${m.rate.burst} per source` : ''}`;
  if (m.kind === 'synproxy') {
    return m.synproxyMode === 'auto' ? `synproxy auto ${m.synproxyAuto?.synRate} syn/s hold ${m.synproxyAuto?.holdSeconds}s` : `synproxy ${m.synproxyMode}`;
  }
  const v6 = m.kind === 'udp_per_source' && m.udpIpv6SourcePrefixLength ? ` (IPv6 per /${m.udpIpv6SourcePrefixLength})` : '';
  return `${m.kind} ${m.rate?.pps}/s burst ${m.rate?.burst}${v6}`;
}

export function formatMitigations(list: Mitigation__Output[]): string {
  if (list.length === 0) return 'no active mitigations';
  return table(['SCOPE', 'MITIGATION', 'LEFT', 'ACTOR', 'REASON'], list.map((m) => [
    serviceText(m.service), describe(m), m.expiresAt ? formatDuration(Number(m.expiresInMs)) : 'until removed', m.actor, m.reason,
  ]), 5);
}

export function formatDefenseStats(stats: GetStatsResponse__Output): string {
  const rows = stats.defense.map((d) => {
    const dropped = Object.entries(d.dropped).filter(([, n]) => Number(n) > 0).map(([reason, n]) => `${reason}=${n}`);
    return [d.key ? serviceText(d.key) : '(no service)', d.key ? (d.synproxyActive ? 'yes' : 'no') : '-', String(d.passed), dropped.join(' ') || '-'];
  });
  return table(['SERVICE', 'SYNPROXY ACTIVE', 'LET THROUGH', 'DROPPED'], rows, 1);
}

function formatAudit(response: AuditLogTailResponse__Output): string {
  if (response.entries.length === 0) return `audit log ${response.path}: empty`;
  return response.entries.map((e) => `${e.time} ${e.actor} ${e.action} ${e.target} reason=${JSON.stringify(e.reason)}${e.expiry ? ` until ${e.expiry}` : ''} ${e.result}`).join('\n');
}

function defenseClient(endpoint: Endpoint): DefenseClient {
  const { grpcObject } = loadPortcullisProto();
  return new grpcObject.portcullis.v1.Defense(endpoint.target, endpoint.credentials, endpoint.options);
}

async function run(args: string[], write: (text: string) => void): Promise<number> {
  const [sub, ...rest] = args;
  let endpoint: Endpoint | undefined;
  const socketOf = (values: EndpointFlags): Endpoint => (endpoint ??= resolveEndpoint(values));
  let client: DefenseClient | undefined;
  const call = <Req, Res>(address: Endpoint, method: string, request: Req): Promise<Res> => {
    client ??= defenseClient(address);
    return rpc<Req, Res>(client, method)(request);
  };
  const printChanged = (verb: string, response: MitigationsResponse__Output) => {
    write(`${verb}:\n${formatMitigations(response.mitigations)}\n`);
  };
  try {
    switch (sub) {
      case 'show': {
        const { values } = parse(rest, { audit: { type: 'string' }, json: { type: 'boolean' } }, 0);
        const list = await call<object, MitigationsResponse__Output>(socketOf(values), 'listMitigations', {});
        const clients = connect(socketOf(values));
        let stats: GetStatsResponse__Output;
        try { stats = await clients.api.getStats({}); } finally { clients.close(); }
        const auditLines = positiveInteger(values.audit, '--audit');
        const audit = auditLines ? await call<object, AuditLogTailResponse__Output>(socketOf(values), 'auditLogTail', { lines: auditLines }) : undefined;
        if (values.json) {
          write(`${JSON.stringify({ mitigations: list.mitigations, defense: stats.defense, ...(audit ? { audit: audit.entries } : {}) }, null, 2)}\n`);
        } else {
          write(`${formatMitigations(list.mitigations)}\n\n${formatDefenseStats(stats)}\n${audit ? `\n${formatAudit(audit)}\n` : ''}`);
        }
        return 0;
      }
      case 'block': {
        const { values, positionals } = parse(rest, { allow: { type: 'boolean' } }, 1);
        const request = { prefix: readBlockPrefix(positionals[0], 'PREFIX'), ...scope(values), action: values.allow ? 'allow' : 'deny', origin: origin(values) };
        printChanged(values.allow ? 'allowed' : 'blocked', await call(socketOf(values), 'block', request));
        return 0;
      }
      case 'unblock': {
        const { values, positionals } = parse(rest, {}, 1);
        if (values.for) throw new DefendUsageError('unblock takes effect now and for good; --for makes no sense here');
        const request = { prefix: readBlockPrefix(positionals[0], 'PREFIX'), ...scope(values), origin: origin(values) };
        printChanged('removed', await call(socketOf(values), 'unblock', request));
        return 0;
      }
      case 'limit': {
        const [what, ...options] = rest;
        if (what === 'udp') {
          const { values } = parse(options, { pps: { type: 'string' }, burst: { type: 'string' }, per: { type: 'string' }, 'ipv6-prefix': { type: 'string' } }, 0);
          const pps = positiveInteger(values.pps, '--pps');
          const burst = positiveInteger(values.burst, '--burst') ?? pps;
          if (pps === undefined || burst === undefined) throw new DefendUsageError('limit udp: --pps N is required (--burst defaults to the same)');
          const per = values.per ?? 'source';
          if (per !== 'source' && per !== 'service') throw invalid('--per', 'source or service', per);
          const v6Text = values['ipv6-prefix'];
          if (v6Text !== undefined && per !== 'source') throw new DefendUsageError('limit udp: --ipv6-prefix goes with --per source only');
          if (v6Text !== undefined && !/^\/?\d+$/.test(v6Text)) throw invalid('--ipv6-prefix', 'a prefix length 1..128 like 64 or /64', v6Text);
          const v6Length = v6Text === undefined ? 0 : readIpv6SourcePrefixLength(Number(v6Text.replace('/', '')), '--ipv6-prefix');
          const request = {
            ...scope(values), [per === 'source' ? 'udpPerSource' : 'udpPerService']: { pps, burst },
            ...(v6Length ? { udpIpv6SourcePrefixLength: v6Length } : {}), origin: origin(values),
          };
          printChanged('set', await call(socketOf(values), 'setServiceDefense', request));
          return 0;
        }
        if (what === 'conns') {
          const { values } = parse(options, { rate: { type: 'string' }, burst: { type: 'string' }, max: { type: 'string' } }, 0);
          const rate = positiveInteger(values.rate, '--rate');
          const max = positiveInteger(values.max, '--max');
          if (rate === undefined && max === undefined) throw new DefendUsageError('limit conns: give --rate N (new connections/s), --max N (concurrent) or both');
          if (rate === undefined && values.burst !== undefined) throw new DefendUsageError('limit conns: --burst only goes with --rate');
          const request = {
            ...scope(values),
            ...(rate !== undefined ? { newConnRate: { pps: rate, burst: positiveInteger(values.burst, '--burst') ?? rate } } : {}),
            ...(max !== undefined ? { maxConns: max } : {}),
            origin: origin(values),
          };
          printChanged('set', await call(socketOf(values), 'setServiceDefense', request));
          return 0;
        }
        throw new DefendUsageError(`limit: expected udp or conns${what ? `, got "${what}"` : ''}`);
      }
      case 'fragments': {
        const { values, positionals } = parse(rest, { pps: { type: 'string' }, burst: { type: 'string' } }, 1);
        const policy = readChoice(positionals[0], 'POLICY', FRAG_POLICIES);
        const pps = positiveInteger(values.pps, '--pps');
        if (policy === 'limit' && pps === undefined) throw new DefendUsageError('fragments limit: --pps N is required (fragments/s per source; --burst defaults to the same)');
        if (policy !== 'limit' && (values.pps !== undefined || values.burst !== undefined)) throw new DefendUsageError(`fragments ${policy}: --pps/--burst only go with limit`);
        const perSource = pps === undefined ? {} : { perSource: { pps, burst: positiveInteger(values.burst, '--burst') ?? pps } };
        const request = { ...scope(values), fragments: { policy, ...perSource }, origin: origin(values) };
        printChanged('set', await call(socketOf(values), 'setServiceDefense', request));
        return 0;
      }
      case 'clear': {
        const { values, positionals } = parse(rest, {}, rest.length && !rest[0]!.startsWith('--') ? 1 : 0);
        const group = positionals[0] ?? 'all';
        const kinds = CLEAR_GROUPS[group] ?? (CLEARABLE_KINDS.includes(group as ClearableKind) ? [group as ClearableKind] : undefined);
        if (!kinds) throw new DefendUsageError(`clear: expected udp, conns, fragments, synproxy, all or one of ${CLEARABLE_KINDS.join(', ')}, got "${group}"`);
        if (values.for) throw new DefendUsageError('clear takes effect now and for good; --for makes no sense here');
        printChanged('removed', await call(socketOf(values), 'clearServiceDefense', { ...scope(values), kinds, origin: origin(values) }));
        return 0;
      }
      case 'synproxy': {
        const { values, positionals } = parse(rest, { 'syn-rate': { type: 'string' }, hold: { type: 'string' } }, 2);
        const service = parseServiceArgument(positionals[0]!);
        if (service.protocol !== 'TCP') throw invalid('SVC', 'a TCP service (SYNPROXY answers TCP SYNs)', positionals[0]);
        const mode = readChoice(positionals[1], 'mode', SYNPROXY_MODES);
        const synRate = positiveInteger(values['syn-rate'], '--syn-rate');
        const holdMs = values.hold === undefined ? undefined : parseDuration(values.hold, '--hold');
        if (mode !== 'auto' && (synRate !== undefined || holdMs !== undefined)) throw new DefendUsageError('--syn-rate and --hold go with auto only');
        if (holdMs !== undefined && holdMs > SYNPROXY_AUTO_LIMITS.maxHoldSeconds * 1000) throw invalid('--hold', 'at most 1d', values.hold);
        const auto = { synRate: synRate ?? 0, holdSeconds: holdMs === undefined ? 0 : Math.ceil(holdMs / 1000) };
        const request = { service, mode, ...(mode === 'auto' ? { auto } : {}), origin: origin(values) };
        printChanged('set', await call(socketOf(values), 'setSynproxy', request));
        return 0;
      }
      case 'audit': {
        const { values } = parse(rest, { lines: { type: 'string' } }, 0);
        write(`${formatAudit(await call(socketOf(values), 'auditLogTail', { lines: positiveInteger(values.lines, '--lines') ?? 20 }))}\n`);
        return 0;
      }
      default:
        throw new DefendUsageError(sub ? `unknown defend command "${sub}"` : 'expected show, block, unblock, limit, fragments, synproxy, clear or audit');
    }
  } catch (error) {
    // A bad value or a service/prefix that is not there is the operator's input: exit 2.
    return commandFailureExit('defend', error, { usageErrors: [DefendUsageError, ModelError], usage: DEFEND_USAGE,
      target: endpoint?.target ?? 'the daemon', inputCodes: [grpc.status.INVALID_ARGUMENT, grpc.status.NOT_FOUND] });
  } finally {
    client?.close();
  }
}

export function commandDefend(args: string[]): Promise<number> {
  return run(args, (text) => process.stdout.write(text));
}
