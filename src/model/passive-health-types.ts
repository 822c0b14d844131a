// What passive health is (docs/operations.md "Passive health"): its settings, defaults and
// bounds. Plain vocabulary at the bottom of the model; reading it is passive-health-fields.ts,
// acting on it src/health/passive.ts.

/**
 * A server whose refusals the data plane counts (ICMP destination unreachable about its UDP
 * connections, RSTs on its opening or established TCP ones) faster than `rate` per second,
 * measured over `intervalMs`, is quiesced for a back-off that starts at `backoffMs` and doubles
 * while it keeps refusing, up to `maxBackoffMs`.
 */
export interface PassiveHealth {
  /** Refusals per second a server may cause; above it (more than rate × intervalMs / 1000 in one interval) it is quiesced. */
  rate: number;
  intervalMs: number;
  backoffMs: number;
  maxBackoffMs: number;
}

export const PASSIVE_HEALTH_DEFAULTS: Readonly<Omit<PassiveHealth, 'rate'>> = {
  intervalMs: 1_000, backoffMs: 5_000, maxBackoffMs: 60_000,
};

export const PASSIVE_HEALTH_LIMITS = {
  maxRate: 10_000_000,
  minIntervalMs: 100,
  maxIntervalMs: 3_600_000,
  minBackoffMs: 100,
  /** A day: longer than that is an outage someone should look at, not a back-off. */
  maxBackoffMs: 86_400_000,
} as const;
