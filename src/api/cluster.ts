// portcullis.v1.Cluster: drain, undrain and the cluster's status. Writes need the operator role
// (src/api/auth.ts judges Drain/Undrain as writes by their names) and are logged with the caller,
// like Routes. Without a `cluster` section every call is FAILED_PRECONDITION.
import type * as grpc from '@grpc/grpc-js';
import type { ClusterNode, ClusterView } from '../cluster/node.js';
import { ModelError } from '../model/index.js';
import { callerOf } from './auth.js';
import type { ClusterHandlers } from './generated/portcullis/v1/Cluster.js';
import type { ClusterStatus } from './generated/portcullis/v1/ClusterStatus.js';
import { unary } from './status.js';

function callerText(metadata: grpc.Metadata): string {
  const caller = callerOf(metadata);
  return caller.transport === 'tcp' ? caller.identity : 'unix socket';
}

export function clusterStatusToProto(view: ClusterView): ClusterStatus {
  return {
    node: view.node,
    drained: view.drained,
    speaker: view.speaker,
    speakerUp: view.speakerUp,
    peers: view.peers.map((p) => ({
      address: p.address,
      asn: p.asn,
      sessionState: p.state,
      uptimeSeconds: p.uptimeSeconds,
      messagesReceived: p.messagesReceived,
      messagesSent: p.messagesSent,
      announce: p.announce,
      announced: p.announced,
      prefixesReceived: p.received,
    })),
    announced: view.announced,
    notAnnounced: view.notAnnounced,
    connections: view.connections,
    connectionsAll: view.connectionsAll,
    counters: view.counters,
  };
}

export function clusterHandlers(node: ClusterNode | undefined): ClusterHandlers {
  const clustered = (): ClusterNode => {
    if (!node) {
      throw new ModelError('FAILED_PRECONDITION', '', 'this gateway is not part of a cluster: the config has no `cluster` section (docs/cluster.md)');
    }
    return node;
  };
  return {
    Drain: unary(async (_request, metadata) => {
      const member = clustered();
      await member.setDrained(true, callerText(metadata));
      return clusterStatusToProto(await member.status());
    }),
    Undrain: unary(async (_request, metadata) => {
      const member = clustered();
      await member.setDrained(false, callerText(metadata));
      return clusterStatusToProto(await member.status());
    }),
    GetClusterStatus: unary(async () => clusterStatusToProto(await clustered().status())),
  };
}
