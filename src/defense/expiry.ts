// Removes expired mitigations a moment after they end (and those whose service was deleted): a short poll rather than one
// timer per entry, so changes from any door (and a restart) need no re-arming.
import { log } from '../log.js';
import { mitigationScope, mitigationTarget } from '../model/index.js';
import type { Mitigations } from './mitigations.js';

/** Worst-case lateness of a removal; well inside the one second the runbook promises. */
export const EXPIRY_POLL_MS = 200;

export function startExpiryTimer(mitigations: Mitigations, pollMs = EXPIRY_POLL_MS): { stop(): void } {
  let running = false;
  const tick = () => {
    if (running) return;
    running = true;
    mitigations.expire()
      .then((removed) => { for (const m of removed) log.info(`mitigation removed (ended or its service was deleted): ${mitigationScope(m)} ${mitigationTarget(m)} (set by ${m.actor}: ${m.reason})`); })
      .catch((error: Error) => log.error(`removing expired mitigations failed (will retry): ${error.message}`))
      .finally(() => { running = false; });
  };
  tick();
  const timer = setInterval(tick, pollMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
