// `portcullis import keepalived FILE`: a keepalived.conf (keepalived's or DPVS's) → the `services:`
// section of a Portcullis config, every item it leaves out named with its line. The YAML is read
// back through the config loader (parseConfig, the one validator) before anyone sees it, so what
// is printed is what `portcullis run` accepts; a problem found there is reported at the
// keepalived line it came from.
import { Document, isMap, isSeq, type YAMLMap } from 'yaml';
import { ConfigError, configWarnings, parseConfig } from '../../config/load.js';
import { Findings, type Finding } from './findings.js';
import { mapVirtualServer, type Groups, type ImportedService } from './services.js';
import { describe, KeepalivedSyntaxError, parseKeepalived, type Statement } from './syntax.js';

export interface ImportResult {
  /** The services YAML (present unless there were errors). */
  yaml?: string;
  services: number;
  skipped: Finding[];
  errors: Finding[];
  /** The validator's warnings for the services (placement against ports is left to the real config). */
  warnings: string[];
}

const VRRP = 'VRRP is not part of Portcullis: gateways announce their VIPs by BGP (docs/cluster.md)';
/** Top-level blocks other than the LVS ones, and why they have no place in the services. */
const TOP_LEVEL_UNMAPPED: Readonly<Record<string, string>> = {
  global_defs: 'daemon settings belong in the Portcullis config (docs/config.md)',
  vrrp_instance: VRRP,
  vrrp_sync_group: VRRP,
  vrrp_script: VRRP,
  vrrp_track_process: VRRP,
  vrrp_track_file: VRRP,
  garp_group: VRRP,
  static_ipaddress: 'addresses belong in the Portcullis config (ports[].addresses)',
  static_routes: 'routes belong in the Portcullis config (routes) or `portcullis route`',
  static_rules: 'Portcullis has no policy routing rules',
  SSL: 'Portcullis has no TLS health check',
  deny_address_group: 'deny lists are defences in Portcullis: `portcullis defend block` (docs/defences.md)',
  allow_address_group: 'allow lists are defences in Portcullis: `portcullis defend allow` (docs/defences.md)',
  tunnel_group: 'DPVS tunnel devices have no Portcullis equivalent',
  bfd_instance: 'Portcullis has no BFD',
  linkbeat_interfaces: 'not an LVS setting',
  track_file: 'Portcullis has no file-driven weights',
  net_namespace: 'not an LVS setting',
};
const INCLUDES = ['include', 'includer', 'includem', 'includew', 'includeb', 'includea'];

/** Imports the text of a keepalived.conf; `source` names it in the YAML's header. */
export function importKeepalived(text: string, source: string): ImportResult {
  const findings = new Findings();
  let statements: Statement[];
  try {
    statements = parseKeepalived(text);
  } catch (error) {
    if (!(error instanceof KeepalivedSyntaxError)) throw error;
    return { services: 0, skipped: [], errors: [{ line: error.line, item: 'syntax', reason: error.detail }], warnings: [] };
  }

  const groups: Groups = { virtualServers: new Map(), localAddresses: new Map(), used: new Set() };
  const virtualServers: Statement[] = [];
  for (const statement of statements) {
    const keyword = statement.keyword;
    if (keyword === 'virtual_server_group' || keyword === 'local_address_group') {
      const name = statement.args[0];
      if (!statement.block || name === undefined || statement.args.length !== 1) {
        findings.error(statement, `expected ${keyword} NAME { … }`);
      } else {
        (keyword === 'virtual_server_group' ? groups.virtualServers : groups.localAddresses).set(name, statement);
      }
    } else if (keyword === 'virtual_server') {
      virtualServers.push(statement);
    } else if (INCLUDES.includes(keyword)) {
      findings.skip(statement, 'included files are not followed: import each one on its own');
    } else {
      const item = statement.block ? `${describe(statement)} { … }` : describe(statement);
      const reason = keyword.startsWith('@') ? 'conditional configuration is not evaluated: the line is left out'
        : keyword.startsWith('$') ? 'parameter definitions are not substituted'
          : TOP_LEVEL_UNMAPPED[keyword] ?? 'not a keepalived block Portcullis knows';
      findings.skip(statement, reason, item);
    }
  }

  const services = virtualServers.flatMap((vs) => mapVirtualServer(vs, groups, findings));
  for (const [kind, map] of [['virtual_server_group', groups.virtualServers], ['local_address_group', groups.localAddresses]] as const) {
    for (const [name, statement] of map) {
      if (!groups.used.has(`${kind} ${name}`)) findings.skip(statement, 'not used by any virtual_server', `${kind} ${name}`);
    }
  }
  if (findings.errors.length > 0) return { services: 0, skipped: findings.skipped, errors: findings.errors, warnings: [] };

  const yaml = servicesYaml(services, source);
  const warnings = validate(yaml, services, findings);
  const result = { services: services.length, skipped: findings.skipped, errors: findings.errors, warnings };
  return findings.errors.length > 0 ? result : { ...result, yaml };
}

/** The services as the config's `services:` section, each after a comment naming its line. */
function servicesYaml(services: ImportedService[], source: string): string {
  // Copies: a group's services share objects, which YAML would print as anchors and aliases.
  const document = new Document({ services: services.map((service) => structuredClone(service.raw)) });
  document.commentBefore = ` Imported from ${source} by \`portcullis import keepalived\`; put this section in the Portcullis config\n`
    + ' (docs/operations.md#coming-from-keepalived). Each service names the keepalived.conf line it came from.';
  const list = document.get('services', true);
  if (isSeq(list)) {
    list.items.forEach((item, i) => {
      if (!isMap(item)) return;
      item.commentBefore = ` line ${services[i]!.line}: ${services[i]!.origin}`;
      const servers = item.get('servers', true);
      if (isSeq(servers)) for (const server of servers.items) if (isMap(server)) (server as YAMLMap).flow = true;
      for (const key of ['health_check', 'local_addresses', 'sched_flags', 'timeouts']) {
        const node = item.get(key, true);
        if (isMap(node) || isSeq(node)) node.flow = true;
      }
    });
  }
  return document.toString({ lineWidth: 0 });
}

/**
 * Stand-in ports: a config needs at least one, and the services do not depend on them (a VIP's
 * placement against the port prefixes is only a warning, left to the operator's real config).
 */
const STAND_IN_PORTS = 'ports:\n  - { name: outside, device: ring }\n  - { name: inside, device: ring }\n';

/** Reads the YAML back through the config loader; its problems become errors at their keepalived lines. */
function validate(yaml: string, services: ImportedService[], findings: Findings): string[] {
  try {
    const config = parseConfig(STAND_IN_PORTS + yaml, 'imported services');
    // Against stand-in ports every VIP and LIP is "outside every port's prefix": only the real config can say.
    return configWarnings(config).filter((warning) => !warning.includes("not inside any port's connected prefix"));
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    for (const problem of error.problems) {
      const line = problemLine(problem, services);
      findings.error({ keyword: 'virtual_server', args: [], line }, problem, 'refused by the Portcullis validator');
    }
    return [];
  }
}

/** The keepalived line a validator message's field path points at (the service's, unless a server or the check is named). */
function problemLine(problem: string, services: ImportedService[]): number {
  const match = /^services\[(\d+)\](?:\.servers\[(\d+)\]|\.(health_check))?/.exec(problem);
  const service = match ? services[Number(match[1])] : undefined;
  if (!service) return 0;
  if (match![2] !== undefined) return service.serverLines[Number(match![2])] ?? service.line;
  if (match![3] !== undefined) return service.checkLine ?? service.line;
  return service.line;
}
