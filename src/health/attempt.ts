// One bounded probe attempt and how its errors are classified: shared by every kind of probe.

export interface ProbeTarget {
  address: string;
  port: number;
}

/** pass / fail count toward rise and fall; unknown counts toward neither. */
export type ProbeOutcome = 'pass' | 'fail' | 'unknown';

export interface ProbeResult {
  outcome: ProbeOutcome;
  /** Why, for the transition log ("connect ECONNREFUSED", "status 503", "unknown: connect EMFILE"). */
  detail: string;
}

/**
 * Errors that are the server's answer (or its silence): a reset or refusal, no answer to ARP/ND or
 * SYNs within the kernel's own timeout, bytes that are not HTTP. Everything else — EMFILE, ENFILE,
 * ENOBUFS, ENOMEM, EADDRNOTAVAIL, EAGAIN, EPERM (local firewall), ENETUNREACH (no route here), a
 * throw from Node or from our own code — says nothing about the server.
 */
const SERVER_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'EHOSTDOWN', 'EPIPE']);

export function isServerError(code: string | undefined): boolean {
  return code !== undefined && (SERVER_ERRORS.has(code) || code.startsWith('HPE_'));
}

/** A failed probe's result, classified by its error code (see SERVER_ERRORS). */
export function failure(what: string, error: unknown): ProbeResult {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const reason = code ?? (error instanceof Error ? error.message : String(error));
  return isServerError(code) ? { outcome: 'fail', detail: `${what} ${reason}` } : { outcome: 'unknown', detail: `${what} ${reason}` };
}

/**
 * One attempt bounded by timeoutMs: `start` opens it and reports through `finish`, which takes the
 * first result only and closes what `start` opened (registered with `keep`); silence until the
 * deadline is a fail saying `silence`, and a throw from `start` is classified like any error.
 */
export function boundedAttempt(
  what: string,
  timeoutMs: number,
  silence: string,
  start: (finish: (result: ProbeResult) => void, keep: (opened: { destroy(): void }) => void) => void,
): Promise<ProbeResult> {
  return new Promise((resolve) => {
    let settled = false;
    let opened: { destroy(): void } | undefined;
    const finish = (result: ProbeResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      opened?.destroy();
      resolve(result);
    };
    const deadline = setTimeout(() => finish({ outcome: 'fail', detail: silence }), timeoutMs);
    try {
      start(finish, (handle) => { opened = handle; });
    } catch (error) {
      finish(failure(what, error));
    }
  });
}

