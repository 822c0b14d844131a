// Proto messages ↔ model. Incoming messages are turned into the canonical raw shape
// and go through the model's validator like YAML does; outgoing ones are built from
// model objects.
import { healthCheckMessage, passiveHealthMessage, rawHealthCheck, rawPassiveHealth, serverHealth, serverHealthReason } from './health-convert.js';
import type { RealServer } from './generated/portcullis/v1/RealServer.js';
import type { ServiceKey as ProtoServiceKey, ServiceKey__Output } from './generated/portcullis/v1/ServiceKey.js';
import type { Timeouts__Output } from './generated/portcullis/v1/Timeouts.js';
import type { VirtualService, VirtualService__Output } from './generated/portcullis/v1/VirtualService.js';
import type { RealServer__Output } from './generated/portcullis/v1/RealServer.js';
import {
  invalid, ipFamily, joinPath, readServer, readServiceKey, readServiceSpec, TIMEOUT_FIELDS, UOA_DATAGRAMS,
  type ServerSpec, type Service, type ServiceKey, type ServiceSpec,
} from '../model/index.js';

function protocolFromProto(value: string): unknown {
  if (value === 'TCP') return 'tcp';
  if (value === 'UDP') return 'udp';
  return value;  // left as is so the validator reports what was sent
}

function protocolToProto(value: ServiceKey['protocol']): 'TCP' | 'UDP' {
  return value === 'tcp' ? 'TCP' : 'UDP';
}

/** Raw key object; a missing key message is reported as the given path. */
function rawKey(key: ServiceKey__Output | null | undefined): Record<string, unknown> {
  if (!key) return { protocol: undefined, vip: undefined, port: undefined };
  return { protocol: protocolFromProto(key.protocol), vip: key.vip, port: key.port };
}

export function keyFromProto(key: ServiceKey__Output | null | undefined, path: string): ServiceKey {
  if (!key) throw invalid(path, 'a service key (protocol, vip, port)', key);
  return readServiceKey(rawKey(key), path);
}

/** Proto Timeouts: 0 = inherit, so zeros are simply not overrides. */
function rawTimeouts(timeouts: Timeouts__Output | null | undefined): Record<string, unknown> {
  const raw: Record<string, unknown> = {};
  if (!timeouts) return raw;
  for (const { key, name } of TIMEOUT_FIELDS) {
    const value = (timeouts as unknown as Record<string, number>)[key];
    if (value) raw[name] = value;
  }
  return raw;
}

function rawServer(server: RealServer__Output): Record<string, unknown> {
  // Weight is always sent: proto3 cannot tell 0 from unset, and 0 means quiesced.
  return {
    address: server.address, port: server.port, weight: server.weight,
    upper_threshold: server.upperThreshold, lower_threshold: server.lowerThreshold,
    forward: server.forward,
    quic_id: server.quicId,
  };
}

export function serviceSpecFromProto(service: VirtualService__Output | null | undefined, path: string): ServiceSpec {
  if (!service) throw invalid(path, 'a virtual service', service);
  if (!service.key) throw invalid(joinPath(path, 'key'), 'a service key (protocol, vip, port)', service.key);
  const key = rawKey(service.key);
  // Field paths for key fields must read "service.key.vip", so check the key on its own first.
  readServiceKey(key, joinPath(path, 'key'));
  return readServiceSpec({
    name: service.name,
    protocol: key.protocol,
    vip: key.vip,
    port: key.port,
    scheduler: service.scheduler === '' ? 'rr' : service.scheduler,
    client_address: service.clientAddress === '' ? 'none' : service.clientAddress,
    uoa_datagrams: service.uoaDatagrams,
    synproxy: service.synproxy === '' ? 'off' : service.synproxy,
    synproxy_rst_on_bad_cookie: service.synproxyRstOnBadCookie,
    quic: service.quic,
    synproxy_auto: service.synproxyAuto ? { syn_rate: service.synproxyAuto.synRate, hold_seconds: service.synproxyAuto.holdSeconds } : undefined,
    sched_flags: service.schedFlags,
    persistence_timeout: service.persistenceTimeout,
    persistence_netmask: service.persistenceNetmask,
    persistence_prefix_length: service.persistencePrefixLength,
    one_packet: service.onePacket,
    local_addresses: service.localAddresses,
    timeouts: rawTimeouts(service.timeouts),
    health_check: rawHealthCheck(service.healthCheck),
    passive_health: rawPassiveHealth(service.passiveHealth),
    servers: service.servers.map(rawServer),
  }, path);
}

export function serverSpecFromProto(server: RealServer__Output | null | undefined, path: string): ServerSpec {
  if (!server) throw invalid(path, 'a real server (address, port, weight)', server);
  return readServer(rawServer(server), path);
}

export function keyToProto(key: ServiceKey): ProtoServiceKey {
  return { protocol: protocolToProto(key.protocol), vip: key.vip, port: key.port };
}

export function serviceToProto(service: Service): VirtualService {
  const timeouts: Record<string, number> = {};
  for (const { key } of TIMEOUT_FIELDS) timeouts[key] = service.timeouts[key] ?? 0;
  return {
    key: keyToProto(service),
    name: service.name,
    scheduler: service.scheduler,
    clientAddress: service.clientAddress,
    uoaDatagrams: service.clientAddress === 'uoa_ipo' || service.clientAddress === 'uoa_opp' ? service.uoaDatagrams ?? UOA_DATAGRAMS.default : 0,
    synproxy: service.synproxy,
    synproxyRstOnBadCookie: service.synproxyRstOnBadCookie ?? false,
    quic: service.quic ?? false,
    ...(service.synproxyAuto ? { synproxyAuto: { synRate: service.synproxyAuto.synRate, holdSeconds: service.synproxyAuto.holdSeconds } } : {}),
    schedFlags: [...(service.schedFlags ?? [])],
    persistenceTimeout: service.persistenceTimeout ?? 0,
    // Each family echoes its own -M spelling; the other field stays empty.
    persistenceNetmask: service.persistenceTimeout && ipFamily(service.vip) === 4 ? service.persistenceNetmask ?? '255.255.255.255' : '',
    persistencePrefixLength: service.persistenceTimeout && ipFamily(service.vip) === 6 ? service.persistencePrefixLength ?? 128 : 0,
    onePacket: service.onePacket ?? false,
    localAddresses: [...service.localAddresses],
    timeouts,
    servers: service.servers.map((s): RealServer => ({
      address: s.address, port: s.port, weight: s.weight,
      upperThreshold: s.upperThreshold ?? 0, lowerThreshold: s.lowerThreshold ?? 0,
      forward: s.forward ?? 'fullnat',
      quicId: s.quicId ?? 0,
      health: serverHealth(service, s),
      healthReason: serverHealthReason(s),
    })),
    healthCheck: healthCheckMessage(service.healthCheck),
    passiveHealth: passiveHealthMessage(service.passiveHealth),
  };
}
