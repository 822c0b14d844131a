// The lab's bounded flood senders (syn-flood.py, udp-flood.py) and the legitimate UDP check
// (udp-echo-check.py) as functions, for either address family: each runs in a lab namespace
// with a process timeout beyond its own time bound, and returns the sender's JSON answer or
// throws with its output when there is none. An IPv6 target is flooded over IPv6.
import { fileURLToPath } from 'node:url';
import { ATTACKER, CLIENT } from '../../src/lab/topology.js';
import { runInNamespace } from './e2e-lab.js';

const script = (name: string): string => fileURLToPath(new URL(`./${name}`, import.meta.url));

async function runSender<T>(namespace: string, name: string, args: (string | number)[], timeoutMs: number): Promise<T> {
  const result = await runInNamespace(namespace, ['python3', script(name), ...args.map(String)], timeoutMs);
  const line = result.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as T;
  } catch {
    throw new Error(`${name} in ${namespace} gave no answer (exit ${result.code}): ${result.stdout.slice(-500)} ${result.stderr.slice(-1000)}`);
  }
}

export interface SynFloodReport { sent: number; syns: number; acks: number; seconds: number; pps: number }

/**
 * Spoofed SYNs (3 of 4) and forged ACKs from pc-attacker to target:port; sources
 * 198.18.0.100-199, or 2001:db8:18::100-::199 for an IPv6 target. Stops after `seconds`
 * (at most 30) or `maxPackets`.
 */
export function synFlood(target: string, port: number, seconds: number, maxPackets: number): Promise<SynFloodReport> {
  return runSender(ATTACKER.namespace, 'syn-flood.py', [target, port, seconds, maxPackets], (Math.min(seconds, 30) + 20) * 1000);
}

export interface UdpFloodOptions {
  seconds: number;
  maxPackets: number;
  /** Datagrams per second; 0 (default) = as fast as one socket goes. */
  pps?: number;
  /** Bytes per datagram (default 64); above the MTU the datagrams go out as fragments. */
  size?: number;
  /**
   * IPv6 only: send from `sources` (default 256) distinct addresses drawn from this prefix
   * (a /64 or longer, e.g. '2001:db8:18::/64'), never its first 256; without it the flood
   * comes from the attacker's own address.
   */
  sourcePrefix?: string;
  sources?: number;
}

/** frames: packets on the wire (a fragmented datagram is several); sources: with sourcePrefix only. */
export interface UdpFloodReport { sent: number; seconds: number; pps: number; frames: number; sources?: number }

/** A bounded UDP flood from pc-attacker to target:port. */
export function udpFlood(target: string, port: number, options: UdpFloodOptions): Promise<UdpFloodReport> {
  if (options.sourcePrefix !== undefined && !target.includes(':')) throw new Error('udpFlood: sourcePrefix is for an IPv6 target only');
  const args: (string | number)[] = [target, port, options.seconds, options.maxPackets, options.pps ?? 0, options.size ?? 64];
  if (options.sourcePrefix !== undefined) args.push(options.sourcePrefix, options.sources ?? 256);
  return runSender(ATTACKER.namespace, 'udp-flood.py', args, (options.seconds + 20) * 1000);
}

export interface UdpEchoCheckReport { sent: number; answered: number; seconds: number }

/** `count` numbered requests at `pps` from one socket in `namespace` (default pc-client); how many were answered. */
export function udpEchoCheck(target: string, port: number, count: number, pps: number, timeoutSeconds: number,
  namespace = CLIENT.namespace): Promise<UdpEchoCheckReport> {
  return runSender(namespace, 'udp-echo-check.py', [target, port, count, pps, timeoutSeconds],
    (count / pps + timeoutSeconds + 20) * 1000);
}
