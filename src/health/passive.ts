// Passive health (DPVS's dest-check idea, no probes): every interval_ms each service with
// `passive_health` reads its servers' refusal counters from the data plane (ICMP destination
// unreachable about their UDP connections, RSTs on opening or established TCP ones) and runs
// passive-backoff.ts over them. A server above the rate is quiesced through the model door
// (setServerPassiveDown: weight 0 in the data plane, configured weight kept, existing
// connections kept) for its back-off, then restored. Its flag is its own: a server the active
// health check took down stays down until that check lets it back too, and the other way round.
// Every transition is logged and counted (events passive_health_quiesced / _restored).
import { log } from '../log.js';
import { countControlEvent } from '../metrics/control-events.js';
import { serviceKeyText, type DesiredState, type Service } from '../model/index.js';
import { initialPassiveRecord, passiveStep, type PassiveRecord } from './passive-backoff.js';
import { ServiceRounds } from './service-rounds.js';

export interface PassiveChange {
  service: Service;
  serverId: number;
  down: boolean;
}

export interface PassiveWatcherOptions {
  /** The current desired state (re-read every round, so changes over gRPC are picked up). */
  state: () => DesiredState;
  /** Refusals per server id now (icmp unreachable + resets, summed over workers); undefined when the data plane cannot be read. */
  refusals: () => Map<number, number> | undefined;
  /** Applies a change through the model (setServerPassiveDown via Controller.mutate). */
  apply: (change: PassiveChange) => Promise<void>;
  now?: () => number;
}

export class PassiveWatcher {
  private readonly records = new Map<number, PassiveRecord>();
  private readonly rounds: ServiceRounds;
  private releasing = false;

  constructor(private readonly options: PassiveWatcherOptions) {
    this.rounds = new ServiceRounds({
      name: 'passive health',
      intervals: () => {
        const wanted = new Map<number, number>();
        for (const service of this.options.state().services) {
          if (service.passiveHealth) wanted.set(service.id, service.passiveHealth.intervalMs);
        }
        return wanted;
      },
      round: (serviceId) => this.sampleRound(serviceId),
      afterRefresh: () => this.afterRefresh(),
    });
  }

  /** The back-off state of a server, by id; undefined when its service has no passive health. */
  recordOf(serverId: number): PassiveRecord | undefined {
    return this.records.get(serverId);
  }

  start(): void {
    this.rounds.start();
  }

  stop(): void {
    this.rounds.stop();
  }

  /** Matches the timers to the services that have passive health now; lets back servers of services that dropped it. */
  refresh(): void {
    this.rounds.refresh();
  }

  private afterRefresh(): void {
    this.forgetGone();
    if (this.releasing) return;
    this.releasing = true;
    this.releaseUnwatched()
      .catch((error: Error) => log.limited('error', 'passive-release', `passive health: letting back a server failed: ${error.message}`))
      .finally(() => { this.releasing = false; });
  }

  /** One round for one service now (none while the previous one still runs). */
  sampleService(serviceId: number): Promise<void> {
    return this.rounds.runRound(serviceId);
  }

  /** A sample per server, transitions applied one by one. */
  private async sampleRound(serviceId: number): Promise<void> {
    const service = this.options.state().services.find((s) => s.id === serviceId);
    const settings = service?.passiveHealth;
    if (!service || !settings) return;
    const counts = this.options.refusals();
    if (!counts) return;  // data plane stopping: no evidence either way
    const now = (this.options.now ?? Date.now)();
    for (const server of service.servers) {
      const before = this.records.get(server.id) ?? initialPassiveRecord(settings, now);
      const { record, action } = passiveStep(before, counts.get(server.id) ?? 0, now, settings);
      if (action.kind !== 'none') {
        const where = `${serviceKeyText(service)} real server ${server.address}:${server.port}`;
        const down = action.kind === 'quiesce';
        try {
          await this.options.apply({ service, serverId: server.id, down });
        } catch (error) {
          // Keep the old record so the next round tries again.
          log.limited('error', `passive-apply:${server.id}`, `passive health: ${where} should be ${down ? 'quiesced' : 'restored'} but the change failed: ${(error as Error).message}`);
          continue;
        }
        if (action.kind === 'quiesce') {
          countControlEvent('passive_health_quiesced');
          log.warn(`passive health: ${where} is down for ${action.backoffMs} ms: ${action.refusals} refusals (ICMP unreachable + TCP resets) in ${action.elapsedMs} ms, above ${settings.rate}/s (event passive_health_quiesced)`);
        } else {
          countControlEvent('passive_health_restored');
          const stillDown = service.servers.find((s) => s.id === server.id)?.healthDown ? '; its health check still holds it down' : '';
          log.info(`passive health: ${where} is restored after its ${action.backoffMs} ms back-off${stillDown} (event passive_health_restored)`);
        }
      }
      this.records.set(server.id, record);
    }
  }

  private forgetGone(): void {
    const present = new Set<number>();
    for (const service of this.options.state().services) {
      if (service.passiveHealth) for (const server of service.servers) present.add(server.id);
    }
    for (const id of this.records.keys()) if (!present.has(id)) this.records.delete(id);
  }

  /** A server left backed off by a service whose passive health was turned off gets its weight back. */
  private async releaseUnwatched(): Promise<void> {
    for (const service of this.options.state().services) {
      if (service.passiveHealth) continue;
      for (const server of service.servers) {
        if (!server.passiveDown) continue;
        await this.options.apply({ service, serverId: server.id, down: false });
        log.info(`passive health: ${serviceKeyText(service)} real server ${server.address}:${server.port} is restored: the service no longer has passive health`);
      }
    }
  }
}

/** Refusals per server id from the data plane's server stats. */
export function refusalsOf(servers: readonly { id: number; icmpUnreachable: number; resets: number }[]): Map<number, number> {
  return new Map(servers.map((s) => [s.id, s.icmpUnreachable + s.resets]));
}
