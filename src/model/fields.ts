// Readers for untrusted values: each checks one field and throws ModelError naming
// its path. Used by every door, so YAML and gRPC input fail the same way.
import { invalid, joinPath, ModelError } from './errors.js';
import {
  formatIp, formatPrefix, hasHostBits, insideIpv4Mapped, networkOf, parseIp, parsePrefix, unicastProblem,
} from './ip-address.js';

export type RawObject = Record<string, unknown>;

export function readObject(value: unknown, path: string): RawObject {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw invalid(path, 'a mapping', value);
  }
  return value as RawObject;
}

/** Rejects keys outside `allowed` ("ports[1].adress: unknown key ..."). */
export function rejectUnknownKeys(object: RawObject, allowed: readonly string[], path: string): void {
  for (const key of Object.keys(object)) {
    if (!allowed.includes(key)) {
      throw new ModelError('INVALID_ARGUMENT', joinPath(path, key), `unknown key (expected one of: ${allowed.join(', ')})`);
    }
  }
}

export function readList(value: unknown, path: string, maxItems: number): unknown[] {
  if (!Array.isArray(value)) throw invalid(path, 'a list', value);
  if (value.length > maxItems) throw invalid(path, `at most ${maxItems} items`, value);
  return value;
}

export function readInteger(value: unknown, path: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(path, `integer ${min}..${max}`, value);
  }
  return value;
}

export function readString(value: unknown, path: string, options: { maxLength?: number; nonEmpty?: boolean } = {}): string {
  const maxLength = options.maxLength ?? 256;
  const what = `${options.nonEmpty ? 'a non-empty ' : 'a '}string of at most ${maxLength} characters`;
  if (typeof value !== 'string' || value.length > maxLength || (options.nonEmpty && value.length === 0)) {
    throw invalid(path, what, value);
  }
  return value;
}

export function readChoice<T extends string>(value: unknown, path: string, choices: readonly T[]): T {
  if (typeof value !== 'string' || !(choices as readonly string[]).includes(value)) {
    throw invalid(path, `one of ${choices.join(', ')}`, value);
  }
  return value as T;
}

export function readBoolean(value: unknown, path: string): boolean {
  if (typeof value !== 'boolean') throw invalid(path, 'true or false', value);
  return value;
}

const DOTTED_QUAD = /^(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})$/;

/** Parses a dotted-quad IPv4 address into a 32-bit unsigned integer, or undefined (netmasks). */
export function parseIpv4(text: string): number | undefined {
  const match = DOTTED_QUAD.exec(text);
  if (!match) return undefined;
  let result = 0;
  for (let i = 1; i <= 4; i++) {
    const octet = Number(match[i]);
    if (octet > 255) return undefined;
    result = result * 256 + octet;
  }
  return result;
}

export function formatIpv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join('.');
}

const ADDRESS_EXPECTED = 'an IPv4 address (dotted quad) or an IPv6 address';

/** The "expected" text for something that is not an address at all; brackets get their own hint. */
function notAnAddress(value: unknown, what = ADDRESS_EXPECTED): string {
  if (typeof value === 'string' && value.startsWith('[')) return `${what} without brackets (brackets only go around an address with a port)`;
  return what;
}

/**
 * A unicast address the gateway owns or forwards to (VIP, LIP, real server), IPv4 or IPv6, in
 * canonical text: not unspecified, broadcast or multicast; IPv6 also not IPv4-mapped and (unless
 * `linkLocal`) not link-local.
 */
export function readIpAddress(value: unknown, path: string, options: { linkLocal?: boolean } = {}): string {
  const parsed = typeof value === 'string' ? parseIp(value) : undefined;
  if (!parsed) throw invalid(path, notAnAddress(value), value);
  const problem = unicastProblem(parsed, options);
  if (problem) throw invalid(path, problem, value);
  return formatIp(parsed);
}

/** An interface address with its connected prefix, "198.18.0.254/24" or "2001:db8:18::254/64"; canonical. */
export function readInterfaceAddress(value: unknown, path: string): string {
  const parsed = typeof value === 'string' ? parsePrefix(value) : undefined;
  if (!parsed || parsed.length === 0) {
    throw invalid(path, notAnAddress(value, 'an address with prefix length like 198.18.0.254/24 (1..32) or 2001:db8:18::254/64 (1..128)'), value);
  }
  const problem = unicastProblem({ family: parsed.family, value: parsed.address });
  if (problem) throw invalid(path, problem, value);
  return formatPrefix(parsed);
}

/**
 * A network (route destination, ACL prefix): host bits zero ("10.0.0.0/8", "0.0.0.0/0",
 * "2001:db8::/32", "::/0"); canonical. IPv6 prefixes inside ::ffff:0:0/96 are refused: IPv4 is
 * written as IPv4.
 */
export function readNetwork(value: unknown, path: string): string {
  const parsed = typeof value === 'string' ? parsePrefix(value) : undefined;
  if (!parsed) throw invalid(path, notAnAddress(value, 'an IPv4 or IPv6 prefix like 10.0.0.0/8 or 2001:db8::/32'), value);
  if (hasHostBits(parsed)) throw invalid(path, `a prefix with host bits zero (${formatPrefix(networkOf(parsed))})`, value);
  if (insideIpv4Mapped(parsed)) throw invalid(path, 'a prefix outside ::ffff:0:0/96 (IPv4-mapped: write the IPv4 prefix itself)', value);
  return formatPrefix(parsed);
}

const MAC = /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/;

export function readMac(value: unknown, path: string): string {
  if (typeof value !== 'string' || !MAC.test(value)) throw invalid(path, 'a MAC address like 02:00:00:00:00:01', value);
  return value.toLowerCase();
}
