// IPv4 and IPv6 addresses and prefixes as text: parse, canonical form, containment. Pure
// vocabulary (imports nothing). An address is held as its family and its value as a bigint
// (32 or 128 bits), so one comparison and one containment test serve both families.
//
// Canonical text: IPv4 dotted quad without leading zeros; IPv6 as RFC 5952 writes it (lower
// case, no leading zeros in a group, the first longest run of two or more zero groups as "::",
// IPv4-mapped addresses as ::ffff:a.b.c.d). Every address the model stores is canonical, so the
// same address written two ways is one service, one server, one ACL entry.

export type IpFamily = 4 | 6;

export interface IpAddress {
  family: IpFamily;
  /** 32 bits for IPv4, 128 for IPv6, network order as a number. */
  value: bigint;
}

export interface IpPrefix {
  family: IpFamily;
  /** The address part as written (host bits may be set; readers decide whether that is allowed). */
  address: bigint;
  /** 0..32 or 0..128: in the family's own terms. */
  length: number;
}

export function familyBits(family: IpFamily): number {
  return family === 4 ? 32 : 128;
}

const OCTET = /^(0|[1-9]\d{0,2})$/;
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

function parseDottedQuad(text: string): bigint | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0n;
  for (const part of parts) {
    if (!OCTET.test(part) || Number(part) > 255) return undefined;
    value = (value << 8n) | BigInt(part);
  }
  return value;
}

/** Groups of one side of "::" (or of the whole text): hex groups, the last may be a dotted quad. */
function parseGroups(text: string, mayEndInIpv4: boolean): number[] | undefined {
  if (text === '') return [];
  const parts = text.split(':');
  const groups: number[] = [];
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    if (mayEndInIpv4 && i === parts.length - 1 && part.includes('.')) {
      const v4 = parseDottedQuad(part);
      if (v4 === undefined) return undefined;
      groups.push(Number(v4 >> 16n), Number(v4 & 0xffffn));
    } else if (HEX_GROUP.test(part)) {
      groups.push(parseInt(part, 16));
    } else {
      return undefined;
    }
  }
  return groups;
}

function parseIpv6Text(text: string): bigint | undefined {
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  let groups: number[];
  if (halves.length === 2) {
    const head = parseGroups(halves[0]!, false);
    const tail = parseGroups(halves[1]!, true);
    // "::" stands for at least one zero group.
    if (!head || !tail || head.length + tail.length > 7) return undefined;
    groups = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  } else {
    const all = parseGroups(text, true);
    if (!all || all.length !== 8) return undefined;
    groups = all;
  }
  return groups.reduce((value, group) => (value << 16n) | BigInt(group), 0n);
}

/** An IPv4 dotted quad or IPv6 text (no brackets, no zone, no prefix); undefined otherwise. */
export function parseIp(text: string): IpAddress | undefined {
  if (text.includes(':')) {
    const value = parseIpv6Text(text);
    return value === undefined ? undefined : { family: 6, value };
  }
  const value = parseDottedQuad(text);
  return value === undefined ? undefined : { family: 4, value };
}

function formatDottedQuad(value: bigint): string {
  return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 0xffn)).join('.');
}

const MAPPED_PREFIX = 0xffffn << 32n;

export function formatIp(address: IpAddress): string {
  if (address.family === 4) return formatDottedQuad(address.value);
  if (address.value >> 32n === 0xffffn) return `::ffff:${formatDottedQuad(address.value & 0xffffffffn)}`;
  const groups = [112n, 96n, 80n, 64n, 48n, 32n, 16n, 0n].map((shift) => Number((address.value >> shift) & 0xffffn));
  // RFC 5952 §4.2: the first longest run of at least two zero groups becomes "::".
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) { bestStart = i; bestLength = j - i; }
    i = j;
  }
  const hex = (list: number[]) => list.map((g) => g.toString(16)).join(':');
  if (bestStart < 0) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLength))}`;
}

/** The canonical text of an address, or undefined when the text is not one. */
export function canonicalIp(text: string): string | undefined {
  const parsed = parseIp(text);
  return parsed ? formatIp(parsed) : undefined;
}

/** Canonical text when the text is an address, else the text unchanged (for display of data plane output). */
export function displayIp(text: string): string {
  return canonicalIp(text) ?? text;
}

export function ipFamily(text: string): IpFamily | undefined {
  return parseIp(text)?.family;
}

/** "a.b.c.d:port" or "[v6]:port": the one spelling of an endpoint, as ipvsadm prints it. */
export function addressPort(address: string, port: number | string): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/** "text/len", the address part in either family; undefined when malformed or the length is out of range. */
export function parsePrefix(text: string): IpPrefix | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const address = parseIp(text.slice(0, slash));
  const lengthText = text.slice(slash + 1);
  if (!address || !/^(0|[1-9]\d{0,2})$/.test(lengthText)) return undefined;
  const length = Number(lengthText);
  if (length > familyBits(address.family)) return undefined;
  return { family: address.family, address: address.value, length };
}

export function formatPrefix(prefix: IpPrefix): string {
  return `${formatIp({ family: prefix.family, value: prefix.address })}/${prefix.length}`;
}

function hostBits(prefix: Pick<IpPrefix, 'family' | 'length'>): bigint {
  return (1n << BigInt(familyBits(prefix.family) - prefix.length)) - 1n;
}

export function hasHostBits(prefix: IpPrefix): boolean {
  return (prefix.address & hostBits(prefix)) !== 0n;
}

/** The prefix with its host bits cleared. */
export function networkOf(prefix: IpPrefix): IpPrefix {
  return { ...prefix, address: prefix.address & ~hostBits(prefix) };
}

/** True when `address` is inside `prefix` (never across families). */
export function prefixContains(prefix: IpPrefix, address: IpAddress): boolean {
  if (prefix.family !== address.family) return false;
  const mask = ~hostBits(prefix);
  return (prefix.address & mask) === (address.value & mask);
}

/** True when the IPv6 prefix lies inside ::ffff:0:0/96 (IPv4-mapped space, which would alias IPv4). */
export function insideIpv4Mapped(prefix: IpPrefix): boolean {
  return prefix.family === 6 && prefix.length >= 96 && prefix.address >> 32n === MAPPED_PREFIX >> 32n;
}

/**
 * Why an address cannot be a unicast address the gateway owns or forwards to (VIP, LIP, real
 * server, port address), or undefined when it can. `linkLocal` allows fe80::/10 (a route's next
 * hop, which IPv6 routers usually advertise as link-local: the route's port names the link).
 * The text is phrased as what was expected, for "expected …, got …".
 */
export function unicastProblem(address: IpAddress, options: { linkLocal?: boolean } = {}): string | undefined {
  const v = address.value;
  if (address.family === 4) {
    return v === 0n || v === 0xffffffffn || v >= 0xe0000000n ? 'a unicast IPv4 address' : undefined;
  }
  if (v === 0n) return 'a unicast IPv6 address (not the unspecified address ::)';
  if (v >> 120n === 0xffn) return 'a unicast IPv6 address (not multicast ff00::/8)';
  if (v >> 32n === 0xffffn) {
    return `an IPv6 address outside ::ffff:0:0/96 (IPv4-mapped: write the IPv4 address ${formatDottedQuad(v & 0xffffffffn)} itself)`;
  }
  if (!options.linkLocal && isLinkLocal6(address)) return 'a global or unique-local IPv6 address (not link-local fe80::/10)';
  return undefined;
}

/** True for an IPv6 link-local address (fe80::/10): on the link of whichever port names it. */
export function isLinkLocal6(address: IpAddress): boolean {
  return address.family === 6 && address.value >> 118n === 0x3fan;
}

/** Orders addresses as ipvsadm's --sort does: IPv4 before IPv6, then by value. */
export function compareIp(a: string, b: string): number {
  const x = parseIp(a);
  const y = parseIp(b);
  if (!x || !y) return a.localeCompare(b);
  if (x.family !== y.family) return x.family - y.family;
  return x.value < y.value ? -1 : x.value > y.value ? 1 : 0;
}
