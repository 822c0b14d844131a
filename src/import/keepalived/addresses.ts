// The addresses a keepalived.conf names through groups: `virtual_server group NAME` over a
// virtual_server_group's VIP/port entries, and DPVS's local_address_group (LIPs) behind
// laddr_group_name. Single addresses, last-octet ranges (10.0.0.1-10) and small prefixes are
// expanded; fwmark entries and entries without a port are reported, not mapped.
import type { Findings } from './findings.js';
import type { Statement } from './syntax.js';
import { canonicalIp } from '../../model/index.js';

/** A range in a group is expanded address by address; a /16 would be 65536 services. */
const MAX_RANGE_ADDRESSES = 256;

/** Named groups, read before the virtual servers that use them. */
export interface Groups {
  /** virtual_server_group name → its statement. */
  virtualServers: Map<string, Statement>;
  /** DPVS local_address_group name → its statement. */
  localAddresses: Map<string, Statement>;
  /** Names used by some virtual_server (the rest are reported unused). */
  used: Set<string>;
}

/** "a.b.c.d" or DPVS's/keepalived's "a.b.c.d-e" (last octet range) or "a.b.c.d/n": the addresses, or a reason. */
export function expandAddresses(text: string): string[] | string {
  const single = canonicalIp(text);
  if (single) return [single];
  const range = /^(\d+\.\d+\.\d+\.)(\d+)-(\d+)$/.exec(text);
  if (range) {
    const [, prefix, first, last] = range;
    const from = Number(first);
    const to = Number(last);
    if (!canonicalIp(`${prefix}${from}`) || !canonicalIp(`${prefix}${to}`) || to < from) return `not an IPv4 range like 10.0.0.1-10: "${text}"`;
    return Array.from({ length: to - from + 1 }, (_, i) => `${prefix}${from + i}`);
  }
  const cidr = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(text);
  if (cidr && canonicalIp(cidr[1]!) && Number(cidr[2]) <= 32) {
    const size = 2 ** (32 - Number(cidr[2]));
    if (size > MAX_RANGE_ADDRESSES) return `${text} holds ${size} addresses; at most ${MAX_RANGE_ADDRESSES} are expanded`;
    const base = cidr[1]!.split('.').reduce((sum, octet) => sum * 256 + Number(octet), 0);
    const start = base - (base % size);
    return Array.from({ length: size }, (_, i) => {
      const value = start + i;
      return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join('.');
    });
  }
  return `not an address, an IPv4 range (a.b.c.d-e) or a prefix: "${text}"`;
}

/** The LIPs of a DPVS local_address_group: "ADDRESS[-LAST] IFNAME" lines (the interface is the gateway's business here). */
export function localAddresses(name: string, groups: Groups, use: Statement, findings: Findings): string[] | undefined {
  const group = groups.localAddresses.get(name);
  if (!group) {
    findings.error(use, `no local_address_group named "${name}"`);
    return undefined;
  }
  groups.used.add(`local_address_group ${name}`);
  const addresses: string[] = [];
  for (const entry of group.block ?? []) {
    const expanded = expandAddresses(entry.keyword);
    if (typeof expanded === 'string') findings.error(entry, expanded);
    else addresses.push(...expanded.filter((address) => !addresses.includes(address)));
  }
  return addresses;
}

export interface VirtualAddress { vip: string; port: number; name?: string }

/** The VIP/port pairs a virtual_server stands for; undefined when it cannot be mapped (reported). */
export function virtualAddresses(vs: Statement, groups: Groups, findings: Findings): VirtualAddress[] | undefined {
  const [first, second] = vs.args;
  if (first === 'fwmark') {
    findings.skip(vs, 'firewall-mark services have no Portcullis equivalent (a service is a VIP, a port and a protocol)');
    return undefined;
  }
  if (first === 'group') {
    const group = second === undefined ? undefined : groups.virtualServers.get(second);
    if (!group) {
      findings.error(vs, `no virtual_server_group named "${second ?? ''}"`);
      return undefined;
    }
    groups.used.add(`virtual_server_group ${second}`);
    const entries: VirtualAddress[] = [];
    for (const entry of group.block ?? []) {
      if (entry.keyword === 'fwmark') {
        findings.skip(entry, 'firewall-mark services have no Portcullis equivalent');
        continue;
      }
      const port = entry.args[0];
      if (port === undefined || !/^\d+$/.test(port) || Number(port) < 1 || Number(port) > 65535) {
        findings.skip(entry, 'a group entry without a port (all ports, persistent) has no Portcullis equivalent');
        continue;
      }
      const expanded = expandAddresses(entry.keyword);
      if (typeof expanded === 'string') {
        findings.error(entry, expanded);
        continue;
      }
      for (const vip of expanded) entries.push({ vip, port: Number(port) });
    }
    const named = entries.length === 1;
    return entries.map((entry, i) => ({ ...entry, name: named ? second : `${second}-${i + 1}` }));
  }
  if (first === undefined || vs.args.length > 2) {
    findings.error(vs, 'expected virtual_server ADDRESS PORT, virtual_server group NAME or virtual_server fwmark N');
    return undefined;
  }
  const vip = canonicalIp(first);
  if (!vip) {
    findings.error(vs, `"${first}" is not an IP address`);
    return undefined;
  }
  if (second === undefined) {
    findings.skip(vs, 'a virtual_server without a port (all ports, persistent) has no Portcullis equivalent');
    return undefined;
  }
  if (!/^\d+$/.test(second) || Number(second) < 1 || Number(second) > 65535) {
    findings.error(vs, `port: expected 1..65535, got "${second}"`);
    return undefined;
  }
  return [{ vip, port: Number(second) }];
}

