// Reading a service's health check settings: the one validator (YAML, gRPC and the state file
// all come through readHealthCheck, so bad input fails the same way), and the way back.
import { describeValue, joinPath, ModelError } from './errors.js';
import { readChoice, readInteger, readObject, readString, rejectUnknownKeys } from './fields.js';
import {
  DNS_QUERY_TYPES, HEALTH_CHECK_DEFAULTS, HEALTH_CHECK_KINDS, MAX_HEALTH_CHECK_PATH, MAX_UDP_PAYLOAD, UDP_ONLY_KINDS,
  type DnsQueryType, type HealthCheck, type HealthCheckKind,
} from './health-check-types.js';
import type { Protocol } from './types.js';

const KEYS = ['kind', 'path', 'expect_status', 'interval_ms', 'timeout_ms', 'rise', 'fall',
  'payload', 'payload_hex', 'expect', 'expect_hex', 'query_name', 'query_type'] as const;
/** Keys that mean something for one kind only: on another kind they are refused, not silently unused. */
const KIND_ONLY_KEYS: Readonly<Record<string, HealthCheckKind>> = {
  payload: 'udp', payload_hex: 'udp', expect: 'udp', expect_hex: 'udp', query_name: 'dns', query_type: 'dns',
};
const DNS_TYPE_NAMES = Object.keys(DNS_QUERY_TYPES) as DnsQueryType[];
// RFC 1035 §2.3.4: labels of 1..63 bytes, a name of at most 255 bytes on the wire. Letters, digits,
// '-' and '_' (service labels such as _sip._udp) only: anything else is almost certainly a typo.
const DNS_LABEL = /^[A-Za-z0-9_-]{1,63}$/;
const MAX_DNS_NAME_WIRE = 255;
// Origin form (RFC 9112 §3.2.1: absolute-path ["?" query]) with RFC 3986's characters: unreserved,
// sub-delims, ":" "@" "/" "?" and %XX. Anything else (space, controls, '#', quotes, '\\', non-ASCII)
// must come percent-encoded: Node's http.request throws on some of these (a space crashed the
// daemon at every start) and a server would read the others differently from the operator.
const PATH_CHARACTER = /^[A-Za-z0-9\-._~!$&'()*+,;=:@/?]$/;
const PERCENT_ENCODED = /^%[0-9A-Fa-f]{2}$/;
const MAX_INTERVAL_MS = 3_600_000;
const MAX_COUNT = 100;

/** Reads snake_case input (config file spelling); absent fields take HEALTH_CHECK_DEFAULTS. */
export function readHealthCheck(value: unknown, path: string, protocol?: Protocol): HealthCheck {
  const raw = readObject(value, path);
  rejectUnknownKeys(raw, KEYS, path);
  const d = HEALTH_CHECK_DEFAULTS;
  const kind = readChoice(raw.kind, joinPath(path, 'kind'), HEALTH_CHECK_KINDS);
  // tcp and http on a UDP service stay accepted (they always were: a UDP server often has a TCP
  // side); udp and dns on a TCP service would probe a port nothing answers on over UDP.
  if (protocol !== undefined && protocol !== 'udp' && UDP_ONLY_KINDS.includes(kind)) {
    throw new ModelError('INVALID_ARGUMENT', joinPath(path, 'kind'), `${kind} checks are for udp services; this service is ${protocol} (use tcp, http or icmp)`);
  }
  for (const [key, owner] of Object.entries(KIND_ONLY_KEYS)) {
    if (raw[key] !== undefined && raw[key] !== null && owner !== kind) {
      throw new ModelError('INVALID_ARGUMENT', joinPath(path, key), `is for kind ${owner} checks only; this check is ${kind}`);
    }
  }
  const check: HealthCheck = {
    kind,
    path: raw.path === undefined ? d.path : readHealthCheckPath(raw.path, joinPath(path, 'path')),
    expectStatus: raw.expect_status === undefined ? d.expectStatus : readInteger(raw.expect_status, joinPath(path, 'expect_status'), 100, 599),
    intervalMs: raw.interval_ms === undefined ? d.intervalMs : readInteger(raw.interval_ms, joinPath(path, 'interval_ms'), 100, MAX_INTERVAL_MS),
    timeoutMs: raw.timeout_ms === undefined ? d.timeoutMs : readInteger(raw.timeout_ms, joinPath(path, 'timeout_ms'), 10, MAX_INTERVAL_MS),
    rise: raw.rise === undefined ? d.rise : readInteger(raw.rise, joinPath(path, 'rise'), 1, MAX_COUNT),
    fall: raw.fall === undefined ? d.fall : readInteger(raw.fall, joinPath(path, 'fall'), 1, MAX_COUNT),
  };
  if (check.timeoutMs >= check.intervalMs) {
    throw new ModelError('INVALID_ARGUMENT', joinPath(path, 'timeout_ms'), `must be below interval_ms (${check.intervalMs}) so probes never overlap`);
  }
  if (kind === 'udp') Object.assign(check, readUdpFields(raw, path));
  if (kind === 'dns') Object.assign(check, readDnsFields(raw, path));
  return check;
}

/** payload (text) or payload_hex, exactly one; expect (text) or expect_hex, at most one. */
function readUdpFields(raw: Record<string, unknown>, path: string): Pick<HealthCheck, 'payloadHex' | 'expectHex'> {
  const payloadHex = readBytesField(raw, path, 'payload');
  if (payloadHex === undefined) {
    throw new ModelError('INVALID_ARGUMENT', joinPath(path, 'payload'), 'a udp check needs the datagram to send: payload (text) or payload_hex');
  }
  const expectHex = readBytesField(raw, path, 'expect');
  return expectHex === undefined ? { payloadHex } : { payloadHex, expectHex };
}

/** `<key>` as UTF-8 text or `<key>_hex` as hex digits (not both), as lower-case hex; undefined when neither is set. */
function readBytesField(raw: Record<string, unknown>, path: string, key: string): string | undefined {
  const hexKey = `${key}_hex`;
  const hasText = raw[key] !== undefined && raw[key] !== null;
  const hasHex = raw[hexKey] !== undefined && raw[hexKey] !== null;
  if (hasText && hasHex) throw new ModelError('INVALID_ARGUMENT', joinPath(path, hexKey), `give ${key} (text) or ${hexKey}, not both`);
  if (hasText) {
    const text = readString(raw[key], joinPath(path, key), { maxLength: MAX_UDP_PAYLOAD, nonEmpty: true });
    const bytes = Buffer.from(text, 'utf8');
    if (bytes.length > MAX_UDP_PAYLOAD) throw new ModelError('INVALID_ARGUMENT', joinPath(path, key), `is ${bytes.length} bytes in UTF-8; at most ${MAX_UDP_PAYLOAD}`);
    return bytes.toString('hex');
  }
  if (!hasHex) return undefined;
  const hex = readString(raw[hexKey], joinPath(path, hexKey), { maxLength: 2 * MAX_UDP_PAYLOAD, nonEmpty: true });
  if (!/^(?:[0-9A-Fa-f]{2})+$/.test(hex)) {
    throw new ModelError('INVALID_ARGUMENT', joinPath(path, hexKey), `must be pairs of hex digits (e.g. "0a1b"): ${describeValue(hex)}`);
  }
  return hex.toLowerCase();
}

function readDnsFields(raw: Record<string, unknown>, path: string): Pick<HealthCheck, 'queryName' | 'queryType'> {
  if (raw.query_name === undefined || raw.query_name === null) {
    throw new ModelError('INVALID_ARGUMENT', joinPath(path, 'query_name'), 'a dns check needs the name to ask for (e.g. "example.com", "." for the root)');
  }
  return {
    queryName: readDnsName(raw.query_name, joinPath(path, 'query_name')),
    queryType: raw.query_type === undefined || raw.query_type === null ? 'A' : readChoice(raw.query_type, joinPath(path, 'query_type'), DNS_TYPE_NAMES),
  };
}

/** A domain name in dotted form; "." or a trailing dot is allowed. Returned without the trailing dot ("" = root). */
export function readDnsName(value: unknown, path: string): string {
  const text = readString(value, path, { maxLength: MAX_DNS_NAME_WIRE, nonEmpty: true });
  if (text === '.') return '';
  const name = text.endsWith('.') ? text.slice(0, -1) : text;
  const labels = name.split('.');
  for (const [index, label] of labels.entries()) {
    if (!DNS_LABEL.test(label)) {
      throw new ModelError('INVALID_ARGUMENT', path,
        `label ${index + 1} ${JSON.stringify(label)} must be 1 to 63 letters, digits, "-" or "_": ${describeValue(text)}`);
    }
  }
  // Each label costs its length byte; the root's zero byte ends the name.
  const wire = labels.reduce((sum, label) => sum + 1 + label.length, 1);
  if (wire > MAX_DNS_NAME_WIRE) throw new ModelError('INVALID_ARGUMENT', path, `is ${wire} bytes on the wire; at most ${MAX_DNS_NAME_WIRE}`);
  return name;
}

/** An HTTP request target in origin form: "/", then only characters a URL path and query may carry unescaped. */
export function readHealthCheckPath(value: unknown, path: string): string {
  const text = readString(value, path, { maxLength: MAX_HEALTH_CHECK_PATH, nonEmpty: true });
  if (!text.startsWith('/')) throw new ModelError('INVALID_ARGUMENT', path, `must start with "/": ${describeValue(text)}`);
  for (let i = 0; i < text.length; i++) {
    const character = text[i]!;
    if (character === '%') {
      if (!PERCENT_ENCODED.test(text.slice(i, i + 3))) {
        throw new ModelError('INVALID_ARGUMENT', path, `"%" at offset ${i} must start a %XX escape (two hex digits): ${describeValue(text)}`);
      }
      i += 2;
    } else if (!PATH_CHARACTER.test(character)) {
      throw new ModelError('INVALID_ARGUMENT', path,
        `character ${JSON.stringify(character)} at offset ${i} is not allowed in a URL path: percent-encode it (a space is %20): ${describeValue(text)}`);
    }
  }
  return text;
}

/** Back to the snake_case spelling readHealthCheck reads (state file, config dumps). */
export function healthCheckToRaw(check: HealthCheck): Record<string, unknown> {
  return {
    kind: check.kind, path: check.path, expect_status: check.expectStatus, interval_ms: check.intervalMs,
    timeout_ms: check.timeoutMs, rise: check.rise, fall: check.fall,
    ...(check.payloadHex !== undefined ? { payload_hex: check.payloadHex } : {}),
    ...(check.expectHex !== undefined ? { expect_hex: check.expectHex } : {}),
    // The root goes back as "." (an empty name is refused on the way in).
    ...(check.queryName !== undefined ? { query_name: check.queryName === '' ? '.' : check.queryName } : {}),
    ...(check.queryType !== undefined ? { query_type: check.queryType } : {}),
  };
}
