// Upgrade hand-over, the running (old) daemon's part: what HOLD, a failed hand-over and COMMIT
// do to this process (the stream itself: src/api/takeover.ts; the new daemon: ./takeover.ts).
//
//   HOLD     audit line "pending" (fsynced first, as for every privileged change) → changes refused
//            (UNAVAILABLE) and the state file written once more → dataplane.handOver(): workers
//            held, timers stopped, region lock released
//   no COMMIT dataplane.resume() → changes accepted again; audit "error: … resumed"
//   COMMIT   audit "ok"; then the daemon closes its listeners and exits 0 WITHOUT
//            dataplane.stop() (stopping the tap exception ports would set the kernel
//            interfaces the new daemon uses down)
import type { Controller } from './controller.js';
import type { DataplaneAddon } from '../dataplane/types.js';
import { AUDIT_PENDING, type AuditEntry, type AuditLog } from '../defense/audit-log.js';
import { log } from '../log.js';
import { ModelError } from '../model/index.js';
import type { HandOverHost, Held, HoldRequest } from '../api/takeover.js';

export type HandOverDataplane = Partial<Pick<DataplaneAddon, 'handOver' | 'resume'>>;

export interface HandOverDeps {
  controller: Controller;
  dataplane: HandOverDataplane;
  audit: AuditLog;
  /** The region file the data plane runs on; undefined = conn_region: off (nothing to hand over). */
  region: string | undefined;
  /** A cluster member (hand-over refused for now: drain, then restart). */
  clustered: boolean;
  /** Close the listeners and exit: the new daemon forwards now. */
  onHandedOver: () => void;
}

export class HandOverSource implements HandOverHost {
  /** The audit line of the hand-over under way (HOLD until its outcome). */
  private pending: Omit<AuditEntry, 'result'> | undefined;
  private held = false;

  constructor(private readonly deps: HandOverDeps) {}

  /**
   * True from a successful HOLD until a successful resume, and for good after COMMIT: the workers
   * do not forward, and a stop must leave the data plane alone (the new daemon shares its ports).
   */
  get dataplaneHeld(): boolean {
    return this.held;
  }

  async hold({ newPid, origin }: HoldRequest): Promise<Held> {
    const { controller, dataplane, audit } = this.deps;
    if (this.pending) throw new ModelError('FAILED_PRECONDITION', '', 'another hand-over is under way');
    if (this.deps.clustered) {
      throw new ModelError('FAILED_PRECONDITION', '', 'a cluster member cannot hand over yet: drain it (portcullis drain --wait), then restart');
    }
    if (this.deps.region === undefined) {
      throw new ModelError('FAILED_PRECONDITION', '', 'dataplane.conn_region is off: there are no connection tables to hand over; restart instead (connections are lost)');
    }
    const { handOver } = dataplane;
    if (typeof handOver !== 'function') {
      throw new ModelError('FAILED_PRECONDITION', '', 'this data plane build has no handOver(): rebuild the addon (npm run build:addon)');
    }
    const line: Omit<AuditEntry, 'result'> = {
      time: new Date().toISOString(), actor: origin.actor, action: 'takeover',
      target: `daemon pid ${process.pid} -> pid ${newPid || '?'} (region ${this.deps.region})`, reason: origin.reason, expiry: null,
    };
    try {
      await audit.append([{ ...line, result: AUDIT_PENDING }]);
    } catch (error) {
      throw new ModelError('INTERNAL', '', `cannot write the audit log ${audit.path}: ${(error as Error).message}; nothing was held`);
    }
    this.pending = line;
    try {
      await controller.pauseWrites(`new daemon pid ${newPid || '?'}`);
    } catch (error) {
      await this.outcome(`error: ${(error as Error).message}`);
      throw error;
    }
    let heldAtUs: number;
    try {
      heldAtUs = handOver.call(dataplane).heldAtUs;
    } catch (error) {
      controller.resumeWrites();
      const message = `the data plane could not hold its workers (${String((error as { code?: unknown }).code ?? 'no code')}): ${(error as Error).message}`;
      await this.outcome(`error: ${message}`);
      throw new ModelError('FAILED_PRECONDITION', '', message);
    }
    this.held = true;
    log.info(`takeover: workers held for new daemon pid ${newPid || '?'} (${origin.actor}); changes refused until it commits or goes away`);
    return { heldAtUs, pid: process.pid, stateFile: controller.stateFile };
  }

  async resume(why: string): Promise<void> {
    if (!this.pending) return;
    try {
      this.deps.dataplane.resume?.call(this.deps.dataplane);
    } catch (error) {
      if ((error as { code?: unknown }).code === 'EBUSY') {
        // The new daemon took the region after all: it forwards, so this one steps aside.
        log.error(`takeover: ${why}, but the new daemon already holds the region (${(error as Error).message}); exiting as after COMMIT`);
        await this.outcome(`ok: ${why}; the new daemon holds the region`);
        this.deps.onHandedOver();
        return;
      }
      log.error(`takeover: ${why}; resuming the data plane FAILED: ${(error as Error).message}`);
      await this.outcome(`error: ${why}; resume failed: ${(error as Error).message}`);
      this.deps.controller.resumeWrites();
      return;
    }
    this.held = false;
    this.deps.controller.resumeWrites();
    log.warn(`takeover: ${why}; forwarding and taking changes again`);
    await this.outcome(`error: ${why}; resumed`);
  }

  async commit(gapUs: number): Promise<void> {
    log.info(`takeover: the new daemon forwards (gap ${(gapUs / 1000).toFixed(1)} ms); closing the API and exiting`);
    await this.outcome(`ok: gap ${gapUs} us`);
  }

  finish(): void {
    this.deps.onHandedOver();
  }

  /** The audit line's outcome; a failure to write it is logged (the hand-over itself stands). */
  private async outcome(result: string): Promise<void> {
    const line = this.pending;
    this.pending = undefined;
    if (!line) return;
    try {
      await this.deps.audit.append([{ ...line, result }]);
    } catch (error) {
      log.error(`audit log ${this.deps.audit.path}: cannot write the outcome "${result}" of the hand-over: ${(error as Error).message}`);
    }
  }
}
