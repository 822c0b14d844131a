// keepalived's `virtual_server` blocks (with DPVS's extensions) → Portcullis services in the
// config's snake_case spelling (docs/config.md), each remembering the keepalived line of every
// part so the validator's field paths can be turned back into lines.
//
// Mapped: lb_algo/lvs_sched → scheduler, lb_kind/lvs_method NAT|DR|TUN|FNAT → each server's
// forward, persistence_timeout/_granularity, protocol, the scheduler flags, real_server (weight,
// its own lvs_method, uthreshold/lthreshold), the checkers (checks.ts), `virtual_server group`
// over plain VIP/port entries, and DPVS's laddr_group_name (→ local_addresses), syn_proxy,
// proxy_protocol and establish_timeout. Everything else is named in the findings with its line.
import { localAddresses, virtualAddresses, type Groups } from './addresses.js';
import { CHECKER_KEYWORDS, mapChecker, readTimingKeyword, type CheckTiming } from './checks.js';
import { Findings, integerArg, singleArg } from './findings.js';
import { describe, type Statement } from './syntax.js';
import { canonicalIp, LIMITS, SCHEDULERS, type Protocol } from '../../model/index.js';

export type { Groups } from './addresses.js';

/** One imported service: the raw object and the lines its parts came from. */
export interface ImportedService {
  raw: Record<string, unknown>;
  /** The virtual_server line, and the line itself ("virtual_server group web"). */
  line: number;
  origin: string;
  /** real_server lines, by index in raw.servers. */
  serverLines: number[];
  /** Where the health_check came from (the first real server's checker). */
  checkLine?: number;
}

/** IPVS's persistence when the keyword has no value: 6 minutes (keepalived and ipvsadm). */
const DEFAULT_PERSISTENCE_SECONDS = 360;
/** keepalived's default method (keepalived.conf(5): "default is NAT"). */
const DEFAULT_METHOD = 'nat';

const SERVICE_KEY_ORDER = ['name', 'protocol', 'vip', 'port', 'scheduler', 'sched_flags', 'persistence_timeout', 'persistence_netmask',
  'persistence_prefix_length', 'one_packet', 'synproxy', 'client_address', 'local_addresses', 'timeouts', 'health_check', 'servers'];

const METHODS: Readonly<Record<string, string>> = { NAT: 'nat', DR: 'dr', TUN: 'tun', FNAT: 'fullnat', FULLNAT: 'fullnat' };

/** Keywords of a virtual_server with no Portcullis equivalent, and why. */
const VS_UNMAPPED: Readonly<Record<string, string>> = {
  sorry_server: 'Portcullis has no sorry server: a service whose servers are all down drops new connections',
  sorry_server_inhibit: 'Portcullis has no sorry server',
  sorry_server_lvs_method: 'Portcullis has no sorry server',
  quorum: 'Portcullis has no quorum (with BGP, a VIP is withdrawn when no server is usable: docs/cluster.md)',
  hysteresis: 'Portcullis has no quorum',
  quorum_up: 'Portcullis runs no scripts',
  quorum_down: 'Portcullis runs no scripts',
  omega: 'Portcullis runs no scripts',
  ha_suspend: 'health checks always run',
  smtp_alert: 'Portcullis sends no mail (up/down transitions are logged and in metrics)',
  persistence_engine: 'Portcullis has no persistence engines (SIP)',
  hashed: 'scheduler flag with no Portcullis equivalent',
  'flag-3': 'scheduler flag with no Portcullis equivalent',
  weight: 'a virtual_server weight has no Portcullis equivalent',
  bps: 'DPVS rate limits have no Portcullis equivalent',
  limit_proportion: 'DPVS rate limits have no Portcullis equivalent',
  'src-range': 'DPVS match services have no Portcullis equivalent',
  'dst-range': 'DPVS match services have no Portcullis equivalent',
  oif: 'DPVS match services have no Portcullis equivalent',
  iif: 'DPVS match services have no Portcullis equivalent',
  hash_target: 'DPVS QUIC hashing has no Portcullis equivalent',
  quic: 'DPVS reads a server address out of QUIC connection ids; Portcullis reads a configured quic_id (docs/schedulers.md): set quic and each server\'s quic_id by hand',
  daddr_group_name: 'deny lists are defences in Portcullis: `portcullis defend block` (docs/defences.md)',
  waddr_group_name: 'allow lists are defences in Portcullis: `portcullis defend allow` (docs/defences.md)',
  expire_quiescent_conn: 'connections of a quiesced server always live on in Portcullis',
  vip_bind_dev: 'the gateway answers for its VIPs on its outside port itself',
};

const RS_UNMAPPED: Readonly<Record<string, string>> = {
  notify_up: 'Portcullis runs no scripts (transitions are logged and in metrics)',
  notify_down: 'Portcullis runs no scripts (transitions are logged and in metrics)',
  smtp_alert: 'Portcullis sends no mail',
};

/** lb_kind/lvs_method's value → our forward method; undefined when it has none (reported). */
function forwardMethod(statement: Statement, findings: Findings): string | undefined {
  const [kind, ...options] = statement.args;
  const method = kind === undefined ? undefined : METHODS[kind.toUpperCase()];
  if (!method) {
    const why = kind?.toUpperCase() === 'SNAT' ? 'DPVS SNAT has no Portcullis equivalent' : `expected NAT, DR, TUN or FNAT, got "${kind ?? ''}"`;
    if (kind?.toUpperCase() === 'SNAT') findings.skip(statement, why);
    else findings.error(statement, why);
    return undefined;
  }
  // TUN type ipip is ours; GUE and GRE are not, and the servers would not understand IPIP.
  const type = options.indexOf('type') >= 0 ? options[options.indexOf('type') + 1] : undefined;
  if (type !== undefined && type !== 'ipip') {
    findings.skip(statement, `Portcullis tunnels IPIP (IPv6-in-IPv6) only, not ${type}`);
    return undefined;
  }
  return method;
}

interface ServiceSettings {
  scheduler?: string;
  method: string | undefined;
  protocol: Protocol;
  timing: CheckTiming;
}

/** The statements of a virtual_server other than real_server, into `raw`; false when the service cannot be mapped. */
function readServiceKeywords(vs: Statement, raw: Record<string, unknown>, settings: ServiceSettings, groups: Groups, findings: Findings): boolean {
  let mappable = true;
  const flags: string[] = [];
  for (const statement of vs.block ?? []) {
    const keyword = statement.keyword;
    if (keyword === 'real_server' || readTimingKeyword(statement, settings.timing, findings)) continue;
    switch (keyword) {
      case 'lb_algo': case 'lvs_sched': {
        const scheduler = singleArg(statement, findings);
        if (scheduler !== undefined && !(SCHEDULERS as readonly string[]).includes(scheduler)) {
          findings.error(statement, `${keyword}: expected one of ${SCHEDULERS.join(' ')}, got "${scheduler}"`);
        } else if (scheduler !== undefined) {
          settings.scheduler = scheduler;
        }
        break;
      }
      case 'lb_kind': case 'lvs_method': {
        const errorsBefore = findings.errors.length;
        const method = forwardMethod(statement, findings);
        // A method we lack skips the service; a misspelt one is an error, and the rest is still read for more.
        if (method === undefined && findings.errors.length === errorsBefore) mappable = false;
        if (method !== undefined) settings.method = method;
        break;
      }
      case 'protocol': {
        const protocol = singleArg(statement, findings)?.toUpperCase();
        if (protocol === 'TCP' || protocol === 'UDP') settings.protocol = protocol === 'TCP' ? 'tcp' : 'udp';
        else if (protocol === 'SCTP') { findings.skip(statement, 'Portcullis balances TCP and UDP, not SCTP'); mappable = false; }
        else if (protocol !== undefined) findings.error(statement, `protocol: expected TCP or UDP, got "${protocol}"`);
        break;
      }
      case 'persistence_timeout':
        if (statement.args.length === 0) raw.persistence_timeout = DEFAULT_PERSISTENCE_SECONDS;
        else {
          const seconds = integerArg(statement, findings, 1, LIMITS.maxTimeoutSeconds);
          if (seconds !== undefined) raw.persistence_timeout = seconds;
        }
        break;
      case 'persistence_granularity': {
        const value = singleArg(statement, findings);
        if (value === undefined) break;
        if (value.includes('.')) raw.persistence_netmask = value;
        else if (/^\d+$/.test(value)) raw.persistence_prefix_length = Number(value);
        else findings.error(statement, `persistence_granularity: expected a netmask (IPv4) or a prefix length (IPv6), got "${value}"`);
        // keepalived makes a service persistent when only the granularity is given.
        raw.persistence_timeout ??= DEFAULT_PERSISTENCE_SECONDS;
        break;
      }
      case 'flag-1': case 'flag-2': case 'sh-port': case 'sh-fallback': case 'mh-port': case 'mh-fallback':
        flags.push(keyword);
        break;
      case 'laddr_group_name': {
        const name = singleArg(statement, findings);
        const addresses = name === undefined ? undefined : localAddresses(name, groups, statement, findings);
        if (addresses) raw.local_addresses = addresses;
        break;
      }
      case 'syn_proxy':
        raw.synproxy = 'on';
        break;
      case 'ops':
        raw.one_packet = true;
        break;
      case 'proxy_protocol': {
        const version = singleArg(statement, findings)?.toLowerCase();
        if (version === 'v1' || version === 'v2') raw.client_address = `proxy_${version}`;
        else if (version === 'disable') raw.client_address = 'none';
        else if (version !== undefined) findings.skip(statement, `Portcullis sends PROXY v1 or v2 (it never passes on a client's own header): "${version}" not mapped`);
        break;
      }
      case 'establish_timeout': {
        const seconds = integerArg(statement, findings, 1, LIMITS.maxTimeoutSeconds);
        // DPVS applies it to established TCP and to every UDP connection (dp_vs_conn_set_timeout).
        if (seconds !== undefined) raw.timeouts = { [settings.protocol === 'udp' ? 'udp' : 'tcp_established']: seconds };
        break;
      }
      case 'snmp_name': {
        const name = singleArg(statement, findings);
        if (name !== undefined) raw.name = name;
        break;
      }
      case 'inhibit_on_failure': case 'ip_family':
        // inhibit_on_failure: failing servers go to weight 0, which is what Portcullis does.
        // ip_family only matters for fwmark services, which are not mapped.
        break;
      default:
        findings.skip(statement, VS_UNMAPPED[keyword] ?? 'not a virtual_server keyword Portcullis knows');
    }
  }
  if (flags.length > 0) {
    const mapped = schedFlags(flags, settings.scheduler ?? 'wlc');
    if (typeof mapped === 'string') findings.skip(vs, mapped, `${describe(vs)} (${flags.join(' ')})`);
    else raw.sched_flags = mapped;
  }
  return mappable;
}

/** flag-1/flag-2 are the generic names of sh-fallback/sh-port (mh-fallback/mh-port for mh). */
function schedFlags(flags: string[], scheduler: string): string[] | string {
  if (scheduler !== 'sh' && scheduler !== 'mh') return `scheduler flags only apply to sh and mh, not ${scheduler}`;
  const mapped = flags.map((flag) => flag === 'flag-1' ? `${scheduler}-fallback` : flag === 'flag-2' ? `${scheduler}-port` : flag);
  const foreign = mapped.find((flag) => !flag.startsWith(`${scheduler}-`));
  if (foreign) return `${foreign} does not apply to ${scheduler}`;
  return [...new Set(mapped)];
}

interface MappedServer { raw: Record<string, unknown>; line: number; check?: { raw: Record<string, unknown>; line: number } | undefined; checked: boolean }

function mapRealServer(rs: Statement, vsPort: number, settings: ServiceSettings, findings: Findings): MappedServer | undefined {
  const [addressText, portText] = rs.args;
  const address = addressText === undefined ? undefined : canonicalIp(addressText);
  if (!address || rs.args.length > 2) {
    findings.error(rs, 'expected real_server ADDRESS [PORT]');
    return undefined;
  }
  if (portText !== undefined && (!/^\d+$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535)) {
    findings.error(rs, `port: expected 1..65535, got "${portText}"`);
    return undefined;
  }
  const port = portText === undefined ? vsPort : Number(portText);
  const raw: Record<string, unknown> = { address, port, weight: 1 };
  let method = settings.method;
  const timing: CheckTiming = { ...settings.timing };
  const checkers: Statement[] = [];
  for (const statement of rs.block ?? []) {
    if (readTimingKeyword(statement, timing, findings)) continue;
    switch (statement.keyword) {
      case 'weight': {
        const weight = integerArg(statement, findings, 0, LIMITS.maxWeight);
        if (weight !== undefined) raw.weight = weight;
        break;
      }
      case 'lvs_method': {
        const own = forwardMethod(statement, findings);
        if (own === undefined) return undefined;
        method = own;
        break;
      }
      case 'uthreshold': case 'lthreshold': {
        const value = integerArg(statement, findings, 0, LIMITS.maxThreshold);
        if (value !== undefined) raw[statement.keyword === 'uthreshold' ? 'upper_threshold' : 'lower_threshold'] = value;
        break;
      }
      case 'inhibit_on_failure':
        break; // weight 0 on failure is what Portcullis does
      default:
        if ((CHECKER_KEYWORDS as readonly string[]).includes(statement.keyword)) checkers.push(statement);
        else findings.skip(statement, RS_UNMAPPED[statement.keyword] ?? 'not a real_server keyword Portcullis knows');
    }
  }
  if ((method ?? DEFAULT_METHOD) !== 'fullnat') raw.forward = method ?? DEFAULT_METHOD;
  let check: MappedServer['check'];
  for (const checker of checkers) {
    if (check) {
      findings.skip(checker, 'Portcullis runs one check per service; the first checker that maps is kept');
      continue;
    }
    const mapped = mapChecker(checker, { address, port, protocol: settings.protocol }, timing, findings);
    if (mapped) check = { raw: mapped, line: checker.line };
  }
  return { raw, line: rs.line, check, checked: checkers.length > 0 };
}

/** One service's health_check from its servers' checkers (one per service in Portcullis). */
function serviceCheck(servers: MappedServer[], findings: Findings): MappedServer['check'] {
  const first = servers.find((server) => server.check)?.check;
  if (!first) return undefined;
  const text = JSON.stringify(first.raw);
  for (const server of servers) {
    const where: Statement = { keyword: 'real_server', args: [String(server.raw.address), String(server.raw.port)], line: server.line };
    if (!server.check && !server.checked) {
      findings.skip(where, `has no checker, but Portcullis checks every server of the service with the check of line ${first.line}`);
    } else if (server.check && JSON.stringify(server.check.raw) !== text) {
      findings.skip(where, `its check differs from the one of line ${first.line}; Portcullis runs one check per service, that one`);
    }
  }
  return first;
}

/** The services of one virtual_server (several for a group); none when it cannot be mapped (reported). */
export function mapVirtualServer(vs: Statement, groups: Groups, findings: Findings): ImportedService[] {
  const addresses = virtualAddresses(vs, groups, findings);
  if (!addresses || addresses.length === 0) return [];
  const common: Record<string, unknown> = {};
  const settings: ServiceSettings = { method: DEFAULT_METHOD, protocol: 'tcp', timing: {} };
  if (!readServiceKeywords(vs, common, settings, groups, findings)) return [];
  if (settings.scheduler === undefined) {
    // keepalived's default (it warns "no scheduler set"); ours would be rr.
    settings.scheduler = 'wlc';
  }
  return addresses.flatMap((address) => {
    const servers = (vs.block ?? []).filter((s) => s.keyword === 'real_server')
      .map((rs) => mapRealServer(rs, address.port, settings, findings))
      .filter((server): server is MappedServer => server !== undefined);
    const check = serviceCheck(servers, findings);
    const name = common.name !== undefined
      ? (addresses.length > 1 ? `${String(common.name)}-${addresses.indexOf(address) + 1}` : common.name)
      : address.name;
    const fields: Record<string, unknown> = {
      ...common,
      name,
      protocol: settings.protocol,
      vip: address.vip,
      port: address.port,
      scheduler: settings.scheduler,
      health_check: check?.raw,
      servers: servers.map((server) => server.raw),
    };
    // In the order docs/config.md lists them; absent ones left out.
    const raw = Object.fromEntries(SERVICE_KEY_ORDER.filter((key) => fields[key] !== undefined).map((key) => [key, fields[key]]));
    return [{ raw, line: vs.line, origin: describe(vs), serverLines: servers.map((server) => server.line), ...(check ? { checkLine: check.line } : {}) }];
  });
}
