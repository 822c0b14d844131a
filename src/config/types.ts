// The daemon's configuration file, parsed and validated.
import type { FragmentTableOptions } from '../dataplane/types.js';
import type { PortModel, Route, ServiceSpec, Timeouts } from '../model/index.js';
import type { ClusterSettings } from './cluster-types.js';
import type { SessionLogSettings } from '../session-log/settings.js';

export type HugepagesMode = 'auto' | 'on' | 'off';

export interface DataplaneSettings {
  workers: number;
  /** EAL -l value; default "0-<workers>". */
  lcores: string;
  polling: 'busy' | 'adaptive';
  memoryMb: number;
  hugepages: HugepagesMode;
  /** Connections per worker. */
  connCapacity: number;
  /** Per-worker IPv4 reassembly table bounds (absent = the data plane's defaults). */
  fragments?: FragmentTableOptions;
  /** BENCHMARK ONLY: 'bridge' = frames cross between the two ports unchanged, no NAT (bench/lab.ts). */
  benchMode?: 'bridge';
  /**
   * Where the connection tables live so that a restart adopts them (src/config/conn-region.ts):
   * 'auto' (a file named after the state file, on hugetlbfs or /dev/shm), 'off' (process memory:
   * a restart forgets every connection), or an absolute path.
   */
  connRegion: ConnRegionSetting;
}

export type ConnRegionSetting = 'auto' | 'off' | { path: string };

export interface ApiSettings {
  /** Unix socket path. */
  socket: string;
  /** Optional "host:port" for TCP (TLS only); '' = off. */
  listen: string;
  /** Group (name or gid) given the unix socket (mode 0660); absent = the daemon's own group. */
  socketGroup?: string;
  /** Required with listen: the TCP listener speaks TLS only. */
  tls?: ApiTls;
  /** Bearer tokens accepted on TCP (see src/config/api-security.ts); listen needs tokens or clients. */
  tokens?: ApiToken[];
  /** Client-certificate identities (mTLS, needs tls.client_ca): a verified certificate whose subject CN
   *  or a subjectAltName equals `name` gets `role`. */
  clients?: ApiClient[];
  /** Bounds of the TCP listener (defaults: DEFAULT_API_LIMITS); unused without listen. */
  limits: ApiLimits;
}

/** What one unauthenticated or idle peer may hold on the TCP listener (src/api/tcp-listener.ts). */
export interface ApiLimits {
  /** Open TCP connections at once, handshaking ones included; the next one is closed on accept. */
  maxConnections: number;
  /** A connection that has not finished TLS (and chosen HTTP/2 by ALPN) this long after accept is closed. */
  handshakeTimeoutMs: number;
  /** A connection without an open call for this long gets GOAWAY and is closed. */
  idleTimeoutMs: number;
  /** Open calls per connection (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS); more are refused. */
  maxConcurrentStreams: number;
}

export const DEFAULT_API_LIMITS: Readonly<ApiLimits> = {
  maxConnections: 64,
  handshakeTimeoutMs: 5000,
  idleTimeoutMs: 300_000,
  maxConcurrentStreams: 32,
};

export type ApiRole = 'read-only' | 'operator';
/** Paths of the PEM certificate chain and private key; clientCa turns on client certificates (mTLS). */
export interface ApiTls {
  cert: string;
  key: string;
  /** PEM CA bundle that signs client certificates; absent = no client certificates asked for. */
  clientCa?: string;
  /** optional: a client may present a certificate (tokens still work without one); required: the TLS
   *  handshake fails without a certificate signed by clientCa. Default optional. */
  clientCerts?: 'optional' | 'required';
}
/** A client-certificate identity: `name` is matched against the certificate's CN and SANs. */
export interface ApiClient { name: string; role: ApiRole }
/** A bearer token read from `file` (whitespace trimmed); `name` is the actor it authenticates. */
export interface ApiToken { name: string; role: ApiRole; file: string }

export interface MetricsSettings {
  /** Prometheus /metrics "host:port"; '' = off. */
  listen: string;
}

export interface DefenseSettings {
  /** Append-only JSON-lines log of every mitigation change. */
  auditLog: string;
}

export interface LogSettings {
  /** text: "<time> <LEVEL> <message> key=value"; json: one object per line (src/log.ts). */
  format: 'text' | 'json';
}

export interface DaemonConfig {
  /** Where the config came from (for messages). */
  source: string;
  dataplane: DataplaneSettings;
  api: ApiSettings;
  metrics: MetricsSettings;
  defense: DefenseSettings;
  log: LogSettings;
  stateFile: string;
  ports: PortModel[];
  routes: Route[];
  timeouts: Timeouts;
  /** Seed services: used only when there is no state file yet (or --reset-state). */
  services: ServiceSpec[];
  /** Absent: a standalone gateway (src/config/cluster-types.ts). */
  cluster?: ClusterSettings;
  /** NAT session logging (src/session-log/, docs/operations.md "Session logs"); absent = off. */
  sessionLog?: SessionLogSettings;
}

export const DEFAULT_SOCKET = '/run/portcullis/portcullis.sock';
export const DEFAULT_STATE_FILE = '/var/lib/portcullis/state.json';
export const DEFAULT_METRICS_LISTEN = '127.0.0.1:9469';
export const DEFAULT_AUDIT_LOG = '/var/lib/portcullis/audit.log';
