// Owns the desired state and applies changes atomically, one at a time:
// validate → new state (copy) → dataplane.apply → state file → swap.
// If any step fails nothing changes: the old snapshot stays live, the old file
// stays on disk and the in-memory state is untouched.
import type { DataplaneAddon } from '../dataplane/types.js';
import { log } from '../log.js';
import { buildDataplaneConfig, ModelError, type ChangeResult, type DesiredState } from '../model/index.js';
import { serializeState, writeStateFile } from '../state/file.js';

/** The part of the addon the controller needs (a fake implements it in unit tests). */
export type ApplyTarget = Pick<DataplaneAddon, 'apply'>;

export type StateWriter = (file: string, text: string) => Promise<void>;

/** Maps an addon error (Error with a stable `code`) to a model error with a gRPC-like code. */
export function addonErrorToModel(error: unknown): ModelError {
  const code = (error as { code?: unknown }).code;
  const message = error instanceof Error ? error.message : String(error);
  if (code === 'CONFIG_REJECTED' || code === 'EINVAL') {
    return new ModelError('INVALID_ARGUMENT', '', `the data plane rejected the change: ${message}`);
  }
  return new ModelError('FAILED_PRECONDITION', '', `the data plane could not apply the change (${String(code ?? 'no code')}): ${message}`);
}

export class Controller {
  private desired: DesiredState;
  private version = 0;
  private queue: Promise<unknown> = Promise.resolve();
  /** Why the last rollback failed; undefined when fine. Read by health (src/api/health-status.ts). */
  private failedRollback: string | undefined;

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

  /** Why a failed change could not be rolled back (state file, memory and data plane may disagree); undefined when fine. */
  get rollbackFailure(): string | undefined {
    return this.failedRollback;
  }

  /** Version of the snapshot the last successful apply returned. */
  get snapshotVersion(): number {
    return this.version;
  }

  /** First apply at start-up: publishes the initial state and (re)writes the state file. */
  async applyInitial(): Promise<number> {
    return this.serialize(async () => {
      this.version = this.applyToDataplane(this.desired);
      await this.writeState(this.stateFile, serializeState(this.desired));
      return this.version;
    });
  }

  /** Runs a model change atomically; resolves with its result or rejects with a ModelError. */
  mutate<T>(change: (state: DesiredState) => ChangeResult<T>): Promise<T> {
    return this.serialize(async () => {
      const { state, result, warnings } = change(this.desired);
      for (const warning of warnings) log.warn(warning);
      const previous = this.desired;
      const version = this.applyToDataplane(state);
      try {
        await this.writeState(this.stateFile, serializeState(state));
      } catch (error) {
        // The data plane already runs the new snapshot: put the old one back so
        // memory, file and data plane agree again.
        try {
          this.version = this.applyToDataplane(previous);
        } catch (rollbackError) {
          log.error(`rollback after a failed state file write also failed: ${(rollbackError as Error).message}`);
        }
        throw new ModelError('INTERNAL', '', `cannot write state file ${this.stateFile}: ${(error as Error).message}; change rolled back`);
      }
      this.desired = state;
      this.version = version;
      return result;
    });
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
