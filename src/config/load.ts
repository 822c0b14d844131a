// YAML config → DaemonConfig. Every problem found is collected (one message per
// problem, each starting with its field path) so an operator fixes them in one go.
import type { FragmentTableOptions } from '../dataplane/types.js';
import { readFile } from 'node:fs/promises';
import { checkTcpSecured, readApiClients, readApiLimits, readApiTls, readApiTokens, socketPathProblem } from './api-security.js';
import { parseDocument } from 'yaml';
import {
  joinPath, ModelError, readDefaultTimeouts, readPort, readRoute, readServiceSpec, seedServices,
  DEFAULT_TIMEOUTS, type PortModel, type Route, type ServiceSpec, type Timeouts,
} from '../model/index.js';
import {
  readChoice, readInteger, readList, readObject, readString, rejectUnknownKeys, type RawObject,
} from '../model/fields.js';
import { LOG_FORMATS } from '../log.js';
import { readCluster } from './cluster.js';
import { readConnRegion } from './conn-region.js';
import { readSessionLog } from './session-log.js';
import { lcoreIds } from './lcores.js';
import { DEFAULT_API_LIMITS, DEFAULT_AUDIT_LOG, DEFAULT_METRICS_LISTEN, DEFAULT_SOCKET, type DefenseSettings, type LogSettings, DEFAULT_STATE_FILE, type ApiSettings, type MetricsSettings, type DaemonConfig, type DataplaneSettings } from './types.js';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly source: string, readonly problems: string[]) {
    super(`${source}: invalid configuration:\n  ${problems.join('\n  ')}`);
  }
}

const TOP_KEYS = ['dataplane', 'api', 'metrics', 'defense', 'log', 'state_file', 'ports', 'routes', 'timeouts', 'services', 'cluster', 'session_log'] as const;
const DATAPLANE_KEYS = ['workers', 'lcores', 'polling', 'memory_mb', 'hugepages', 'conn_capacity', 'fragments', 'bench_mode', 'conn_region'] as const;
const FRAGMENT_KEYS = ['sets', 'timeout_ms', 'max_fragments', 'max_datagram'] as const;
const API_KEYS = ['socket', 'listen', 'socket_group', 'tls', 'tokens', 'clients', 'limits'] as const;
const METRICS_KEYS = ['listen'] as const;
const DEFENSE_KEYS = ['audit_log'] as const;
const LOG_KEYS = ['format'] as const;
const LCORES = /^[0-9]+([-,@()0-9]*)$/;
const LISTEN = /^[A-Za-z0-9.\-]+:[0-9]{1,5}$|^\[[0-9a-fA-F:]+\]:[0-9]{1,5}$/;

export async function loadConfigFile(path: string): Promise<DaemonConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new ConfigError(path, [`cannot read the file: ${(error as Error).message}`]);
  }
  return parseConfig(text, path);
}

/** Parses and validates config text; throws ConfigError listing every problem. */
export function parseConfig(text: string, source = 'config'): DaemonConfig {
  const document = parseDocument(text, { uniqueKeys: true, prettyErrors: false });
  if (document.errors.length > 0) {
    throw new ConfigError(source, document.errors.map((e) => `YAML: ${e.message.split('\n')[0]}`));
  }
  const problems: string[] = [];
  // Each section is read on its own so one mistake does not hide the next.
  const attempt = <T>(read: () => T, fallback: T): T => {
    try {
      return read();
    } catch (error) {
      if (!(error instanceof ModelError)) throw error;
      problems.push(error.message);
      return fallback;
    }
  };

  const root = attempt(() => {
    const value: unknown = document.toJS();
    const object = readObject(value ?? {}, '(top level)');
    rejectUnknownKeys(object, TOP_KEYS, '');
    return object;
  }, {} as RawObject);

  const dataplane = attempt(() => readDataplane(root.dataplane), defaultDataplane());
  const api = attempt(() => readApi(root.api), { socket: DEFAULT_SOCKET, listen: '', limits: { ...DEFAULT_API_LIMITS } });
  const metrics = attempt(() => readMetrics(root.metrics), { listen: DEFAULT_METRICS_LISTEN });
  const defense = attempt(() => readDefense(root.defense), { auditLog: DEFAULT_AUDIT_LOG });
  const logSettings = attempt(() => readLog(root.log), { format: 'text' as const });
  const stateFile = attempt(
    () => (root.state_file === undefined ? DEFAULT_STATE_FILE : readString(root.state_file, 'state_file', { nonEmpty: true, maxLength: 4096 })),
    DEFAULT_STATE_FILE);
  const ports = attempt(() => readList(root.ports ?? [], 'ports', 64), [] as unknown[])
    .map((p, i) => attempt<PortModel | undefined>(() => readPort(p, joinPath('ports', i)), undefined));
  const routes = attempt(() => readList(root.routes ?? [], 'routes', 4096), [] as unknown[])
    .map((r, i) => attempt<Route | undefined>(() => readRoute(r, joinPath('routes', i)), undefined));
  const timeouts = attempt<Timeouts>(() => readDefaultTimeouts(root.timeouts, 'timeouts'), { ...DEFAULT_TIMEOUTS });
  const sessionLog = attempt(() => readSessionLog(root.session_log), undefined);
  const services = attempt(() => readList(root.services ?? [], 'services', 4095), [] as unknown[])
    .map((s, i) => attempt<ServiceSpec | undefined>(() => readServiceSpec(s, joinPath('services', i)), undefined));

  const config: DaemonConfig = {
    source,
    dataplane,
    api,
    metrics,
    defense,
    log: logSettings,
    stateFile,
    ports: ports.filter((p): p is PortModel => p !== undefined),
    routes: routes.filter((r): r is Route => r !== undefined),
    timeouts,
    services: services.filter((s): s is ServiceSpec => s !== undefined),
  };
  if (sessionLog) config.sessionLog = sessionLog;
  // Read against the ports: this node's address must be one of them, on an exception path.
  const cluster = readCluster(root.cluster, config.ports);
  problems.push(...cluster.problems);
  if (cluster.settings) config.cluster = cluster.settings;
  const clash = cluster.settings ? speakerPortClash(cluster.settings.bgp.api, config.api.listen, config.metrics.listen) : undefined;
  if (clash) problems.push(clash);

  // Whole-state checks only make sense once every part read cleanly.
  if (problems.length === 0) {
    attempt(() => seedServices(configBaseState(config), config.services), undefined);
  }
  if (problems.length > 0) throw new ConfigError(source, problems);
  return config;
}

/** GoBGP's API and ours (or the metrics) on one port: whichever starts second fails, so say it now. */
function speakerPortClash(speakerApi: string, apiListen: string, metricsListen: string): string | undefined {
  const portOf = (listen: string): string => listen.slice(listen.lastIndexOf(':') + 1);
  for (const [field, listen] of [['api.listen', apiListen], ['metrics.listen', metricsListen]] as const) {
    if (listen !== '' && portOf(listen) === portOf(speakerApi)) {
      return `cluster.bgp.api: ${speakerApi} uses port ${portOf(speakerApi)}, as ${field} ${listen} does: give GoBGP's API another port (e.g. 127.0.0.1:50052)`;
    }
  }
  return undefined;
}

/** The desired state without services, as the config describes it. */
export function configBaseState(config: DaemonConfig) {
  return {
    ports: config.ports,
    routes: config.routes,
    defaultTimeouts: config.timeouts,
    services: [],
    nextServiceId: 1,
    nextServerId: 1,
  };
}

/** Warnings (not errors) for a valid config, e.g. VIPs outside every port prefix. */
export function configWarnings(config: DaemonConfig): string[] {
  return seedServices(configBaseState(config), config.services).warnings;
}

function defaultDataplane(): DataplaneSettings {
  return { workers: 1, lcores: '0-1', polling: 'adaptive', memoryMb: 512, hugepages: 'auto', connCapacity: 262144, connRegion: 'auto' };
}

function readDataplane(value: unknown): DataplaneSettings {
  const result = defaultDataplane();
  if (value === undefined || value === null) return result;
  const raw = readObject(value, 'dataplane');
  rejectUnknownKeys(raw, DATAPLANE_KEYS, 'dataplane');
  if (raw.workers !== undefined) result.workers = readInteger(raw.workers, 'dataplane.workers', 1, 64);
  result.lcores = `0-${result.workers}`;
  if (raw.lcores !== undefined) {
    const lcores = readString(raw.lcores, 'dataplane.lcores', { nonEmpty: true, maxLength: 128 });
    const ids = LCORES.test(lcores) ? lcoreIds(lcores) : undefined;
    if (!ids) throw new ModelError('INVALID_ARGUMENT', 'dataplane.lcores', `expected an EAL core list like "0-1" or "0@0,(1-3)@1", got ${JSON.stringify(lcores)}`);
    if (ids.length < result.workers + 1) {
      throw new ModelError('INVALID_ARGUMENT', 'dataplane.lcores',
        `expected at least workers + 1 = ${result.workers + 1} lcores (the first is the main lcore, which never polls), got ${ids.length} in ${JSON.stringify(lcores)}`);
    }
    result.lcores = lcores;
  }
  if (raw.polling !== undefined) result.polling = readChoice(raw.polling, 'dataplane.polling', ['busy', 'adaptive'] as const);
  if (raw.memory_mb !== undefined) result.memoryMb = readInteger(raw.memory_mb, 'dataplane.memory_mb', 64, 1048576);
  if (raw.hugepages !== undefined) result.hugepages = readChoice(raw.hugepages, 'dataplane.hugepages', ['auto', 'on', 'off'] as const);
  if (raw.conn_capacity !== undefined) result.connCapacity = readInteger(raw.conn_capacity, 'dataplane.conn_capacity', 1024, 1 << 27);
  if (raw.fragments !== undefined) result.fragments = readFragmentTable(raw.fragments);
  if (raw.bench_mode !== undefined && readChoice(raw.bench_mode, 'dataplane.bench_mode', ['none', 'bridge'] as const) === 'bridge') {
    result.benchMode = 'bridge';
  }
  if (raw.conn_region !== undefined) result.connRegion = readConnRegion(raw.conn_region, 'dataplane.conn_region');
  return result;
}

/** dataplane.fragments: bounds of each worker's reassembly table (limits as the addon checks them). */
function readFragmentTable(value: unknown): FragmentTableOptions {
  const raw = readObject(value, 'dataplane.fragments');
  rejectUnknownKeys(raw, FRAGMENT_KEYS, 'dataplane.fragments');
  const table: FragmentTableOptions = {};
  if (raw.sets !== undefined) table.sets = readInteger(raw.sets, 'dataplane.fragments.sets', 1, 1 << 20);
  if (raw.timeout_ms !== undefined) table.timeoutMs = readInteger(raw.timeout_ms, 'dataplane.fragments.timeout_ms', 1, 60000);
  if (raw.max_fragments !== undefined) table.maxFragments = readInteger(raw.max_fragments, 'dataplane.fragments.max_fragments', 2, 64);
  if (raw.max_datagram !== undefined) table.maxDatagram = readInteger(raw.max_datagram, 'dataplane.fragments.max_datagram', 576, 65535);
  return table;
}

/** "host:port" or '' (off); the same check for every listen address. */
function readListen(value: unknown, path: string): string {
  const listen = readString(value, path, { maxLength: 256 });
  if (listen !== '' && !LISTEN.test(listen)) {
    throw new ModelError('INVALID_ARGUMENT', path, `expected "host:port" like "127.0.0.1:50051", got ${JSON.stringify(listen)}`);
  }
  return listen;
}

function readMetrics(value: unknown): MetricsSettings {
  const result: MetricsSettings = { listen: DEFAULT_METRICS_LISTEN };
  if (value === undefined || value === null) return result;
  const raw = readObject(value, 'metrics');
  rejectUnknownKeys(raw, METRICS_KEYS, 'metrics');
  if (raw.listen !== undefined) result.listen = readListen(raw.listen, 'metrics.listen');
  return result;
}

function readLog(value: unknown): LogSettings {
  const result: LogSettings = { format: 'text' };
  if (value === undefined || value === null) return result;
  const raw = readObject(value, 'log');
  rejectUnknownKeys(raw, LOG_KEYS, 'log');
  if (raw.format !== undefined) result.format = readChoice(raw.format, 'log.format', LOG_FORMATS);
  return result;
}

function readDefense(value: unknown): DefenseSettings {
  const result: DefenseSettings = { auditLog: DEFAULT_AUDIT_LOG };
  if (value === undefined || value === null) return result;
  const raw = readObject(value, 'defense');
  rejectUnknownKeys(raw, DEFENSE_KEYS, 'defense');
  if (raw.audit_log !== undefined) result.auditLog = readString(raw.audit_log, 'defense.audit_log', { nonEmpty: true, maxLength: 4096 });
  return result;
}

function readApi(value: unknown): ApiSettings {
  const result: ApiSettings = { socket: DEFAULT_SOCKET, listen: '', limits: { ...DEFAULT_API_LIMITS } };
  if (value === undefined || value === null) return result;
  const raw = readObject(value, 'api');
  rejectUnknownKeys(raw, API_KEYS, 'api');
  if (raw.socket !== undefined) {
    result.socket = readString(raw.socket, 'api.socket', { nonEmpty: true, maxLength: 107 });
    const problem = socketPathProblem(result.socket);
    if (problem) throw new ModelError('INVALID_ARGUMENT', 'api.socket', problem);
  }
  if (raw.listen !== undefined) result.listen = readListen(raw.listen, 'api.listen');
  if (raw.socket_group !== undefined) {
    const group = readString(raw.socket_group, 'api.socket_group', { nonEmpty: true, maxLength: 32 });
    if (!/^([a-z_][a-z0-9_.-]*\$?|\d+)$/i.test(group)) {
      throw new ModelError('INVALID_ARGUMENT', 'api.socket_group', `expected a group name or gid, got ${JSON.stringify(group)}`);
    }
    result.socketGroup = group;
  }
  if (raw.tls !== undefined) result.tls = readApiTls(raw.tls);
  if (raw.tokens !== undefined) result.tokens = readApiTokens(raw.tokens);
  if (raw.clients !== undefined) result.clients = readApiClients(raw.clients);
  if (raw.limits !== undefined) result.limits = readApiLimits(raw.limits);
  checkTcpSecured(result.listen, result.tls, result.tokens, result.clients);
  return result;
}

