// What a health check is: its settings and their defaults and bounds. Plain vocabulary at the
// bottom of the model; reading it is health-check-fields.ts, acting on its verdicts health-check.ts.

export type HealthCheckKind = 'tcp' | 'http' | 'udp' | 'dns' | 'icmp';
export const HEALTH_CHECK_KINDS: readonly HealthCheckKind[] = ['tcp', 'http', 'udp', 'dns', 'icmp'];
/** Kinds that only make sense for a UDP service (they speak UDP to the server's port). */
export const UDP_ONLY_KINDS: readonly HealthCheckKind[] = ['udp', 'dns'];

/** DNS query types a dns check may ask for (RFC 1035 §3.2.2, RFC 3596 for AAAA, RFC 2782 for SRV). */
export const DNS_QUERY_TYPES = { A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, MX: 15, TXT: 16, AAAA: 28, SRV: 33 } as const;
export type DnsQueryType = keyof typeof DNS_QUERY_TYPES;

export interface HealthCheck {
  /**
   * tcp: a completed connect is healthy; http: GET `path` answered with `expectStatus`; udp: a reply
   * to `payload` (starting with `expect` when set); dns: a NOERROR answer to a query for
   * `queryName`/`queryType`; icmp: an echo reply.
   */
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
  /** udp only: the datagram sent, as bytes in lower-case hex (read from `payload` text or `payload_hex`). */
  payloadHex?: string;
  /** udp only: a reply passes only when it starts with these bytes (lower-case hex); absent: any reply passes. */
  expectHex?: string;
  /** dns only: the name asked for, without the trailing dot ("" is the root). */
  queryName?: string;
  /** dns only: the type asked for (default A). */
  queryType?: DnsQueryType;
}

export const HEALTH_CHECK_DEFAULTS: Readonly<Omit<HealthCheck, 'kind'>> = {
  path: '/', expectStatus: 200, intervalMs: 2_000, timeoutMs: 1_000, rise: 2, fall: 3,
};

/** Longest path accepted: the request line stays far below any server's limit (8 KiB is common). */
export const MAX_HEALTH_CHECK_PATH = 1024;

/** Largest udp payload or expectation, in bytes: one datagram well inside any path's MTU. */
export const MAX_UDP_PAYLOAD = 512;
