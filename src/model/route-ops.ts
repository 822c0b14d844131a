// Static routes changed at run time (portcullis.v1.Routes). Same rules as the config's `routes:`
// (readRoute for each field, checkState for the whole state); errors name the request's fields
// ("route.port", "prefix") rather than "routes[3]". The input state is never modified.
import { checkState } from './check.js';
import type { ChangeResult, DesiredState } from './desired-state.js';
import { joinPath, ModelError } from './errors.js';
import { isLinkLocal6, parseIp, parsePrefix, prefixContains } from './ip-address.js';
import { LIMITS, type Route } from './types.js';

/** Refuses a route whose port is not configured or whose next hop is not on that port's link. */
export function checkRoutePort(current: DesiredState, route: Route, path: string): void {
  const portNames = current.ports.map((p) => p.name);
  if (!portNames.includes(route.port)) {
    throw new ModelError('INVALID_ARGUMENT', joinPath(path, 'port'),
      `expected one of the configured ports (${portNames.join(', ')}), got "${route.port}"`);
  }
  // The data plane refuses a next hop it could not reach on the port's link; say so by field here.
  // A link-local IPv6 next hop is on the port's link by definition.
  const port = current.ports.find((p) => p.name === route.port)!;
  const via = route.via === undefined ? undefined : parseIp(route.via);
  if (via && !isLinkLocal6(via) && !port.addresses.some((text) => { const prefix = parsePrefix(text); return prefix !== undefined && prefixContains(prefix, via); })) {
    throw new ModelError('INVALID_ARGUMENT', joinPath(path, 'via'),
      `expected a next hop inside a connected prefix of port ${port.name} (${port.addresses.join(', ')}), got ${route.via}`);
  }
}

/** Adds a route; ALREADY_EXISTS when its prefix has one, RESOURCE_EXHAUSTED at the limit. */
export function addRoute(current: DesiredState, route: Route, path = 'route'): ChangeResult<Route> {
  checkRoutePort(current, route, path);
  if (current.routes.some((r) => r.prefix === route.prefix)) {
    throw new ModelError('ALREADY_EXISTS', joinPath(path, 'prefix'), `a route to ${route.prefix} already exists`);
  }
  if (current.routes.length >= LIMITS.maxRoutes) {
    throw new ModelError('RESOURCE_EXHAUSTED', path, `at most ${LIMITS.maxRoutes} routes are supported`);
  }
  const state = structuredClone(current);
  state.routes.push({ ...route });
  return { state, result: route, warnings: checkState(state) };
}

/** Removes the route to `prefix` (canonical); NOT_FOUND when there is none. */
export function deleteRoute(current: DesiredState, prefix: string, path = 'prefix'): ChangeResult<Route> {
  const found = current.routes.find((r) => r.prefix === prefix);
  if (!found) throw new ModelError('NOT_FOUND', path, `no route to ${prefix}`);
  const state = structuredClone(current);
  state.routes = state.routes.filter((r) => r.prefix !== prefix);
  return { state, result: found, warnings: checkState(state) };
}
