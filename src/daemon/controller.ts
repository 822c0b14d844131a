// Owns the desired state and applies changes atomically, one at a time:
// validate → new state (copy) → beforeApply (the audit line) → dataplane.apply → state file → swap
// → configuration watchers told. A change whose services or routes differ (config-diff.ts) gets the
// next configuration generation, stored with the state; health verdicts and mitigations keep it.
//
// What holds after every call, whatever failed (test/unit/state-controller.test.ts injects each
// failure): memory and the state file hold the same state (memory changes only once the file's
// rename happened), and the data plane runs it too — unless `rollbackFailure` is set, which is
// the one way they can disagree, and which makes the daemon report NOT_SERVING.
//
//   failure                                   outcome
//   change() refuses (validation)             nothing changed; its ModelError
//   beforeApply() fails                       nothing changed; its error
//   dataplane.apply fails                     nothing changed (the addon keeps its snapshot); INVALID_ARGUMENT / FAILED_PRECONDITION
//   state write fails before its rename       the data plane is rolled back to the old state; INTERNAL "… change rolled back"
//     … and that rollback fails too           the data plane runs the new state, file and memory the old one: rollbackFailure
//                                             is set and logged, retried by retryRollback(); INTERNAL "… rollback failed …"
//   state write fails after its rename        committed: the file already holds the new state, so memory and data plane
//     (directory fsync)                       keep it and the call succeeds; logged, counted (state_dir_sync_failures)
//   writes paused (hand-over under way)       nothing changed; UNAVAILABLE "handing over to a new daemon …"
import type { DataplaneAddon } from '../dataplane/types.js';
import { log } from '../log.js';
import { countControlEvent } from '../metrics/control-events.js';
import {
  buildDataplaneConfig, diffConfig, generationOf, isEmptyDiff, ModelError, type ChangeResult, type ConfigDiff, type DesiredState,
} from '../model/index.js';
import { serializeState, StateWriteError, writeStateFile } from '../state/file.js';

/** The part of the addon the controller needs (a fake implements it in unit tests). */
export type ApplyTarget = Pick<DataplaneAddon, 'apply'>;

export type StateWriter = (file: string, text: string) => Promise<void>;

export interface MutateOptions<T> {
  /**
   * Runs once the change is computed and valid, before the data plane or the file sees it
   * (the defence audit line is written and fsynced here). A rejection refuses the change.
   */
  beforeApply?: (result: T) => Promise<void>;
  /** True when the change changes nothing worth a new snapshot: the result is returned, nothing is applied or written. */
  unchanged?: (result: T) => boolean;
}

/** A committed configuration change (services or routes): what WatchConfig streams. */
export interface ConfigChange {
  generation: number;
  diff: ConfigDiff;
}

export type ConfigListener = (change: ConfigChange) => void;

/** Maps an addon error (Error with a stable `code`) to a model error with a gRPC-like code. */
export function addonErrorToModel(error: unknown): ModelError {
  const code = (error as { code?: unknown }).code;
  const message = error instanceof Error ? error.message : String(error);
  if (code === 'CONFIG_REJECTED' || code === 'EINVAL') {
    return new ModelError('INVALID_ARGUMENT', '', `the data plane rejected the change: ${message}`);
  }
  return new ModelError('FAILED_PRECONDITION', '', `the data plane could not apply the change (${String(code ?? 'no code')}): ${message}`);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export class Controller {
  private desired: DesiredState;
  private version = 0;
  private queue: Promise<unknown> = Promise.resolve();
  /**
   * Why the data plane does not run the desired state (a rollback failed); undefined when it
   * does. Mutations are still accepted meanwhile: each one hands the data plane the COMPLETE
   * desired state (never a diff), so the next apply that succeeds is exactly the repair.
   */
  private failedRollback: string | undefined;
  /** Why changes are refused now (a hand-over to a new daemon is under way); undefined = accepted. */
  private paused: string | undefined;
  private readonly configListeners = new Set<ConfigListener>();

  constructor(
    private readonly dataplane: ApplyTarget,
    readonly stateFile: string,
    initial: DesiredState,
    private readonly writeState: StateWriter = writeStateFile,
  ) {
    this.desired = initial;
  }

  /** Current desired state. Treat as read-only: changes go through mutate(). */
  get state(): DesiredState {
    return this.desired;
  }

  /** Version of the snapshot the data plane runs (the last apply that succeeded). */
  get snapshotVersion(): number {
    return this.version;
  }

  /** Configuration generation: one more with each committed change to services or routes. */
  get generation(): number {
    return generationOf(this.desired);
  }

  /** Calls `listener` after each committed configuration change, in order; returns the unsubscribe. */
  onConfigChange(listener: ConfigListener): () => void {
    this.configListeners.add(listener);
    return () => { this.configListeners.delete(listener); };
  }

  /** Why the data plane and the state file disagree (NOT_SERVING); undefined when they agree. */
  get rollbackFailure(): string | undefined {
    return this.failedRollback;
  }

  /**
   * First apply at start-up: publishes the initial state and (re)writes the state file.
   * `afterApply` runs between the two (a takeover starts forwarding there: src/daemon/takeover.ts).
   */
  async applyInitial(afterApply?: () => void): Promise<number> {
    return this.serialize(async () => {
      this.version = this.applyToDataplane(this.desired);
      afterApply?.();
      await this.persist(this.desired);
      return this.version;
    });
  }

  /** Why changes are refused now (undefined = they are accepted). */
  get writesPaused(): string | undefined {
    return this.paused;
  }

  /**
   * Hand-over, old side (src/daemon/takeover.ts): waits for the change in flight, writes the state
   * file once more (the new daemon reads it next), then refuses every change with UNAVAILABLE
   * until resumeWrites(). Rejects (and stays open for changes) when the file cannot be written.
   */
  pauseWrites(why: string): Promise<void> {
    return this.serialize(async () => {
      if (this.paused !== undefined) throw new ModelError('FAILED_PRECONDITION', '', `changes are already paused: ${this.paused}`);
      try {
        await this.persist(this.desired);
      } catch (error) {
        throw new ModelError('INTERNAL', '', `cannot write state file ${this.stateFile}: ${messageOf(error)}`);
      }
      this.paused = why;
    });
  }

  /** The hand-over did not happen: changes are accepted again. Harmless when not paused. */
  resumeWrites(): void {
    this.paused = undefined;
  }

  /** Runs a model change atomically; resolves with its result or rejects with a ModelError. */
  mutate<T>(change: (state: DesiredState) => ChangeResult<T>, options: MutateOptions<T> = {}): Promise<T> {
    return this.serialize(async () => {
      // Checked in the queue: a change queued behind pauseWrites() is refused too, never applied
      // after the new daemon has read the state file.
      if (this.paused !== undefined) {
        throw new ModelError('UNAVAILABLE', '', `handing over to a new daemon (${this.paused}): nothing changed; `
          + 'the new daemon takes changes on the same socket in a moment');
      }
      const { state, result, warnings } = change(this.desired);
      if (options.unchanged?.(result)) return result;
      await options.beforeApply?.(result);
      for (const warning of warnings) log.warn(warning);
      const previous = this.desired;
      // Health verdicts and mitigations change no configuration: same generation.
      const diff = diffConfig(previous, state);
      const configChanged = !isEmptyDiff(diff);
      if (configChanged) state.generation = generationOf(previous) + 1;
      else if (previous.generation === undefined) delete state.generation;
      else state.generation = previous.generation;
      const version = this.applyToDataplane(state);
      try {
        await this.persist(state);
      } catch (error) {
        throw this.rollBack(previous, version, error);
      }
      this.desired = state;
      this.version = version;
      this.cleared('a later change was applied and written');
      if (configChanged) this.announce({ generation: generationOf(state), diff });
      return result;
    });
  }

  /**
   * Re-applies the desired state while a rollback failure is set (the daemon calls it on a
   * timer). Resolves true when the data plane runs the desired state again.
   */
  retryRollback(): Promise<boolean> {
    return this.serialize(async () => {
      if (this.failedRollback === undefined) return true;
      if (this.paused !== undefined) return false;  // the workers are held; the next daemon applies the file's state
      try {
        this.version = this.applyToDataplane(this.desired);
      } catch (error) {
        log.limited('error', 'rollback-retry', `rollback retry failed, the data plane still runs a change the state file does not hold: ${messageOf(error)}`);
        return false;
      }
      this.cleared('the retry re-applied the state file\'s state');
      return true;
    });
  }

  /** Writes the state file; a failure after the rename is a committed write (see the table on top). */
  private async persist(state: DesiredState): Promise<void> {
    try {
      await this.writeState(this.stateFile, serializeState(state));
    } catch (error) {
      if (!(error instanceof StateWriteError && error.committed)) throw error;
      countControlEvent('state_dir_sync_failures');
      log.error(`state file ${this.stateFile}: renamed into place, then ${error.message}: the change stands (file, memory and data plane hold it), `
        + 'but it may not survive a power cut until the kernel writes the directory back (event state_dir_sync_failures)');
    }
  }

  /** The state file still holds `previous`: put the data plane back on it too. Returns the error to throw. */
  private rollBack(previous: DesiredState, newVersion: number, writeError: unknown): ModelError {
    const what = `cannot write state file ${this.stateFile}: ${messageOf(writeError)}`;
    try {
      this.version = this.applyToDataplane(previous);
    } catch (rollbackError) {
      this.version = newVersion;
      this.failedRollback = `${what}; rolling the data plane back failed too (${messageOf(rollbackError)}): `
        + 'the data plane runs a change that the state file and the API do not show';
      log.error(`${this.failedRollback}; NOT_SERVING until a later change or the retry applies the state file's state again`);
      return new ModelError('INTERNAL', '', `${what}; the rollback failed too (${messageOf(rollbackError)}): the data plane may run this change `
        + 'although it is not recorded; the daemon reports NOT_SERVING until it runs the recorded state again');
    }
    this.cleared('the rollback after a failed write succeeded');
    return new ModelError('INTERNAL', '', `${what}; change rolled back`);
  }

  private announce(change: ConfigChange): void {
    for (const listener of this.configListeners) {
      try {
        listener(change);
      } catch (error) {
        log.error(`a configuration watcher failed: ${messageOf(error)}`);
      }
    }
  }

  private cleared(how: string): void {
    if (this.failedRollback === undefined) return;
    log.info(`the data plane runs the state file's state again (${how}); SERVING`);
    this.failedRollback = undefined;
  }

  private applyToDataplane(state: DesiredState): number {
    try {
      return this.dataplane.apply(buildDataplaneConfig(state)).version;
    } catch (error) {
      throw addonErrorToModel(error);
    }
  }

  // One mutation at a time; a failure does not block the ones queued after it.
  private serialize<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task, task);
    this.queue = run.catch(() => undefined);
    return run;
  }
}
