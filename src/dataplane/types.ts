// The addon's JavaScript surface. This file is the contract between the C++
// data plane (dataplane/addon) and everything in TypeScript; src/dataplane/addon.ts
// is the only module that loads the .node file. Addresses are dotted-quad strings,
// ports and ids plain numbers. Every addon function throws an Error with a
// stable `code` (see AddonErrorCode) and never crashes the process on bad input.

export type DropReason =
  | 'malformed_l2' | 'rx_segmented' | 'malformed_l3' | 'malformed_l4' | 'malformed_arp'
  | 'unsupported_l3' | 'unsupported_l4' | 'not_for_us' | 'arp_not_for_us'
  | 'frag_dropped' | 'ttl_exceeded' | 'icmp_unsupported' | 'no_service' | 'no_conn'
  | 'no_real_server' | 'no_local_address' | 'lport_exhausted' | 'conn_table_full'
  | 'no_route' | 'neigh_unresolved' | 'neigh_queue_full' | 'tx_full'
  | 'mbuf_alloc_failed' | 'redirect_ring_full'
  | DefenseDropReason
  | 'bad_cookie' | 'synproxy_hold_full' | 'synproxy_handshake_pending' | 'synproxy_server_failed'
  | 'frag_overlap' | 'frag_oversize' | 'frag_timeout' | 'frag_table_full' | 'frag_too_many' | 'frag_rate_limited'
  | 'frag_out_failed' | 'frag_header_chain_incomplete'
  | 'tunnel_frag_needed' | 'egress_mtu_exceeded'
  | 'client_address_bad_checksum'
  | 'ipv6_malformed' | 'ipv6_ext_header_malformed' | 'ipv6_option_unrecognized' | 'ipv6_routing_header'
  | 'ipv6_unsupported_next_header' | 'ipv6_bad_address'
  | 'icmp6_bad_checksum' | 'nd_invalid' | 'nd_not_for_us' | 'nat64_icmp_untranslatable'
  | 'handoff_over_mtu' | 'handoff_foreign_source' | 'handoff_bad_encapsulation';

/** Drop reasons the flood defences give (dataplane/common/defense_counters.h, same order). */
export type DefenseDropReason =
  | 'acl_denied' | 'udp_source_rate_limited' | 'udp_service_rate_limited'
  | 'conn_rate_limited' | 'conn_limit_reached'
  | 'frag_dropped' | 'frag_rate_limited';

export type DataplaneEvent =
  | 'rx_packets' | 'tx_packets' | 'arp_requests_answered' | 'arp_requests_sent'
  | 'arp_replies_learned' | 'icmp_echo_answered' | 'conns_created' | 'conns_expired'
  | 'packets_forwarded_in' | 'packets_forwarded_out' | 'neigh_queued' | 'snapshots_adopted'
  | 'synproxy_syn_answered' | 'synproxy_cookies_accepted' | 'synproxy_server_syns' | 'synproxy_server_handshakes' | 'synproxy_client_resets'
  | 'toa_added' | 'toa_no_room' | 'toa_over_mtu' | 'toa_mss_lowered' | 'toa_client_option_removed'
  | 'proxy_segment_trimmed'
  | 'uoa_added' | 'uoa_no_room' | 'uoa_over_mtu' | 'uoa_client_option_removed'
  | 'proxy_dgram_added' | 'proxy_dgram_skipped'
  | 'icmp_errors_to_client' | 'icmp_errors_to_server'
  | 'persist_templates_created' | 'persist_template_hits' | 'persist_table_full'
  | 'exception_punted'
  | 'frag_reassembled' | 'frag_refragmented' | 'frag_joined' | 'frag_out_pieces'
  | 'synproxy_auto_engaged' | 'synproxy_auto_disengaged'
  | 'tcp_resets_from_server' | 'tcp_resets_from_client'
  | 'icmp_frag_needed_sent' | 'icmp6_packet_too_big_sent' | 'mss_clamped'
  | 'redirected_out' | 'redirected_in' | 'arp_replies_shared' | 'nd_advertisements_shared'
  | 'nd_solicitations_answered' | 'nd_solicitations_sent' | 'nd_advertisements_learned'
  | 'nd_router_messages_ignored' | 'nd_dad_probes_ignored' | 'icmp6_echo_answered' | 'nat64_mss_lowered'
  | 'ownership_exported' | 'ownership_export_overflow' | 'foreign_flows_learned' | 'foreign_flows_evicted'
  | 'handoff_sent' | 'handoff_received' | 'takeover_discarded'
  | 'quic_routed_by_id' | 'quic_id_unknown' | 'quic_malformed'
  | 'session_events_queued' | 'session_events_lost'
  | 'client_flows_handed_over' | 'reassembled_handed_over'
  | 'capture_copies' | 'capture_lost';

export type AddonErrorCode =
  | 'EINVAL'            // an argument is missing or of the wrong type/range (message names it)
  | 'ESTATE'            // wrong lifecycle state (e.g. apply before start, step in live mode)
  | 'EAL_INIT_FAILED'   // rte_eal_init failed (message has rte_strerror and the args)
  | 'EAL_GONE'          // live mode ran rte_eal_cleanup; DPDK cannot start again in this process
  | 'PORT_FAILED'       // probe/configure/start of a port failed (message names port and device)
  | 'NOMEM'             // mempool/table allocation failed
  | 'EBUSY'             // the connection region is locked by another process (message names it)
  | 'CONFIG_REJECTED';  // snapshot_build refused the config (message names the field)

/** Per-service client-address carriage (FullNAT hides the client from the real server). */
export type ClientAddressMode = 'none' | 'toa' | 'proxy_v1' | 'proxy_v2' | 'uoa_ipo' | 'uoa_opp';

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
  /**
   * Exception path (DESIGN.md §3): also create kernel interface "pcx-<name>" (cut to 15
   * characters; a ring port of that name in test mode) with the port's MAC. TCP/UDP to
   * the port's addresses and ARP replies for them go to it; what it sends leaves by the port.
   */
  exceptionPath?: boolean;
}

export interface StartOptions {
  /** 'live': worker lcores poll; 'test': no lcores, pipeline runs inside step(). */
  mode: 'live' | 'test';
  /** EAL arguments after argv[0] (memory flags, -l/--lcores, log level). Used only by the first start(). */
  eal: string[];
  ports: PortSpec[];
  /**
   * Workers (1..64): live mode launches one lcore each; test mode runs them all on the caller's
   * thread inside step(). Each gets its own rx/tx queue on every port and its lport residue class.
   */
  workers: number;
  polling: PollingMode;
  /**
   * BENCHMARK ONLY (bench/lab.ts): live workers bridge instead of running the pipeline;
   * every frame from port i leaves unchanged by port i^1 (dataplane/bench/bench_bridge.h).
   */
  benchBridge?: boolean;
  /** Max concurrent connections per worker (default 1048576). */
  connCapacity?: number;
  /** mbufs in the packet pool (default 16383). */
  mbufs?: number;
  /** Per-worker IPv4 reassembly table (fragment policy limit/reassemble); absent fields = defaults. */
  fragments?: FragmentTableOptions;
  /**
   * Connection region (dataplane/core/conn_region.h): the connection tables live in this file, mapped
   * shared, and outlive the process. A compatible region left by an earlier process is adopted; an
   * incompatible or corrupt one is renamed aside (`<path>.rejected-<unix seconds>`) and a new one made.
   * Absent: the tables live in process memory (tests, benchmarks).
   */
  connRegion?: ConnRegionOptions;
}

export interface ConnRegionOptions {
  /** The region file: on hugetlbfs (e.g. /dev/hugepages/...) when hugepages are used, else on tmpfs (/dev/shm/...). */
  path: string;
  /**
   * Takeover (new side): start without taking the region; the workers discard what they receive until
   * release(). The region must exist and be adoptable (EINVAL otherwise, the file untouched). Without it,
   * start() takes the region's lock and fails (EBUSY) while another process holds it.
   */
  holdUntilRelease?: boolean;
}

/** What happened to the connection region at start / release (stats().connRegion). */
export interface ConnRegionReport {
  path: string;
  /** 'held': waiting for release(); 'created': a new, empty region; 'adopted': an earlier process's tables were taken over. */
  outcome: 'held' | 'created' | 'adopted';
  /** Why an existing region was not adopted ('' when it was, or none existed). */
  rejectedReason: string;
  /** Where the rejected region was moved ('' when none was). */
  rejectedPath: string;
  /** Connections adopted (all workers). */
  adopted: number;
  /** Records found but not adopted, by reason (all workers). */
  dropped: {
    /** allocated but never committed to the table (the writer died mid-insert) */
    uncommitted: number;
    /** its service, server or LIP no longer exists or now means something else */
    stale: number;
    /** a tuple or lport another adopted record already holds */
    duplicate: number;
    /** a SYNPROXY backend handshake in progress (its held packets died with the old process; the client retransmits) */
    synproxyPending: number;
    /** fields that cannot belong to any connection (protocol, state, ids out of range) */
    invalid: number;
  };
  /** Slowest worker's adoption, µs. */
  adoptUs: number;
}

/** Bounds of each worker's reassembly table (dataplane/common/defense_config.h FragTableConfig). */
export interface FragmentTableOptions {
  /** Incomplete datagrams held at once per worker, rounded up to a power of two (default 4096, 8..1048576). */
  sets?: number;
  /** An incomplete datagram is dropped (frag_timeout) this long after its first fragment (default 1000, 1..60000). */
  timeoutMs?: number;
  /** Fragments per datagram (default 16, 2..64); more = frag_too_many. */
  maxFragments?: number;
  /** Largest rebuilt IP datagram in bytes (default 9216, 576..65535); larger = frag_oversize. */
  maxDatagram?: number;
}

export interface PortInfo {
  name: string;
  portId: number;
  mac: string;
  driver: string;
  /** rx/tx queue pairs: one per worker. */
  queues: number;
  /** The device spreads flows over the queues with RSS (several workers, hardware hash). */
  rss: boolean;
  /** rte_flow rules steer replies to IPv4 LIPs to their owner's queue; false = the worker rings do it. */
  flowSteering: boolean;
  /** The same for replies to IPv6 LIPs (a device may take IPv4 rules and refuse IPv6 ones). */
  flowSteering6: boolean;
}

export interface DataplaneTimeouts {
  tcpEstablished: number; tcpSynSent: number; tcpSynRecv: number; tcpFinWait: number;
  tcpTimeWait: number; tcpClose: number; tcpCloseWait: number; tcpLastAck: number; udp: number;
  /** One-packet UDP: a datagram's reply entry lives this long without a reply. */
  udpOnePacket: number;
}

export interface DataplaneRealServer {
  id: number;        // 1..65535, unique across all services
  address: string;
  port: number;
  weight: number;    // 0 = quiesced
  /** ipvsadm -x: at this many connections (active + inactive, all workers) no new ones; absent/0 = none. */
  upperThreshold?: number;
  /** ipvsadm -y: new connections resume below this; absent/0 = below 3/4 of upperThreshold. */
  lowerThreshold?: number;
  /** ipvsadm -m / -g / -i; absent = 'fullnat' (dataplane/pipeline/forward/). */
  forward?: 'nat' | 'dr' | 'tun';
  /** QUIC service: the id (1..65535) this server writes at bytes 1-2 of the connection ids it issues; absent = none. */
  quicId?: number;
}

/** Every IPVS scheduler (PROTOCOL.md §5) plus mh (Maglev) and fo. */
export type DataplaneScheduler = 'rr' | 'wrr' | 'lc' | 'wlc' | 'sed' | 'nq' | 'dh' | 'sh' | 'lblc' | 'lblcr' | 'mh' | 'fo' | 'ovf' | 'twos';
/** ipvsadm -b: sh-fallback/mh-fallback (try another server when the hashed one is unusable), sh-port/mh-port (hash the source port too). */
export type DataplaneSchedFlag = 'sh-fallback' | 'sh-port' | 'mh-fallback' | 'mh-port';

export interface DataplaneService {
  id: number;        // 1..4095
  protocol: 'tcp' | 'udp';
  vip: string;
  port: number;
  scheduler: DataplaneScheduler;
  /** Absent = none. */
  schedFlags?: DataplaneSchedFlag[];
  /** Persistence (ipvsadm -p): seconds a client network keeps its server after its last connection; absent/0 = off. */
  persistenceTimeout?: number;
  /** ipvsadm -M, IPv4 VIP: client addresses are ANDed with this to form the network; absent = "255.255.255.255". */
  persistenceNetmask?: string;
  /** ipvsadm -M, IPv6 VIP: clients are grouped by this prefix length (1..128); sent with every persistent
   *  IPv6 service (128 = per address), never with an IPv4 one. */
  persistencePrefixLength?: number;
  /** How real servers learn the client address; absent = 'none' (docs/client-address.md). */
  clientAddress?: ClientAddressMode;
  /** uoa_ipo / uoa_opp: datagrams per connection that carry UOA, 1..255; absent = 3. */
  uoaDatagrams?: number;
  /** SYNPROXY: answer SYNs with cookies, open the server side only after a valid ACK; absent = false. */
  synproxy?: boolean;
  /** SYNPROXY: answer a bad-cookie ACK with RST|ACK (seq = its ack) as well as dropping it; absent = false. */
  synproxyRstOnBadCookie?: boolean;
  /** SYNPROXY auto (only with synproxy false): engage at synRate SYNs/s for the whole service,
   *  disengage after holdMs below it; absent = no auto mode. */
  synproxyAuto?: { synRate: number; holdMs: number };
  /** ipvsadm -o: each datagram scheduled on its own, reply entry only (UDP, fullnat); absent = false. */
  onePacket?: boolean;
  /** UDP only: a datagram without a connection goes to the server whose quicId its QUIC connection id carries; absent = false. */
  quic?: boolean;
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
  /** Flood defences (dataplane/pipeline/defend/); absent = none. */
  defense?: DataplaneDefense;
  /** Cluster hand-off (dataplane/pipeline/cluster/, docs/cluster.md); absent = standalone. */
  cluster?: DataplaneCluster;
  /** NAT session logging (dataplane/pipeline/conn/session_log.h, src/session-log/); absent = off. */
  sessionLog?: boolean;
}

/** The data plane's share of the `cluster` section: nodes by index, who this node is, the foreign table's bound. */
export interface DataplaneCluster {
  /** Node addresses (IPv4), index = node index; this node's must be one of its port addresses. 1..64. */
  nodes: string[];
  /** This node's index into nodes. */
  self: number;
  /** Entries of each worker's foreign-flow table (every worker holds every foreign flow), 1..2^24; ~60 B each. */
  foreignFlows: number;
  /** An entry neither learned again nor used for this long is a miss (default 900). */
  foreignIdleSeconds?: number;
}

/** CIDR list: longest prefix wins; no (unexpired) match = `default` (absent = 'allow'). */
export interface DataplaneAcl {
  default?: 'allow' | 'deny';
  /** prefix "a.b.c.d/len" (host bits zero); ttlMs: the entry stops matching that long after the
   *  worker's first packet under this config (the control plane also removes it on expiry). */
  entries: { prefix: string; action: 'allow' | 'deny'; ttlMs?: number }[];
}

/** Token bucket: pps tokens per second, at most burst tokens. */
export interface DataplaneRate { pps: number; burst: number }

/** udpPerSource: IPv6 sources share one bucket per /ipv6PrefixLength (1..128; absent = 64; the daemon
 *  always sends it); IPv4 sources one bucket per address. */
export interface DataplaneSourceRate extends DataplaneRate { ipv6PrefixLength?: number }

export interface DataplaneServiceDefense {
  serviceId: number;
  acl?: DataplaneAcl;
  /** Per (service, source address) bucket, per worker (a source's packets reach one worker). */
  udpPerSource?: DataplaneSourceRate;
  /** The whole service; split evenly between workers. */
  udpPerService?: DataplaneRate;
  /** New connections/s for the whole service; split evenly between workers. */
  newConnRate?: DataplaneRate;
  /** Concurrent connections for the whole service (each worker caps ceil(max / workers)); 0/absent = none. */
  maxConns?: number;
  /** IPv4 and IPv6 fragments to this service's VIP (and replies to its LIPs); absent = DataplaneDefense.fragments. */
  fragments?: DataplaneFragmentPolicy;
}

/**
 * drop: every fragment (frag_dropped). limit: perSource fragments/s per source, the rest reassembled.
 * reassemble: all reassembled (bounded table) before FullNAT. Services sharing a VIP (or LIP) and
 * protocol that disagree get the strictest: drop > limit (lowest rate) > reassemble.
 */
export interface DataplaneFragmentPolicy {
  policy: 'drop' | 'limit' | 'reassemble';
  /** Required with limit. */
  perSource?: DataplaneRate;
}

export interface DataplaneDefense {
  /** Checked for every packet to a VIP before the service's own list. */
  acl?: DataplaneAcl;
  /** Per-source UDP buckets per worker (bounded table, LRU eviction within a set; default 65536). */
  sourceBuckets?: number;
  services?: DataplaneServiceDefense[];
  /** Fragment policy of services without their own and of every other owned address (absent = drop). */
  fragments?: DataplaneFragmentPolicy;
}

/** What the defences did for one service (id 0 = traffic to a VIP that matched no service). */
export interface DefenseStats {
  id: number;
  /** Packets checked by a configured defence and let through (counted only while some defence is configured). */
  passed: number;
  dropped: Record<DefenseDropReason, number>;
  /** SYNPROXY auto: how many workers have it engaged for this service now (0 = not engaged). */
  synproxyEngagedWorkers?: number;
}

export interface TrafficStats {
  id: number;
  conns: number; inPackets: number; outPackets: number; inBytes: number; outBytes: number;
  activeConns: number; inactiveConns: number;
}

export interface ServerTrafficStats extends TrafficStats {
  /** Live persistence templates pointing at the server, summed over workers (ipvsadm PersistConn). */
  persistentConns: number;
  /** Passive health: ICMP destination unreachable about its UDP connections' datagrams (port unreachable and the like). */
  icmpUnreachable: number;
  /** Passive health: RSTs it sent on opening or established TCP connections. */
  resets: number;
}

/** One LIP of one service (DPVS --get-laddr), summed over workers. */
export interface LocalAddressStats {
  serviceId: number;
  address: string;
  /** Live FullNAT connections of the service that use this LIP. */
  connections: number;
  /** New connections that found every lport of this LIP (of the worker that took them) in use. */
  conflicts: number;
}

export interface PortStats {
  name: string;
  rxPackets: number; txPackets: number; rxBytes: number; txBytes: number;
  rxMissed: number; rxErrors: number; txErrors: number;
  /** The ethdev's link status (rte_eth_link_get_nowait); af_packet reports up while started. */
  linkUp?: boolean;
  /** Link changes the daemon's poll saw since start (src/daemon/link-monitor.ts; absent in the raw addon stats). */
  linkChanges?: number;
}

export interface DataplaneStats {
  snapshotVersion: number;
  /** Version each worker runs (index = worker). */
  workerVersions: number[];
  /** Live mode: TSC cycles each worker spent in loop iterations that received packets / that did not (sleeps included). */
  workerBusyCycles: number[];
  workerIdleCycles: number[];
  /** What connection listing cost each worker (index = worker): one scan runs per loop iteration at most. */
  workerListingScans: ListingScanStats[];
  /** TSC frequency, to turn cycles into seconds. */
  tscHz: number;
  connections: number;
  /** Packet mbufs currently allocated (held by rings, queues or in flight); returns to its idle baseline when traffic stops. */
  mbufsInUse: number;
  drops: Record<DropReason, number>;
  events: Record<DataplaneEvent, number>;
  ports: PortStats[];
  /** Only ids present in the current snapshot. */
  services: TrafficStats[];
  servers: ServerTrafficStats[];
  /** Every service's LIPs, in config order. */
  localAddresses: LocalAddressStats[];
  /** Flood defences: id 0 first, then the ids present in the current snapshot. */
  defense: DefenseStats[];
  /** Present when started with connRegion. */
  connRegion?: ConnRegionReport;
}

export interface ConnectionPage {
  connections: ConnectionEntry[];
  /** Where the next page starts; 0 = done (a short or empty page with a non-zero cursor is not the end). */
  nextCursor: number;
}

/** Connection listing's work on one worker's thread (dataplane/core/conn_listing.h). */
export interface ListingScanStats {
  /** Scans run. */
  scans: number;
  /** Connection records they read, in total. */
  slots: number;
  /** Most records one scan read. */
  maxSlots: number;
  /** TSC cycles they took, in total. */
  cycles: number;
  /** Longest scan, TSC cycles (tscHz turns them into seconds). */
  maxCycles: number;
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

/** Opt-in packet trace (DESIGN.md §9): which packets each worker records. */
export interface TraceOptions {
  enabled: boolean;
  /** Record the packets of this service (its connections' both directions) ... */
  serviceId?: number;
  /** ... or every FullNAT packet received on this port (name as in start()). Neither: all packets. */
  port?: string;
  /** Ring size per worker, 1..4096 (default 4096); older unread records are overwritten. */
  maxRecords?: number;
}

/** One packet's fate. Out tuple is 0.0.0.0:0 when the packet made or found no connection. */
export interface TraceRecord {
  timeUs: number;
  worker: number;
  port: string;
  protocol: 'tcp' | 'udp';
  inSource: string; inSourcePort: number;
  inDestination: string; inDestinationPort: number;
  outSource: string; outSourcePort: number;
  outDestination: string; outDestinationPort: number;
  serviceId: number; serverId: number;
  /** handed_over: given to the worker its client names (NAT/persistent service, several workers), traced again there. */
  verdict: 'forwarded' | 'dropped' | 'handed_over';
  /** '' unless dropped. */
  dropReason: DropReason | '';
  /** Connection state after the packet; '' without a connection. */
  state: string;
}

/** Opt-in packet capture (issue 21): which packets each worker copies, and how much of each. */
export interface PacketCaptureOptions {
  enabled: boolean;
  /** Copy the packets of this service (both directions of its connections) ... */
  serviceId?: number;
  /** ... or every packet the connection stage receives on this port (name as in start()). Neither: all. */
  port?: string;
  /** Bytes kept per packet, 1..2048 (default 2048). */
  snaplen?: number;
}

/** One copy: as received by the connection stage ('in') or as sent, after translation ('out'). */
export interface CapturedPacket {
  /** Worker clock; add clockOffsetUs for wall-clock microseconds. */
  timeUs: number;
  worker: number;
  /** In-port ('in') or out-port ('out'). */
  port: string;
  direction: 'in' | 'out';
  /** The frame's whole length (data holds at most snaplen bytes of it). */
  wireLength: number;
  data: Buffer;
}

export interface PacketCaptureBatch {
  /** Oldest first across workers. */
  packets: CapturedPacket[];
  /** Copies refused since the last read because a worker's ring was full. */
  lost: number;
  /** Worker clock -> wall clock (µs); 0 in test mode (the injected clock stays). */
  clockOffsetUs: number;
}

/**
 * io: raw ring I/O; fullnat: established flows; synproxy: client SYNs answered with cookie SYN-ACKs;
 * newconn: every packet a new flow's SYN; drop: every packet dropped by the applied defences;
 * cold: established FullNAT over `connections` live connections, random flows, headers flushed
 * from the caches; connections: whole TCP connections (7 packets, expiry and free) per batch.
 */
export type BenchScenario = 'io' | 'fullnat' | 'synproxy' | 'newconn' | 'drop' | 'cold' | 'connections';

export interface BenchResult {
  scenario: BenchScenario;
  packets: number;
  /** The data plane's cycles (rx, pipeline, tx): the measured loop minus harnessCycles. */
  cycles: number;
  /** Simulated clients/servers and newconn's table emptying, timed and excluded from cycles. */
  harnessCycles: number;
  /** The loop timed in chunks of 2048 packets: the median chunk's cycles/packet (robust to preemption)... */
  chunkMedian: number;
  /** ...and the 10th percentile (robust to a box where most chunks share the CPU). */
  chunkP10: number;
  chunkP90: number;
  chunks: number;
  /** Wall-clock nanoseconds of the measured loop, simulated peers included. */
  wallNs: number;
  /** Frames the data plane sent in the measured loop (ARP/ND excluded). */
  packetsOut: number;
  /** Outputs compared with what they must be, and how many were wrong (the row then fails). */
  outputChecked: number;
  outputErrors: number;
  /** What the first wrong output was ('' when none). */
  firstError: string;
  /** cold: live connections; connections: connections completed (client saw the server's FIN). */
  connections: number;
  connsExpired: number;
  tscHz: number;
  /** Packets dropped (any reason) and connections created during the measured loop. */
  dropped: number;
  connsCreated: number;
}

export interface BenchMemoryResult {
  /** Connections inserted (fewer than asked = the table refused one). */
  connections: number;
  /** rte_malloc heap growth for a worker created with that capacity and filled. */
  dpdkBytes: number;
  /** libc heap growth over the same span. */
  libcBytes: number;
}

export interface DataplaneAddon {
  /** Initialises EAL on first call, creates ports, mempool and workers. Throws ESTATE if started. */
  start(options: StartOptions): PortInfo[];
  /** Builds and publishes a snapshot; returns its version. Throws CONFIG_REJECTED leaving the old one live. */
  apply(config: DataplaneConfig): { version: number };
  stats(): DataplaneStats;
  /**
   * One page of the connection tables (dataplane/core/conn_listing.h). cursor: 0 for the first page, then
   * the previous page's nextCursor (a record position: worker * 2^32 + record). limit: 1..65536. A call
   * reads at most 262144 records over all workers, so a page may be short, even empty, with more behind
   * it: nextCursor 0 (and only 0) means every table was read. Each connection that lives through a walk
   * is listed exactly once; one created or removed during it at most once. Live mode: each 1024-record
   * scan runs on the worker's thread, one per loop iteration. Throws EINVAL for a limit out of range or
   * a cursor this data plane did not hand out (worker or record out of range), ESTATE if a worker does
   * not answer within 500 ms.
   */
  connections(cursor: number, limit: number): ConnectionPage;
  /** Stops workers and ports. Live mode also cleans up EAL (then start() throws EAL_GONE). Harmless when not started. */
  stop(): void;

  // ---- restart and takeover (dataplane/core/conn_region.h); need connRegion at start ----
  /**
   * Takeover, old side: every worker finishes its burst and stops forwarding (what arrives is discarded,
   * counted as event takeover_discarded), runs no timer, writes nothing more to the region; then the
   * region's lock is released. Returns when every worker is held: heldAtUs = CLOCK_MONOTONIC µs then.
   * Throws ESTATE without a region or when a worker does not answer within 1 s (the others are resumed).
   */
  handOver(): { heldAtUs: number };
  /** Takeover failed, old side: take the lock again and forward again. Throws EBUSY when another process took it. */
  resume(): void;
  /**
   * Takeover, new side (started with holdUntilRelease): takes the region's lock (EBUSY while the old process
   * holds it), then every worker adopts its table and starts forwarding. Returns the report when all have.
   */
  release(): ConnRegionReport;
  /**
   * TEST MODE ONLY: every invariant of every worker's tables, as a list of violations (empty = consistent):
   * each committed record is found by its tuples (one for DR/TUN) and filed once in the timer wheel,
   * every index entry names a committed record whose tuple it matches, free list + records = capacity,
   * every lport bit is held by exactly one FullNAT record, gauges equal the records counted.
   */
  checkConnTables(): string[];
  ports(): PortInfo[];
  /** Replaces every worker's trace filter and empties the rings (live: through the worker mailbox).
   *  Throws EINVAL on bad options, ESTATE when not started or a worker does not answer, NOMEM. */
  traceSet(options: TraceOptions): void;
  /** Drains every worker's unread trace records, oldest first; lost = overwritten before read. */
  traceRead(): { records: TraceRecord[]; lost: number };
  /** Replaces every worker's capture filter and empties the rings; enabled=false stops and frees them
   *  (always harmless). Throws EINVAL on bad options, ESTATE when not started or a worker does not
   *  answer, NOMEM (then no worker captures). */
  packetCaptureSet(options: PacketCaptureOptions): void;
  /** Drains every worker's copies (at most 2048 per worker per read). */
  packetCaptureRead(): PacketCaptureBatch;

  // ---- cluster hand-off (dataplane/pipeline/cluster/handoff.h), either mode ----
  /**
   * Takes up to max (default 65536, 1..2^20) ownership records of the connections the workers made
   * since the last call: 40 bytes each (client address 16, VIP 16, client port 2, VIP port 2,
   * protocol 1, zero 3; IPv4 addresses as ::ffff:a.b.c.d, ports network order). Throws ESTATE before start.
   */
  ownershipDrain(max?: number): Buffer;
  /**
   * Queues other nodes' ownership records (same layout, a multiple of 40 bytes) for every worker's
   * foreign-flow table, owner = that node's index (0..63); the workers take them on their next timer
   * run (test mode: the next step()). Returns how many records every worker took (the rest did not fit
   * the per-worker queue of 16384). Throws EINVAL for a bad length or owner, ESTATE before start.
   */
  foreignLearn(records: Buffer, owner: number): number;

  // ---- NAT session logging (dataplane/pipeline/conn/session_log.h), either mode ----
  /**
   * Takes up to max (default 65536, 1..2^20) session records the workers queued since the last call
   * (config.sessionLog on): 128 bytes each, decoded by src/session-log/records.ts. nowUs: the workers'
   * clock when the drain began (record times are on that clock). Throws ESTATE before start.
   */
  sessionLogDrain(max?: number): { records: Buffer; nowUs: number };

  // ---- ring ports, test or live mode (EINVAL for other devices) ----
  /**
   * Enqueues frames on the port's rx ring for `queue` (default 0; queue w is read by worker w,
   * EINVAL beyond the worker count); returns how many fit.
   */
  inject(port: string, frames: Buffer[], queue?: number): number;
  /** Drains the port's tx rings (every worker's queue). */
  capture(port: string): Buffer[];

  // ---- test mode only (ESTATE otherwise) ----
  /**
   * Runs every worker's timers, then rx bursts on every port (and, with several workers, the
   * rings between workers), worker by worker, until everything is empty; returns packets received.
   */
  step(): number;
  /** Moves the injected clock forward; timers fire on the next step(). */
  advanceClock(ms: number): void;
  /**
   * Pipeline benchmark on two ring ports created for it ("outside"/"inside" of the current
   * test-mode start): 'io' = rx→tx, no pipeline; 'fullnat' = established flows both ways;
   * 'synproxy' = SYNs answered with cookies; 'newconn' = a new flow per packet (table emptied
   * every roundConnections, default 200000, unmeasured); 'drop' = packets the applied defences
   * drop. Frames are CIP→VIP for the first service of the applied config; the simulated hosts'
   * work is timed and excluded (harnessCycles). Throws EINVAL when the config does not fit.
   */
  bench(options: { scenario: BenchScenario; packets: number; flows: number; roundConnections?: number; connections?: number }): BenchResult;
  /**
   * Memory per connection: a worker of its own with capacity = connections, filled directly
   * (with IPv4 connections, or IPv6 ones with family 'ipv6'), then freed.
   */
  benchMemory(options: { connections: number; family?: 'ipv4' | 'ipv6' }): BenchMemoryResult;
  /**
   * TEST ONLY: puts count synthetic TCP connections (numbered from first, default 0: distinct tuples
   * per number) straight into worker's table (default 0), no packets; returns how many went in
   * (fewer = table full). EINVAL for a worker that does not exist.
   */
  fillConnections(options: { count: number; worker?: number; first?: number }): number;
}
