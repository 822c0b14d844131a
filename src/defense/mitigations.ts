// The on-call operations behind the Defense gRPC service: each one changes the desired
// state through the controller (so it is applied, persisted and rolled back as one). Every
// mitigation touched gets a "pending" audit line on disk before the change takes effect and
// an outcome line after it; a refused change gets its error line.
import type { Controller } from '../daemon/controller.js';
import { log } from '../log.js';
import { countControlEvent } from '../metrics/control-events.js';
import {
  DEFAULT_SYNPROXY_AUTO, ModelError, serviceKeyText, isExpired, isOrphaned, sameKey, mitigationScope, mitigationTarget, pruneExpired, removeMitigations, sameScope, setMitigations,
  type AclAction, type ChangeOrigin, type ClearableKind, type FragPolicy, type LimitKind, type Mitigation, type MitigationSpec, type ServiceKey,
  type ChangeResult, type DesiredState, type SynproxyAuto, type SynproxyMode,
} from '../model/index.js';
import { AUDIT_PENDING, type AuditAction, type AuditEntry, type AuditLog } from './audit-log.js';

export interface LimitSettings {
  /** ipv6PrefixLength: IPv6 sources aggregated per prefix (absent = 64). */
  udpPerSource?: { pps: number; burst: number; ipv6PrefixLength?: number };
  udpPerService?: { pps: number; burst: number };
  connRate?: { pps: number; burst: number };
  connMax?: number;
  /** IPv4 and IPv6 fragment policy; pps/burst (per source) with limit only. */
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
    const scope = service ? `for ${serviceKeyText(service)}` : 'in the global list';
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
    return this.audited((state) => pruneExpired(state, now), (removed) => [
      ...removed.filter((m) => isExpired(m, now)).map((m) => ({ action: 'expire' as const, ...entry(m, 'portcullis', `expired (set by ${m.actor}: ${m.reason})`, now) })),
      ...removed.filter((m) => !isExpired(m, now)).map((m) => ({ action: 'clear' as const, ...entry(m, 'portcullis', `service deleted (set by ${m.actor}: ${m.reason})`, now) })),
    ], () => []);
  }

  private set(action: AuditAction, specs: MitigationSpec[], origin: ChangeOrigin): Promise<Mitigation[]> {
    const now = this.now();
    return this.track(this.audited(
      (state) => setMitigations(state, specs, origin, now),
      (added) => added.map((m) => ({ action, ...entry(m, origin.actor, origin.reason, now) })),
      () => refusedEntries(action, specs.map((spec) => `${mitigationScope(spec)} ${mitigationTarget(spec)}`), origin, now)));
  }

  private remove(action: AuditAction, match: (m: Mitigation) => boolean, what: string, target: string, origin: ChangeOrigin): Promise<Mitigation[]> {
    const now = this.now();
    return this.track(this.audited(
      (state) => removeMitigations(state, match, what),
      (removed) => removed.map((m) => ({ action, ...entry(m, origin.actor, origin.reason, now), expiry: null })),
      () => refusedEntries(action, [target], origin, now)));
  }

  /**
   * One audited change. Its lines are written as "pending" and fsynced once the change is known
   * to be valid and BEFORE the data plane or the state file see it, so a mitigation is never in
   * force without its line on disk: if they cannot be written, nothing changes. Then one line per
   * entry says how it ended ("ok" or "error: …"). A change refused before that (validation) gets
   * `refused` lines with its error.
   */
  private async audited(
    change: (state: DesiredState) => ChangeResult<Mitigation[]>,
    linesFor: (changed: Mitigation[]) => AuditLine[],
    refused: () => AuditLine[],
  ): Promise<Mitigation[]> {
    // Set by beforeApply once the "pending" lines are on disk (an object: TypeScript does not
    // follow assignments made inside the callback).
    const written: { lines?: AuditLine[] } = {};
    try {
      const changed = await this.controller.mutate(change, {
        beforeApply: async (result) => {
          const lines = linesFor(result);
          try {
            await this.audit.append(lines.map((line) => ({ ...line, result: AUDIT_PENDING })));
          } catch (error) {
            throw new ModelError('INTERNAL', '', `cannot write the audit log ${this.audit.path}: ${(error as Error).message}; `
              + 'nothing changed (a defence change never takes effect without its audit line on disk)');
          }
          written.lines = lines;
        },
      });
      await this.outcome(written.lines ?? [], 'ok');
      return changed;
    } catch (error) {
      const result = `error: ${error instanceof Error ? error.message : String(error)}`;
      if (written.lines) await this.outcome(written.lines, result);
      else await this.refusal(refused(), result);
      throw error;
    }
  }

  /** Outcome lines of a change whose "pending" lines are on disk: a failure here is logged and counted, the change stands. */
  private async outcome(lines: AuditLine[], result: string): Promise<void> {
    try {
      await this.audit.append(lines.map((line) => ({ ...line, result })));
    } catch (error) {
      countControlEvent('audit_outcome_write_failures');
      log.error(`audit log ${this.audit.path}: cannot write the outcome "${result}" of ${lines.length} line(s): ${(error as Error).message} (event audit_outcome_write_failures)`);
    }
  }

  /** Lines of a change that never took effect: a failure to write them is logged (the RPC already fails). */
  private async refusal(lines: AuditLine[], result: string): Promise<void> {
    try {
      await this.audit.append(lines.map((line) => ({ ...line, result })));
    } catch (error) {
      log.error(`audit log ${this.audit.path}: cannot record a refused change (${result}): ${(error as Error).message}`);
    }
  }
}

/** An audit entry before its result is known. */
type AuditLine = Omit<AuditEntry, 'result'>;

function refusedEntries(action: AuditAction, targets: string[], origin: ChangeOrigin, now: number): AuditLine[] {
  const expiry = origin.durationMs === undefined ? null : new Date(now + origin.durationMs).toISOString();
  return targets.map((target) => ({ time: new Date(now).toISOString(), actor: origin.actor, action, target, reason: origin.reason, expiry }));
}

function entry(m: Mitigation, actor: string, reason: string, now: number): Omit<AuditLine, 'action'> {
  return {
    time: new Date(now).toISOString(),
    actor,
    target: `${mitigationScope(m)} ${mitigationTarget(m)}`,
    reason,
    expiry: m.expiresAt === undefined ? null : new Date(m.expiresAt).toISOString(),
  };
}
