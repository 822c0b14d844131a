// Probes: one attempt to reach a real server, bounded by the check's timeout.
// Never rejects — a failure is an answer ({ ok: false, detail }).
import { connect } from 'node:net';
import { request } from 'node:http';
import type { HealthCheck } from '../model/health-check.js';

export interface ProbeTarget {
  address: string;
  port: number;
}

export interface ProbeResult {
  ok: boolean;
  /** Why, for the transition log ("connect ECONNREFUSED", "status 503"). */
  detail: string;
}

/** Pluggable so the checker can be driven without the exception path or a network. */
export type Prober = (target: ProbeTarget, check: HealthCheck) => Promise<ProbeResult>;

function probeTcp(target: ProbeTarget, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const socket = connect({ host: target.address, port: target.port });
    const finish = (result: ProbeResult) => { clearTimeout(deadline); socket.destroy(); resolve(result); };
    const deadline = setTimeout(() => finish({ ok: false, detail: `no connect within ${timeoutMs} ms` }), timeoutMs);
    socket.once('connect', () => finish({ ok: true, detail: 'connected' }));
    socket.once('error', (error: NodeJS.ErrnoException) => finish({ ok: false, detail: `connect ${error.code ?? error.message}` }));
  });
}

function probeHttp(target: ProbeTarget, check: HealthCheck): Promise<ProbeResult> {
  return new Promise((resolve) => {
    let settled = false;
    const finish = (result: ProbeResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      req.destroy();
      resolve(result);
    };
    const req = request({ host: target.address, port: target.port, path: check.path, method: 'GET', agent: false,
      headers: { 'user-agent': 'portcullis-health', connection: 'close' } }, (response) => {
      // The status line decides; the body is not needed.
      response.resume();
      const status = response.statusCode ?? 0;
      finish(status === check.expectStatus
        ? { ok: true, detail: `status ${status}` }
        : { ok: false, detail: `status ${status}, expected ${check.expectStatus}` });
    });
    const deadline = setTimeout(() => finish({ ok: false, detail: `no answer within ${check.timeoutMs} ms` }), check.timeoutMs);
    req.once('error', (error: NodeJS.ErrnoException) => finish({ ok: false, detail: `http ${error.code ?? error.message}` }));
    req.end();
  });
}

/** The built-in prober: plain sockets from the host (reaching real servers needs the exception path). */
export const socketProber: Prober = (target, check) =>
  check.kind === 'tcp' ? probeTcp(target, check.timeoutMs) : probeHttp(target, check);
