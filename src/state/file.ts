// The state file: the services (with their ids) that survive a restart. Written
// atomically (temp file, fsync, rename, fsync dir) so a crash leaves either the old
// or the new file, never a torn one. A file we cannot trust stops the daemon: we
// never overwrite it, since it may be the only copy of the operator's services.
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { readInteger, readList, readObject } from '../model/fields.js';
import {
  healthCheckToRaw, joinPath, LIMITS, mitigationToRaw, ModelError, readMitigations, readServiceSpec, schedulingToRaw, thresholdsToRaw, TIMEOUT_FIELDS,
  type DesiredState, type Mitigation, type Service,
} from '../model/index.js';

export const STATE_FORMAT = 1;

export interface PersistedState {
  services: Service[];
  nextServiceId: number;
  nextServerId: number;
  /** Flood defences; absent in files written before issue 5. */
  mitigations?: Mitigation[];
  /** What loading had to change in the file's services, one line each, for the log. */
  loadWarnings?: string[];
}

/**
 * A UDP service with client_address set was accepted before it was refused (UDP carriage does not
 * exist, so the setting never did anything). Refusing the file would stop the daemon and every
 * service in it over a setting with no effect, so it loads with client_address none and says so;
 * the next write of the file stores none.
 */
function resetUdpClientAddress(service: Record<string, unknown>, path: string, warnings: string[]): Record<string, unknown> {
  const mode = service.client_address;
  if (service.protocol !== 'udp' || mode === undefined || mode === '' || mode === 'none') return service;
  warnings.push(`${joinPath(path, 'client_address')}: ${String(mode)} on UDP service ${String(service.vip)}:${String(service.port)} ` +
    'had no effect (client-address carriage works for TCP only) and is no longer accepted: loaded as none');
  return { ...service, client_address: 'none' };
}

export class StateFileError extends Error {
  override readonly name = 'StateFileError';
  constructor(readonly file: string, detail: string) {
    super(`state file ${file}: ${detail}. Fix or move the file away, or start with --reset-state to re-seed from the config (the file is then replaced).`);
  }
}

/** JSON form: snake_case like the config and proto, so operators can read it. */
function serviceToJson(service: Service): Record<string, unknown> {
  const timeouts: Record<string, number> = {};
  for (const { key, name } of TIMEOUT_FIELDS) {
    const value = service.timeouts[key];
    if (value !== undefined) timeouts[name] = value;
  }
  return {
    id: service.id,
    name: service.name,
    protocol: service.protocol,
    vip: service.vip,
    port: service.port,
    scheduler: service.scheduler,
    client_address: service.clientAddress,
    synproxy: service.synproxy,
    ...(service.synproxyRstOnBadCookie ? { synproxy_rst_on_bad_cookie: true } : {}),
    ...(service.synproxyAuto ? { synproxy_auto: { syn_rate: service.synproxyAuto.synRate, hold_seconds: service.synproxyAuto.holdSeconds } } : {}),
    local_addresses: service.localAddresses,
    timeouts,
    ...schedulingToRaw(service),
    ...(service.healthCheck ? { health_check: healthCheckToRaw(service.healthCheck) } : {}),
    servers: service.servers.map((s) => ({ id: s.id, address: s.address, port: s.port, weight: s.weight, ...thresholdsToRaw(s), ...(s.forward ? { forward: s.forward } : {}) })),
  };
}

export function serializeState(state: Pick<DesiredState, 'services' | 'nextServiceId' | 'nextServerId' | 'mitigations'>): string {
  return `${JSON.stringify({
    format: STATE_FORMAT,
    next_service_id: state.nextServiceId,
    next_server_id: state.nextServerId,
    services: state.services.map(serviceToJson),
    // Only when present, so a file without defences reads the same to an older daemon.
    ...(state.mitigations?.length ? { mitigations: state.mitigations.map(mitigationToRaw) } : {}),
  }, null, 2)}\n`;
}

/** Parses state file text with the same validator as every other door, plus id checks. */
export function parseState(text: string): PersistedState {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ModelError('INVALID_ARGUMENT', '', `not valid JSON (${(error as Error).message})`);
  }
  const root = readObject(json, '(top level)');
  if (root.format !== STATE_FORMAT) {
    throw new ModelError('INVALID_ARGUMENT', 'format', `expected ${STATE_FORMAT}, got ${JSON.stringify(root.format)}`);
  }
  const loadWarnings: string[] = [];
  const services = readList(root.services ?? [], 'services', LIMITS.maxServiceId).map((raw, i) => {
    const path = joinPath('services', i);
    const object = resetUdpClientAddress(readObject(raw, path), path, loadWarnings);
    const { id, servers, ...rest } = object;
    const serverList = readList(servers ?? [], joinPath(path, 'servers'), LIMITS.maxServersPerService);
    const spec = readServiceSpec({ ...rest, servers: serverList.map((s, j) => {
      const { id: _id, ...server } = readObject(s, joinPath(joinPath(path, 'servers'), j));
      return server;
    }) }, path);
    const service: Service = {
      ...spec,
      id: readInteger(id, joinPath(path, 'id'), 1, LIMITS.maxServiceId),
      servers: spec.servers.map((server, j) => ({
        ...server,
        id: readInteger((serverList[j] as Record<string, unknown>).id, joinPath(joinPath(joinPath(path, 'servers'), j), 'id'), 1, LIMITS.maxServerId),
      })),
    };
    return service;
  });
  return {
    services,
    nextServiceId: root.next_service_id === undefined ? 1 : readInteger(root.next_service_id, 'next_service_id', 1, LIMITS.maxServiceId),
    nextServerId: root.next_server_id === undefined ? 1 : readInteger(root.next_server_id, 'next_server_id', 1, LIMITS.maxServerId),
    ...(root.mitigations !== undefined ? { mitigations: readMitigations(root.mitigations, 'mitigations') } : {}),
    ...(loadWarnings.length ? { loadWarnings } : {}),
  };
}

/** Reads the state file; undefined when it does not exist. Throws StateFileError when it cannot be trusted. */
export async function readStateFile(file: string): Promise<PersistedState | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new StateFileError(file, `cannot be read (${(error as Error).message})`);
  }
  try {
    return parseState(text);
  } catch (error) {
    if (error instanceof ModelError) throw new StateFileError(file, `is corrupt: ${error.message}`);
    throw error;
  }
}

/** Replaces the file atomically and durably. */
export async function writeStateFile(file: string, text: string): Promise<void> {
  const directory = dirname(file);
  await mkdir(directory, { recursive: true });
  const temporary = join(directory, `.${basename(file)}.${process.pid}.tmp`);
  try {
    const handle = await open(temporary, 'w', 0o640);
    try {
      await handle.writeFile(text, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, file);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
  // fsync the directory so the rename itself survives a power cut.
  const dirHandle = await open(directory, 'r');
  try {
    await dirHandle.sync();
  } finally {
    await dirHandle.close();
  }
}
