// Probes: one attempt to reach a real server, bounded by the check's timeout.
// Never rejects and never throws — every failure is an answer: `fail` when the
// server (or the silence where it should be) is the cause, `unknown` when the
// probe could not be made on our side, so a host out of descriptors or buffers
// never takes healthy servers out of service.
import { connect } from 'node:net';
import { request } from 'node:http';
import type { HealthCheck } from '../model/index.js';
import { boundedAttempt, failure, type ProbeResult, type ProbeTarget } from './attempt.js';
import { probeDns, probeIcmp, probeUdp } from './probe-udp.js';

export { failure, isServerError, type ProbeOutcome, type ProbeResult, type ProbeTarget } from './attempt.js';

/** Pluggable so the checker can be driven without the exception path or a network. */
export type Prober = (target: ProbeTarget, check: HealthCheck) => Promise<ProbeResult>;

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
export const socketProber: Prober = (target, check) => {
  switch (check.kind) {
    case 'tcp': return probeTcp(target, check.timeoutMs);
    case 'http': return probeHttp(target, check);
    case 'udp': return probeUdp(target, check);
    case 'dns': return probeDns(target, check);
    case 'icmp': return probeIcmp(target, check);
  }
};
