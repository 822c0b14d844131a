// portcullis.v1.Takeover, the running (old) daemon's side of `portcullis run --takeover`
// (proto/portcullis/v1/takeover.proto). This module only walks the stream through its steps
// and guarantees the one rule that matters: once HOLD succeeded, the stream ending in any way
// but COMMIT resumes the old daemon (forwarding and changes). What holding and resuming do is
// the daemon's (src/daemon/hand-over.ts).
import type * as grpc from '@grpc/grpc-js';
import { log } from '../log.js';
import { ModelError, type ChangeOrigin } from '../model/index.js';
import { recordedOrigin } from './actor.js';
import type { HandOverRequest__Output } from './generated/portcullis/v1/HandOverRequest.js';
import type { HandOverResponse } from './generated/portcullis/v1/HandOverResponse.js';
import type { TakeoverHandlers } from './generated/portcullis/v1/Takeover.js';
import { toServiceError } from './status.js';

export interface HoldRequest {
  /** The new daemon's pid (0 = not given). */
  newPid: number;
  /** Who asked, as the audit log records it. */
  origin: ChangeOrigin;
}

export interface Held {
  heldAtUs: number;
  pid: number;
  stateFile: string;
}

/** What the daemon does at each step; every method but hold() must not throw. */
export interface HandOverHost {
  /** Refuse changes, write the state file, hold the data plane. Rejects (a ModelError) with nothing held. */
  hold(request: HoldRequest): Promise<Held>;
  /** The stream ended without COMMIT after hold(): forward and take changes again. */
  resume(why: string): Promise<void>;
  /** COMMIT arrived: the new daemon forwards. Records it; nothing can be undone after this. */
  commit(gapUs: number): Promise<void>;
  /** COMMITTED was sent and the stream closed: close the listeners and exit. */
  finish(): void;
}

const DEFAULT_REASON = 'upgrade hand-over (portcullis run --takeover)';

export function takeoverHandlers(host: HandOverHost | undefined): TakeoverHandlers {
  return { HandOver: (call) => handOver(call, host) };
}

function handOver(call: grpc.ServerDuplexStream<HandOverRequest__Output, HandOverResponse>, host: HandOverHost | undefined): void {
  let phase: 'waiting' | 'held' | 'committed' = 'waiting';
  let ended = false;
  // Steps run one after another, and so do the stream's end and cancellation: a cancel that
  // arrives while hold() runs is handled once hold() is done (then resumed, never left held).
  let steps: Promise<void> = Promise.resolve();
  const queue = (task: () => Promise<void>) => {
    steps = steps.then(task).catch((error: unknown) => log.error(`takeover: ${(error as Error).message}`));
  };

  const finishStream = (error?: unknown) => {
    if (ended) return;
    ended = true;
    if (error === undefined) call.end();
    else call.emit('error', toServiceError(error));
  };
  const resumeIfHeld = async (why: string) => {
    if (phase !== 'held' || !host) return;
    phase = 'waiting';
    await host.resume(why);
  };

  const step = async (request: HandOverRequest__Output) => {
    if (ended) return;
    if (request.step === 'HOLD') {
      if (phase !== 'waiting') throw new ModelError('INVALID_ARGUMENT', 'step', 'HOLD was already sent on this stream');
      // Fail closed first: a call no interceptor marked never reaches the host.
      const origin = recordedOrigin({ actor: request.actor, reason: request.reason || DEFAULT_REASON }, 'hold', call.metadata);
      if (!host) throw new ModelError('FAILED_PRECONDITION', '', 'this daemon cannot hand over (it was started without a takeover handler)');
      const held = await host.hold({ newPid: request.pid, origin });
      phase = 'held';
      call.write({ step: 'HELD', heldAtUs: held.heldAtUs, pid: held.pid, stateFile: held.stateFile });
      return;
    }
    if (request.step === 'COMMIT') {
      if (phase !== 'held' || !host) throw new ModelError('INVALID_ARGUMENT', 'step', 'COMMIT before HELD');
      phase = 'committed';
      await host.commit(Number(request.gapUs));
      call.write({ step: 'COMMITTED', pid: process.pid });
      finishStream();
      // After the status went out: closing the servers waits for open calls, this one included.
      setImmediate(() => host.finish());
      return;
    }
    throw new ModelError('INVALID_ARGUMENT', 'step', `expected HOLD or COMMIT, got ${request.step}`);
  };

  call.on('data', (request: HandOverRequest__Output) => queue(() => step(request).catch(async (error: unknown) => {
    await resumeIfHeld(`the hand-over failed: ${(error as Error).message}`);
    finishStream(error);
  })));
  // The new daemon half-closed, cancelled or vanished: what it held must not stay held.
  call.on('end', () => queue(async () => {
    if (phase === 'held') {
      await resumeIfHeld('the new daemon closed, cancelled or lost the stream before COMMIT');
      finishStream(new ModelError('FAILED_PRECONDITION', '', 'stream closed before COMMIT: this daemon resumed'));
    } else {
      finishStream();
    }
  }));
  call.on('cancelled', () => queue(async () => {
    ended = true;
    await resumeIfHeld('the new daemon cancelled the hand-over or went away before COMMIT');
  }));
  call.on('error', (error: Error) => queue(async () => {
    ended = true;
    await resumeIfHeld(`the hand-over stream broke before COMMIT: ${error.message}`);
  }));
}
