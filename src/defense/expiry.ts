// Removes expired mitigations a moment after they end (and those whose service was deleted): a short poll rather than one
// timer per entry, so changes from any door (and a restart) need no re-arming.
import { log } from '../log.js';
import { mitigationScope, mitigationTarget } from '../model/index.js';
import type { Mitigations } from './mitigations.js';

/** Worst-case lateness of a removal; well inside the one second the runbook promises. */
export const EXPIRY_POLL_MS = 200;
/** After a failed removal (a full or read-only disk: no audit line, no state file) retry no faster than this, doubling up to the cap. */
const RETRY_FIRST_MS = 1_000;
const RETRY_MAX_MS = 60_000;

export function startExpiryTimer(mitigations: Mitigations, pollMs = EXPIRY_POLL_MS): { stop(): void } {
  let running = false;
  // Each attempt writes audit lines (pending, then error): without a back-off a broken disk would
  // get two lines every poll.
  let retryMs = 0;
  let nextAttemptAt = 0;
  const tick = () => {
    if (running || Date.now() < nextAttemptAt) return;
    running = true;
    mitigations.expire()
      .then((removed) => {
        retryMs = 0;
        nextAttemptAt = 0;
        for (const m of removed) log.info(`mitigation removed (ended or its service was deleted): ${mitigationScope(m)} ${mitigationTarget(m)} (set by ${m.actor}: ${m.reason})`);
      })
      .catch((error: Error) => {
        retryMs = Math.min(RETRY_MAX_MS, retryMs ? retryMs * 2 : RETRY_FIRST_MS);
        nextAttemptAt = Date.now() + retryMs;
        log.limited('error', 'expiry', `removing expired mitigations failed (next try in ${retryMs / 1000} s): ${error.message}`);
      })
      .finally(() => { running = false; });
  };
  tick();
  const timer = setInterval(tick, pollMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
