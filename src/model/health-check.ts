// The health checker's door into the model: its verdicts change which servers take new
// connections, never their configured weights.
import { ModelError } from './errors.js';
import type { ChangeResult, DesiredState } from './desired-state.js';
import { findService } from './ops.js';
import { serviceKeyText, type Server, type Service, type ServiceKey } from './types.js';

/**
 * Marks a real server down (the data plane then sees weight 0: no new connections, existing
 * ones continue) or up again. The configured weight is never touched, so restoring needs no memory.
 */
export function setServerHealth(current: DesiredState, key: ServiceKey, serverId: number, down: boolean): ChangeResult<Service> {
  const state = structuredClone(current);
  const service = findService(state, key, 'service');
  const server = service.servers.find((s) => s.id === serverId);
  if (!server) throw new ModelError('NOT_FOUND', 'server', `real server id ${serverId} is no longer in ${serviceKeyText(key)}`);
  if (down) server.healthDown = true;
  else delete server.healthDown;
  return { state, result: service, warnings: [] };
}

/**
 * Marks a real server backed off by passive health (src/health/passive.ts) or lets it back. Its own
 * flag beside healthDown: a server either took down stays down until both let it back.
 */
export function setServerPassiveDown(current: DesiredState, key: ServiceKey, serverId: number, down: boolean): ChangeResult<Service> {
  const state = structuredClone(current);
  const service = findService(state, key, 'service');
  const server = service.servers.find((s) => s.id === serverId);
  if (!server) throw new ModelError('NOT_FOUND', 'server', `real server id ${serverId} is no longer in ${serviceKeyText(key)}`);
  if (down) server.passiveDown = true;
  else delete server.passiveDown;
  return { state, result: service, warnings: [] };
}

/** Why a server is down: 'active' (its health check), 'passive' (passive health), both, or none (up). */
export function downReasons(server: Server): ('active' | 'passive')[] {
  return [...(server.healthDown ? ['active' as const] : []), ...(server.passiveDown ? ['passive' as const] : [])];
}

/** Weight the data plane runs with: the configured one unless the health check or passive health took the server down. */
export function effectiveWeight(server: Server): number {
  return server.healthDown || server.passiveDown ? 0 : server.weight;
}
