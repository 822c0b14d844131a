// QUIC services (docs/schedulers.md, "QUIC"): the servers' quic_id values name them inside
// connection ids, so two servers of one service must not share one. Checked when a service is
// read (validate.ts) and on every change to the whole state (check.ts: a server added alone).

import { invalid, joinPath } from './errors.js';
import type { ServerSpec } from './types.js';

export function checkQuicIds(servers: readonly ServerSpec[], serversPath: string): void {
  const seen = new Map<number, number>();
  servers.forEach((server, i) => {
    if (server.quicId === undefined) return;
    const earlier = seen.get(server.quicId);
    if (earlier !== undefined) {
      throw invalid(joinPath(joinPath(serversPath, i), 'quic_id'), `an id no other server of the service has (servers[${earlier}] has it)`, server.quicId);
    }
    seen.set(server.quicId, i);
  });
}
