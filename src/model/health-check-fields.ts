// Reading a service's health check settings: the one validator (YAML, gRPC and the state file
// all come through readHealthCheck, so bad input fails the same way), and the way back.
import { describeValue, joinPath, ModelError } from './errors.js';
import { readChoice, readInteger, readObject, readString, rejectUnknownKeys } from './fields.js';
import { HEALTH_CHECK_DEFAULTS, HEALTH_CHECK_KINDS, MAX_HEALTH_CHECK_PATH, type HealthCheck } from './health-check-types.js';

const KEYS = ['kind', 'path', 'expect_status', 'interval_ms', 'timeout_ms', 'rise', 'fall'] as const;
// Origin form (RFC 9112 §3.2.1: absolute-path ["?" query]) with RFC 3986's characters: unreserved,
// sub-delims, ":" "@" "/" "?" and %XX. Anything else (space, controls, '#', quotes, '\\', non-ASCII)
// must come percent-encoded: Node's http.request throws on some of these (a space crashed the
// daemon at every start) and a server would read the others differently from the operator.
const PATH_CHARACTER = /^[A-Za-z0-9\-._~!$&'()*+,;=:@/?]$/;
const PERCENT_ENCODED = /^%[0-9A-Fa-f]{2}$/;
const MAX_INTERVAL_MS = 3_600_000;
const MAX_COUNT = 100;

/** Reads snake_case input (config file spelling); absent fields take HEALTH_CHECK_DEFAULTS. */
export function readHealthCheck(value: unknown, path: string): HealthCheck {
  const raw = readObject(value, path);
  rejectUnknownKeys(raw, KEYS, path);
  const d = HEALTH_CHECK_DEFAULTS;
  const check: HealthCheck = {
    kind: readChoice(raw.kind, joinPath(path, 'kind'), HEALTH_CHECK_KINDS),
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
  return check;
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
  };
}
