// Probes: one attempt to reach a real server, bounded by the check's timeout.
// Never rejects and never throws — every failure is an answer: `fail` when the
// server (or the silence where it should be) is the cause, `unknown` when the
// probe could not be made on our side, so a host out of descriptors or buffers
// never takes healthy servers out of service.
import { connect } from 'node:net';
import { request } from 'node:http';
import type { HealthCheck } from '../model/index.js';

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

/** Pluggable so the checker can be driven without the exception path or a network. */
export type Prober = (target: ProbeTarget, check: HealthCheck) => Promise<ProbeResult>;

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
function boundedAttempt(
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

function probeTcp(target: ProbeTarget, timeoutMs: number): Promise<ProbeResult> {
  return boundedAttempt('connect', timeoutMs, `no connect within ${timeoutMs} ms`, (finish, keep) => {
    const socket = connect({ host: target.address, port: target.port });
    keep(socket);
    socket.once('connect', () => finish({ outcome: 'pass', detail: 'connected' }));
    // on, not once: a later error with no listener would be thrown (finish ignores repeats).
    socket.on('error', (error) => finish(failure('connect', error)));
  });
}

function probeHttp(target: ProbeTarget, check: HealthCheck): Promise<ProbeResult> {
  return boundedAttempt('http', check.timeoutMs, `no answer within ${check.timeoutMs} ms`, (finish, keep) => {
    // request() throws synchronously on a path it cannot send (ERR_UNESCAPED_CHARACTERS): the
    // validator refuses such paths, and boundedAttempt keeps any other throw a probe result.
    const req = request({ host: target.address, port: target.port, path: check.path, method: 'GET', agent: false,
      headers: { 'user-agent': 'portcullis-health', connection: 'close' } }, (response) => {
      // The status line decides; the body is not needed.
      response.resume();
      const status = response.statusCode ?? 0;
      finish(status === check.expectStatus
        ? { outcome: 'pass', detail: `status ${status}` }
        : { outcome: 'fail', detail: `status ${status}, expected ${check.expectStatus}` });
    });
    keep(req);
    req.on('error', (error) => finish(failure('http', error)));
    req.end();
  });
}

/** The built-in prober: plain sockets from the host (reaching real servers needs the exception path). */
export const socketProber: Prober = (target, check) =>
  check.kind === 'tcp' ? probeTcp(target, check.timeoutMs) : probeHttp(target, check);
