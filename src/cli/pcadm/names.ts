// Host and service names for pcadm, from /etc/hosts and /etc/services only: a lookup
// can never hang on DNS (ipvsadm without -n would). Pure over the files' text.
import { readFileSync } from 'node:fs';
import { addressPort, canonicalIp, ipFamily } from '../../model/ip-address.js';

export interface NameTables {
  /** address → first name; name → address. */
  hostByAddress: Map<string, string>;
  addressByHost: Map<string, string>;
  /** "80/tcp" → "http"; "http/tcp" → 80. */
  serviceByPort: Map<string, string>;
  portByService: Map<string, number>;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export function isIpv4(text: string): boolean {
  return IPV4.test(text);
}

/** IPv6 text (no brackets) → its canonical form; undefined when it is not IPv6. */
export function canonicalIpv6(text: string): string | undefined {
  return ipFamily(text) === 6 ? canonicalIp(text) : undefined;
}

function meaningfulLines(text: string): string[][] {
  return text.split('\n').map((line) => line.replace(/#.*/, '').trim().split(/\s+/)).filter((f) => f[0]);
}

export function parseNameTables(hostsText: string, servicesText: string): NameTables {
  const tables: NameTables = { hostByAddress: new Map(), addressByHost: new Map(), serviceByPort: new Map(), portByService: new Map() };
  for (const [address, ...names] of meaningfulLines(hostsText)) {
    if (!address || !isIpv4(address) || names.length === 0) continue;
    if (!tables.hostByAddress.has(address)) tables.hostByAddress.set(address, names[0]!);
    for (const name of names) if (!tables.addressByHost.has(name)) tables.addressByHost.set(name, address);
  }
  for (const [name, portProto, ...aliases] of meaningfulLines(servicesText)) {
    const match = /^(\d+)\/(tcp|udp)$/.exec(portProto ?? '');
    if (!name || !match) continue;
    const port = Number(match[1]);
    const proto = match[2]!;
    if (!tables.serviceByPort.has(`${port}/${proto}`)) tables.serviceByPort.set(`${port}/${proto}`, name);
    for (const n of [name, ...aliases]) if (!tables.portByService.has(`${n}/${proto}`)) tables.portByService.set(`${n}/${proto}`, port);
  }
  return tables;
}

let systemTables: NameTables | undefined;

/** The machine's /etc/hosts and /etc/services (missing files = no names). */
export function systemNameTables(): NameTables {
  if (!systemTables) {
    const read = (path: string) => { try { return readFileSync(path, 'utf8'); } catch { return ''; } };
    systemTables = parseNameTables(read('/etc/hosts'), read('/etc/services'));
  }
  return systemTables;
}

export type Proto = 'tcp' | 'udp';

/**
 * What ipvsadm's addrport_to_anyname prints: names where known, numbers otherwise; an IPv6
 * address in brackets ("[2001:db8:18::10]:80"). ipvsadm's reverse lookup finds no IPv6 host
 * names (it asks for a 4-byte address), so an IPv6 address always prints as an address.
 */
export function addressPortName(address: string, port: number, proto: Proto, numeric: boolean, tables: NameTables): string {
  if (numeric) return addressPort(address, port);
  const host = address.includes(':') ? address : tables.hostByAddress.get(address) ?? address;
  const service = tables.serviceByPort.get(`${port}/${proto}`) ?? String(port);
  return addressPort(host, service);
}

/** A host argument: dotted IPv4, IPv6 text (canonicalised) or a name from /etc/hosts (IPv4 entries); undefined when none. */
export function resolveHost(text: string, tables: NameTables): string | undefined {
  if (isIpv4(text)) return text;
  return canonicalIpv6(text) ?? tables.addressByHost.get(text);
}

/** A port argument: 0..65535 or a name from /etc/services; undefined when neither. */
export function resolvePort(text: string, proto: Proto, tables: NameTables): number | undefined {
  if (/^\d+$/.test(text)) {
    const port = Number(text);
    return port <= 65535 ? port : undefined;
  }
  return tables.portByService.get(`${text}/${proto}`);
}
