// Changes to the desired state. Each takes the current state and returns a new one
// (the input is never modified), assigning ids to new objects and keeping them for
// existing ones, then runs the whole-state checks. Throws ModelError.
import { checkState } from './check.js';
import { joinPath, ModelError } from './errors.js';
import { allocateIds, SERVER_ID_MAX, SERVICE_ID_MAX, usedServerIds, usedServiceIds } from './ids.js';
import type { ChangeResult, DesiredState } from './desired-state.js';
import { addressPort } from './ip-address.js';
import {
  sameKey, serviceKeyText, type Server, type ServerSpec, type Service, type ServiceKey, type ServiceSpec,
} from './types.js';

function copyState(state: DesiredState): DesiredState {
  return structuredClone(state);
}

export function findService(state: DesiredState, key: ServiceKey, path: string): Service {
  const found = state.services.find((s) => sameKey(s, key));
  if (!found) throw new ModelError('NOT_FOUND', path, `virtual service ${serviceKeyText(key)} does not exist`);
  return found;
}

function endpoint(server: ServerSpec): string {
  return addressPort(server.address, server.port);
}

/**
 * Sets everything of `service` but its key and servers from `spec` (what UpdateVirtualService
 * replaces); settings the spec leaves out are removed. Modifies `service`: give it a copy.
 */
export function applyServiceSettings(service: Service, spec: ServiceSpec): void {
  service.name = spec.name;
  service.scheduler = spec.scheduler;
  delete service.schedFlags;
  delete service.persistenceTimeout;
  delete service.persistenceNetmask;
  delete service.persistencePrefixLength;
  if (spec.schedFlags) service.schedFlags = [...spec.schedFlags];
  if (spec.persistenceTimeout) service.persistenceTimeout = spec.persistenceTimeout;
  if (spec.persistenceNetmask) service.persistenceNetmask = spec.persistenceNetmask;
  if (spec.persistencePrefixLength) service.persistencePrefixLength = spec.persistencePrefixLength;
  service.clientAddress = spec.clientAddress;
  if (spec.uoaDatagrams !== undefined) service.uoaDatagrams = spec.uoaDatagrams;
  else delete service.uoaDatagrams;
  service.synproxy = spec.synproxy;
  if (spec.synproxyRstOnBadCookie) service.synproxyRstOnBadCookie = true;
  else delete service.synproxyRstOnBadCookie;
  if (spec.onePacket) service.onePacket = true;
  else delete service.onePacket;
  if (spec.synproxyAuto) service.synproxyAuto = { ...spec.synproxyAuto };
  else delete service.synproxyAuto;
  if (spec.quic) service.quic = true;
  else delete service.quic;
  service.localAddresses = [...spec.localAddresses];
  service.timeouts = { ...spec.timeouts };
  if (spec.healthCheck) service.healthCheck = { ...spec.healthCheck };
  else delete service.healthCheck;
  if (spec.passiveHealth) service.passiveHealth = { ...spec.passiveHealth };
  else delete service.passiveHealth;
}

/** Gives ids to new servers; servers whose address:port already had one keep it. Moves state.nextServerId. */
export function assignServerIds(state: DesiredState, specs: ServerSpec[], previous: Server[]): Server[] {
  const kept = new Map(previous.map((s) => [endpoint(s), s.id]));
  const used = usedServerIds(state);
  const fresh = specs.filter((s) => !kept.has(endpoint(s)));
  const allocation = allocateIds(used, fresh.length, state.nextServerId, SERVER_ID_MAX, 'real server');
  state.nextServerId = allocation.next;
  let nextFresh = 0;
  return specs.map((spec) => ({ id: kept.get(endpoint(spec)) ?? allocation.ids[nextFresh++]!, ...spec }));
}

/** Adds a service; ALREADY_EXISTS when its protocol+vip+port is taken. */
export function createService(current: DesiredState, spec: ServiceSpec, path = 'service'): ChangeResult<Service> {
  if (current.services.some((s) => sameKey(s, spec))) {
    throw new ModelError('ALREADY_EXISTS', path, `virtual service ${serviceKeyText(spec)} already exists`);
  }
  const state = copyState(current);
  const allocation = allocateIds(usedServiceIds(state), 1, state.nextServiceId, SERVICE_ID_MAX, 'virtual service');
  state.nextServiceId = allocation.next;
  const service: Service = { ...structuredClone(spec), id: allocation.ids[0]!, servers: [] };
  service.servers = assignServerIds(state, spec.servers, []);
  state.services.push(service);
  const warnings = checkState(state, { serviceId: service.id, path });
  return { state, result: service, warnings };
}

/**
 * Replaces name, scheduler, client address, LIP pool and timeouts; servers only when
 * replaceServers (those still listed keep their ids).
 */
export function updateService(current: DesiredState, spec: ServiceSpec, replaceServers: boolean, path = 'service'): ChangeResult<Service> {
  const state = copyState(current);
  const service = findService(state, spec, joinPath(path, 'key'));
  applyServiceSettings(service, spec);
  if (replaceServers) service.servers = assignServerIds(state, spec.servers, service.servers);
  const warnings = checkState(state, { serviceId: service.id, path });
  return { state, result: service, warnings };
}

export function deleteService(current: DesiredState, key: ServiceKey, path = 'key'): ChangeResult<Service> {
  const state = copyState(current);
  const service = findService(state, key, path);
  state.services = state.services.filter((s) => s !== service);
  return { state, result: service, warnings: checkState(state) };
}

export function addServer(current: DesiredState, key: ServiceKey, spec: ServerSpec, path = 'server'): ChangeResult<Service> {
  const state = copyState(current);
  const service = findService(state, key, 'service');
  if (service.servers.some((s) => endpoint(s) === endpoint(spec))) {
    throw new ModelError('ALREADY_EXISTS', path, `real server ${endpoint(spec)} already exists in ${serviceKeyText(key)}`);
  }
  const allocation = allocateIds(usedServerIds(state), 1, state.nextServerId, SERVER_ID_MAX, 'real server');
  state.nextServerId = allocation.next;
  service.servers.push({ id: allocation.ids[0]!, ...spec });
  const warnings = checkState(state, { serviceId: service.id, path: 'service' });
  return { state, result: service, warnings };
}

/** Changes a server's weight, thresholds and forwarding method (address and port name it). */
export function updateServer(current: DesiredState, key: ServiceKey, spec: ServerSpec, path = 'server'): ChangeResult<Service> {
  const state = copyState(current);
  const service = findService(state, key, 'service');
  const server = service.servers.find((s) => endpoint(s) === endpoint(spec));
  if (!server) throw new ModelError('NOT_FOUND', path, `real server ${endpoint(spec)} does not exist in ${serviceKeyText(key)}`);
  server.weight = spec.weight;
  delete server.upperThreshold;
  delete server.lowerThreshold;
  if (spec.upperThreshold) server.upperThreshold = spec.upperThreshold;
  if (spec.lowerThreshold) server.lowerThreshold = spec.lowerThreshold;
  delete server.forward;  // like ipvsadm -e: the method given (or the default) replaces the old one
  if (spec.forward) server.forward = spec.forward;
  delete server.quicId;
  if (spec.quicId) server.quicId = spec.quicId;
  const warnings = checkState(state, { serviceId: service.id, path: 'service' });
  return { state, result: service, warnings };
}

export function removeServer(current: DesiredState, key: ServiceKey, address: string, port: number, path = 'address'): ChangeResult<Service> {
  const state = copyState(current);
  const service = findService(state, key, 'service');
  const before = service.servers.length;
  service.servers = service.servers.filter((s) => !(s.address === address && s.port === port));
  if (service.servers.length === before) {
    throw new ModelError('NOT_FOUND', path, `real server ${addressPort(address, port)} does not exist in ${serviceKeyText(key)}`);
  }
  const warnings = checkState(state, { serviceId: service.id, path: 'service' });
  return { state, result: service, warnings };
}

/** Builds the initial state from seed specs (config file services), ids 1..n. */
export function seedServices(base: DesiredState, specs: ServiceSpec[]): ChangeResult<Service[]> {
  let state = base;
  const created: Service[] = [];
  specs.forEach((spec, i) => {
    const change = createService(state, spec, joinPath('services', i));
    state = change.state;
    created.push(change.result);
  });
  return { state, result: created, warnings: checkState(state) };
}
