// HealthCheck message ↔ the model's raw (snake_case) spelling: proto3 zeros
// mean "default", so they are left out and readHealthCheck fills them in.
import type { HealthCheck__Output } from './generated/portcullis/v1/HealthCheck.js';
import type { HealthCheck as HealthCheckMessage } from './generated/portcullis/v1/HealthCheck.js';
import type { PassiveHealth as PassiveHealthMessage, PassiveHealth__Output } from './generated/portcullis/v1/PassiveHealth.js';
import { downReasons, type HealthCheck, type PassiveHealth, type Server, type Service } from '../model/index.js';

export function rawHealthCheck(message: HealthCheck__Output | null | undefined): Record<string, unknown> | undefined {
  if (!message) return undefined;
  const raw: Record<string, unknown> = { kind: message.kind };
  if (message.path !== '') raw.path = message.path;
  if (message.expectStatus) raw.expect_status = message.expectStatus;
  if (message.intervalMs) raw.interval_ms = message.intervalMs;
  if (message.timeoutMs) raw.timeout_ms = message.timeoutMs;
  if (message.rise) raw.rise = message.rise;
  if (message.fall) raw.fall = message.fall;
  // Empty strings are proto3's "not set": left out, so readHealthCheck says what a kind misses.
  if (message.payload !== '') raw.payload = message.payload;
  if (message.payloadHex !== '') raw.payload_hex = message.payloadHex;
  if (message.expect !== '') raw.expect = message.expect;
  if (message.expectHex !== '') raw.expect_hex = message.expectHex;
  if (message.queryName !== '') raw.query_name = message.queryName;
  if (message.queryType !== '') raw.query_type = message.queryType;
  return raw;
}

export function healthCheckMessage(check: HealthCheck | undefined): HealthCheckMessage | null {
  // The root name goes out as "." so the message can be sent back unchanged ("" would mean unset).
  if (check?.queryName === '') return { ...check, queryName: '.' };
  return check ? { ...check } : null;
}

/** RealServer.health: down while the health check or passive health holds the server down; '' when the service has neither. */
export function serverHealth(service: Service, server: Server): string {
  if (!service.healthCheck && !service.passiveHealth && !server.healthDown && !server.passiveDown) return '';
  return downReasons(server).length ? 'down' : 'up';
}

/** RealServer.health_reason: "active", "passive", "active,passive"; '' while up. */
export function serverHealthReason(server: Server): string {
  return downReasons(server).join(',');
}

/** PassiveHealth message → the model's raw spelling; proto3 zeros are left out (defaults; rate's absence is named). */
export function rawPassiveHealth(message: PassiveHealth__Output | null | undefined): Record<string, unknown> | undefined {
  if (!message) return undefined;
  const raw: Record<string, unknown> = {};
  if (message.rate) raw.rate = message.rate;
  if (message.intervalMs) raw.interval_ms = message.intervalMs;
  if (message.backoffMs) raw.backoff_ms = message.backoffMs;
  if (message.maxBackoffMs) raw.max_backoff_ms = message.maxBackoffMs;
  return raw;
}

export function passiveHealthMessage(settings: PassiveHealth | undefined): PassiveHealthMessage | null {
  return settings ? { ...settings } : null;
}
