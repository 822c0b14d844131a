// The daemon's one reader of the data plane's counters for observers (gRPC stats,
// WatchStats, Prometheus, top): samples stats() every 2 s for the rate estimators and
// per-worker load, and applies ipvsadm -Z by remembering per-object baselines (the
// data plane's counters themselves only grow).
import type { DataplaneAddon, DataplaneStats, TrafficStats } from '../dataplane/types.js';
import { controlEvents } from './control-events.js';
import { ESTIMATOR_INTERVAL_MS, EstimatorSet, type Rates } from './estimator.js';

export type StatsSource = Pick<DataplaneAddon, 'stats' | 'ports' | 'connections'>;

/** The daemon's link poll (src/daemon/link-monitor.ts): link state as the control plane sees it. */
export interface LinkStates { state(port: string): { up: boolean; changes: number } | undefined }

type Baseline = Pick<TrafficStats, 'conns' | 'inPackets' | 'outPackets' | 'inBytes' | 'outBytes'>;

function minus<T extends TrafficStats>(traffic: T, base: Baseline | undefined): T {
  if (!base) return traffic;
  return {
    ...traffic,
    conns: Math.max(0, traffic.conns - base.conns),
    inPackets: Math.max(0, traffic.inPackets - base.inPackets),
    outPackets: Math.max(0, traffic.outPackets - base.outPackets),
    inBytes: Math.max(0, traffic.inBytes - base.inBytes),
    outBytes: Math.max(0, traffic.outBytes - base.outBytes),
  };
}

export interface WorkerLoadSample {
  busyCycles: number;
  idleCycles: number;
  /** busy / (busy + idle) over the last interval; 0 before the second sample. */
  busyRatio: number;
}

/**
 * The daemon's WatchStats streams (src/api/stats-streams.ts): how many each caller has open,
 * and what slow readers cost. Read by Prometheus (docs/operations.md), so a caller that opens
 * streams and never reads shows up as skipped ticks, never as memory.
 */
export class WatchStreams {
  private readonly perCaller = new Map<string, number>();
  /** One probe per open stream: its messages not yet taken by the transport. */
  private readonly queues = new Set<{ queued(): number }>();
  /** Ticks not sent because the stream's reader had not taken the previous messages. */
  skippedTicks = 0;
  /** Streams refused because their caller had the most open already. */
  refusedStreams = 0;

  /**
   * Counts a new stream against caller, or returns undefined (and counts a refusal) when caller
   * has `limit` open. The returned release is idempotent: call it on every way a stream ends.
   */
  admit(caller: string, limit: number, probe: { queued(): number }): (() => void) | undefined {
    const open = this.perCaller.get(caller) ?? 0;
    if (open >= limit) {
      this.refusedStreams++;
      return undefined;
    }
    this.perCaller.set(caller, open + 1);
    this.queues.add(probe);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.queues.delete(probe);
      const left = (this.perCaller.get(caller) ?? 1) - 1;
      if (left > 0) this.perCaller.set(caller, left);
      else this.perCaller.delete(caller);
    };
  }

  /** Open streams, all callers. */
  streams(): number { return this.queues.size; }

  /** Messages written to open streams and not yet taken by the transport, all streams. */
  queuedMessages(): number {
    let total = 0;
    for (const probe of this.queues) total += probe.queued();
    return total;
  }
}

export class StatsHub {
  /** WatchStats streams open on the API and their slow-reader counters. */
  readonly watch = new WatchStreams();
  private readonly services = new EstimatorSet();
  private readonly servers = new EstimatorSet();
  private readonly serviceBase = new Map<number, Baseline>();
  private readonly serverBase = new Map<number, Baseline>();
  private lastWorkers: { busy: number; idle: number }[] = [];
  private ratios: number[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** When set, ports carry the polled link state (linkUp) and its change count (linkChanges). */
  links: LinkStates | undefined;

  constructor(readonly source: StatsSource, private readonly intervalMs = ESTIMATOR_INTERVAL_MS) {}

  /** Takes the first sample now and one every interval (the timer never keeps Node alive). */
  start(): void {
    if (this.timer) return;
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One estimator tick (public so tests can drive it without waiting). */
  sample(): void {
    let raw: DataplaneStats;
    try {
      raw = this.source.stats();
    } catch {
      return;  // data plane stopping: nothing to sample
    }
    this.services.sample(raw.services);
    this.servers.sample(raw.servers);
    const busy = raw.workerBusyCycles ?? [];
    const idle = raw.workerIdleCycles ?? [];
    this.ratios = busy.map((b, i) => {
      const last = this.lastWorkers[i];
      const db = last ? b - last.busy : 0;
      const di = last ? (idle[i] ?? 0) - last.idle : 0;
      return db + di > 0 ? db / (db + di) : 0;
    });
    this.lastWorkers = busy.map((b, i) => ({ busy: b, idle: idle[i] ?? 0 }));
  }

  /** The data plane's stats with -Z baselines subtracted from service/server counters, and the control plane's events added. */
  stats(): DataplaneStats {
    const raw = this.source.stats();
    return {
      ...raw,
      events: { ...raw.events, ...controlEvents() },
      ports: raw.ports.map((p) => {
        const link = this.links?.state(p.name);
        return link ? { ...p, linkUp: link.up, linkChanges: link.changes } : p;
      }),
      services: raw.services.map((s) => minus(s, this.serviceBase.get(s.id))),
      servers: raw.servers.map((s) => minus(s, this.serverBase.get(s.id))),
    };
  }

  serviceRates(id: number): Rates { return this.services.rates(id); }
  serverRates(id: number): Rates { return this.servers.rates(id); }

  workerLoad(stats: DataplaneStats): WorkerLoadSample[] {
    return (stats.workerBusyCycles ?? []).map((busyCycles, i) => ({
      busyCycles, idleCycles: stats.workerIdleCycles?.[i] ?? 0, busyRatio: this.ratios[i] ?? 0,
    }));
  }

  /** ipvsadm -Z for the given objects: their counters and rates read as zero from now on. */
  zero(serviceIds: readonly number[], serverIds: readonly number[]): void {
    const raw = this.source.stats();
    const rebase = (list: TrafficStats[], ids: readonly number[], base: Map<number, Baseline>, set: EstimatorSet) => {
      const wanted = new Set(ids);
      for (const t of list) {
        if (!wanted.has(t.id)) continue;
        const { conns, inPackets, outPackets, inBytes, outBytes } = t;
        base.set(t.id, { conns, inPackets, outPackets, inBytes, outBytes });
        set.reset(t.id, t);
      }
    };
    rebase(raw.services, serviceIds, this.serviceBase, this.services);
    rebase(raw.servers, serverIds, this.serverBase, this.servers);
  }
}

