// A service in the configuration's own spelling (snake_case, as YAML and the state file have it),
// written in one place: the state file stores it and the configuration diff compares it, so a
// field added to services is saved across restarts and shown by ApplyState/WatchConfig at once.
import type { RawObject } from './fields.js';
import { healthCheckToRaw } from './health-check-fields.js';
import { passiveHealthToRaw } from './passive-health-fields.js';
import { schedulingToRaw, thresholdsToRaw } from './scheduling.js';
import { TIMEOUT_FIELDS, type ServerSpec, type ServiceSpec } from './types.js';

/** One server as the configuration spells it: only what is set besides address, port and weight. */
export function serverToRaw(server: ServerSpec): RawObject {
  return {
    address: server.address, port: server.port, weight: server.weight, ...thresholdsToRaw(server),
    ...(server.forward ? { forward: server.forward } : {}),
    ...(server.quicId ? { quic_id: server.quicId } : {}),
  };
}

/** A service without its servers, as the configuration spells it; optional settings only when set. */
export function serviceSettingsToRaw(service: Omit<ServiceSpec, 'servers'>): RawObject {
  const timeouts: Record<string, number> = {};
  for (const { key, name } of TIMEOUT_FIELDS) {
    const value = service.timeouts[key];
    if (value !== undefined) timeouts[name] = value;
  }
  return {
    name: service.name,
    protocol: service.protocol,
    vip: service.vip,
    port: service.port,
    scheduler: service.scheduler,
    client_address: service.clientAddress,
    ...(service.uoaDatagrams !== undefined ? { uoa_datagrams: service.uoaDatagrams } : {}),
    synproxy: service.synproxy,
    ...(service.synproxyRstOnBadCookie ? { synproxy_rst_on_bad_cookie: true } : {}),
    ...(service.onePacket ? { one_packet: true } : {}),
    ...(service.quic ? { quic: true } : {}),
    ...(service.synproxyAuto ? { synproxy_auto: { syn_rate: service.synproxyAuto.synRate, hold_seconds: service.synproxyAuto.holdSeconds } } : {}),
    local_addresses: service.localAddresses,
    timeouts,
    ...schedulingToRaw(service),
    ...(service.healthCheck ? { health_check: healthCheckToRaw(service.healthCheck) } : {}),
    ...(service.passiveHealth ? { passive_health: passiveHealthToRaw(service.passiveHealth) } : {}),
  };
}
