// `portcullis demo --cluster`: the cluster lab, both gateway daemons (each in its namespace,
// announcing the VIP to the edge router over BGP), and a banner of things to try; Ctrl-C (or
// SIGTERM) stops both gateways, tears the lab down and exits 0.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clusterLabDown, clusterLabUp } from './cluster-lab.js';
import { startClusterNodes, stopClusterNodes, type ClusterNodeProcess } from './cluster-nodes.js';
import { BIRD_FILES, CLUSTER_CLIENT, CLUSTER_HTTP_PORT, CLUSTER_VIP, EDGE, GATEWAY_ASN } from './cluster-topology.js';
import { portcullisCliPath } from './daemon-process.js';
import { patternSha256 } from './pattern.js';
import { removeConnRegionFiles } from '../config/conn-region.js';

const DEMO_DOWNLOAD_BYTES = 20_000_000;

/** What the cluster demo prints once both gateways are ready. */
export function clusterDemoBanner(nodes: readonly Pick<ClusterNodeProcess, 'gateway' | 'paths' | 'configPath'>[]): string {
  const cli = `node ${portcullisCliPath()}`;
  const client = CLUSTER_CLIENT.namespace;
  const url = `http://${CLUSTER_VIP}:${CLUSTER_HTTP_PORT}`;
  const first = nodes[0]!;
  return [
    '',
    'portcullis cluster demo is running.',
    `  client ${client} (${CLUSTER_CLIENT.addresses[0]}) → edge router ${EDGE.namespace} (BIRD 2, ECMP) → ${nodes.map((n) => `${n.gateway.name} ${n.gateway.nodeAddress}`).join(', ')}`,
    `  VIP ${CLUSTER_VIP}:${CLUSTER_HTTP_PORT}/tcp, announced by BGP (gateways AS ${GATEWAY_ASN} → edge AS ${EDGE.asn})`,
    ...nodes.map((node) => `  ${node.gateway.name}: namespace ${node.gateway.namespace}, socket ${node.paths.socket}, metrics 127.0.0.1:${node.gateway.metricsPort} (in its namespace), config ${node.configPath}`),
    '',
    '  Try, in another terminal:',
    `    ip netns exec ${EDGE.namespace} ip route show ${CLUSTER_VIP}            # two next hops while both announce`,
    `    birdc -s ${BIRD_FILES.socket} show protocols`,
    `    for i in $(seq 10); do ip netns exec ${client} curl -s ${url}/; echo; done   # "peer": a LIP of gw1 (.200/.201) or gw2 (.210/.211)`,
    `    ip netns exec ${client} curl -s ${url}/bytes/${DEMO_DOWNLOAD_BYTES}?rate=1000000 | sha256sum   # 20 s; expect ${patternSha256(DEMO_DOWNLOAD_BYTES)}`,
    `    ${cli} drain --wait --socket ${first.paths.socket}     # ${first.gateway.name} withdraws the VIP, its connections finish`,
    `    ${cli} undrain --socket ${first.paths.socket}`,
    `    ${cli} cluster status --socket ${first.paths.socket}`,
    `    ip netns exec ${nodes[0]!.gateway.namespace} curl -s 127.0.0.1:${nodes[0]!.gateway.metricsPort}/metrics | grep cluster`,
    `    ${cli} lab status`,
    '',
    '  Ctrl-C stops both gateways and removes the lab.',
    '',
  ].join('\n');
}

/** Runs the cluster demo until SIGINT/SIGTERM or a gateway exits; resolves after cleaning up. */
export async function runClusterDemo(): Promise<void> {
  const workDir = await mkdtemp(join(tmpdir(), 'portcullis-cluster-demo-'));
  let nodes: ClusterNodeProcess[] = [];
  const cleanUp = async (): Promise<void> => {
    await stopClusterNodes(nodes);
    await clusterLabDown();
    for (const node of nodes) await removeConnRegionFiles(node.paths.stateFile);
    await rm(workDir, { recursive: true, force: true });
  };
  try {
    await clusterLabUp();
    console.log('demo: starting the gateways …');
    nodes = await startClusterNodes(workDir, {
      onOutput: (node, chunk) => process.stdout.write(chunk.split('\n').map((line) => (line === '' ? line : `[${node}] ${line}`)).join('\n')),
    });
  } catch (error) {
    await cleanUp();
    throw error;
  }
  console.log(clusterDemoBanner(nodes));

  const outcome = await new Promise<string>((resolve) => {
    process.once('SIGINT', () => resolve('signal'));
    process.once('SIGTERM', () => resolve('signal'));
    // Ctrl-C reaches the daemons too (same process group): give our own signal a moment to win.
    for (const node of nodes) {
      void node.daemon.exited.then((how) => setTimeout(() => resolve(`${node.gateway.name} exited (${how})`), 500));
    }
  });
  if (outcome === 'signal') {
    console.log('\ndemo: stopping the gateways and removing the lab …');
    await cleanUp();
    console.log('demo: done');
    process.exitCode = 0;
    return;
  }
  console.error(`demo: ${outcome}; removing the lab`);
  await cleanUp();
  process.exitCode = 1;
}
