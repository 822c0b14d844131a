// What changed between two configurations, field by field: the answer ApplyState gives and what
// WatchConfig streams. Only what an operator configures counts: ids, the health checker's
// verdicts (healthDown) and defence mitigations are not configuration, so they never make a
// change (nor a new generation). Services are matched by protocol + VIP + port, their servers by
// address:port, routes by prefix.
import type { DesiredState } from './desired-state.js';
import { addressPort } from './ip-address.js';
import { serverToRaw, serviceSettingsToRaw } from './service-raw.js';
import { serviceKeyText, type Route, type ServerSpec, type ServiceKey, type ServiceSpec } from './types.js';

/** One field that differs; "" = the field is not set on that side (absent, or its default). */
export interface FieldChange {
  field: string;
  before: string;
  after: string;
}

export type ChangeAction = 'created' | 'updated' | 'deleted';

export interface ServiceChange {
  action: ChangeAction;
  key: ServiceKey;
  /** The service's name (the new one, or the deleted service's). */
  name: string;
  fields: FieldChange[];
}

export interface RouteChange {
  action: ChangeAction;
  prefix: string;
  fields: FieldChange[];
}

export interface ConfigDiff {
  services: ServiceChange[];
  routes: RouteChange[];
}

export function isEmptyDiff(diff: ConfigDiff): boolean {
  return diff.services.length === 0 && diff.routes.length === 0;
}

/** A value as the diff shows it: strings and numbers as they are, lists comma-separated. */
function text(value: unknown): string {
  if (value === undefined || value === null || value === false || value === '') return '';
  if (Array.isArray(value)) return value.map(String).join(', ');
  return String(value);
}

/** Settings whose default is written out in the raw form: the diff shows them as unset. */
// (weight 0, quiesced, is a setting and shows as "0".)
const SHOWN_AS_UNSET: Record<string, string> = { client_address: 'none', synproxy: 'off' };
/** The key, not a field: it matches services (and servers) instead of differing. */
const SERVICE_KEY_FIELDS = new Set(['protocol', 'vip', 'port']);
const SERVER_KEY_FIELDS = new Set(['address', 'port']);

/** Flattens one raw object into `fields`: nested objects as "outer.inner" (timeouts, health_check, …). */
function putRaw(fields: Map<string, string>, prefix: string, raw: Record<string, unknown>, skip: Set<string>): void {
  for (const [name, value] of Object.entries(raw)) {
    if (skip.has(name)) continue;
    const field = prefix + name;
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      putRaw(fields, `${field}.`, value as Record<string, unknown>, new Set());
      continue;
    }
    const shown = value === SHOWN_AS_UNSET[field] ? '' : text(value);
    if (shown !== '') fields.set(field, shown);
  }
}

/**
 * A service flattened to "field path → shown value", the paths spelled like the config's YAML
 * (service-raw.ts writes it, as the state file does): "scheduler", "timeouts.tcp_established",
 * "health_check.interval_ms", "servers[198.19.0.1:80].weight". Unset fields are left out, so
 * "absent" and "set to its default by omission" compare equal.
 */
export function serviceFieldMap(service: Omit<ServiceSpec, 'servers'> & { servers: readonly ServerSpec[] }): Map<string, string> {
  const fields = new Map<string, string>();
  putRaw(fields, '', serviceSettingsToRaw(service), SERVICE_KEY_FIELDS);
  for (const server of service.servers) {
    putRaw(fields, `servers[${addressPort(server.address, server.port)}].`, serverToRaw(server), SERVER_KEY_FIELDS);
  }
  return fields;
}

function routeFieldMap(route: Route): Map<string, string> {
  const fields = new Map<string, string>([['port', route.port]]);
  if (route.via) fields.set('via', route.via);
  return fields;
}

/** Every field that differs, in a stable order (the "before" side's order, then fields only "after" has). */
function fieldChanges(before: Map<string, string>, after: Map<string, string>): FieldChange[] {
  const changes: FieldChange[] = [];
  for (const [field, value] of before) {
    const next = after.get(field) ?? '';
    if (next !== value) changes.push({ field, before: value, after: next });
  }
  for (const [field, value] of after) {
    if (!before.has(field)) changes.push({ field, before: '', after: value });
  }
  return changes;
}

type Keyed = Omit<ServiceSpec, 'servers'> & { servers: readonly ServerSpec[] };

/** Services of `before` and `after` compared by key; `after` order first, then deletions in `before` order. */
export function diffServices(before: readonly Keyed[], after: readonly Keyed[]): ServiceChange[] {
  const old = new Map(before.map((s) => [serviceKeyText(s), s]));
  const changes: ServiceChange[] = [];
  const seen = new Set<string>();
  for (const service of after) {
    const keyText = serviceKeyText(service);
    seen.add(keyText);
    const previous = old.get(keyText);
    const key = { protocol: service.protocol, vip: service.vip, port: service.port };
    const fields = fieldChanges(previous ? serviceFieldMap(previous) : new Map(), serviceFieldMap(service));
    if (!previous) changes.push({ action: 'created', key, name: service.name, fields });
    else if (fields.length > 0) changes.push({ action: 'updated', key, name: service.name, fields });
  }
  for (const service of before) {
    if (seen.has(serviceKeyText(service))) continue;
    changes.push({ action: 'deleted', key: { protocol: service.protocol, vip: service.vip, port: service.port }, name: service.name,
      fields: fieldChanges(serviceFieldMap(service), new Map()) });
  }
  return changes;
}

export function diffRoutes(before: readonly Route[], after: readonly Route[]): RouteChange[] {
  const old = new Map(before.map((r) => [r.prefix, r]));
  const changes: RouteChange[] = [];
  const seen = new Set<string>();
  for (const route of after) {
    seen.add(route.prefix);
    const previous = old.get(route.prefix);
    const fields = fieldChanges(previous ? routeFieldMap(previous) : new Map(), routeFieldMap(route));
    if (!previous) changes.push({ action: 'created', prefix: route.prefix, fields });
    else if (fields.length > 0) changes.push({ action: 'updated', prefix: route.prefix, fields });
  }
  for (const route of before) {
    if (!seen.has(route.prefix)) changes.push({ action: 'deleted', prefix: route.prefix, fields: fieldChanges(routeFieldMap(route), new Map()) });
  }
  return changes;
}

/** The configuration difference between two desired states (services and routes). */
export function diffConfig(before: DesiredState, after: DesiredState): ConfigDiff {
  return { services: diffServices(before.services, after.services), routes: diffRoutes(before.routes, after.routes) };
}

/** Generation of a state: 1 for a state that never had a configuration change counted. */
export function generationOf(state: DesiredState): number {
  return state.generation ?? 1;
}

/** "2 created, 1 updated, 0 deleted" for logs. */
export function diffSummary(diff: ConfigDiff): Record<'created' | 'updated' | 'deleted', number> {
  const count = (action: ChangeAction) => diff.services.filter((c) => c.action === action).length
    + diff.routes.filter((c) => c.action === action).length;
  return { created: count('created'), updated: count('updated'), deleted: count('deleted') };
}
