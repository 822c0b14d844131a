// `portcullis run`: config → desired state → data plane → gRPC, and a clean stop.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { repoRoot } from '../api/proto.js';
import { prepareTcp, startApiServer, type ApiServer, type PreparedTcp } from '../api/server.js';
import { configBaseState, configWarnings, loadConfigFile } from '../config/load.js';
import type { DaemonConfig } from '../config/types.js';
import type { ConnRegionReport, DataplaneAddon } from '../dataplane/types.js';
import { log, setLogFormat } from '../log.js';
import { startMetricsServer, type MetricsServer } from '../metrics/prometheus.js';
import { StatsHub } from '../metrics/stats-hub.js';
import { buildDataplaneConfig, checkState, ModelError, seedServices, type DesiredState } from '../model/index.js';
import { readStateFile, StateFileError } from '../state/file.js';
import { AuditLog } from '../defense/audit-log.js';
import { startExpiryTimer } from '../defense/expiry.js';
import { Mitigations } from '../defense/mitigations.js';
import { importAddonModule } from './addon-loader.js';
import { Controller } from './controller.js';
import { installLastResortHandlers } from './last-resort.js';
import { startHealthChecks, startPassiveHealth } from '../health/start.js';
import { configureExceptionInterfaces } from './exception-path.js';
import { LinkMonitor } from './link-monitor.js';
import { steeringNote } from './steering-note.js';
import { ClusterNode } from '../cluster/node.js';
import { checkClusterFiles } from '../cluster/start-checks.js';
import { startFlowSync, type FlowSync } from '../cluster/flow-sync.js';
import { dataplaneCluster, syncAndHandoffCounters, withCluster } from '../cluster/handoff-config.js';
import { connRegionPath, regionFallback } from '../config/conn-region.js';
import { HandOverSource } from './hand-over.js';
import { withSessionLog } from '../session-log/apply.js';
import { SessionLog } from '../session-log/session-log.js';
import { Takeover, TakeoverError } from './takeover.js';

/** While a rollback failure is set, the desired state is re-applied this often (it heals a transient failure). */
const ROLLBACK_RETRY_MS = 5_000;

export interface RunOptions {
  configPath: string;
  stateFile?: string;
  socket?: string;
  resetState?: boolean;
  /** Take over from the daemon running on the config's socket without losing its connections (./takeover.ts). */
  takeover?: boolean;
}

/** Exit codes: 2 = bad config or state (nothing started), 1 = start-up failed. */
export class StartupError extends Error {
  override readonly name = 'StartupError';
  constructor(message: string, readonly exitCode: number) {
    super(message);
  }
}

export function daemonVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(repoRoot(), 'package.json'), 'utf8')) as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Config + state file → the desired state to start with. */
export async function initialState(config: DaemonConfig, resetState: boolean): Promise<DesiredState> {
  const base = configBaseState(config);
  const persisted = resetState ? undefined : await readStateFile(config.stateFile);
  if (!persisted) {
    log.info(resetState
      ? `--reset-state: seeding ${config.services.length} service(s) from ${config.source}`
      : `no state file at ${config.stateFile}: seeding ${config.services.length} service(s) from ${config.source}`);
    return seedServices(base, config.services).state;
  }
  log.info(`state file ${config.stateFile}: ${persisted.services.length} service(s) (authoritative; config services ignored)`);
  if (persisted.routes) log.info(`state file ${config.stateFile}: ${persisted.routes.length} route(s) (authoritative; config routes ignored)`);
  const { notes, ...kept } = persisted;
  for (const note of notes) log.error(`state file ${config.stateFile}: ${note}`);
  const state: DesiredState = { ...base, ...kept };
  try {
    for (const warning of checkState(state)) log.warn(warning);
  } catch (error) {
    if (error instanceof ModelError) throw new StateFileError(config.stateFile, `does not fit the configuration: ${error.message}`);
    throw error;
  }
  return state;
}

export interface RunningDaemon {
  readyLine: string;
  stop(): Promise<void>;
  /** Resolves when a new daemon took over (COMMIT) and this one closed its listeners: exit 0 without stop(). */
  handedOver: Promise<void>;
}

export async function startDaemon(options: RunOptions): Promise<RunningDaemon> {
  const config = await loadConfigFile(options.configPath);
  // From here on every line is in the configured format (a config that does not load is reported in text).
  setLogFormat(config.log.format);
  if (options.stateFile) config.stateFile = options.stateFile;
  if (options.socket) config.api.socket = options.socket;
  for (const warning of configWarnings(config)) log.warn(warning);
  if (options.takeover) {
    if (config.cluster) throw new StartupError('--takeover: not for a cluster member yet: drain it (portcullis drain --wait), then restart', 2);
    if (config.dataplane.connRegion === 'off') throw new StartupError('--takeover: dataplane.conn_region is off, so there are no connection tables to take over; restart instead', 2);
    if (options.resetState) throw new StartupError('--takeover and --reset-state do not go together: the new daemon starts from the running one\'s state', 2);
  }

  // A takeover reads the state file once the running daemon has written it for the last time (HELD).
  let state: DesiredState | undefined;
  if (!options.takeover) state = await readInitialState(config, options.resetState ?? false);

  // Token files, TLS key and client CA are read (and refused when exposed) before anything starts.
  let preparedTcp: PreparedTcp | undefined;
  try {
    preparedTcp = await prepareTcp(config.api.listen || undefined,
      config.api.tls && (config.api.tokens || config.api.clients)
        ? { tls: config.api.tls, tokens: config.api.tokens ?? [], clients: config.api.clients ?? [] } : undefined,
      config.api.limits);
  } catch (error) {
    throw new StartupError((error as Error).message, 2);
  }

  if (config.cluster) {
    const problem = await checkClusterFiles(config.cluster);
    if (problem) throw new StartupError(problem, 2);
  }

  // Before anything starts: the daemon to take over from must be there.
  let takeover: Takeover | undefined;
  if (options.takeover) {
    try {
      takeover = await Takeover.connect(config.api.socket);
    } catch (error) {
      throw new StartupError((error as Error).message, 1);
    }
  }

  const addonModule = await importAddonModule().catch((error: Error) => {
    throw new StartupError(`cannot load the data plane: ${error.message}`, 1);
  });
  let eal: { args: string[]; note: string };
  try {
    eal = addonModule.ealArgs({
      lcores: config.dataplane.lcores,
      memoryMb: config.dataplane.memoryMb,
      hugepages: config.dataplane.hugepages,
    });
  } catch (error) {
    throw new StartupError(`cannot prepare DPDK: ${(error as Error).message}`, 1);
  }
  if (eal.note) log.info(eal.note);
  log.info(`EAL: ${eal.args.join(' ')}`);
  let region = connRegionPath(config.dataplane.connRegion, { stateFile: config.stateFile, hugepages: eal.args.includes('--in-memory') });
  log.info(region ? `connection region: ${region}` : 'connection region: off (dataplane.conn_region): a restart forgets every connection');

  let dataplane: DataplaneAddon;
  try {
    dataplane = addonModule.loadDataplane();
    const start = () => dataplane.start({
      mode: 'live',
      eal: eal.args,
      ports: config.ports.map((p) => ({ name: p.name, device: p.device, ...(p.mac ? { mac: p.mac } : {}), ...(p.mtu ? { mtu: p.mtu } : {}), ...(p.exceptionPath ? { exceptionPath: true } : {}) })),
      workers: config.dataplane.workers,
      polling: config.dataplane.polling,
      ...(config.dataplane.benchMode === 'bridge' ? { benchBridge: true } : {}),
      connCapacity: config.dataplane.connCapacity,
      ...(config.dataplane.fragments ? { fragments: config.dataplane.fragments } : {}),
      ...(region ? { connRegion: { path: region, ...(takeover ? { holdUntilRelease: true } : {}) } } : {}),
    });
    let ports: ReturnType<typeof start>;
    try {
      ports = start();
    } catch (error) {
      // A failed start leaves EAL usable: try once more with the region on tmpfs.
      const fallback = regionFallback(config.dataplane.connRegion, region, error);
      if (!fallback) throw error;
      log.warn(`${(error as Error).message}: the connection region goes to ${fallback} instead`);
      region = fallback;
      ports = start();
    }
    if (config.dataplane.benchMode === 'bridge') log.warn('dataplane.bench_mode: bridge: BENCHMARK ONLY, frames cross between the ports unchanged, no NAT');
    for (const port of ports) log.info(`port ${port.name}: id ${port.portId} mac ${port.mac} driver ${port.driver}${steeringNote(port)}`);
  } catch (error) {
    takeover?.abort();
    throw new StartupError(`cannot start the data plane: ${(error as Error).message}`, 1);
  }
  if (!takeover) {
    await configureExceptionPath(config, dataplane);
  } else {
    // The exception interfaces are set up once this daemon forwards: flushing their addresses now
    // would cut the running daemon's health checks.
    try {
      state = await holdAndReadState(takeover, config, dataplane);
    } catch (error) {
      // The ports' kernel interfaces are shared with the running daemon, which resumes: stopping
      // this data plane would take them down under it. The process exit releases what it holds.
      takeover.abort();
      throw new StartupError((error as Error).message, error instanceof StartupError ? error.exitCode : 1);
    }
  }
  if (!state) throw new StartupError('no initial state', 1);  // unreachable: one of the two branches set it
  const initial = state;

  let api: ApiServer | undefined;
  let metrics: MetricsServer | undefined;
  const hub = new StatsHub(dataplane);
  const links = new LinkMonitor(config.ports, () => dataplane.stats().ports);
  hub.links = links;
  let expiry: { stop(): void } | undefined;
  let health: { stop(): void } | undefined;
  let passive: { stop(): void } | undefined;
  let rollbackRetry: NodeJS.Timeout | undefined;
  let cluster: ClusterNode | undefined;
  let flowSync: FlowSync | undefined;
  let sessionLog: SessionLog | undefined;
  try {
    // Cluster: nodes and this node's index go with every apply; the ownership sync starts once they are in.
    const members = config.cluster ? dataplaneCluster(config.cluster) : undefined;
    const controller = new Controller(withSessionLog(withCluster(dataplane, members), config.sessionLog !== undefined),
      config.stateFile, initial);
    // A takeover adopts and forwards as soon as the snapshot is in (the state file is rewritten after: not in the gap).
    const version = await controller.applyInitial(takeover ? () => { takeover.release(dataplane); } : undefined);
    if (takeover) {
      await configureExceptionPath(config, dataplane);
      await takeover.commit();
    }
    logRegion(dataplane);
    if (config.cluster) flowSync = await startFlowSync(config.cluster, dataplane);
    if (config.sessionLog) {
      sessionLog = new SessionLog(config.sessionLog, dataplane, { handleSighup: true }).start();
      const sinks = [...config.sessionLog.ipfix.map((c) => `IPFIX udp ${c.host}:${c.port}`), ...(config.sessionLog.jsonFile ? [config.sessionLog.jsonFile] : [])];
      log.info(`session log: connections' creation and end to ${sinks.join(', ')}`);
    }
    rollbackRetry = setInterval(() => {
      if (controller.rollbackFailure !== undefined) controller.retryRollback().catch(() => undefined);
    }, ROLLBACK_RETRY_MS);
    rollbackRetry.unref();
    // Mitigations that ended while the daemon was down go at the first tick.
    const audit = new AuditLog(config.defense.auditLog);
    const mitigations = new Mitigations(controller, audit);
    expiry = startExpiryTimer(mitigations);
    const checker = startHealthChecks(controller);
    health = checker;
    passive = startPassiveHealth(controller, () => dataplane.stats());
    hub.start();
    links.start();
    if (config.cluster) {
      // After the first apply (the VIPs are in the data plane) and before the API: a drain can find it.
      cluster = await ClusterNode.start(config.cluster, config.ports, {
        state: () => controller.state,
        stats: () => { try { return dataplane.stats(); } catch { return undefined; } },
        probedUp: (serverId) => checker.probedUp(serverId),
      }, config.stateFile);
      const sync = flowSync;
      cluster.addCounters((stats) => syncAndHandoffCounters(sync, stats));
    }
    if (config.metrics.listen) {
      // Metrics are an aid, not a reason to refuse service: a busy port is a warning.
      metrics = await startMetricsServer(config.metrics.listen, {
        hub,
        state: () => controller.state,
        connectionCapacity: config.dataplane.connCapacity * config.dataplane.workers,
        ...(cluster ? { cluster } : {}),
        ...(takeover?.record ? { lastTakeover: takeover.record } : {}),
      }).catch((error: Error) => {
        log.warn(`metrics.listen ${config.metrics.listen}: ${error.message}; Prometheus metrics are off`);
        return undefined;
      });
      if (metrics) log.info(`serving Prometheus metrics on http://${metrics.address}/metrics`);
    }
    let handedOver!: () => void;
    const handedOverPromise = new Promise<void>((resolve) => { handedOver = resolve; });
    const handOver = new HandOverSource({
      controller, dataplane, audit, region, clustered: config.cluster !== undefined,
      onHandedOver: () => { closeAll(false).then(handedOver, handedOver); },
    });
    api = await startApiServer({
      socket: config.api.socket,
      preparedTcp,
      socketGroup: config.api.socketGroup,
      controller,
      stats: hub,
      mitigations,
      trace: dataplane,
      capture: dataplane,
      ...(cluster ? { cluster } : {}),
      takeover: handOver,
      info: {
        version: daemonVersion(), startedAt: Date.now(), workers: config.dataplane.workers, polling: config.dataplane.polling,
        ...(takeover?.record ? { lastTakeover: takeover.record } : {}),
      },
      // Health says SERVING only while the data plane forwards (src/api/health-status.ts).
      forwarding: () => ({
        started: controller.snapshotVersion > 0,
        ports: config.ports.map((p) => ({ name: p.name, up: links.state(p.name)?.up })),
        rollbackFailure: controller.rollbackFailure,
      }),
    });
    log.info(`serving gRPC on ${api.addresses.join(', ')}; ${state.services.length} service(s), snapshot ${version}`);
    const server = api;
    const metricsServer = metrics;
    const expiryTimer = expiry;
    const retryTimer = rollbackRetry;
    const member = cluster;
    const sync = flowSync;
    const sessions = sessionLog;
    let closing: Promise<void> | undefined;
    // Everything but the data plane; once for a stop and a hand-over together.
    const closeAll = (withdraw: boolean): Promise<void> => closing ??= (async () => {
      // Withdraw first: the routers move new flows away while this node still forwards the old ones.
      if (withdraw) await member?.stop().catch((error: Error) => log.error(`cluster: clean stop failed: ${error.message}`));
      clearInterval(retryTimer);
      expiryTimer.stop();
      health?.stop();
      passive?.stop();
      hub.stop();
      links.stop();
      await metricsServer?.close();
      await server.close();
      await sync?.stop();
      // Last: what the workers queued until now still reaches the collectors and the file.
      await sessions?.stop().catch((error: Error) => log.error(`session log: final drain failed: ${error.message}`));
    })();
    return {
      readyLine: `portcullis ready: grpc unix:${config.api.socket} snapshot ${version}`,
      handedOver: handedOverPromise,
      async stop() {
        await closeAll(true);
        // Held for (or handed to) a new daemon: its ports share their kernel interfaces with ours.
        if (handOver.dataplaneHeld) log.warn('stop: the data plane is held for a new daemon; leaving it to the process exit');
        else dataplane.stop();
      },
    };
  } catch (error) {
    await cluster?.stop().catch(() => undefined);
    clearInterval(rollbackRetry);
    expiry?.stop();
    health?.stop();
    passive?.stop();
    hub.stop();
    links.stop();
    await metrics?.close().catch(() => undefined);
    await api?.close().catch(() => undefined);
    await flowSync?.stop();
    await sessionLog?.stop().catch(() => undefined);
    // Before release the running daemon still owns the shared ports (see above); it resumes.
    if (!takeover || takeover.released) dataplane.stop();
    takeover?.abort();
    throw new StartupError(`start-up failed: ${(error as Error).message}`, 1);
  }
}

/** Runs until SIGINT/SIGTERM; returns the process exit code. */
export async function runDaemon(options: RunOptions): Promise<number> {
  // Before anything runs: no error that slips through may stop the data plane (see last-resort.ts).
  installLastResortHandlers();
  const daemon = await startDaemon(options);
  process.stdout.write(`${daemon.readyLine}\n`);
  return new Promise<number>((resolve) => {
    let stopping = false;
    daemon.handedOver.then(() => {
      stopping = true;
      log.info('handed over to the new daemon: exiting');
      resolve(0);
    }, () => undefined);
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) return;
      stopping = true;
      log.info(`${signal}: stopping`);
      daemon.stop().then(() => resolve(0), (error: Error) => {
        log.error(`stop failed: ${error.message}`);
        resolve(1);
      });
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });
}

async function readInitialState(config: DaemonConfig, resetState: boolean): Promise<DesiredState> {
  try {
    return await initialState(config, resetState);
  } catch (error) {
    if (error instanceof StateFileError) throw new StartupError(error.message, 2);
    throw error;
  }
}

/**
 * HOLD, then the state file the running daemon just wrote (it must be this config's). First, the
 * state as the file holds it now is applied once: a data plane's first apply costs a few hundred
 * ms of one-time set-up (measured 260-550 ms on ring ports here; later ones < 1 ms), which must
 * not be in the gap. The workers adopt nothing before release(), and the apply after HELD (the
 * file as the running daemon left it) replaces this snapshot.
 */
async function holdAndReadState(takeover: Takeover, config: DaemonConfig, dataplane: DataplaneAddon): Promise<DesiredState> {
  try {
    dataplane.apply(buildDataplaneConfig(await readInitialState(config, false)));
  } catch (error) {
    if (error instanceof StartupError) throw error;
    throw new StartupError(`--takeover: the data plane refused the state file's state (nothing was held): ${(error as Error).message}`, 1);
  }
  const held = await takeover.hold();
  if (resolve(held.stateFile) !== resolve(config.stateFile)) {
    throw new TakeoverError(`--takeover: the running daemon (pid ${held.oldPid}) keeps its state in ${held.stateFile}, this config in ${config.stateFile}: `
      + 'they must be the same file (the connection region is named after it)');
  }
  return readInitialState(config, false);
}

async function configureExceptionPath(config: DaemonConfig, dataplane: DataplaneAddon): Promise<void> {
  try {
    for (const line of await configureExceptionInterfaces(config.ports)) log.info(`exception path: ${line}`);
  } catch (error) {
    dataplane.stop();
    throw new StartupError(`cannot configure the exception path: ${(error as Error).message}`, 1);
  }
}

/** What start-up did with the region; the counts come once the workers adopted (portcullis status). */
function logRegion(dataplane: DataplaneAddon): void {
  let report: ConnRegionReport | undefined;
  try {
    report = dataplane.stats().connRegion;
  } catch {
    return;
  }
  if (!report) return;
  if (report.rejectedReason) {
    log.warn(`connection region ${report.path}: not adopted (${report.rejectedReason}); set aside as ${report.rejectedPath}, started with empty tables`);
  } else {
    log.info(`connection region ${report.path}: ${report.outcome}`);
  }
}
