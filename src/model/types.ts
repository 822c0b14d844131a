// The vocabulary of the desired state: services, real servers, ports, routes, timeouts and
// their bounds, as the operator asked for them, with the stable ids the model assigned. Plain
// data, never mutated in place: every change builds a new copy. The bottom of the model: it
// imports only other vocabulary.

import type { HealthCheck } from './health-check-types.js';
import type { PassiveHealth } from './passive-health-types.js';
import { addressPort } from './ip-address.js';

export type Protocol = 'tcp' | 'udp';
/** Every IPVS scheduler (PROTOCOL.md §5): ipvsadm's whole list, mh (Maglev), fo, ovf and twos included. */
export type Scheduler = 'rr' | 'wrr' | 'lc' | 'wlc' | 'sed' | 'nq' | 'dh' | 'sh' | 'lblc' | 'lblcr' | 'mh' | 'fo' | 'ovf' | 'twos';
/** ipvsadm -b: sh-* apply to sh, mh-* to mh. */
export type SchedFlag = 'sh-fallback' | 'sh-port' | 'mh-fallback' | 'mh-port';

export const PROTOCOLS: readonly Protocol[] = ['tcp', 'udp'];
export const SCHEDULERS: readonly Scheduler[] = ['rr', 'wrr', 'lc', 'wlc', 'sed', 'nq', 'dh', 'sh', 'lblc', 'lblcr', 'mh', 'fo', 'ovf', 'twos'];
export const SCHED_FLAGS: readonly SchedFlag[] = ['sh-fallback', 'sh-port', 'mh-fallback', 'mh-port'];

/**
 * How real servers learn the client address FullNAT hides (docs/client-address.md): TCP: toa = TCP
 * option 254 in the handshake ACK and first data segment, proxy_v1/v2 = PROXY protocol header at the
 * stream start; UDP: uoa_ipo / uoa_opp = DPVS's UOA (IPv4 option, or private protocol 248) on the
 * first uoa_datagrams datagrams, proxy_v2 = PROXY v2 DGRAM header in front of every datagram.
 */
export type ClientAddress = 'none' | 'toa' | 'proxy_v1' | 'proxy_v2' | 'uoa_ipo' | 'uoa_opp';
export const CLIENT_ADDRESS_MODES: readonly ClientAddress[] = ['none', 'toa', 'proxy_v1', 'proxy_v2', 'uoa_ipo', 'uoa_opp'];
/** The modes each protocol carries. */
export const CLIENT_ADDRESS_MODES_BY_PROTOCOL: Readonly<Record<Protocol, readonly ClientAddress[]>> = {
  tcp: ['none', 'toa', 'proxy_v1', 'proxy_v2'],
  udp: ['none', 'uoa_ipo', 'uoa_opp', 'proxy_v2'],
};
/** UOA datagrams per connection: DPVS's uoa_max_trail default, and the bound (one byte of the connection record). */
export const UOA_DATAGRAMS = { default: 3, max: 255 } as const;
/** ipvsadm -b / -m / -g / -i: how packets reach a real server (docs/forwarding-modes.md). */
export type ForwardMethod = 'fullnat' | 'nat' | 'dr' | 'tun';
export const FORWARD_METHODS: readonly ForwardMethod[] = ['fullnat', 'nat', 'dr', 'tun'];

/** SYNPROXY per service: auto = engage above a SYN rate, disengage after a hold time below it. */
export type SynproxyMode = 'off' | 'on' | 'auto';
export const SYNPROXY_MODES: readonly SynproxyMode[] = ['off', 'on', 'auto'];

/** SYNPROXY auto: engage when the service receives synRate SYNs/s (whole service), disengage
 *  after holdSeconds below it. */
export interface SynproxyAuto {
  synRate: number;
  holdSeconds: number;
}
export const DEFAULT_SYNPROXY_AUTO: Readonly<SynproxyAuto> = { synRate: 1000, holdSeconds: 30 };
export const SYNPROXY_AUTO_LIMITS = { maxSynRate: 100_000_000, maxHoldSeconds: 86400 } as const;

/** Bounds mirrored from dataplane/common/config.h and IPVS. */
export const LIMITS = {
  maxPorts: 8,
  maxServiceId: 4095,
  maxServerId: 65535,
  maxRoutes: 1024,
  maxLocalAddressesPerService: 256,
  maxServersPerService: 65535,
  maxWeight: 65535,
  maxServiceName: 64,
  /** ipvsadm -x / -y range. */
  maxThreshold: 65535,
  /** QUIC server id: 16 bits of the connection id (docs/schedulers.md, "QUIC"). */
  maxQuicId: 65535,
  /** ipvsadm -p without a value. */
  defaultPersistenceSeconds: 300,
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
  /** A one-packet (ipvsadm -o) datagram waiting for its reply (docs/schedulers.md). */
  udpOnePacket: number;
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
  { key: 'udpOnePacket', name: 'udp_one_packet' },
];

/** IPVS defaults (PROTOCOL.md §4.1), same as dataplane/common/config.h. */
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
  // glibc's resolver retries a DNS query after 5 s (RES_TIMEOUT): a later reply helps no one.
  udpOnePacket: 5,
};

export interface ServiceKey {
  protocol: Protocol;
  /** IPv4 or IPv6, canonical text (ip-address.ts). */
  vip: string;
  port: number;
}

export interface ServerSpec {
  /** Canonical text; the VIP's family, or IPv4 behind an IPv6 VIP (NAT64). */
  address: string;
  port: number;
  /** 0..65535; 0 = quiesced (no new connections). */
  weight: number;
  /** ipvsadm -x, 1..65535: at this many connections no new ones (OVERLOAD). Absent = none. */
  upperThreshold?: number;
  /** ipvsadm -y, 1..upper: new connections resume below this. Absent = below 3/4 of upper. */
  lowerThreshold?: number;
  /** Absent = 'fullnat' (Portcullis's default; ipvsadm's is -g, DR). */
  forward?: Exclude<ForwardMethod, 'fullnat'>;
  /** QUIC service: the id 1..65535 this server writes at bytes 1-2 of the connection ids it
   *  issues (docs/schedulers.md, "QUIC"); unique within the service. Absent = none. */
  quicId?: number;
}

export interface Server extends ServerSpec {
  /** 1..65535, unique across all services, stable for the server's life. */
  id: number;
  /** Set by the health checker (src/health/): the data plane runs it at weight 0. */
  healthDown?: boolean;
  /** Set by passive health (src/health/passive.ts) while the server is backed off: weight 0 too. */
  passiveDown?: boolean;
}

/** A service as requested, before ids are assigned. */
export interface ServiceSpec extends ServiceKey {
  name: string;
  scheduler: Scheduler;
  /** ipvsadm -b; absent = none. */
  schedFlags?: SchedFlag[];
  /** ipvsadm -p, seconds 1..31 days: a client network keeps its server that long after its last
   *  connection. Absent = not persistent. */
  persistenceTimeout?: number;
  /** ipvsadm -M for an IPv4 VIP: contiguous dotted mask; only with persistenceTimeout. Absent = 255.255.255.255. */
  persistenceNetmask?: string;
  /** ipvsadm -M for an IPv6 VIP: prefix length 1..127 (IPVS: -M 64); only with persistenceTimeout. Absent = 128. */
  persistencePrefixLength?: number;
  /** ipvsadm -o / --ops (UDP only, fullnat servers, no persistence): every datagram is scheduled on
   *  its own and its reply entry ends at the first reply. Absent = false. */
  onePacket?: boolean;
  /** Default 'none'. */
  clientAddress: ClientAddress;
  /** uoa_ipo / uoa_opp only: datagrams per connection that carry UOA, 1..255; absent = 3 (DPVS's default). */
  uoaDatagrams?: number;
  /** Default 'off'. */
  synproxy: SynproxyMode;
  /** SYNPROXY: answer a bad-cookie ACK with RST instead of only dropping it. Absent = false. */
  synproxyRstOnBadCookie?: boolean;
  /** Thresholds for synproxy 'auto' (kept when the mode is on/off); absent = DEFAULT_SYNPROXY_AUTO. */
  synproxyAuto?: SynproxyAuto;
  /** UDP only: a datagram without a connection goes to the server its QUIC connection id names. Absent = false. */
  quic?: boolean;
  /** LIPs, canonical text; the servers' family. */
  localAddresses: string[];
  /** Per-service overrides; missing fields inherit the daemon default. */
  timeouts: Partial<Timeouts>;
  /** Built-in health check (health-check-types.ts); absent = none, every server counts as up. */
  healthCheck?: HealthCheck;
  /** Quiesce servers that refuse connections (passive-health-types.ts); absent = off. */
  passiveHealth?: PassiveHealth;
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
  /** Owned addresses with their connected prefix, "198.18.0.254/24", "2001:db8:18::254/64" (canonical). */
  addresses: string[];
  mac?: string;
  mtu?: number;
  /** Exception path (DESIGN.md §3): kernel interface "pcx-<name>" carrying the port's addresses. */
  exceptionPath?: boolean;
}

export interface Route {
  /** Canonical network text, IPv4 or IPv6. */
  prefix: string;
  /** Next hop in the prefix's family (IPv6 may be link-local); absent = on-link. */
  via?: string;
  port: string;
}

/** "tcp/198.18.0.10:80", "tcp/[2001:db8:18::10]:80". */
export function serviceKeyText(key: ServiceKey): string {
  return `${key.protocol}/${addressPort(key.vip, key.port)}`;
}

export function sameKey(a: ServiceKey, b: ServiceKey): boolean {
  return a.protocol === b.protocol && a.vip === b.vip && a.port === b.port;
}
