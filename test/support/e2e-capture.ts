// Bounded packet capture inside a lab namespace for e2e assertions on the wire:
// runs e2e-capture.py (python3 raw AF_PACKET socket, nothing to install).
//   startCapture: IPv4 TCP frames, decoded with the golden-packet codec (packet.ts).
//   startDecodedCapture: IPv4 and IPv6 frames of every kind, decoded by the script itself
//     (e2e_capture_decode.py): IPv6 extension headers, TCP options with TOA of either
//     family (kind 254, length 8 or 20), UDP, ICMP/ICMPv6 with quoted headers, checksums.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { withTimeout } from './e2e-lab.js';
import { decodeFrame, type DecodedFrame } from './packet.js';

const CAPTURE_SCRIPT = fileURLToPath(new URL('./e2e-capture.py', import.meta.url));

export interface Capture {
  /** Stops the capture (closes its stdin) and returns the TCP frames it saw. */
  stop(): Promise<DecodedFrame[]>;
}

export interface CaptureOf<T> {
  /** Stops the capture (closes its stdin) and returns what it kept, in arrival order. */
  stop(): Promise<T[]>;
}

export interface CaptureLimits {
  /** The capture ends by itself after this long (default 20 s). */
  maxSeconds?: number;
  /** ... or once it kept this many frames (default 500). */
  maxFrames?: number;
}

/** Starts e2e-capture.py on eth0 of a namespace; resolves once its socket is bound. Bounded to 20 s. */
export function startCapture(namespace: string): Promise<Capture> {
  return runCapture(namespace, 'eth0', 'tcp4', {}, (answer: { frames: string[] }) =>
    answer.frames.map((hex) => decodeFrame(Buffer.from(hex, 'hex'))));
}

/** A TCP option as the decoding capture reports it (data as hex; length null when malformed). */
export interface CapturedTcpOption { kind: number; length: number | null; data: string; malformed?: boolean }

export interface CapturedTcp {
  srcPort: number; dstPort: number; seq: number; ack: number; window: number; urgent: number;
  /** The flag byte, and its letters in FSRPAUEC order (e.g. "SA" for SYN+ACK). */
  flags: number; flagNames: string;
  headerLength: number;
  options: CapturedTcpOption[];
  mss: number | null;
  /** The first TOA option (kind 254): length 8 carries an IPv4 client, length 20 an IPv6 one. */
  toa: { address: string; port: number } | null;
  payloadLength: number;
  /** The first 128 payload bytes as hex. */
  payloadHead: string;
  /** Null when the segment is a fragment (nothing to check against). */
  checksumOk: boolean | null;
}

export interface CapturedUdp {
  srcPort: number; dstPort: number; length: number; checksumOk: boolean | null; payloadLength: number; payloadHead: string;
}

/** The packet an ICMP error quotes. */
export interface QuotedPacket { family?: 4 | 6; src?: string; dst?: string; protocol?: number; srcPort?: number; dstPort?: number }

/** ICMP (family 4) or ICMPv6 (family 6). */
export interface CapturedIcmp {
  type: number; code: number; checksumOk: boolean | null;
  /** Packet Too Big (ICMPv6 2) or fragmentation needed (ICMP 3/4). */
  mtu?: number;
  /** Echo request/reply. */
  id?: number; seq?: number;
  /** Neighbour solicitation/advertisement target; ndFlags = router<<2 | solicited<<1 | override. */
  target?: string; ndFlags?: number;
  quoted?: QuotedPacket;
}

export interface CapturedPacket {
  family: 4 | 6;
  src: string; dst: string;
  /** TTL (IPv4) or hop limit (IPv6). */
  hopLimit: number;
  /** The upper-layer protocol (after IPv6 extension headers): 6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6. */
  protocol: number;
  /** Always true for IPv6 (it has no header checksum). */
  ipChecksumOk: boolean;
  /** IPv4 only. */
  dontFragment?: boolean;
  /** IPv6 only. */
  trafficClass?: number; flowLabel?: number;
  ipLength: number;
  /** IPv6 extension headers passed, by next-header number (0, 43, 44, 60, 51). */
  extensions: number[];
  fragment: { offset: number; more: boolean; id: number } | null;
  /** The extension-header chain did not fit in the packet. */
  truncated?: boolean;
  tcp?: CapturedTcp; udp?: CapturedUdp; icmp?: CapturedIcmp;
  srcMac: string; dstMac: string;
  /** Sent by the capturing interface's own host (PACKET_OUTGOING), else received. */
  outgoing: boolean;
}

/**
 * Starts a decoding capture on `iface` of a namespace (undefined: the root namespace, e.g. the
 * gateway's pc-gw-out, to see what reaches the gateway's port); resolves once its socket is bound.
 */
export function startDecodedCapture(namespace: string | undefined, iface = 'eth0', limits: CaptureLimits = {}): Promise<CaptureOf<CapturedPacket>> {
  return runCapture(namespace, iface, 'decode', limits, (answer: { packets: CapturedPacket[] }) => answer.packets);
}

const IP_PROTOCOL_NAMES: Record<number, string> = { 1: 'icmp', 6: 'tcp', 17: 'udp', 58: 'icmp6' };

/** One line per packet for failure messages: "6 [2001:db8:18::1]:41000 > [2001:db8:18::10]:80 tcp S mss 1440". */
export function describePacket(p: CapturedPacket): string {
  const host = (address: string) => (p.family === 6 ? `[${address}]` : address);
  const ports = p.tcp ?? p.udp;
  const ends = ports ? `${host(p.src)}:${ports.srcPort} > ${host(p.dst)}:${ports.dstPort}` : `${host(p.src)} > ${host(p.dst)}`;
  const what = IP_PROTOCOL_NAMES[p.protocol] ?? `proto ${p.protocol}`;
  const details: string[] = [];
  if (p.tcp) {
    details.push(p.tcp.flagNames, `seq ${p.tcp.seq}`, `len ${p.tcp.payloadLength}`);
    if (p.tcp.mss !== null) details.push(`mss ${p.tcp.mss}`);
    if (p.tcp.toa) details.push(`toa ${p.tcp.toa.address}:${p.tcp.toa.port}`);
    if (p.tcp.checksumOk === false) details.push('BAD CHECKSUM');
  }
  if (p.udp) details.push(`len ${p.udp.payloadLength}`, ...(p.udp.checksumOk === false ? ['BAD CHECKSUM'] : []));
  if (p.icmp) {
    details.push(`type ${p.icmp.type} code ${p.icmp.code}`);
    if (p.icmp.mtu !== undefined) details.push(`mtu ${p.icmp.mtu}`);
    if (p.icmp.target) details.push(`target ${p.icmp.target}`);
    if (p.icmp.checksumOk === false) details.push('BAD CHECKSUM');
  }
  if (p.extensions.length) details.push(`ext ${p.extensions.join(',')}`);
  if (p.fragment) details.push(`frag ${p.fragment.offset}${p.fragment.more ? '+' : ''}`);
  if (!p.ipChecksumOk) details.push('BAD IP CHECKSUM');
  return `${p.family} ${ends} ${what} ${details.join(' ')} hl ${p.hopLimit}`;
}

function runCapture<A, T>(namespace: string | undefined, iface: string, mode: 'tcp4' | 'decode', limits: CaptureLimits,
  read: (answer: A) => T[]): Promise<CaptureOf<T>> {
  const where = namespace ?? 'the root namespace';
  const scriptArgs = [CAPTURE_SCRIPT, iface, String(limits.maxSeconds ?? 20), String(limits.maxFrames ?? 500),
    ...(mode === 'decode' ? [mode] : [])];
  const child = namespace === undefined
    ? spawn('python3', scriptArgs, { stdio: ['pipe', 'pipe', 'pipe'] })
    : spawn('ip', ['netns', 'exec', namespace, 'python3', ...scriptArgs], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr += String(d); });
  const finished = new Promise<T[]>((resolve, reject) => {
    child.on('close', (code) => {
      const line = stdout.trim().split('\n').pop() ?? '';
      try {
        resolve(read(JSON.parse(line) as A));
      } catch {
        reject(new Error(`capture in ${where} ended (${code}) without an answer: ${stdout.slice(-500)} ${stderr.slice(-500)}`));
      }
    });
  });
  finished.catch(() => undefined);  // reported by stop() or the ready wait
  const stopWithin = ((limits.maxSeconds ?? 20) + 5) * 1000;
  return withTimeout(new Promise<CaptureOf<T>>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      const before = stdout;
      stdout += String(d);
      if (!before.includes('ready') && stdout.includes('ready')) {
        resolve({ stop: () => { child.stdin.end(); return withTimeout(finished, stopWithin, `capture in ${where}`); } });
      }
    });
    finished.then(() => reject(new Error(`capture in ${where} ended before it was ready: ${stderr}`)), reject);
  }), 10_000, `capture in ${where} ready`);
}
