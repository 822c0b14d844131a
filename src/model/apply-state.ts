// ApplyState's model step: a whole desired set of services (and optionally routes) becomes ONE new
// state, or nothing does. Every listed service ends up exactly as listed (its servers are the whole
// list: servers not listed are removed); services not listed are left alone, or deleted with prune.
// The whole result is checked once (never one intermediate state per service, which could refuse a
// reshuffle — two services swapping names — that is valid as a whole).
import { checkState } from './check.js';
import { diffConfig, generationOf, isEmptyDiff, type ConfigDiff } from './config-diff.js';
import type { ChangeResult, DesiredState } from './desired-state.js';
import { joinPath, ModelError } from './errors.js';
import { allocateIds, SERVICE_ID_MAX, usedServiceIds } from './ids.js';
import { addressPort } from './ip-address.js';
import { applyServiceSettings, assignServerIds } from './ops.js';
import { checkRoutePort } from './route-ops.js';
import { LIMITS, sameKey, serviceKeyText, type Route, type Service, type ServiceSpec } from './types.js';

export interface DesiredConfig {
  /** Already read field by field, in request order (errors name "services[i]…"). */
  services: ServiceSpec[];
  /** Absent: routes are left as they are. */
  routes?: Route[];
  /** Delete the services (and, with routes, the routes) the request does not list. */
  prune: boolean;
  /** Absent: no check. Else the change is ABORTED unless the state is at this generation. */
  expectedGeneration?: number;
}

export interface ApplyOutcome {
  diff: ConfigDiff;
  /** The generation after the change (the current one when nothing changed). */
  generation: number;
}

function refuseDuplicates<T>(items: readonly T[], keyOf: (item: T) => string, path: (i: number) => string, what: string): void {
  const first = new Map<string, number>();
  items.forEach((item, i) => {
    const key = keyOf(item);
    const earlier = first.get(key);
    if (earlier !== undefined) throw new ModelError('INVALID_ARGUMENT', path(i), `${what} ${key} is listed twice (also at ${path(earlier)})`);
    first.set(key, i);
  });
}

/**
 * The new state; result = its diff against `current` and the generation it will have. Throws
 * ModelError (ABORTED for a stale expected generation) and then nothing changes.
 */
export function applyDesiredConfig(current: DesiredState, desired: DesiredConfig): ChangeResult<ApplyOutcome> {
  const generation = generationOf(current);
  if (desired.expectedGeneration !== undefined && desired.expectedGeneration !== generation) {
    throw new ModelError('ABORTED', 'expected_generation',
      `the configuration is at generation ${generation}, not ${desired.expectedGeneration}: it changed since it was read; nothing changed (read it again and retry)`);
  }
  refuseDuplicates(desired.services, serviceKeyText, (i) => joinPath(joinPath('services', i), 'key'), 'virtual service');
  if (desired.routes) {
    refuseDuplicates(desired.routes, (r) => r.prefix, (i) => joinPath(joinPath('routes', i), 'prefix'), 'route to');
    desired.routes.forEach((route, i) => checkRoutePort(current, route, joinPath('routes', i)));
  }

  const state = structuredClone(current);
  // Listed services first, in request order, so that the whole-state check's "services[i]" is the request's.
  const listed: Service[] = [];
  const fresh: { at: number; spec: ServiceSpec }[] = [];
  for (const spec of desired.services) {
    const existing = state.services.find((s) => sameKey(s, spec));
    if (!existing) {
      fresh.push({ at: listed.length, spec });
      listed.push(undefined as unknown as Service);  // placed below, once ids are allocated
      continue;
    }
    applyServiceSettings(existing, spec);
    // Servers still listed keep their ids and the health checker's verdict.
    const verdicts = new Map(existing.servers.map((s) => [addressPort(s.address, s.port), s.healthDown]));
    existing.servers = assignServerIds(state, spec.servers, existing.servers).map((server) => {
      const down = verdicts.get(addressPort(server.address, server.port));
      return down ? { ...server, healthDown: true } : server;
    });
    listed.push(existing);
  }
  const unlisted = state.services.filter((s) => !listed.includes(s));
  if (fresh.length > 0) {
    const inUse = usedServiceIds({ ...state, services: desired.prune ? listed.filter(Boolean) : [...listed.filter(Boolean), ...unlisted] });
    const allocation = allocateIds(inUse, fresh.length, state.nextServiceId, SERVICE_ID_MAX, 'virtual service');
    state.nextServiceId = allocation.next;
    fresh.forEach(({ at, spec }, n) => {
      const service: Service = { ...structuredClone(spec), id: allocation.ids[n]!, servers: [] };
      service.servers = assignServerIds(state, spec.servers, []);
      listed[at] = service;
    });
  }
  state.services = desired.prune ? listed : [...listed, ...unlisted];
  if (state.services.length > LIMITS.maxServiceId) {
    throw new ModelError('RESOURCE_EXHAUSTED', 'services', `at most ${LIMITS.maxServiceId} virtual services are supported, this would make ${state.services.length}`);
  }

  if (desired.routes) {
    const listedRoutes = desired.routes.map((r) => ({ ...r }));
    const kept = desired.prune ? [] : state.routes.filter((r) => !listedRoutes.some((l) => l.prefix === r.prefix));
    state.routes = [...listedRoutes, ...kept];
    if (state.routes.length > LIMITS.maxRoutes) {
      throw new ModelError('RESOURCE_EXHAUSTED', 'routes', `at most ${LIMITS.maxRoutes} routes are supported, this would make ${state.routes.length}`);
    }
  }

  const warnings = checkState(state);
  const diff = diffConfig(current, state);
  return { state, result: { diff, generation: isEmptyDiff(diff) ? generation : generation + 1 }, warnings };
}
