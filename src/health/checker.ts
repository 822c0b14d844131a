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
import { ServiceRounds } from './service-rounds.js';
import { initialRecord, nextRecord, type HealthRecord, type HealthState } from './verdict.js';

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
  private readonly rounds: ServiceRounds;

  constructor(private readonly options: HealthCheckerOptions) {
    this.rounds = new ServiceRounds({
      name: 'health',
      intervals: () => {
        const wanted = new Map<number, number>();
        for (const service of this.options.state().services) {
          const check = healthCheckOf(service);
          if (check) wanted.set(service.id, check.intervalMs);
        }
        return wanted;
      },
      round: (serviceId) => this.probeRound(serviceId),
      afterRefresh: () => this.forgetGoneServers(),
    });
  }

  /** Health of a server, by id; undefined when its service has no check. */
  healthOf(serverId: number): HealthRecord | undefined {
    return this.records.get(serverId);
  }

  /** Whether a probe of this server has passed since start. */
  probedUp(serverId: number): boolean {
    return this.passedOnce.has(serverId);
  }

  start(): void {
    this.rounds.start();
  }

  stop(): void {
    this.rounds.stop();
  }

  /** Matches the timers to the services that have a check now (call after every change; each round calls it too). */
  refresh(): void {
    this.rounds.refresh();
  }

  /** One round for one service now (none while the previous one still runs). */
  probeService(serviceId: number): Promise<void> {
    return this.rounds.runRound(serviceId);
  }

  /** Probes every server at once, then applies transitions one by one. */
  private async probeRound(serviceId: number): Promise<void> {
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
