// Each cluster-lab gateway's configuration, in the daemon's YAML: both ports with an exception
// path (BGP and ownership sync reach the namespace's kernel through pcx-outside, health checks
// leave by pcx-inside), a route back to the client segment via the edge, one web service on
// the cluster VIP with a consistent scheduler (mh: both nodes pick the same server for a
// client) over the three real servers through this node's own LIPs, a health check, and the
// `cluster` section (src/config/cluster-types.ts) with a managed gobgpd peering with the edge.
//
// Each daemon runs inside its own namespace (pc-gw1, pc-gw2), so the same loopback addresses
// (gobgpd's API 127.0.0.1:50051) and the same interface names (out0, in0, pcx-*) serve both;
// what the two share is the file system, so socket, state file, audit log and key file are
// per node, and the metrics ports differ (9471, 9472) to tell them apart in docs and banners.

import { join } from 'node:path';
import { GATEWAY_AF_PACKET_ARGS } from './topology.js';
import {
  CLIENT_SUBNET, CLUSTER_GATEWAYS, CLUSTER_HOLD_TIME, CLUSTER_HTTP_PORT, CLUSTER_PREFIX_LENGTH, CLUSTER_REAL_SERVERS, CLUSTER_VIP,
  EDGE, GATEWAY_ASN, GATEWAY_INSIDE_IFACE_CLUSTER, GATEWAY_NODE_IFACE, NODE_SEGMENT_MTU, type ClusterGateway,
} from './cluster-topology.js';

export const CLUSTER_SYNC_PORT = 7946;
/**
 * The gateways' ports[].mtu on the node segment: the segment's own MTU, so a full-size client
 * packet (1500) handed off to its owner fits with its 20-byte IPIP header. The port's exception
 * interface gets the same MTU (core/port_mtu.cpp sets a tap's MTU through the kernel).
 */
export const GATEWAY_NODE_PORT_MTU = NODE_SEGMENT_MTU;
export const CLUSTER_GOBGP_API = '127.0.0.1:50051';
/** The health check of the lab's service: a server is down 1 s after it stops answering. */
export const CLUSTER_HEALTH_CHECK = { kind: 'http', intervalMs: 500, timeoutMs: 400, rise: 2, fall: 2 } as const;

/** The files of one node, all under its own directory. */
export interface ClusterNodePaths {
  socket: string;
  stateFile: string;
  auditLog: string;
  keyFile: string;
}

/** A node's files under `dir` (one directory per node: nothing is shared between the two daemons). */
export function clusterNodePaths(dir: string): ClusterNodePaths {
  return {
    socket: join(dir, 'portcullis.sock'),
    stateFile: join(dir, 'state.json'),
    auditLog: join(dir, 'audit.log'),
    keyFile: join(dir, 'cluster.key'),
  };
}

export interface ClusterConfigOptions {
  paths: ClusterNodePaths;
  /**
   * Write the `cluster` section (default true). false: the same gateway without BGP, sync or
   * hand-off, for a daemon that does not know the section yet; the lab's own gobgpd
   * (test/support/cluster-lab.ts) then announces the VIP instead.
   */
  withCluster?: boolean;
  /** Default mh. sh works the same way (consistent across nodes); rr does not. */
  scheduler?: 'mh' | 'sh';
  /** Default /usr/bin/gobgpd. */
  gobgpd?: string;
}

export function gatewayDevices(): { outside: string; inside: string } {
  return {
    outside: `net_af_packet0,iface=${GATEWAY_NODE_IFACE},${GATEWAY_AF_PACKET_ARGS}`,
    inside: `net_af_packet1,iface=${GATEWAY_INSIDE_IFACE_CLUSTER},${GATEWAY_AF_PACKET_ARGS}`,
  };
}

function clusterSection(gateway: ClusterGateway, options: ClusterConfigOptions): string {
  const nodes = CLUSTER_GATEWAYS.map((node) => `    - { name: ${node.name}, address: ${node.nodeAddress} }`).join('\n');
  return `cluster:
  node: ${gateway.name}
  nodes:
${nodes}
  sync: { key_file: ${JSON.stringify(options.paths.keyFile)}, port: ${CLUSTER_SYNC_PORT}, foreign_flows: 65536 }
  bgp:
    speaker: managed
    gobgpd: ${options.gobgpd ?? '/usr/bin/gobgpd'}
    api: ${CLUSTER_GOBGP_API}
    asn: ${GATEWAY_ASN}
    router_id: ${gateway.nodeAddress}
    listen_port: 179
    peers:
      - { address: ${EDGE.nodeAddress}, asn: ${EDGE.asn}, hold_time: ${CLUSTER_HOLD_TIME}, announce: [vips] }
`;
}

/** The YAML of one gateway of the cluster lab. */
export function clusterNodeConfigYaml(gateway: ClusterGateway, options: ClusterConfigOptions): string {
  const devices = gatewayDevices();
  const check = CLUSTER_HEALTH_CHECK;
  const servers = CLUSTER_REAL_SERVERS
    .map((server) => `      - { address: ${server.address}, port: ${CLUSTER_HTTP_PORT}, weight: 1 }`).join('\n');
  return `# Portcullis cluster lab: node ${gateway.name} (runs in namespace ${gateway.namespace}).
dataplane: { workers: 1, lcores: "0-1", polling: adaptive, memory_mb: 256, hugepages: auto, conn_capacity: 65536 }
api: { socket: ${JSON.stringify(options.paths.socket)} }
metrics: { listen: 127.0.0.1:${gateway.metricsPort} }
state_file: ${JSON.stringify(options.paths.stateFile)}
defense: { audit_log: ${JSON.stringify(options.paths.auditLog)} }
ports:
  - { name: outside, device: "${devices.outside}", addresses: [${gateway.nodeAddress}/${CLUSTER_PREFIX_LENGTH}], mtu: ${GATEWAY_NODE_PORT_MTU}, exception_path: true }
  - { name: inside, device: "${devices.inside}", addresses: [${gateway.insideAddress}/${CLUSTER_PREFIX_LENGTH}], exception_path: true }
routes:
  - { prefix: ${CLIENT_SUBNET}, via: ${EDGE.nodeAddress}, port: outside }
services:
  - name: web
    protocol: tcp
    vip: ${CLUSTER_VIP}
    port: ${CLUSTER_HTTP_PORT}
    scheduler: ${options.scheduler ?? 'mh'}
    local_addresses: [${gateway.localAddresses.join(', ')}]
    health_check: { kind: ${check.kind}, interval_ms: ${check.intervalMs}, timeout_ms: ${check.timeoutMs}, rise: ${check.rise}, fall: ${check.fall} }
    servers:
${servers}
${options.withCluster === false ? '' : clusterSection(gateway, options)}`;
}
