// The `cluster` section of the config (docs/cluster.md): this node among its peers, the
// ownership sync between nodes, and the BGP speaker that announces the VIPs to the routers.
// Absent section = a standalone gateway: no BGP, no sync, no hand-off.

/** One gateway of the cluster, this one included. */
export interface ClusterNode {
  /** Unique name, [a-z0-9-], at most 32 characters. */
  name: string;
  /**
   * The node's address on the port facing the routers (for this node: one of its port
   * addresses). Ownership sync goes to it over UDP and handed-off packets are sent to it
   * encapsulated (IPIP / IPv6-in-IPv4 when the node addresses are IPv4).
   */
  address: string;
}

export interface ClusterSync {
  /** File holding the shared key (≥ 32 bytes after trimming): every sync message carries its HMAC-SHA256. */
  keyFile: string;
  /** UDP port the nodes exchange ownership batches on (on their node addresses). Default 7946. */
  port: number;
  /** Bound of the foreign-flow table (flows other nodes own), entries per node; oldest evicted, counted. */
  foreignFlows: number;
}

export interface BgpPeer {
  /** The router's address. */
  address: string;
  asn: number;
  /** Seconds; 0 = no keepalives (RFC 4271), else 3..65535. Default 90. */
  holdTime: number;
  /** What this peer is sent: the VIPs (routers in front), the LIPs (routers towards the servers), or both. */
  announce: Array<'vips' | 'lips'>;
  /**
   * The router's BGP TCP port; absent = 179. For a router that listens elsewhere (the api tests
   * run a second gobgpd as the router on loopback beside the daemon's own).
   */
  port?: number;
}

export interface BgpSettings {
  /** managed: the daemon runs gobgpd itself and restarts it; external: one is already running at `api`. */
  speaker: 'managed' | 'external';
  /** Path of gobgpd (managed). Default /usr/bin/gobgpd. */
  gobgpd: string;
  /** host:port of gobgpd's gRPC API. Default 127.0.0.1:50051. */
  api: string;
  asn: number;
  /** IPv4 dotted quad. */
  routerId: string;
  /** TCP port gobgpd listens for BGP on; -1 = it only connects out. Default 179. */
  listenPort: number;
  peers: BgpPeer[];
}

export interface ClusterSettings {
  /** This node's name: one of `nodes`. */
  node: string;
  nodes: ClusterNode[];
  sync: ClusterSync;
  bgp: BgpSettings;
}

export const DEFAULT_SYNC_PORT = 7946;
export const DEFAULT_FOREIGN_FLOWS = 1 << 20;
export const DEFAULT_GOBGPD = '/usr/bin/gobgpd';
export const DEFAULT_GOBGP_API = '127.0.0.1:50051';
export const DEFAULT_BGP_HOLD_TIME = 90;
