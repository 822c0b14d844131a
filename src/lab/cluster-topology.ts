// The cluster lab's fixed topology (docs/cluster.md): an edge router running BIRD 2 in
// front of two gateways, each gateway daemon in a namespace of its own. Every name and address
// the cluster lab, its configs, the demo, the e2e tests and the docs agree on is here.
// IPv4 only, from the RFC 2544 benchmarking range (198.18.0.0/15), never routed on the Internet.
//
//   pc-cclient ── pc-cbr-cli ── pc-edge (BIRD 2, ECMP) ── pc-cbr-node ─┬─ pc-gw1 (portcullis, gobgpd)
//   198.18.1.1-9   1500      .1.250 | .0.250                1600      └─ pc-gw2 (portcullis, gobgpd)
//                                                                           │ (af_packet out0 / in0)
//                                                     pc-crs1..3 ── pc-cbr-in ─┘  198.19.0.0/24
//
// Every namespace name differs from the normal lab's (src/lab/topology.ts), so both can exist
// at once without clashing, and `portcullis lab down` removes either.

/** Where clusterLabUp records pids, BIRD's config, socket and log; clusterLabDown removes it. */
export const CLUSTER_LAB_STATE_DIR = '/run/portcullis-cluster-lab';

/** Helper namespace holding the three bridges (why a namespace: see LAB_BRIDGE_NAMESPACE). */
export const CLUSTER_BRIDGE_NAMESPACE = 'pc-clab';
export const CLIENT_BRIDGE = 'pc-cbr-cli';
export const NODE_BRIDGE = 'pc-cbr-node';
export const CLUSTER_INSIDE_BRIDGE = 'pc-cbr-in';

/** The client segment (client ↔ edge): ordinary Ethernet. */
export const CLIENT_SEGMENT_MTU = 1500;
/**
 * The node segment (edge ↔ gateways, and gateway ↔ gateway): handed-off packets cross it
 * IPIP-encapsulated, a client's 1500-byte packet plus a 20-byte outer header, so it needs
 * at least 1520; 1600 leaves room.
 */
export const NODE_SEGMENT_MTU = 1600;
export const CLUSTER_INSIDE_MTU = 1500;

export const CLIENT_SUBNET = '198.18.1.0/24';
export const NODE_SUBNET = '198.18.0.0/24';
export const CLUSTER_INSIDE_SUBNET = '198.19.0.0/24';
export const CLUSTER_PREFIX_LENGTH = 24;

/** The VIP is on no segment: the client reaches it only through the edge, by BGP-learned routes. */
export const CLUSTER_VIP = '198.18.100.10';
export const CLUSTER_HTTP_PORT = 80;

export const EDGE_ASN = 65000;
export const GATEWAY_ASN = 65010;
/** BGP hold time of every session of the lab (seconds); keepalive is a third of it. */
export const CLUSTER_HOLD_TIME = 3;

export const EDGE = {
  namespace: 'pc-edge',
  clientIface: 'eth-client',
  nodeIface: 'eth-node',
  clientAddress: '198.18.1.250',
  nodeAddress: '198.18.0.250',
  asn: EDGE_ASN,
} as const;

export const CLUSTER_CLIENT = {
  namespace: 'pc-cclient',
  iface: 'eth0',
  // .1 is the primary; the others let tests open flows from several client addresses.
  addresses: ['198.18.1.1', '198.18.1.2', '198.18.1.3', '198.18.1.4', '198.18.1.5',
    '198.18.1.6', '198.18.1.7', '198.18.1.8', '198.18.1.9'],
} as const;

/** The gateway's veth ends inside its namespace (its af_packet ports); same names in each namespace. */
export const GATEWAY_NODE_IFACE = 'out0';
export const GATEWAY_INSIDE_IFACE_CLUSTER = 'in0';

export interface ClusterGateway {
  /** Cluster node name (the `cluster.node` of its config). */
  name: string;
  namespace: string;
  /** Its port address on the node segment: the BGP next hop and the cluster node address. */
  nodeAddress: string;
  insideAddress: string;
  /** This node's own LIPs: a real server's peer address tells which node a connection went through. */
  localAddresses: string[];
  /** Prometheus listen port (inside its namespace). */
  metricsPort: number;
  /** Bridge-side veth names in the bridge namespace. */
  bridgeNodeIface: string;
  bridgeInsideIface: string;
}

export const CLUSTER_GATEWAYS: readonly ClusterGateway[] = [
  {
    name: 'gw1', namespace: 'pc-gw1', nodeAddress: '198.18.0.251', insideAddress: '198.19.0.251',
    localAddresses: ['198.19.0.200', '198.19.0.201'], metricsPort: 9471,
    bridgeNodeIface: 'gw1-node', bridgeInsideIface: 'gw1-in',
  },
  {
    name: 'gw2', namespace: 'pc-gw2', nodeAddress: '198.18.0.252', insideAddress: '198.19.0.252',
    localAddresses: ['198.19.0.210', '198.19.0.211'], metricsPort: 9472,
    bridgeNodeIface: 'gw2-node', bridgeInsideIface: 'gw2-in',
  },
];

export interface ClusterServer {
  namespace: string;
  address: string;
  /** The name its HTTP answers carry ("rs1"), as in the normal lab. */
  serverName: string;
}

export const CLUSTER_REAL_SERVERS: readonly ClusterServer[] = [1, 2, 3].map((index) => ({
  namespace: `pc-crs${index}`,
  address: `198.19.0.${index}`,
  serverName: `rs${index}`,
}));

/** Which gateway a connection went through, from the LIP the real server saw ("198.19.0.210:40000" → gw2). */
export function gatewayOfPeer(peer: string): ClusterGateway | undefined {
  const address = peer.replace(/:\d+$/, '');
  return CLUSTER_GATEWAYS.find((gateway) => gateway.localAddresses.includes(address));
}

/** Every namespace clusterLabUp creates and clusterLabDown deletes (none is the normal lab's). */
export const CLUSTER_LAB_NAMESPACES: readonly string[] = [
  CLUSTER_BRIDGE_NAMESPACE, EDGE.namespace, CLUSTER_CLIENT.namespace,
  ...CLUSTER_GATEWAYS.map((gateway) => gateway.namespace),
  ...CLUSTER_REAL_SERVERS.map((server) => server.namespace),
];

/** BIRD's control socket (birdc -s), config, pid file and log, in the state dir. */
export const BIRD_FILES = {
  config: `${CLUSTER_LAB_STATE_DIR}/bird.conf`,
  socket: `${CLUSTER_LAB_STATE_DIR}/bird.ctl`,
  pidFile: `${CLUSTER_LAB_STATE_DIR}/bird.pid`,
  log: `${CLUSTER_LAB_STATE_DIR}/bird.log`,
} as const;
