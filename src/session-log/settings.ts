// What the `session_log` section configures (read and checked by src/config/session-log.ts).

export interface IpfixCollector {
  /** IP literal (v4 or v6; no name lookups on the export path) and port. */
  host: string;
  port: number;
  protocol: 'udp';
  /** Path MTU toward the collector: every message fits it with its IP and UDP headers. */
  mtu: number;
}

export interface SessionLogSettings {
  ipfix: IpfixCollector[];
  /** JSON lines file, absolute; absent = none. Reopened on SIGHUP and when moved (log rotation). */
  jsonFile?: string;
  /** Templates re-sent this often over UDP (RFC 7011 §8.4). */
  templateRefreshS: number;
  observationDomain: number;
  /** How often the workers' rings are drained. */
  drainIntervalMs: number;
  /** Lines waiting for the JSON file at most; beyond it lines are dropped and counted. */
  jsonQueueLines: number;
}

export const SESSION_LOG_DEFAULTS = {
  templateRefreshS: 60,
  observationDomain: 1,
  drainIntervalMs: 200,
  jsonQueueLines: 65536,
  mtu: 1500,
} as const;

