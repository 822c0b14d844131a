// The desired state: what the operator asked for, with the stable ids the model
// assigned. Plain data, never mutated in place: every change builds a new copy.

export type Protocol = 'tcp' | 'udp';
export type Scheduler = 'rr' | 'wrr';

export const PROTOCOLS: readonly Protocol[] = ['tcp', 'udp'];
export const SCHEDULERS: readonly Scheduler[] = ['rr', 'wrr'];

/** Bounds mirrored from dataplane/core/config.h and IPVS. */
export const LIMITS = {
  maxPorts: 8,
  maxServiceId: 4095,
  maxServerId: 65535,
  maxRoutes: 1024,
  maxLocalAddressesPerService: 256,
  maxServersPerService: 65535,
  maxWeight: 65535,
  maxServiceName: 64,
  /** ipvsadm's MAX_TIMEOUT (31 days), in seconds. */
  maxTimeoutSeconds: 86400 * 31,
} as const;

export interface Timeouts {
  tcpEstablished: number;
  tcpSynSent: number;
  tcpSynRecv: number;
  tcpFinWait: number;
  tcpTimeWait: number;
  tcpClose: number;
  tcpCloseWait: number;
  tcpLastAck: number;
  udp: number;
}

/** Config/proto spelling of each timeout, in a stable order. */
export const TIMEOUT_FIELDS: readonly { key: keyof Timeouts; name: string }[] = [
  { key: 'tcpEstablished', name: 'tcp_established' },
  { key: 'tcpSynSent', name: 'tcp_syn_sent' },
  { key: 'tcpSynRecv', name: 'tcp_syn_recv' },
  { key: 'tcpFinWait', name: 'tcp_fin_wait' },
  { key: 'tcpTimeWait', name: 'tcp_time_wait' },
  { key: 'tcpClose', name: 'tcp_close' },
  { key: 'tcpCloseWait', name: 'tcp_close_wait' },
  { key: 'tcpLastAck', name: 'tcp_last_ack' },
  { key: 'udp', name: 'udp' },
];

/** IPVS defaults (PROTOCOL.md §4.1), same as dataplane/core/config.h. */
export const DEFAULT_TIMEOUTS: Readonly<Timeouts> = {
  tcpEstablished: 900,
  tcpSynSent: 120,
  tcpSynRecv: 60,
  tcpFinWait: 120,
  tcpTimeWait: 120,
  tcpClose: 10,
  tcpCloseWait: 60,
  tcpLastAck: 30,
  udp: 300,
};

export interface ServiceKey {
  protocol: Protocol;
  vip: string;
  port: number;
}

export interface ServerSpec {
  address: string;
  port: number;
  /** 0..65535; 0 = quiesced (no new connections). */
  weight: number;
}

export interface Server extends ServerSpec {
  /** 1..65535, unique across all services, stable for the server's life. */
  id: number;
}

/** A service as requested, before ids are assigned. */
export interface ServiceSpec extends ServiceKey {
  name: string;
  scheduler: Scheduler;
  localAddresses: string[];
  /** Per-service overrides; missing fields inherit the daemon default. */
  timeouts: Partial<Timeouts>;
  servers: ServerSpec[];
}

export interface Service extends Omit<ServiceSpec, 'servers'> {
  /** 1..4095, stable for the service's life. */
  id: number;
  servers: Server[];
}

export interface PortModel {
  name: string;
  device: string;
  /** Owned addresses with their connected prefix, "198.18.0.254/24". */
  addresses: string[];
  mac?: string;
  mtu?: number;
}

export interface Route {
  prefix: string;
  via?: string;
  port: string;
}

export interface DesiredState {
  ports: PortModel[];
  routes: Route[];
  defaultTimeouts: Timeouts;
  services: Service[];
  /** Where the next id search starts, so a freed id is not handed out again at once. */
  nextServiceId: number;
  nextServerId: number;
}

export function serviceKeyText(key: ServiceKey): string {
  return `${key.protocol}/${key.vip}:${key.port}`;
}

export function sameKey(a: ServiceKey, b: ServiceKey): boolean {
  return a.protocol === b.protocol && a.vip === b.vip && a.port === b.port;
}
