// Runs each service's health check against its real servers and quiesces a
// failing server through the model door (weight 0 in the data plane, the
// configured weight kept in the desired state, existing connections kept),
// restoring it once healthy. Every transition is logged and kept for the API.
// Nothing a probe does can escape a round: a throw, a rejection or a probe that
// never settles becomes an `unknown` result, which moves no verdict.
import { log } from '../log.js';
import { countControlEvent } from '../metrics/control-events.js';
import { serviceKeyText, type DesiredState, type HealthCheck, type Service } from '../model/index.js';
import type { Prober, ProbeResult, ProbeTarget } from './probe.js';
import { initialRecord, nextRecord, type HealthRecord, type HealthState } from './verdict.js';

const REFRESH_MS = 1_000;
/** How long past its own timeout a probe may take before it counts as unknown (it should never need any). */
const PROBE_GRACE_MS = 1_000;
/** At most one "probe could not be made" line per service this often (each probe is counted). */
const UNKNOWN_LOG_EVERY_MS = 10_000;

const OUTCOMES = new Set(['pass', 'fail', 'unknown']);

/** Runs one probe so that whatever it does ends as a ProbeResult. */
export async function guardedProbe(prober: Prober, target: ProbeTarget, check: HealthCheck): Promise<ProbeResult> {
  const limitMs = check.timeoutMs + PROBE_GRACE_MS;
  let timer: NodeJS.Timeout | undefined;
  const overdue = new Promise<ProbeResult>((resolve) => {
    timer = setTimeout(() => resolve({ outcome: 'unknown', detail: `the probe did not finish within ${limitMs} ms` }), limitMs);
  });
  try {
    // Calling inside then() turns a synchronous throw into a rejection too.
    const result = await Promise.race([Promise.resolve().then(() => prober(target, check)), overdue]);
    if (!result || !OUTCOMES.has(result.outcome)) return { outcome: 'unknown', detail: 'the probe gave no result' };
    return result;
  } catch (error) {
    return { outcome: 'unknown', detail: `the probe threw ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}` };
  } finally {
    clearTimeout(timer);
  }
}

export interface HealthTransition {
  service: Service;
  serverId: number;
  state: HealthState;
  detail: string;
}

export interface HealthCheckerOptions {
  prober: Prober;
  /** The current desired state (re-read every round, so changes over gRPC are picked up). */
  state: () => DesiredState;
  /** Applies a transition through the model (setServerHealth via Controller.mutate). */
  apply: (transition: HealthTransition) => Promise<void>;
  now?: () => number;
}

function healthCheckOf(service: Service): HealthCheck | undefined {
  return service.healthCheck;
}

export class HealthChecker {
  private readonly records = new Map<number, HealthRecord>();
  /** Servers a probe has passed since start (the cluster announces a checked VIP only for these). */
  private readonly passedOnce = new Set<number>();
  private readonly timers = new Map<number, { timer: NodeJS.Timeout; intervalMs: number }>();
  private readonly running = new Set<number>();
  private stopped = true;
  private refreshTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: HealthCheckerOptions) {}

  /** Health of a server, by id; undefined when its service has no check. */
  healthOf(serverId: number): HealthRecord | undefined {
    return this.records.get(serverId);
  }

  /** Whether a probe of this server has passed since start. */
  probedUp(serverId: number): boolean {
    return this.passedOnce.has(serverId);
  }

  start(): void {
    this.stopped = false;
    this.refresh();
    // Services created or changed over gRPC get their timers within a second.
    this.refreshTimer = setInterval(() => {
      try {
        this.refresh();
      } catch (error) {
        log.limited('error', 'health-refresh', `health: matching timers to services failed: ${(error as Error).message}`);
      }
    }, REFRESH_MS);
    this.refreshTimer.unref();
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.refreshTimer);
    for (const { timer } of this.timers.values()) clearInterval(timer);
    this.timers.clear();
  }

  /** Matches the timers to the services that have a check now (call after every change; each round calls it too). */
  refresh(): void {
    if (this.stopped) return;
    const wanted = new Map<number, number>();
    for (const service of this.options.state().services) {
      const check = healthCheckOf(service);
      if (check) wanted.set(service.id, check.intervalMs);
    }
    for (const [id, entry] of this.timers) {
      if (wanted.get(id) !== entry.intervalMs) {
        clearInterval(entry.timer);
        this.timers.delete(id);
      }
    }
    for (const [id, intervalMs] of wanted) {
      if (this.timers.has(id)) continue;
      const timer = setInterval(() => {
        this.probeService(id).catch((error: Error) =>
          log.limited('error', `health-round:${id}`, `health: a round of service id ${id} failed: ${error.message}`));
      }, intervalMs);
      timer.unref();
      this.timers.set(id, { timer, intervalMs });
    }
    this.forgetGoneServers();
  }

  /** One round for one service: probe every server at once, then apply transitions one by one. */
  async probeService(serviceId: number): Promise<void> {
    // A slow apply must not stack rounds of the same service.
    if (this.running.has(serviceId)) return;
    this.running.add(serviceId);
    try {
      this.refresh();
      const service = this.options.state().services.find((s) => s.id === serviceId);
      const check = service && healthCheckOf(service);
      if (!service || !check) return;
      const results = await Promise.all(service.servers.map((server) => guardedProbe(this.options.prober, server, check)));
      const now = (this.options.now ?? Date.now)();
      for (const [index, server] of service.servers.entries()) {
        const before = this.records.get(server.id) ?? initialRecord();
        const result = results[index]!;
        const where = `${serviceKeyText(service)} real server ${server.address}:${server.port}`;
        if (result.outcome === 'unknown') {
          countControlEvent('health_probes_unknown');
          log.limited('warn', `health-unknown:${service.id}`,
            `health: ${where}: the probe could not be made (${result.detail}); its verdict stays ${before.state} (event health_probes_unknown)`,
            UNKNOWN_LOG_EVERY_MS);
        }
        if (result.outcome === 'pass') this.passedOnce.add(server.id);
        const after = nextRecord(before, result.outcome, result.detail, check, now);
        if (after.state !== before.state) {
          try {
            await this.options.apply({ service, serverId: server.id, state: after.state, detail: result.detail });
            log.info(`health: ${where} is ${after.state} (${result.detail}; ${after.state === 'down' ? `${check.fall} failed` : `${check.rise} passed`} in a row)`);
          } catch (error) {
            // Keep the old state so the next round tries the transition again.
            log.limited('error', `health-apply:${server.id}`, `health: ${where} should be ${after.state} but the change failed: ${(error as Error).message}`);
            continue;
          }
        }
        this.records.set(server.id, after);
      }
    } finally {
      this.running.delete(serviceId);
    }
  }

  private forgetGoneServers(): void {
    const present = new Set<number>();
    for (const service of this.options.state().services) {
      if (healthCheckOf(service)) for (const server of service.servers) present.add(server.id);
    }
    for (const id of this.records.keys()) if (!present.has(id)) this.records.delete(id);
    for (const id of this.passedOnce) if (!present.has(id)) this.passedOnce.delete(id);
  }
}
