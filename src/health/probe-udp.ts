// Probes for UDP services: a datagram and its reply (udp), a DNS query and its answer (dns), and an
// ICMP echo (icmp). Each uses a fresh socket connected to the server, so only the server's own
// datagrams are read and an ICMP port-unreachable comes back as ECONNREFUSED (a fail), while local
// trouble (EMFILE, ENOBUFS, EPERM…) stays unknown, classified by `failure` like TCP's.
import { spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { DNS_QUERY_TYPES, type HealthCheck } from '../model/index.js';
import { boundedAttempt, failure, type ProbeResult, type ProbeTarget } from './attempt.js';
import { decodeAnswer, DNS_CLASS_IN, encodeQuery, rcodeName, sameQuestion, type DnsQuestion } from './dns-message.js';

/** The first bytes of a reply, in hex, for the log: enough to recognise it, never a flood. */
function preview(bytes: Uint8Array): string {
  const shown = Buffer.from(bytes.subarray(0, 16)).toString('hex');
  return bytes.length > 16 ? `${shown}…` : shown;
}

/**
 * A UDP socket connected to the target that sends `datagram` once connected, reports its errors
 * through `finish` (classified: ECONNREFUSED from a port-unreachable is the server's, EMFILE ours)
 * and is closed when the attempt ends.
 */
function connectedSocket(
  what: string,
  target: ProbeTarget,
  datagram: Buffer,
  finish: (result: ProbeResult) => void,
  keep: (opened: { destroy(): void }) => void,
): Socket {
  const socket = createSocket(isIPv6(target.address) ? 'udp6' : 'udp4');
  keep({ destroy: () => { try { socket.close(); } catch { /* already closed */ } } });
  // on, not once: a second error with no listener would be thrown (finish ignores repeats).
  socket.on('error', (error) => finish(failure(what, error)));
  // A connect that fails (EACCES for a broadcast address, EMFILE…) comes to this callback, not to
  // 'error'; sending on the unconnected socket would then throw outside any handler.
  socket.connect(target.port, target.address, (error?: Error) => {
    if (error) {
      finish(failure(`${what} connect`, error));
      return;
    }
    try {
      socket.send(datagram, (sendError) => { if (sendError) finish(failure(`${what} send`, sendError)); });
    } catch (sendError) {
      finish(failure(`${what} send`, sendError));
    }
  });
  return socket;
}

/** Sends the payload; any reply passes, or only one starting with the expected bytes when set. */
export function probeUdp(target: ProbeTarget, check: HealthCheck): Promise<ProbeResult> {
  const payload = Buffer.from(check.payloadHex ?? '', 'hex');
  const expected = check.expectHex === undefined ? undefined : Buffer.from(check.expectHex, 'hex');
  return boundedAttempt('udp', check.timeoutMs, `no reply within ${check.timeoutMs} ms`, (finish, keep) => {
    const socket = connectedSocket('udp', target, payload, finish, keep);
    socket.on('message', (reply) => {
      if (!expected || (reply.length >= expected.length && reply.subarray(0, expected.length).equals(expected))) {
        finish({ outcome: 'pass', detail: `reply of ${reply.length} bytes` });
      } else {
        finish({ outcome: 'fail', detail: `reply ${preview(reply)} (${reply.length} bytes) does not start with ${preview(expected)}` });
      }
    });
  });
}

/** One query with a random id; passes on a NOERROR answer carrying that id and the same question. */
export function probeDns(target: ProbeTarget, check: HealthCheck): Promise<ProbeResult> {
  const question: DnsQuestion = { name: check.queryName ?? '', type: DNS_QUERY_TYPES[check.queryType ?? 'A'], class: DNS_CLASS_IN };
  const asked = `${question.name || '.'} ${check.queryType ?? 'A'}`;
  return boundedAttempt('dns', check.timeoutMs, `no answer to ${asked} within ${check.timeoutMs} ms`, (finish, keep) => {
    const id = randomInt(0, 0x10000);
    const socket = connectedSocket('dns', target, encodeQuery(id, question), finish, keep);
    socket.on('message', (reply) => finish(judgeDnsAnswer(reply, id, question, asked)));
  });
}

/** The verdict on one reply: the socket is connected, so every reply is the server's own doing. */
export function judgeDnsAnswer(reply: Uint8Array, id: number, question: DnsQuestion, asked: string): ProbeResult {
  const decoded = decodeAnswer(reply);
  if (!decoded.ok) return { outcome: 'fail', detail: `malformed answer to ${asked}: ${decoded.reason}` };
  const { answer } = decoded;
  if (answer.id !== id) return { outcome: 'fail', detail: `answer id 0x${answer.id.toString(16)}, the query's was 0x${id.toString(16)}` };
  if (answer.rcode !== 0) return { outcome: 'fail', detail: `${rcodeName(answer.rcode)} for ${asked}` };
  if (!answer.question) return { outcome: 'fail', detail: `NOERROR for ${asked} without the question` };
  if (!sameQuestion(question, answer.question)) {
    return { outcome: 'fail', detail: `answer for ${answer.question.name || '.'} type ${answer.question.type} class ${answer.question.class}, asked ${asked}` };
  }
  return { outcome: 'pass', detail: `NOERROR for ${asked}${answer.truncated ? ' (truncated)' : ''}` };
}

/**
 * ICMP echo with the system's `ping` (iputils: setuid or cap_net_raw, so it works for any user):
 * Node has no raw or ICMP socket without a native module, and one process per probe is cheap at
 * health-check rates. ping's exit status 0 is a reply, 1 none; anything else (2: unknown address,
 * no route, no permission) and a ping that cannot be started (ENOENT, EMFILE, EAGAIN) say nothing
 * about the server: unknown. The attempt's own timer bounds the probe; -W (whole seconds in older
 * ping) only makes sure ping itself never waits much longer.
 */
export function probeIcmp(target: ProbeTarget, check: HealthCheck, command = 'ping'): Promise<ProbeResult> {
  const waitSeconds = String(Math.max(1, Math.ceil(check.timeoutMs / 1000)));
  return boundedAttempt('ping', check.timeoutMs, `no echo reply within ${check.timeoutMs} ms`, (finish, keep) => {
    const child = spawn(command, ['-n', '-c', '1', '-W', waitSeconds, '--', target.address], { stdio: ['ignore', 'ignore', 'pipe'] });
    keep({ destroy: () => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); } });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => { if (stderr.length < 200) stderr += chunk.toString('utf8'); });
    child.on('error', (error) => finish(failure('ping', error)));
    child.on('close', (code, signal) => {
      if (code === 0) finish({ outcome: 'pass', detail: 'echo reply' });
      else if (code === 1) finish({ outcome: 'fail', detail: 'no echo reply' });
      else finish({ outcome: 'unknown', detail: `ping ${signal ? `killed by ${signal}` : `exited ${code}`}${stderr ? `: ${stderr.trim().slice(0, 200)}` : ''}` });
    });
  });
}
