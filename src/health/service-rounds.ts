// Rounds per service at the service's own interval, for the active health checker and passive
// health alike: one timer per service, matched to the desired state every second (services
// created, changed or deleted over gRPC), and a round of a service never overlapping its previous
// one (a slow apply must not stack rounds).
import { log } from '../log.js';

const REFRESH_MS = 1_000;

export interface ServiceRoundsOptions {
  /** Prefix of the log lines ("health", "passive health") and of their rate-limit keys. */
  name: string;
  /** The services that want rounds now: service id → interval in ms. */
  intervals: () => Map<number, number>;
  /** One round of one service. */
  round: (serviceId: number) => Promise<void>;
  /** Called after every matching of timers to services (forget servers that went, …). */
  afterRefresh?: () => void;
}

export class ServiceRounds {
  private readonly timers = new Map<number, { timer: NodeJS.Timeout; intervalMs: number }>();
  private readonly running = new Set<number>();
  private stopped = true;
  private refreshTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: ServiceRoundsOptions) {}

  start(): void {
    this.stopped = false;
    this.refresh();
    this.refreshTimer = setInterval(() => {
      try {
        this.refresh();
      } catch (error) {
        log.limited('error', `${this.options.name}-refresh`, `${this.options.name}: matching timers to services failed: ${(error as Error).message}`);
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

  /** Matches the timers to the services that want rounds now. */
  refresh(): void {
    if (this.stopped) return;
    const wanted = this.options.intervals();
    for (const [id, entry] of this.timers) {
      if (wanted.get(id) !== entry.intervalMs) {
        clearInterval(entry.timer);
        this.timers.delete(id);
      }
    }
    for (const [id, intervalMs] of wanted) {
      if (this.timers.has(id)) continue;
      const timer = setInterval(() => {
        this.runRound(id).catch((error: Error) =>
          log.limited('error', `${this.options.name}-round:${id}`, `${this.options.name}: a round of service id ${id} failed: ${error.message}`));
      }, intervalMs);
      timer.unref();
      this.timers.set(id, { timer, intervalMs });
    }
    this.options.afterRefresh?.();
  }

  /** One round of a service now, unless one is still running (then nothing). */
  async runRound(serviceId: number): Promise<void> {
    if (this.running.has(serviceId)) return;
    this.running.add(serviceId);
    try {
      await this.options.round(serviceId);
    } finally {
      this.running.delete(serviceId);
    }
  }
}
