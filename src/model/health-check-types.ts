// What a health check is: its settings and their defaults and bounds. Plain vocabulary at the
// bottom of the model; reading it is health-check-fields.ts, acting on its verdicts health-check.ts.

export type HealthCheckKind = 'tcp' | 'http';
export const HEALTH_CHECK_KINDS: readonly HealthCheckKind[] = ['tcp', 'http'];

export interface HealthCheck {
  /** tcp: a completed connect is healthy; http: GET `path` answered with `expectStatus`. */
  kind: HealthCheckKind;
  path: string;
  expectStatus: number;
  intervalMs: number;
  /** Bounds one probe (connect plus answer); below intervalMs so probes never overlap. */
  timeoutMs: number;
  /** Consecutive successes that bring a down server back. */
  rise: number;
  /** Consecutive failures that take an up server down. */
  fall: number;
}

export const HEALTH_CHECK_DEFAULTS: Readonly<Omit<HealthCheck, 'kind'>> = {
  path: '/', expectStatus: 200, intervalMs: 2_000, timeoutMs: 1_000, rise: 2, fall: 3,
};

/** Longest path accepted: the request line stays far below any server's limit (8 KiB is common). */
export const MAX_HEALTH_CHECK_PATH = 1024;
