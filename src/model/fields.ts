// Readers for untrusted values: each checks one field and throws ModelError naming
// its path. Used by every door, so YAML and gRPC input fail the same way.
import { invalid, joinPath, ModelError } from './errors.js';

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

/** Parses a dotted-quad IPv4 address into a 32-bit unsigned integer, or undefined. */
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

/** A unicast-usable IPv4 address: not 0.0.0.0, not broadcast, not multicast. */
export function readIpv4(value: unknown, path: string): string {
  const parsed = typeof value === 'string' ? parseIpv4(value) : undefined;
  if (parsed === undefined) throw invalid(path, 'a dotted-quad IPv4 address', value);
  if (parsed === 0 || parsed === 0xffffffff || parsed >= 0xe0000000) {
    throw invalid(path, 'a unicast IPv4 address', value);
  }
  return value as string;
}

export interface Ipv4Prefix {
  address: number;
  length: number;
}

export function parsePrefix(text: string): Ipv4Prefix | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const address = parseIpv4(text.slice(0, slash));
  const lengthText = text.slice(slash + 1);
  if (address === undefined || !/^(0|[1-9]\d?)$/.test(lengthText)) return undefined;
  const length = Number(lengthText);
  if (length > 32) return undefined;
  return { address, length };
}

export function prefixContains(prefix: Ipv4Prefix, address: number): boolean {
  if (prefix.length === 0) return true;
  const size = 2 ** (32 - prefix.length);
  return Math.floor(prefix.address / size) === Math.floor(address / size);
}

/** An interface address with its connected prefix, e.g. "198.18.0.254/24". */
export function readInterfaceAddress(value: unknown, path: string): string {
  const parsed = typeof value === 'string' ? parsePrefix(value) : undefined;
  if (!parsed || parsed.length === 0) throw invalid(path, 'an IPv4 address with prefix length 1..32 like 198.18.0.254/24', value);
  readIpv4(formatIpv4(parsed.address), path);
  return value as string;
}

/** A route destination: host bits must be zero ("10.0.0.0/8", "0.0.0.0/0"). */
export function readNetwork(value: unknown, path: string): string {
  const parsed = typeof value === 'string' ? parsePrefix(value) : undefined;
  if (!parsed) throw invalid(path, 'an IPv4 prefix like 10.0.0.0/8', value);
  const size = 2 ** (32 - parsed.length);
  if (parsed.address % size !== 0) throw invalid(path, 'a prefix with host bits zero', value);
  return value as string;
}

const MAC = /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/;

export function readMac(value: unknown, path: string): string {
  if (typeof value !== 'string' || !MAC.test(value)) throw invalid(path, 'a MAC address like 02:00:00:00:00:01', value);
  return value.toLowerCase();
}
