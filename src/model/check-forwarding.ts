// Forwarding methods against the rest of their service (docs/forwarding-modes.md). Methods may
// be mixed within a service, as IPVS allows: each connection keeps the method of the server it
// was scheduled to. DR and TUN servers answer the client directly, so the gateway sees one
// direction only, and what needs both directions cannot run with them.
//
// The one check of the SYNPROXY mode against the servers. It reads every mode the service can
// run (synproxy-mode.ts: its own setting, and a defence override while one is active), and it
// runs inside checkState, which every door ends with: service create/update, server add/update
// (gRPC and pcadm), defence SetSynproxy, config load (seedServices) and state-file load.
import type { DesiredState } from './desired-state.js';
import { joinPath, ModelError } from './errors.js';
import { synproxyModes, type SynproxyModeSource } from './synproxy-mode.js';
import type { ForwardMethod, Service } from './types.js';

/** Where to report: the service's path, and the request path of a SYNPROXY override being set. */
export interface ForwardingPaths {
  service: string;
  /** Set when the change is a defence override of this service: its `mode` is then to blame. */
  override?: string;
}

export function checkForwarding(state: DesiredState, service: Service, paths: ForwardingPaths, now: number, warnings: string[]): void {
  checkSynproxySeesReplies(state, service, paths, now);
  service.servers.forEach((server, j) => {
    const method = server.forward;
    if (method === 'nat' && service.onePacket) throw onePacketNeedsFullnat(method, joinPath(joinPath(paths.service, 'servers'), j));
    if (method !== 'dr' && method !== 'tun') return;
    const serverPath = joinPath(joinPath(paths.service, 'servers'), j);
    if (service.onePacket) throw onePacketNeedsFullnat(method, serverPath);
    if (service.clientAddress === 'proxy_v1' || service.clientAddress === 'proxy_v2') {
      const why = service.protocol === 'udp'
        ? `${method} forwards the datagram unchanged, so no header can go in front of it`
        : 'a PROXY header shifts sequence numbers in both directions and the replies bypass the gateway';
      throw new ModelError('INVALID_ARGUMENT', joinPath(serverPath, 'forward'),
        `${method} cannot be used with client_address ${service.clientAddress}: ${why}; the server already sees the client address`);
    }
    if (server.port !== service.port) {
      throw new ModelError('INVALID_ARGUMENT', joinPath(serverPath, 'port'),
        `expected ${service.port} (the service port: ${method} does not rewrite ports), got ${server.port}`);
    }
  });
  const needsLocalAddresses = service.servers.some((s) => !s.forward);
  if (needsLocalAddresses && service.localAddresses.length === 0) {
    warnings.push(`${joinPath(paths.service, 'local_addresses')}: empty, but fullnat servers need local addresses; their new connections will be dropped (no_local_address)`);
  }
}

/**
 * One-packet scheduling keeps a datagram's reply entry on its own LIP:lport, so that two
 * datagrams of one client to one server never share a reply tuple: FullNAT only (NAT's reply
 * tuple is the client's own address and port; DR and TUN keep no reply entry at all).
 */
function onePacketNeedsFullnat(method: ForwardMethod, serverPath: string): ModelError {
  return new ModelError('INVALID_ARGUMENT', joinPath(serverPath, 'forward'),
    `${method} cannot be used in a one_packet service: one-packet scheduling gives each datagram its own local address and port, which only fullnat has; expected fullnat`);
}

/**
 * SYNPROXY finishes the server handshake itself, so it must see the server's SYN-ACK: no mode but
 * off may run with a DR or TUN server. The field named is the override's `mode` when the change
 * is that override, else the first one-way server's `forward`; the message is the same from
 * every door and says where a mode came from when it is not the service's own setting.
 */
function checkSynproxySeesReplies(state: DesiredState, service: Service, paths: ForwardingPaths, now: number): void {
  const oneWay = service.servers.findIndex((server) => server.forward === 'dr' || server.forward === 'tun');
  if (oneWay < 0) return;
  const running = synproxyModes(state, service, now).find((source) => source.mode !== 'off');
  if (!running) return;
  const field = running.override && paths.override !== undefined
    ? joinPath(paths.override, 'mode')
    : joinPath(joinPath(joinPath(paths.service, 'servers'), oneWay), 'forward');
  throw new ModelError('INVALID_ARGUMENT', field, synproxyConflict(service.servers[oneWay]!.forward!, running));
}

function synproxyConflict(method: ForwardMethod, running: SynproxyModeSource): string {
  const source = running.override ? ` (synproxy ${running.mode} is the defence override set by ${running.override.actor}: ${running.override.reason})` : '';
  return `${method} cannot be used with synproxy ${running.mode}: the gateway never sees the server's replies, so it cannot finish `
    + `the server handshake; use fullnat or nat, or turn synproxy off${source}`;
}
