// Checks that need the whole desired state (uniqueness across services, LIPs vs
// VIPs, route ports, ids, forwarding methods against SYNPROXY and client address).
// Field-level checks live in validate.ts. Every change and every load ends here.
import { checkForwarding } from './check-forwarding.js';
import type { DesiredState } from './desired-state.js';
import { joinPath, ModelError } from './errors.js';
import { checkFamilies } from './check-family.js';
import { checkQuicIds } from './check-quic.js';
import { formatIp, parseIp, parsePrefix, prefixContains, type IpAddress, type IpPrefix } from './ip-address.js';
import { LIMITS, serviceKeyText, type Service } from './types.js';

/**
 * Where to report problems with the service being changed: the request's own
 * path ("service") reads better over gRPC than "services[7]".
 */
export interface CheckFocus {
  serviceId: number;
  /** The service's path in the request; absent: "services[i]". */
  path?: string;
  /** The request path of a SYNPROXY override of this service being set (defense.ts). */
  overridePath?: string;
}

/**
 * Throws the first ModelError found; returns warnings (things that work but look wrong).
 * `now` decides which defence overrides are active.
 */
export function checkState(state: DesiredState, focus?: CheckFocus, now = Date.now()): string[] {
  const warnings: string[] = [];
  const connected = checkPorts(state);
  checkRoutes(state);
  checkServices(state, connected, warnings, now, focus);
  return warnings;
}

/** An address the validator already accepted (malformed ones never reach the whole-state checks). */
function address(text: string): IpAddress {
  return parseIp(text) ?? { family: 4, value: 0n };
}

function checkPorts(state: DesiredState): IpPrefix[] {
  if (state.ports.length === 0 || state.ports.length > LIMITS.maxPorts) {
    throw new ModelError('INVALID_ARGUMENT', 'ports', `expected 1..${LIMITS.maxPorts} ports, got ${state.ports.length}`);
  }
  const names = new Set<string>();
  const owned = new Set<string>();
  const connected: IpPrefix[] = [];
  state.ports.forEach((port, i) => {
    const path = joinPath('ports', i);
    if (names.has(port.name)) throw duplicate(joinPath(path, 'name'), `port name "${port.name}"`);
    names.add(port.name);
    port.addresses.forEach((text, j) => {
      const prefix = parsePrefix(text);
      if (!prefix) return;  // validate.ts already rejected malformed addresses
      const key = formatIp({ family: prefix.family, value: prefix.address });
      if (owned.has(key)) throw duplicate(joinPath(joinPath(path, 'addresses'), j), `address ${text}`);
      owned.add(key);
      connected.push(prefix);
    });
  });
  return connected;
}

function checkRoutes(state: DesiredState): void {
  if (state.routes.length > LIMITS.maxRoutes) {
    throw new ModelError('INVALID_ARGUMENT', 'routes', `expected at most ${LIMITS.maxRoutes} routes, got ${state.routes.length}`);
  }
  const portNames = state.ports.map((p) => p.name);
  const prefixes = new Set<string>();
  state.routes.forEach((route, i) => {
    const path = joinPath('routes', i);
    if (!portNames.includes(route.port)) {
      throw new ModelError('INVALID_ARGUMENT', joinPath(path, 'port'),
        `expected one of the configured ports (${portNames.join(', ')}), got "${route.port}"`);
    }
    if (prefixes.has(route.prefix)) throw duplicate(joinPath(path, 'prefix'), `route ${route.prefix}`);
    prefixes.add(route.prefix);
  });
}

function checkServices(state: DesiredState, connected: IpPrefix[], warnings: string[], now: number, focus?: CheckFocus): void {
  if (state.services.length > LIMITS.maxServiceId) {
    throw new ModelError('RESOURCE_EXHAUSTED', 'services', `at most ${LIMITS.maxServiceId} services are supported`);
  }
  const pathOf = (service: Service, index: number) =>
    (focus?.serviceId === service.id ? focus.path : undefined) ?? joinPath('services', index);
  // When two services clash, blame the one being changed if it is one of them.
  const blame = (a: { s: Service; i: number }, b: { s: Service; i: number }) =>
    focus && a.s.id === focus.serviceId ? a : b;

  const portAddresses = new Set(connected.map((p) => formatIp({ family: p.family, value: p.address })));
  const byKey = new Map<string, { s: Service; i: number }>();
  const byName = new Map<string, { s: Service; i: number }>();
  const vips = new Map<string, { s: Service; i: number }>();
  const serviceIds = new Set<number>();
  const serverIds = new Set<number>();

  state.services.forEach((service, i) => {
    const here = { s: service, i };
    const path = pathOf(service, i);
    if (!Number.isInteger(service.id) || service.id < 1 || service.id > LIMITS.maxServiceId || serviceIds.has(service.id)) {
      throw new ModelError('INTERNAL', joinPath(path, 'id'), `service id ${service.id} is out of range or not unique`);
    }
    serviceIds.add(service.id);

    const key = serviceKeyText(service);
    const clash = byKey.get(key);
    if (clash) {
      const culprit = blame(clash, here);
      throw new ModelError('ALREADY_EXISTS', pathOf(culprit.s, culprit.i), `virtual service ${key} already exists`);
    }
    byKey.set(key, here);

    if (service.name) {
      const named = byName.get(service.name);
      if (named) {
        const culprit = blame(named, here);
        throw new ModelError('ALREADY_EXISTS', joinPath(pathOf(culprit.s, culprit.i), 'name'),
          `a virtual service named "${service.name}" already exists`);
      }
      byName.set(service.name, here);
    }

    const vip = address(service.vip);
    if (portAddresses.has(service.vip)) {
      throw new ModelError('INVALID_ARGUMENT', joinPath(path, 'vip'), `${service.vip} is a port address; a VIP must be an address of its own`);
    }
    if (!vips.has(service.vip)) vips.set(service.vip, here);
    if (!connected.some((p) => prefixContains(p, vip))) {
      const resolution = vip.family === 4 ? 'ARP' : 'neighbour discovery';
      warnings.push(`${joinPath(path, 'vip')}: ${service.vip} is not inside any port's connected prefix; ${resolution} for it will not be answered on a segment`);
    }
    checkFamilies(service, path);
    checkQuicIds(service.servers, joinPath(path, 'servers'));

    const overridePath = focus?.serviceId === service.id ? focus.overridePath : undefined;
    checkForwarding(state, service, { service: path, ...(overridePath !== undefined ? { override: overridePath } : {}) }, now, warnings);
    for (const server of service.servers) {
      if (!Number.isInteger(server.id) || server.id < 1 || server.id > LIMITS.maxServerId || serverIds.has(server.id)) {
        throw new ModelError('INTERNAL', joinPath(path, 'servers'), `server id ${server.id} is out of range or not unique`);
      }
      serverIds.add(server.id);
    }
  });

  // LIPs are checked after every VIP is known, so order in the list does not matter.
  state.services.forEach((service, i) => {
    const path = pathOf(service, i);
    service.localAddresses.forEach((lip, j) => {
      const lipPath = joinPath(joinPath(path, 'local_addresses'), j);
      const vipOwner = vips.get(lip);
      if (vipOwner) {
        throw new ModelError('INVALID_ARGUMENT', lipPath,
          `${lip} is the VIP of ${serviceKeyText(vipOwner.s)}; a local address must not be a VIP`);
      }
      if (portAddresses.has(lip)) {
        throw new ModelError('INVALID_ARGUMENT', lipPath, `${lip} is a port address; a local address must be an address of its own`);
      }
      if (!connected.some((p) => prefixContains(p, address(lip)))) {
        warnings.push(`${lipPath}: ${lip} is not inside any port's connected prefix; replies to it may not reach the gateway`);
      }
    });
  });
}

function duplicate(path: string, what: string): ModelError {
  return new ModelError('INVALID_ARGUMENT', path, `duplicate ${what}`);
}
