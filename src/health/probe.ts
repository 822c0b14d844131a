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

function probeTcp(target: ProbeTarget, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    let settled = false;
    let socket: ReturnType<typeof connect> | undefined;
    const finish = (result: ProbeResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      socket?.destroy();
      resolve(result);
    };
    const deadline = setTimeout(() => finish({ outcome: 'fail', detail: `no connect within ${timeoutMs} ms` }), timeoutMs);
    try {
      socket = connect({ host: target.address, port: target.port });
      socket.once('connect', () => finish({ outcome: 'pass', detail: 'connected' }));
      // on, not once: a later error with no listener would be thrown (finish ignores repeats).
      socket.on('error', (error) => finish(failure('connect', error)));
    } catch (error) {
      finish(failure('connect', error));
    }
  });
}

function probeHttp(target: ProbeTarget, check: HealthCheck): Promise<ProbeResult> {
  return new Promise((resolve) => {
    let settled = false;
    let req: ReturnType<typeof request> | undefined;
    const finish = (result: ProbeResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      req?.destroy();
      resolve(result);
    };
    const deadline = setTimeout(() => finish({ outcome: 'fail', detail: `no answer within ${check.timeoutMs} ms` }), check.timeoutMs);
    try {
      // request() throws synchronously on a path it cannot send (ERR_UNESCAPED_CHARACTERS): the
      // validator refuses such paths, and this catch keeps any other throw a probe result.
      req = request({ host: target.address, port: target.port, path: check.path, method: 'GET', agent: false,
        headers: { 'user-agent': 'portcullis-health', connection: 'close' } }, (response) => {
        // The status line decides; the body is not needed.
        response.resume();
        const status = response.statusCode ?? 0;
        finish(status === check.expectStatus
          ? { outcome: 'pass', detail: `status ${status}` }
          : { outcome: 'fail', detail: `status ${status}, expected ${check.expectStatus}` });
      });
      req.on('error', (error) => finish(failure('http', error)));
      req.end();
    } catch (error) {
      finish(failure('http', error));
    }
  });
}

/** The built-in prober: plain sockets from the host (reaching real servers needs the exception path). */
export const socketProber: Prober = (target, check) =>
  check.kind === 'tcp' ? probeTcp(target, check.timeoutMs) : probeHttp(target, check);
