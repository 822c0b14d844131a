// The addon's JavaScript surface. This file is the contract between the C++
// data plane (dataplane/addon) and everything in TypeScript; src/dataplane/addon.ts
// is the only module that loads the .node file. Addresses are dotted-quad strings,
// ports and ids plain numbers. Every addon function throws an Error with a
// stable `code` (see AddonErrorCode) and never crashes the process on bad input.

export type DropReason =
  | 'malformed_l2' | 'malformed_l3' | 'malformed_l4' | 'malformed_arp'
  | 'unsupported_l3' | 'unsupported_l4' | 'not_for_us' | 'arp_not_for_us'
  | 'frag_dropped' | 'ttl_exceeded' | 'icmp_unsupported' | 'no_service' | 'no_conn'
  | 'no_real_server' | 'no_local_address' | 'lport_exhausted' | 'conn_table_full'
  | 'no_route' | 'neigh_unresolved' | 'neigh_queue_full' | 'tx_full'
  | 'mbuf_alloc_failed' | 'redirect_ring_full';

export type DataplaneEvent =
  | 'rx_packets' | 'tx_packets' | 'arp_requests_answered' | 'arp_requests_sent'
  | 'arp_replies_learned' | 'icmp_echo_answered' | 'conns_created' | 'conns_expired'
  | 'packets_forwarded_in' | 'packets_forwarded_out' | 'neigh_queued' | 'snapshots_adopted';

export type AddonErrorCode =
  | 'EINVAL'            // an argument is missing or of the wrong type/range (message names it)
  | 'ESTATE'            // wrong lifecycle state (e.g. apply before start, inject in live mode)
  | 'EAL_INIT_FAILED'   // rte_eal_init failed (message has rte_strerror and the args)
  | 'EAL_GONE'          // live mode ran rte_eal_cleanup; DPDK cannot start again in this process
  | 'PORT_FAILED'       // probe/configure/start of a port failed (message names port and device)
  | 'NOMEM'             // mempool/table allocation failed
  | 'CONFIG_REJECTED';  // snapshot_build refused the config (message names the field)

export type PollingMode = 'busy' | 'adaptive';

export interface PortSpec {
  /** Operator-facing name, e.g. "outside". Unique. */
  name: string;
  /**
   * DPDK device string: "net_af_packet0,iface=pco0", "net_tap0,iface=x", a PCI
   * address, or "ring" for an in-memory ring port (test mode / benchmarks).
   */
  device: string;
  /** Optional MAC to set on the port ("02:00:00:00:00:01"); default: the device's. */
  mac?: string;
  /** Optional MTU (default 1500). */
  mtu?: number;
}

export interface StartOptions {
  /** 'live': worker lcores poll; 'test': no lcores, pipeline runs inside step(). */
  mode: 'live' | 'test';
  /** EAL arguments after argv[0] (memory flags, -l/--lcores, log level). Used only by the first start(). */
  eal: string[];
  ports: PortSpec[];
  /** Worker lcores to launch (live mode). Test mode always has exactly one, on the caller. */
  workers: number;
  polling: PollingMode;
  /** Max concurrent connections per worker (default 1048576). */
  connCapacity?: number;
  /** mbufs in the packet pool (default 16383). */
  mbufs?: number;
}

export interface PortInfo {
  name: string;
  portId: number;
  mac: string;
  driver: string;
}

export interface DataplaneTimeouts {
  tcpEstablished: number; tcpSynSent: number; tcpSynRecv: number; tcpFinWait: number;
  tcpTimeWait: number; tcpClose: number; tcpCloseWait: number; tcpLastAck: number; udp: number;
}

export interface DataplaneRealServer {
  id: number;        // 1..65535, unique across all services
  address: string;
  port: number;
  weight: number;    // 0 = quiesced
}

export interface DataplaneService {
  id: number;        // 1..4095
  protocol: 'tcp' | 'udp';
  vip: string;
  port: number;
  scheduler: 'rr' | 'wrr';
  localAddresses: string[];
  timeouts: DataplaneTimeouts;  // seconds
  servers: DataplaneRealServer[];
}

export interface DataplaneConfig {
  /** Same names and order as the started ports; addresses as "198.18.0.254/24". */
  ports: { name: string; addresses: string[] }[];
  /** Static routes; connected routes come from port addresses. via omitted = on-link. */
  routes: { prefix: string; via?: string; port: string }[];
  services: DataplaneService[];
}

export interface TrafficStats {
  id: number;
  conns: number; inPackets: number; outPackets: number; inBytes: number; outBytes: number;
  activeConns: number; inactiveConns: number;
}

export interface PortStats {
  name: string;
  rxPackets: number; txPackets: number; rxBytes: number; txBytes: number;
  rxMissed: number; rxErrors: number; txErrors: number;
}

export interface DataplaneStats {
  snapshotVersion: number;
  /** Version each worker runs (index = worker). */
  workerVersions: number[];
  connections: number;
  drops: Record<DropReason, number>;
  events: Record<DataplaneEvent, number>;
  ports: PortStats[];
  /** Only ids present in the current snapshot. */
  services: TrafficStats[];
  servers: TrafficStats[];
}

export interface ConnectionEntry {
  protocol: 'tcp' | 'udp';
  client: string; clientPort: number;
  virtual: string; virtualPort: number;
  local: string; localPort: number;
  server: string; serverPort: number;
  serviceId: number; serverId: number;
  state: string;
  expiresInMs: number;
}

export interface BenchResult {
  scenario: 'io' | 'fullnat';
  packets: number;
  cycles: number;
  tscHz: number;
}

export interface DataplaneAddon {
  /** Initialises EAL on first call, creates ports, mempool and workers. Throws ESTATE if started. */
  start(options: StartOptions): PortInfo[];
  /** Builds and publishes a snapshot; returns its version. Throws CONFIG_REJECTED leaving the old one live. */
  apply(config: DataplaneConfig): { version: number };
  stats(): DataplaneStats;
  /** Test mode (or live when stopped workers); cursor paging. */
  connections(cursor: number, limit: number): ConnectionEntry[];
  /** Stops workers and ports. Live mode also cleans up EAL (then start() throws EAL_GONE). Harmless when not started. */
  stop(): void;
  ports(): PortInfo[];

  // ---- test mode only (ESTATE otherwise) ----
  /** Enqueues frames on the port's rx ring; returns how many fit. */
  inject(port: string, frames: Buffer[]): number;
  /** Runs timers, then rx bursts on every port until all rx rings are empty; returns packets received. */
  step(): number;
  /** Drains the port's tx ring. */
  capture(port: string): Buffer[];
  /** Moves the injected clock forward; timers fire on the next step(). */
  advanceClock(ms: number): void;
  /**
   * Pipeline benchmark on two ring ports created for it ("outside"/"inside" of the current
   * test-mode start): 'io' = rx→tx with a mirror, no pipeline; 'fullnat' = established
   * flows through the pipeline both ways. Frames are CIP→VIP for the started config.
   */
  bench(options: { scenario: 'io' | 'fullnat'; packets: number; flows: number }): BenchResult;
}
