// The state file: the services (with their ids) that survive a restart. Written
// atomically (temp file, fsync, rename, fsync dir) so a crash leaves either the old
// or the new file, never a torn one. A file we cannot trust stops the daemon: we
// never overwrite it, since it may be the only copy of the operator's services.
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { readInteger, readList, readObject } from '../model/fields.js';
import {
  joinPath, LIMITS, mitigationToRaw, ModelError, readMitigations, readRoute, readServiceSpec, serverToRaw, serviceSettingsToRaw,
  serviceKeyText, type DesiredState, type Mitigation, type Route, type Service, type ServiceSpec,
} from '../model/index.js';

export const STATE_FORMAT = 1;

export interface PersistedState {
  services: Service[];
  nextServiceId: number;
  nextServerId: number;
  /** Flood defences; absent in files written before issue 5. */
  mitigations?: Mitigation[];
  /** Configuration generation (config-diff.ts); absent in files written before ApplyState existed (= 1). */
  generation?: number;
  /** Static routes; absent in files written before routes could change at run time (the config's then apply). */
  routes?: Route[];
  /** What was left out while reading (for the start-up log); [] when the file was taken whole. */
  notes: string[];
}

/**
 * A UDP service with client_address set was accepted, once, before UDP had any carriage (the setting
 * did nothing), then refused. Refusing such a file would stop the daemon and every service in it over a
 * setting with no effect, so it loads with client_address none and says so; the next write stores none.
 * Files written since UDP carriage exists say so (UDP_CARRIAGE_KEY): their UDP modes are real and load
 * as they are. toa / proxy_v1 never work on UDP, so they are reset in any file.
 */
const UDP_CARRIAGE_KEY = 'udp_client_address';
function resetUdpClientAddress(service: Record<string, unknown>, path: string, notes: string[], udpCarriageKnown: boolean): Record<string, unknown> {
  const mode = service.client_address;
  if (service.protocol !== 'udp' || mode === undefined || mode === '' || mode === 'none') return service;
  if (udpCarriageKnown && mode !== 'toa' && mode !== 'proxy_v1') return service;
  notes.push(`${joinPath(path, 'client_address')}: ${String(mode)} on UDP service ${String(service.vip)}:${String(service.port)} ` +
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
  return {
    id: service.id,
    ...serviceSettingsToRaw(service),
    servers: service.servers.map((s) => ({ id: s.id, ...serverToRaw(s) })),
  };
}

export function serializeState(state: Pick<DesiredState, 'services' | 'nextServiceId' | 'nextServerId' | 'mitigations' | 'generation'> & { routes?: Route[] }): string {
  return `${JSON.stringify({
    format: STATE_FORMAT,
    // Kept across restarts and hand-overs so an orchestrator's expected_generation never matches a different configuration.
    ...(state.generation !== undefined ? { generation: state.generation } : {}),
    next_service_id: state.nextServiceId,
    next_server_id: state.nextServerId,
    // A UDP service's client_address below is in effect (resetUdpClientAddress).
    [UDP_CARRIAGE_KEY]: true,
    services: state.services.map(serviceToJson),
    // Only when present, so a file without defences reads the same to an older daemon.
    ...(state.mitigations?.length ? { mitigations: state.mitigations.map(mitigationToRaw) } : {}),
    // Always written (even empty) so routes deleted over the API stay deleted after a restart.
    ...(state.routes ? { routes: state.routes.map((r) => ({ prefix: r.prefix, ...(r.via ? { via: r.via } : {}), port: r.port })) } : {}),
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
  const notes: string[] = [];
  const services = readList(root.services ?? [], 'services', LIMITS.maxServiceId).map((raw, i) => {
    const path = joinPath('services', i);
    const object = resetUdpClientAddress(readObject(raw, path), path, notes, root[UDP_CARRIAGE_KEY] === true);
    const { id, servers, ...rest } = object;
    const serverList = readList(servers ?? [], joinPath(path, 'servers'), LIMITS.maxServersPerService);
    const spec = readServiceKeepingBadCheckOut({ ...rest, servers: serverList.map((s, j) => {
      const { id: _id, ...server } = readObject(s, joinPath(joinPath(path, 'servers'), j));
      return server;
    }) }, path, notes);
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
    ...(root.generation !== undefined ? { generation: readInteger(root.generation, 'generation', 1, Number.MAX_SAFE_INTEGER) } : {}),
    ...(root.mitigations !== undefined ? { mitigations: readMitigations(root.mitigations, 'mitigations') } : {}),
    ...(root.routes !== undefined
      ? { routes: readList(root.routes, 'routes', LIMITS.maxRoutes).map((r, i) => readRoute(r, joinPath('routes', i))) }
      : {}),
    notes,
  };
}

/**
 * A health check an older version accepted and this one refuses (a path with a space crashed
 * the daemon at every start) must not keep the daemon down, nor cost the service: the service
 * is read without its check — its servers keep their configured weights, as before the check
 * was set — and a note says what was left out. Anything else that fails is still corruption.
 */
function readServiceKeepingBadCheckOut(raw: Record<string, unknown>, path: string, notes: string[]): ServiceSpec {
  try {
    return readServiceSpec(raw, path);
  } catch (error) {
    const checkPath = joinPath(path, 'health_check');
    if (!(error instanceof ModelError) || !(error.path === checkPath || error.path.startsWith(`${checkPath}.`))) throw error;
    const { health_check: refused, ...withoutCheck } = raw;
    // A TCP check never sends its path: only the path is reset, the check itself keeps working.
    const check = refused as Record<string, unknown> | null;
    if (error.path === joinPath(checkPath, 'path') && typeof check === 'object' && check?.kind === 'tcp') {
      const { path: unusedPath, ...checkWithoutPath } = check;
      const spec = readServiceKeepingBadCheckOut({ ...withoutCheck, health_check: checkWithoutPath }, path, notes);
      notes.push(`${serviceKeyText(spec)} (${path}): its TCP health check's path ${JSON.stringify(unusedPath)}, unused by TCP probes and refused by this version, is reset to "/"`);
      return spec;
    }
    const spec = readServiceSpec(withoutCheck, path);
    notes.push(`${serviceKeyText(spec)} (${path}) starts WITHOUT its health check, which this version refuses: ${error.message}; `
      + `the check was ${JSON.stringify(refused)}; its servers keep their configured weights until a valid check is set (UpdateVirtualService)`);
    return spec;
  }
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

/** The file-system calls writeStateFile makes: node:fs/promises, or a test's wrapper that fails one step. */
export interface StateFs {
  mkdir(path: string, options: { recursive: true }): Promise<unknown>;
  open(path: string, flags: string, mode?: number): Promise<StateFileHandle>;
  rename(from: string, to: string): Promise<void>;
  rm(path: string, options: { force: true }): Promise<void>;
}

export interface StateFileHandle {
  writeFile(data: string, encoding: 'utf8'): Promise<void>;
  sync(): Promise<void>;
  close(): Promise<void>;
}

export const NODE_STATE_FS: StateFs = { mkdir, open, rename, rm };

/** The steps of a state write, in order; `rename` is the commit point. */
export const STATE_WRITE_STEPS = ['mkdir', 'open-temp', 'write-temp', 'fsync-temp', 'close-temp', 'rename', 'open-dir', 'fsync-dir', 'close-dir'] as const;
export type StateWriteStep = (typeof STATE_WRITE_STEPS)[number];

/**
 * A state write that failed at `step`. `committed` is true once the rename happened: the file
 * then holds the new state (every reader and the next start see it) and only the directory
 * fsync — its survival of a power cut — is in doubt. Before the rename the old file is intact.
 */
export class StateWriteError extends Error {
  override readonly name = 'StateWriteError';
  readonly committed: boolean;
  constructor(readonly step: StateWriteStep, override readonly cause: unknown) {
    super(`${step}: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.committed = STATE_WRITE_STEPS.indexOf(step) > STATE_WRITE_STEPS.indexOf('rename');
  }
}

async function step<T>(name: StateWriteStep, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    throw new StateWriteError(name, error);
  }
}

/**
 * Replaces the file atomically and durably: temp file, fsync, rename, fsync of the directory.
 * Rejects with a StateWriteError naming the step; before the rename the temp file is removed
 * and the old file is untouched.
 */
export async function writeStateFile(file: string, text: string, fs: StateFs = NODE_STATE_FS): Promise<void> {
  const directory = dirname(file);
  const temporary = join(directory, `.${basename(file)}.${process.pid}.tmp`);
  try {
    await step('mkdir', () => fs.mkdir(directory, { recursive: true }));
    const handle = await step('open-temp', () => fs.open(temporary, 'w', 0o640));
    await closeAfter(handle, 'close-temp', async () => {
      await step('write-temp', () => handle.writeFile(text, 'utf8'));
      await step('fsync-temp', () => handle.sync());
    });
    await step('rename', () => fs.rename(temporary, file));
  } catch (error) {
    // A temp file left behind is harmless (the next write truncates it); the first error is what counts.
    await fs.rm(temporary, { force: true }).catch(() => undefined);
    throw error;
  }
  // fsync the directory so the rename itself survives a power cut.
  const dirHandle = await step('open-dir', () => fs.open(directory, 'r'));
  await closeAfter(dirHandle, 'close-dir', () => step('fsync-dir', () => dirHandle.sync()));
}

/** Runs `work`, then closes; a close failure is reported only when `work` succeeded (never hides its error). */
async function closeAfter(handle: StateFileHandle, name: StateWriteStep, work: () => Promise<void>): Promise<void> {
  try {
    await work();
  } catch (error) {
    await handle.close().catch(() => undefined);
    throw error;
  }
  await step(name, () => handle.close());
}
