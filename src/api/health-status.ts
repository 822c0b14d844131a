// grpc.health.v1 says whether the daemon forwards (issue 14 item 6), not merely whether the gRPC
// server answers: NOT_SERVING — overall ('') and for every service — while the data plane has not
// published its first snapshot, while any port's link is down or not known yet, and while the
// controller reports a failed rollback (its state file, memory and data plane may disagree);
// SERVING again once every input is fine. Inputs are polled (the link monitor itself polls once a
// second), and only changes are pushed to the health service, so Watch streams see transitions.
import type { HealthImplementation } from 'grpc-health-check';
import { log } from '../log.js';

export type ServingStatus = 'SERVING' | 'NOT_SERVING';

export interface ForwardingInputs {
  /** The data plane runs and holds its first snapshot. */
  started: boolean;
  /** Every configured port; `up` undefined = not polled yet (counts as down: unknown fails closed). */
  ports: { name: string; up: boolean | undefined }[];
  /** Why the last rollback failed (Controller.rollbackFailure), undefined when there was none. */
  rollbackFailure: string | undefined;
}

export interface Verdict { status: ServingStatus; reason: string }

/** The health status for these inputs, and why (for the log). */
export function forwardingVerdict(inputs: ForwardingInputs): Verdict {
  const reasons: string[] = [];
  if (!inputs.started) reasons.push('the data plane has not started');
  for (const port of inputs.ports) {
    if (port.up === undefined) reasons.push(`port ${port.name}: link state not known yet`);
    else if (!port.up) reasons.push(`port ${port.name}: link down`);
  }
  if (inputs.rollbackFailure !== undefined) reasons.push(`a failed change could not be rolled back (${inputs.rollbackFailure})`);
  return reasons.length === 0 ? { status: 'SERVING', reason: 'forwarding' } : { status: 'NOT_SERVING', reason: reasons.join('; ') };
}

export const HEALTH_POLL_MS = 250;

export interface HealthReporter {
  /** Re-evaluates now (also done every HEALTH_POLL_MS). */
  update(): Verdict;
  /** Stops polling and reports NOT_SERVING for good (the daemon is stopping). */
  stop(): void;
}

/** Keeps `health` in step with `read()` for '' and every name in `services`. */
export function startHealthReporter(health: HealthImplementation, services: string[], read: () => ForwardingInputs): HealthReporter {
  let current: ServingStatus | undefined;
  const publish = (status: ServingStatus): void => {
    current = status;
    for (const name of ['', ...services]) health.setStatus(name, status);
  };
  const update = (): Verdict => {
    let verdict: Verdict;
    try {
      verdict = forwardingVerdict(read());
    } catch (error) {
      verdict = { status: 'NOT_SERVING', reason: `inputs unavailable: ${(error as Error).message}` };
    }
    if (verdict.status !== current) {
      if (current !== undefined || verdict.status === 'NOT_SERVING') {
        const line = `health: ${verdict.status} (${verdict.reason})`;
        if (verdict.status === 'SERVING') log.info(line); else log.warn(line);
      }
      publish(verdict.status);
    }
    return verdict;
  };
  update();
  const timer = setInterval(update, HEALTH_POLL_MS);
  timer.unref();
  return {
    update,
    stop() {
      clearInterval(timer);
      publish('NOT_SERVING');
    },
  };
}
