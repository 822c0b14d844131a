// Polling for a condition the daemon reaches on its own time (a health verdict, writes accepted
// again after a hand-over, a respawned speaker): one helper instead of a copy per suite.
import * as assert from 'uvu/assert';

/** Checks `condition` every `everyMs` until it holds; fails the test naming `what` once `timeoutMs` passed. */
export async function eventually(what: string, condition: () => Promise<boolean> | boolean, timeoutMs = 5_000, everyMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) assert.unreachable(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
