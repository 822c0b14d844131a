// The on-call operations behind the Defense gRPC service: each one changes the desired
// state through the controller (so it is applied, persisted and rolled back as one), and
// writes one audit line per mitigation touched, also when the change was refused.
import type { Controller } from '../daemon/controller.js';
import { log } from '../log.js';
import {
  DEFAULT_SYNPROXY_AUTO, isExpired, isOrphaned, sameKey, mitigationScope, mitigationTarget, pruneExpired, removeMitigations, sameScope, setMitigations,
  type AclAction, type ChangeOrigin, type ClearableKind, type FragPolicy, type LimitKind, type Mitigation, type MitigationSpec, type ServiceKey,
  type SynproxyAuto, type SynproxyMode,
} from '../model/index.js';
import type { AuditAction, AuditEntry, AuditLog } from './audit-log.js';

export interface LimitSettings {
  udpPerSource?: { pps: number; burst: number };
  udpPerService?: { pps: number; burst: number };
  connRate?: { pps: number; burst: number };
  connMax?: number;
  /** IPv4 fragment policy; pps/burst (per source) with limit only. */
  fragments?: { policy: FragPolicy; pps?: number; burst?: number };
}

export class Mitigations {
  /** Every change in flight, state change AND its audit line: readers wait for it, so a
   *  mitigation gone from the list always has its audit line written. */
  private inFlight: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly controller: Controller,
    readonly audit: AuditLog,
    private readonly now: () => number = Date.now,
  ) {}

  /** What the data plane runs now (an entry past its end stays until the expiry timer removes it). */
  async active(): Promise<Mitigation[]> {
    await this.inFlight;
    return this.controller.state.mitigations ?? [];
  }

  async auditTail(count: number) {
    await this.inFlight;
    return this.audit.tail(count);
  }

  private track<T>(change: Promise<T>): Promise<T> {
    this.inFlight = Promise.all([this.inFlight, change.catch(() => undefined)]);
    return change;
  }

  block(prefix: string, action: AclAction, service: ServiceKey | undefined, origin: ChangeOrigin): Promise<Mitigation[]> {
    const spec: MitigationSpec = { kind: action, prefix, ...(service ? { service } : {}) };
    return this.set('block', [spec], origin);
  }

  unblock(prefix: string, service: ServiceKey | undefined, origin: ChangeOrigin): Promise<Mitigation[]> {
    const scope = service ? `for ${service.protocol}/${service.vip}:${service.port}` : 'in the global list';
    return this.remove('unblock', (m) => sameScope(m, service) && (m.kind === 'deny' || m.kind === 'allow') && m.prefix === prefix,
      `${prefix} ${scope}`, `${mitigationScope({ service })} ${prefix}`, origin);
  }

  setLimits(service: ServiceKey | undefined, limits: LimitSettings, origin: ChangeOrigin): Promise<Mitigation[]> {
    const scope = service ? { service } : {};
    const specs: MitigationSpec[] = [];
    if (limits.udpPerSource) specs.push({ ...scope, kind: 'udp_per_source', ...limits.udpPerSource });
    if (limits.udpPerService) specs.push({ ...scope, kind: 'udp_per_service', ...limits.udpPerService });
    if (limits.connRate) specs.push({ ...scope, kind: 'conn_rate', ...limits.connRate });
    if (limits.connMax !== undefined) specs.push({ ...scope, kind: 'conn_max', max: limits.connMax });
    if (limits.fragments) specs.push({ ...scope, kind: 'frag_policy', ...limits.fragments });
    return this.set('set_limits', specs, origin);
  }

  /** Overrides the service's SYNPROXY mode while active (auto with its threshold and hold time). */
  setSynproxy(service: ServiceKey, mode: SynproxyMode, auto: Partial<SynproxyAuto>, origin: ChangeOrigin): Promise<Mitigation[]> {
    // Thresholds not given come from the service's own config (else the defaults).
    const configured = this.controller.state.services.find((s) => sameKey(s, service))?.synproxyAuto ?? DEFAULT_SYNPROXY_AUTO;
    const spec: MitigationSpec = {
      service, kind: 'synproxy', mode,
      ...(mode === 'auto' ? { synRate: auto.synRate ?? configured.synRate, holdSeconds: auto.holdSeconds ?? configured.holdSeconds } : {}),
    };
    return this.set('synproxy', [spec], origin);
  }

  /** kinds empty = every limit AND every prefix of that scope. */
  clear(service: ServiceKey | undefined, kinds: ClearableKind[], origin: ChangeOrigin): Promise<Mitigation[]> {
    const what = `${kinds.length ? kinds.join(', ') : 'mitigation'} ${service ? `for ${service.protocol}/${service.vip}:${service.port}` : 'in the global scope'}`;
    return this.remove('clear', (m) => sameScope(m, service) && (kinds.length === 0 || (kinds as string[]).includes(m.kind)),
      what, `${mitigationScope({ service })} ${kinds.length ? kinds.join(',') : 'all'}`, origin);
  }

  /** Removes what has expired or lost its service; called by the expiry timer. */
  expire(): Promise<Mitigation[]> {
    const now = this.now();
    const state = this.controller.state;
    if (!(state.mitigations ?? []).some((m) => isExpired(m, now) || isOrphaned(state, m))) return Promise.resolve([]);
    return this.track(this.expireNow(now));
  }

  private async expireNow(now: number): Promise<Mitigation[]> {
    const removed = await this.controller.mutate((state) => pruneExpired(state, now));
    const ended = removed.filter((m) => isExpired(m, now));
    const orphans = removed.filter((m) => !isExpired(m, now));
    await this.record('expire', ended.map((m) => entry(m, 'portcullis', `expired (set by ${m.actor}: ${m.reason})`, 'ok', now)));
    await this.record('clear', orphans.map((m) => entry(m, 'portcullis', `service deleted (set by ${m.actor}: ${m.reason})`, 'ok', now)));
    return removed;
  }

  private set(action: AuditAction, specs: MitigationSpec[], origin: ChangeOrigin): Promise<Mitigation[]> {
    return this.track(this.setNow(action, specs, origin));
  }

  private async setNow(action: AuditAction, specs: MitigationSpec[], origin: ChangeOrigin): Promise<Mitigation[]> {
    const now = this.now();
    try {
      const added = await this.controller.mutate((state) => setMitigations(state, specs, origin, now));
      await this.record(action, added.map((m) => entry(m, origin.actor, origin.reason, 'ok', now)));
      return added;
    } catch (error) {
      await this.refused(action, specs.map((spec) => `${mitigationScope(spec)} ${mitigationTarget(spec)}`), origin, now, error);
      throw error;
    }
  }

  private remove(action: AuditAction, match: (m: Mitigation) => boolean, what: string, target: string, origin: ChangeOrigin): Promise<Mitigation[]> {
    return this.track(this.removeNow(action, match, what, target, origin));
  }

  private async removeNow(action: AuditAction, match: (m: Mitigation) => boolean, what: string, target: string, origin: ChangeOrigin): Promise<Mitigation[]> {
    const now = this.now();
    try {
      const removed = await this.controller.mutate((state) => removeMitigations(state, match, what));
      await this.record(action, removed.map((m) => ({ ...entry(m, origin.actor, origin.reason, 'ok', now), expiry: null })));
      return removed;
    } catch (error) {
      await this.refused(action, [target], origin, now, error);
      throw error;
    }
  }

  private async refused(action: AuditAction, targets: string[], origin: ChangeOrigin, now: number, error: unknown): Promise<void> {
    const result = `error: ${error instanceof Error ? error.message : String(error)}`;
    const expiry = origin.durationMs === undefined ? null : new Date(now + origin.durationMs).toISOString();
    await this.record(action, targets.map((target) => ({
      time: new Date(now).toISOString(), actor: origin.actor, target, reason: origin.reason, expiry, result,
    })));
  }

  /** The change already happened: an audit write failure is logged, not turned into a failed RPC. */
  private async record(action: AuditAction, entries: Omit<AuditEntry, 'action'>[]): Promise<void> {
    try {
      await this.audit.append(entries.map((e) => ({ ...e, action })));
    } catch (error) {
      log.error(`audit log ${this.audit.path}: ${(error as Error).message}`);
    }
  }
}

function entry(m: Mitigation, actor: string, reason: string, result: string, now: number): Omit<AuditEntry, 'action'> {
  return {
    time: new Date(now).toISOString(),
    actor,
    target: `${mitigationScope(m)} ${mitigationTarget(m)}`,
    reason,
    expiry: m.expiresAt === undefined ? null : new Date(m.expiresAt).toISOString(),
    result,
  };
}
