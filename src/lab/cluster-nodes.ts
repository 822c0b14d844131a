// Starting the cluster lab's two gateway daemons, each inside its own namespace, as an
// operator would (`ip netns exec pc-gwN portcullis run …`): per-node directory with its
// config, socket, state file, audit log and a copy of the shared cluster key.
//
// Two data planes on one host: the EAL runs with --in-memory (hugepages) or --no-huge
// --no-shconf (src/dataplane/addon.ts), so neither creates a shared config file, a
// multi-process socket or hugepage files under /var/run/dpdk: the two cannot collide there
// and no --file-prefix is needed (docs/cluster.md says how that was checked).

import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { clusterNodeConfigYaml, clusterNodePaths, type ClusterConfigOptions, type ClusterNodePaths } from './cluster-config.js';
import { CLUSTER_GATEWAYS, type ClusterGateway } from './cluster-topology.js';
import { startDaemon, type DaemonProcess } from './daemon-process.js';

export interface ClusterNodeProcess {
  gateway: ClusterGateway;
  daemon: DaemonProcess;
  paths: ClusterNodePaths;
  configPath: string;
}

export interface StartClusterNodesOptions extends Pick<ClusterConfigOptions, 'withCluster' | 'scheduler'> {
  readyTimeoutMs?: number;
  /** Called with every chunk a daemon writes, and which node wrote it. */
  onOutput?: (node: string, chunk: string) => void;
  /** Only these gateways (default both). */
  gateways?: readonly ClusterGateway[];
}

/** Writes each node's directory (config, key) under workDir; returns its paths and config file. */
export async function writeClusterNodeFiles(workDir: string, options: StartClusterNodesOptions = {}):
  Promise<{ gateway: ClusterGateway; paths: ClusterNodePaths; configPath: string }[]> {
  // One shared key, one copy per node (as on separate hosts); ≥ 32 bytes, owner-only.
  const key = `${randomBytes(32).toString('hex')}\n`;
  const nodes = [];
  for (const gateway of options.gateways ?? CLUSTER_GATEWAYS) {
    const dir = join(workDir, gateway.name);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const paths = clusterNodePaths(dir);
    await writeFile(paths.keyFile, key, { mode: 0o600 });
    const configPath = join(dir, 'portcullis.yaml');
    await writeFile(configPath, clusterNodeConfigYaml(gateway, { ...options, paths }));
    nodes.push({ gateway, paths, configPath });
  }
  return nodes;
}

/** Starts one node's daemon in its namespace with the files writeClusterNodeFiles wrote. */
export async function startClusterNode(node: { gateway: ClusterGateway; paths: ClusterNodePaths; configPath: string },
  options: StartClusterNodesOptions = {}): Promise<ClusterNodeProcess> {
  const daemon = await startDaemon({
    configPath: node.configPath, socketPath: node.paths.socket, stateFilePath: node.paths.stateFile,
    namespace: node.gateway.namespace, readyTimeoutMs: options.readyTimeoutMs ?? 60_000,
    onOutput: options.onOutput ? (chunk) => options.onOutput!(node.gateway.name, chunk) : undefined,
  });
  return { ...node, daemon };
}

/**
 * Writes the nodes' files and starts every node's daemon (one after the other: two EAL
 * start-ups at once on a 2-CPU box only make each slower). On failure stops what started.
 */
export async function startClusterNodes(workDir: string, options: StartClusterNodesOptions = {}): Promise<ClusterNodeProcess[]> {
  const started: ClusterNodeProcess[] = [];
  try {
    for (const node of await writeClusterNodeFiles(workDir, options)) started.push(await startClusterNode(node, options));
    return started;
  } catch (error) {
    await stopClusterNodes(started);
    throw error;
  }
}

/** SIGTERM every node (SIGKILL after timeoutMs); harmless for nodes already gone. */
export async function stopClusterNodes(nodes: readonly ClusterNodeProcess[], timeoutMs = 10_000): Promise<void> {
  await Promise.all(nodes.map((node) => node.daemon.stop(timeoutMs)));
}
