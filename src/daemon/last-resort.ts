// Last-resort handlers: an error no code handled must not take the data plane down with it.
//
// Node's default is to exit on an unhandled rejection or an uncaught exception. In this
// process that exit stops every worker lcore, so every flow through the gateway stalls until
// a supervisor restarts it, and an error that came from control-plane input (a state file, a
// config value, a gRPC call) comes back at every start. So both are logged, counted
// (GetStats events control_unhandled_rejections / control_uncaught_exceptions) and survived.
//
// Why surviving an uncaught exception is acceptable here, although Node warns that the
// process may be in an undefined state: such a throw unwinds one event callback (a timer, a
// socket event) of the control plane. What must stay consistent — the desired state, the
// state file, the data plane's snapshot, the audit log — changes only inside the Controller's
// serialized promise chain, where a failure is a rejection that is rolled back and reported,
// never an uncaught exception. The data plane runs in its own threads and does not care.
// The price is that a component whose callback threw may stay broken (a listener gone, a
// timer stopped); the log line and the counter are there so that is seen and fixed.
import { log } from '../log.js';
import { countControlEvent } from '../metrics/control-events.js';

/** At most one log line per kind this often; every occurrence is counted. */
const LOG_EVERY_MS = 10_000;

let installed = false;

function describe(reason: unknown): string {
  if (reason instanceof Error) return reason.stack ?? `${reason.name}: ${reason.message}`;
  return String(reason);
}

/** Installs both handlers once per process (the daemon's run command calls it before start-up). */
export function installLastResortHandlers(): void {
  if (installed) return;
  installed = true;
  process.on('unhandledRejection', (reason) => {
    countControlEvent('control_unhandled_rejections');
    log.limited('error', 'unhandled-rejection', `unhandled rejection (a bug; the daemon keeps running, event control_unhandled_rejections): ${describe(reason)}`, LOG_EVERY_MS);
  });
  process.on('uncaughtException', (error) => {
    countControlEvent('control_uncaught_exceptions');
    log.limited('error', 'uncaught-exception', `uncaught exception (a bug; the daemon keeps running, event control_uncaught_exceptions): ${describe(error)}`, LOG_EVERY_MS);
  });
}
