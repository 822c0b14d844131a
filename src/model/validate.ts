// The one validator. Input is the canonical raw shape (snake_case keys, as in the
// YAML config and the proto field names); output is model objects. The YAML loader
// hands it parsed YAML, the gRPC layer hands it converted messages, so a given
// mistake produces the same message from every door.
import { invalid, joinPath, ModelError } from './errors.js';
import { addressPort, ipFamily } from './ip-address.js';
import {
  readBoolean, readChoice, readInteger, readIpAddress, readList, readObject, readString, rejectUnknownKeys,
  readInterfaceAddress, readMac, readNetwork,
} from './fields.js';
import {
  CLIENT_ADDRESS_MODES, CLIENT_ADDRESS_MODES_BY_PROTOCOL, DEFAULT_SYNPROXY_AUTO, DEFAULT_TIMEOUTS, FORWARD_METHODS, SYNPROXY_AUTO_LIMITS, SYNPROXY_MODES, LIMITS, PROTOCOLS, SCHEDULERS,
  TIMEOUT_FIELDS, UOA_DATAGRAMS, type ClientAddress, type PortModel, type Route, type ServerSpec, type ServiceKey, type ServiceSpec, type SynproxyAuto, type Timeouts,
} from './types.js';
import { checkQuicIds } from './check-quic.js';
import { readHealthCheck } from './health-check-fields.js';
import { readPassiveHealth } from './passive-health-fields.js';
import { readSchedulingFields, readThresholdFields, SCHEDULING_SERVICE_KEYS, THRESHOLD_SERVER_KEYS } from './scheduling.js';

const SERVICE_KEYS = ['name', 'protocol', 'vip', 'port', 'scheduler', 'client_address', 'uoa_datagrams', 'synproxy', 'synproxy_rst_on_bad_cookie', 'synproxy_auto', 'one_packet', 'quic', 'local_addresses', 'timeouts', 'health_check', 'passive_health', 'servers', ...SCHEDULING_SERVICE_KEYS] as const;
const SERVER_KEYS = ['address', 'port', 'weight', 'forward', 'quic_id', ...THRESHOLD_SERVER_KEYS] as const;
const KEY_KEYS = ['protocol', 'vip', 'port'] as const;
const PORT_KEYS = ['name', 'device', 'addresses', 'mac', 'mtu', 'exception_path'] as const;
const ROUTE_KEYS = ['prefix', 'via', 'port'] as const;

export function readPortNumber(value: unknown, path: string): number {
  return readInteger(value, path, 1, 65535);
}

/** Per-service overrides: only the fields given, each 1..31 days. */
export function readTimeoutOverrides(value: unknown, path: string): Partial<Timeouts> {
  if (value === undefined || value === null) return {};
  const raw = readObject(value, path);
  rejectUnknownKeys(raw, TIMEOUT_FIELDS.map((f) => f.name), path);
  const result: Partial<Timeouts> = {};
  for (const { key, name } of TIMEOUT_FIELDS) {
    if (raw[name] !== undefined) result[key] = readInteger(raw[name], joinPath(path, name), 1, LIMITS.maxTimeoutSeconds);
  }
  return result;
}

/** Daemon defaults: the overrides given, IPVS defaults for the rest. */
export function readDefaultTimeouts(value: unknown, path: string): Timeouts {
  return { ...DEFAULT_TIMEOUTS, ...readTimeoutOverrides(value, path) };
}

export function readServiceKey(value: unknown, path: string): ServiceKey {
  const raw = readObject(value, path);
  rejectUnknownKeys(raw, KEY_KEYS, path);
  return {
    protocol: readChoice(raw.protocol, joinPath(path, 'protocol'), PROTOCOLS),
    vip: readIpAddress(raw.vip, joinPath(path, 'vip')),
    port: readPortNumber(raw.port, joinPath(path, 'port')),
  };
}

/** A real server; weight defaults to 1 (ipvsadm's default) when absent, forward to fullnat. */
export function readServer(value: unknown, path: string): ServerSpec {
  const raw = readObject(value, path);
  rejectUnknownKeys(raw, SERVER_KEYS, path);
  const forward = raw.forward === undefined || raw.forward === null || raw.forward === ''
    ? 'fullnat' : readChoice(raw.forward, joinPath(path, 'forward'), FORWARD_METHODS);
  return {
    address: readIpAddress(raw.address, joinPath(path, 'address')),
    port: readPortNumber(raw.port, joinPath(path, 'port')),
    weight: raw.weight === undefined ? 1 : readInteger(raw.weight, joinPath(path, 'weight'), 0, LIMITS.maxWeight),
    ...readThresholdFields(raw, path),
    // Only when not the default, so specs and state files without it read the same.
    ...(forward !== 'fullnat' ? { forward } : {}),
    ...(raw.quic_id !== undefined && raw.quic_id !== null && raw.quic_id !== 0
      ? { quicId: readInteger(raw.quic_id, joinPath(path, 'quic_id'), 1, LIMITS.maxQuicId) } : {}),
  };
}

function readUniqueAddresses(value: unknown, path: string, maxItems: number): string[] {
  if (value === undefined || value === null) return [];
  const list = readList(value, path, maxItems);
  const seen = new Set<string>();
  return list.map((item, i) => {
    const itemPath = joinPath(path, i);
    const address = readIpAddress(item, itemPath);
    if (seen.has(address)) throw invalidDuplicate(itemPath, address);
    seen.add(address);
    return address;
  });
}

function invalidDuplicate(path: string, what: string) {
  return invalid(path, 'an entry not listed before (duplicate)', what);
}

/** 'off' | 'on'; absent or '' = 'off'. YAML 1.1 readers turn bare on/off into booleans: accepted too. */
function readSynproxy(value: unknown, path: string): ServiceSpec['synproxy'] {
  if (value === undefined || value === '') return 'off';
  if (typeof value === 'boolean') return value ? 'on' : 'off';
  return readChoice(value, path, SYNPROXY_MODES);
}

/** synproxy_auto: { syn_rate: SYNs/s (whole service), hold_seconds }; each defaults on its own. */
export function readSynproxyAuto(value: unknown, path: string): SynproxyAuto {
  const raw = readObject(value, path);
  rejectUnknownKeys(raw, ['syn_rate', 'hold_seconds'], path);
  const present = (v: unknown) => v !== undefined && v !== null && v !== 0;
  return {
    synRate: present(raw.syn_rate)
      ? readInteger(raw.syn_rate, joinPath(path, 'syn_rate'), 1, SYNPROXY_AUTO_LIMITS.maxSynRate) : DEFAULT_SYNPROXY_AUTO.synRate,
    holdSeconds: present(raw.hold_seconds)
      ? readInteger(raw.hold_seconds, joinPath(path, 'hold_seconds'), 1, SYNPROXY_AUTO_LIMITS.maxHoldSeconds) : DEFAULT_SYNPROXY_AUTO.holdSeconds,
  };
}

/**
 * Each protocol has its own carriages: TOA (a TCP option) and PROXY v1 (TCP4/TCP6 only) have no UDP
 * form, UOA is UDP's; PROXY v2 works on both. A mode the protocol cannot carry is refused, naming the
 * modes it can.
 */
export function clientAddressForProtocol(mode: ClientAddress, protocol: 'tcp' | 'udp', path: string): ModelError | undefined {
  const allowed = CLIENT_ADDRESS_MODES_BY_PROTOCOL[protocol];
  if (allowed.includes(mode)) return undefined;
  const why = protocol === 'udp'
    ? `${mode} is not supported for UDP services (${mode === 'toa' ? 'TOA is a TCP option' : 'PROXY v1 has no UDP form'})`
    : `${mode} is not supported for TCP services (UOA carries a UDP client's address; TCP has toa)`;
  return new ModelError('INVALID_ARGUMENT', path, `${why}: expected one of ${allowed.join(', ')}`);
}

/**
 * UOA and PROXY v2 over UDP ride on FullNAT within one family: uoa_ipo is an IPv4 option (an IPv6
 * service has uoa_opp), and a NAT64 service (IPv6 VIP, IPv4 LIPs) carries nothing.
 */
function checkUdpCarriage(mode: ClientAddress, vip: string, localAddresses: string[], path: string): void {
  if (mode === 'none') return;
  const family = ipFamily(vip);
  if (mode === 'uoa_ipo' && family === 6) {
    throw new ModelError('INVALID_ARGUMENT', joinPath(path, 'client_address'),
      'uoa_ipo is an IPv4 option and IPv6 has none: expected uoa_opp or proxy_v2 for an IPv6 service');
  }
  if (localAddresses.some((lip) => ipFamily(lip) !== family)) {
    throw new ModelError('INVALID_ARGUMENT', joinPath(path, 'client_address'),
      `${mode} is not carried on a NAT64 service (local addresses of another family than the VIP): expected none`);
  }
}

/** uoa_datagrams: 1..255 with uoa_ipo / uoa_opp; absent, null or 0 = the default (3, left out of the model). */
function readUoaDatagrams(value: unknown, mode: ClientAddress, path: string): number | undefined {
  if (value === undefined || value === null || value === 0) return undefined;
  if (mode !== 'uoa_ipo' && mode !== 'uoa_opp') {
    throw new ModelError('INVALID_ARGUMENT', path, `only with client_address uoa_ipo or uoa_opp (got client_address ${mode})`);
  }
  const n = readInteger(value, path, 1, UOA_DATAGRAMS.max);
  return n === UOA_DATAGRAMS.default ? undefined : n;
}

/**
 * one_packet (ipvsadm -o): each datagram is scheduled on its own, so it means nothing for a TCP
 * stream, and persistence (a client keeps its server) would undo it: both are refused.
 */
function readOnePacket(value: unknown, path: string, protocol: string, persistenceTimeout: number | undefined): boolean {
  if (value === undefined || value === null || !readBoolean(value, path)) return false;
  if (protocol !== 'udp') {
    throw new ModelError('INVALID_ARGUMENT', path, `one-packet scheduling is for UDP services only (a ${protocol} connection is a stream, not independent datagrams): expected false, got true`);
  }
  if (persistenceTimeout) {
    throw new ModelError('INVALID_ARGUMENT', path, `one-packet scheduling cannot be combined with persistence_timeout ${persistenceTimeout}: each datagram is scheduled on its own, persistence would keep a client on one server; remove one of them`);
  }
  return true;
}

/** A whole service: key, scheduler (default rr), LIP pool, timeouts, servers. */
export function readServiceSpec(value: unknown, path: string): ServiceSpec {
  const raw = readObject(value, path);
  rejectUnknownKeys(raw, SERVICE_KEYS, path);
  const name = raw.name === undefined ? '' : readString(raw.name, joinPath(path, 'name'), { maxLength: LIMITS.maxServiceName });
  const serversPath = joinPath(path, 'servers');
  const servers = raw.servers === undefined || raw.servers === null
    ? []
    : readList(raw.servers, serversPath, LIMITS.maxServersPerService).map((s, i) => readServer(s, joinPath(serversPath, i)));
  const seenServers = new Set<string>();
  servers.forEach((server, i) => {
    const endpoint = addressPort(server.address, server.port);
    if (seenServers.has(endpoint)) throw invalidDuplicate(joinPath(serversPath, i), endpoint);
    seenServers.add(endpoint);
  });
  const scheduler = raw.scheduler === undefined ? 'rr' : readChoice(raw.scheduler, joinPath(path, 'scheduler'), SCHEDULERS);
  const protocol = readChoice(raw.protocol, joinPath(path, 'protocol'), PROTOCOLS);
  const clientAddress = raw.client_address === undefined || raw.client_address === ''
    ? 'none'
    : readChoice(raw.client_address, joinPath(path, 'client_address'), CLIENT_ADDRESS_MODES);
  const refused = clientAddressForProtocol(clientAddress, protocol, joinPath(path, 'client_address'));
  if (refused) throw refused;
  const vip = readIpAddress(raw.vip, joinPath(path, 'vip'));
  const scheduling = readSchedulingFields(raw, path, scheduler, ipFamily(vip)!);
  const onePacket = readOnePacket(raw.one_packet, joinPath(path, 'one_packet'), protocol, scheduling.persistenceTimeout);
  const localAddresses = readUniqueAddresses(raw.local_addresses, joinPath(path, 'local_addresses'), LIMITS.maxLocalAddressesPerService);
  if (protocol === 'udp') checkUdpCarriage(clientAddress, vip, localAddresses, path);
  const uoaDatagrams = readUoaDatagrams(raw.uoa_datagrams, clientAddress, joinPath(path, 'uoa_datagrams'));
  const quic = raw.quic !== undefined && raw.quic !== null && readBoolean(raw.quic, joinPath(path, 'quic'));
  if (quic && protocol !== 'udp') throw invalid(joinPath(path, 'quic'), 'false on a tcp service (QUIC runs over UDP)', raw.quic);
  checkQuicIds(servers, serversPath);
  return {
    name,
    protocol,
    vip,
    port: readPortNumber(raw.port, joinPath(path, 'port')),
    scheduler,
    // Persistence groups clients, who speak the VIP's family (NAT64 included).
    ...scheduling,
    // Only when on, so specs and state files without it read the same.
    ...(onePacket ? { onePacket: true } : {}),
    clientAddress,
    ...(uoaDatagrams !== undefined ? { uoaDatagrams } : {}),
    synproxy: readSynproxy(raw.synproxy, joinPath(path, 'synproxy')),
    // Only when on, so specs and state files without it read the same.
    ...(raw.synproxy_rst_on_bad_cookie !== undefined && raw.synproxy_rst_on_bad_cookie !== null
      && readBoolean(raw.synproxy_rst_on_bad_cookie, joinPath(path, 'synproxy_rst_on_bad_cookie'))
      ? { synproxyRstOnBadCookie: true } : {}),
    ...(raw.synproxy_auto !== undefined && raw.synproxy_auto !== null
      ? { synproxyAuto: readSynproxyAuto(raw.synproxy_auto, joinPath(path, 'synproxy_auto')) } : {}),
    // Only when on, so specs and state files without it read the same.
    ...(quic ? { quic: true } : {}),
    localAddresses,
    timeouts: readTimeoutOverrides(raw.timeouts, joinPath(path, 'timeouts')),
    ...(raw.health_check !== undefined && raw.health_check !== null
      ? { healthCheck: readHealthCheck(raw.health_check, joinPath(path, 'health_check'), protocol) } : {}),
    ...(raw.passive_health !== undefined && raw.passive_health !== null
      ? { passiveHealth: readPassiveHealth(raw.passive_health, joinPath(path, 'passive_health')) } : {}),
    servers,
  };
}

export function readPort(value: unknown, path: string): PortModel {
  const raw = readObject(value, path);
  rejectUnknownKeys(raw, PORT_KEYS, path);
  const addressesPath = joinPath(path, 'addresses');
  const addresses = raw.addresses === undefined
    ? []
    : readList(raw.addresses, addressesPath, 16).map((a, i) => readInterfaceAddress(a, joinPath(addressesPath, i)));
  const port: PortModel = {
    name: readString(raw.name, joinPath(path, 'name'), { maxLength: 32, nonEmpty: true }),
    device: readString(raw.device, joinPath(path, 'device'), { maxLength: 256, nonEmpty: true }),
    addresses,
  };
  if (raw.mac !== undefined && raw.mac !== '') port.mac = readMac(raw.mac, joinPath(path, 'mac'));
  if (raw.mtu !== undefined) port.mtu = readInteger(raw.mtu, joinPath(path, 'mtu'), 68, 9000);
  if (raw.exception_path !== undefined && readBoolean(raw.exception_path, joinPath(path, 'exception_path'))) {
    port.exceptionPath = true;
  }
  return port;
}

export function readRoute(value: unknown, path: string): Route {
  const raw = readObject(value, path);
  rejectUnknownKeys(raw, ROUTE_KEYS, path);
  const route: Route = {
    prefix: readNetwork(raw.prefix, joinPath(path, 'prefix')),
    port: readString(raw.port, joinPath(path, 'port'), { maxLength: 32, nonEmpty: true }),
  };
  if (raw.via !== undefined && raw.via !== '') {
    // IPv6 routers usually advertise link-local next hops; the route's port names the link.
    const via = readIpAddress(raw.via, joinPath(path, 'via'), { linkLocal: true });
    const family = ipFamily(route.prefix.slice(0, route.prefix.indexOf('/')));
    if (ipFamily(via) !== family) {
      throw invalid(joinPath(path, 'via'), `an IPv${family} next hop (the family of prefix ${route.prefix})`, raw.via);
    }
    route.via = via;
  }
  return route;
}
