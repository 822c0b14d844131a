// The data plane's share of the `cluster` section (DataplaneConfig.cluster) and the hand-off
// counters the data plane keeps, under the names GetClusterStatus and Prometheus show.
import type { ClusterSettings } from '../config/cluster-types.js';
import type { DataplaneCluster, DataplaneConfig, DataplaneStats } from '../dataplane/types.js';

/** Node index = position in cluster.nodes of this node's own config (the sync maps sender names to it). */
export function dataplaneCluster(cluster: Pick<ClusterSettings, 'node' | 'nodes' | 'sync'>): DataplaneCluster {
  const self = cluster.nodes.findIndex((n) => n.name === cluster.node);
  if (self < 0) throw new Error(`cluster.node: "${cluster.node}" is not one of cluster.nodes`);
  return { nodes: cluster.nodes.map((n) => n.address), self, foreignFlows: cluster.sync.foreignFlows };
}

/** An apply target that adds the cluster to every config it passes on (the model knows nothing of it). */
export function withCluster<T extends { apply(config: DataplaneConfig): { version: number } }>(
  target: T, cluster: DataplaneCluster | undefined,
): { apply(config: DataplaneConfig): { version: number } } {
  if (!cluster) return target;
  return { apply: (config) => target.apply({ ...config, cluster }) };
}

export interface HandoffCounters {
  handoff_sent: number;
  handoff_received: number;
  handoff_dropped_over_mtu: number;
  handoff_dropped_foreign_source: number;
  handoff_dropped_bad_encapsulation: number;
  handoff_ownership_exported: number;
  handoff_ownership_export_overflow: number;
  handoff_foreign_flows_learned: number;
  handoff_foreign_flows_evicted: number;
}

/** The data plane's hand-off events and drops (all workers summed). */
export function handoffCounters(stats: Pick<DataplaneStats, 'events' | 'drops'>): HandoffCounters {
  return {
    handoff_sent: stats.events.handoff_sent,
    handoff_received: stats.events.handoff_received,
    handoff_dropped_over_mtu: stats.drops.handoff_over_mtu,
    handoff_dropped_foreign_source: stats.drops.handoff_foreign_source,
    handoff_dropped_bad_encapsulation: stats.drops.handoff_bad_encapsulation,
    handoff_ownership_exported: stats.events.ownership_exported,
    handoff_ownership_export_overflow: stats.events.ownership_export_overflow,
    handoff_foreign_flows_learned: stats.events.foreign_flows_learned,
    handoff_foreign_flows_evicted: stats.events.foreign_flows_evicted,
  };
}

/** Everything GetClusterStatus' `counters` map and Prometheus show for the sync and the hand-off, one flat object. */
export function syncAndHandoffCounters(sync: { snapshot(): object } | undefined,
  stats: Pick<DataplaneStats, 'events' | 'drops'> | undefined): Record<string, number> {
  return { ...(sync?.snapshot() as Record<string, number> | undefined), ...(stats ? handoffCounters(stats) as unknown as Record<string, number> : {}) };
}
