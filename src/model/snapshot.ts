// Desired state → the addon's DataplaneConfig. Per-service timeouts are resolved
// here (service override, else daemon default) so the data plane never merges.
import type { DataplaneConfig, DataplaneService } from '../dataplane/types.js';
import { buildDefenseConfig } from './defense-snapshot.js';
import type { DesiredState } from './desired-state.js';
import { effectiveWeight } from './health-check.js';
import { ipFamily } from './ip-address.js';
import { effectiveSynproxy } from './synproxy-mode.js';
import type { Service, Timeouts } from './types.js';

export function resolveTimeouts(service: Service, defaults: Timeouts): Timeouts {
  return { ...defaults, ...service.timeouts };
}

function synproxyFields(state: DesiredState, service: Service, now: number): Pick<DataplaneService, 'synproxy' | 'synproxyAuto'> {
  const { mode, auto } = effectiveSynproxy(state, service, now);
  if (mode === 'auto') return { synproxy: false, synproxyAuto: { synRate: auto.synRate, holdMs: auto.holdSeconds * 1000 } };
  return { synproxy: mode === 'on' };
}

/** ipvsadm -p/-M in the clients' (the VIP's) family: a netmask for IPv4, a prefix length for IPv6. */
function persistenceFields(s: Service): Pick<DataplaneService, 'persistenceTimeout' | 'persistenceNetmask' | 'persistencePrefixLength'> {
  if (!s.persistenceTimeout) return {};
  if (ipFamily(s.vip) === 6) return { persistenceTimeout: s.persistenceTimeout, persistencePrefixLength: s.persistencePrefixLength ?? 128 };
  return { persistenceTimeout: s.persistenceTimeout, persistenceNetmask: s.persistenceNetmask ?? '255.255.255.255' };
}

export function buildDataplaneConfig(state: DesiredState): DataplaneConfig {
  const now = Date.now();
  const defense = buildDefenseConfig(state, now);
  return {
    ...(defense ? { defense } : {}),
    ports: state.ports.map((p) => ({ name: p.name, addresses: [...p.addresses] })),
    routes: state.routes.map((r) => (r.via ? { prefix: r.prefix, via: r.via, port: r.port } : { prefix: r.prefix, port: r.port })),
    services: state.services.map((s): DataplaneService => ({
      id: s.id,
      protocol: s.protocol,
      vip: s.vip,
      port: s.port,
      scheduler: s.scheduler,
      ...(s.schedFlags?.length ? { schedFlags: [...s.schedFlags] } : {}),
      ...persistenceFields(s),
      clientAddress: s.clientAddress,
      ...(s.uoaDatagrams ? { uoaDatagrams: s.uoaDatagrams } : {}),
      ...synproxyFields(state, s, now),
      ...(s.synproxyRstOnBadCookie ? { synproxyRstOnBadCookie: true } : {}),
      ...(s.onePacket ? { onePacket: true } : {}),
      ...(s.quic ? { quic: true } : {}),
      localAddresses: [...s.localAddresses],
      timeouts: resolveTimeouts(s, state.defaultTimeouts),
      servers: s.servers.map((r) => ({
        id: r.id, address: r.address, port: r.port, weight: effectiveWeight(r),
        ...(r.upperThreshold ? { upperThreshold: r.upperThreshold } : {}),
        ...(r.lowerThreshold ? { lowerThreshold: r.lowerThreshold } : {}),
        ...(r.forward ? { forward: r.forward } : {}),
        ...(r.quicId ? { quicId: r.quicId } : {}),
      })),
    })),
  };
}
