// Bounded packet capture inside a lab namespace for e2e assertions on the wire:
// runs e2e-capture.py (python3 raw AF_PACKET socket, nothing to install) and
// decodes what it saw with the golden-packet codec.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { withTimeout } from './e2e-lab.js';
import { decodeFrame, type DecodedFrame } from './packet.js';

const CAPTURE_SCRIPT = fileURLToPath(new URL('./e2e-capture.py', import.meta.url));

export interface Capture {
  /** Stops the capture (closes its stdin) and returns the TCP frames it saw. */
  stop(): Promise<DecodedFrame[]>;
}

/** Starts e2e-capture.py on eth0 of a namespace; resolves once its socket is bound. Bounded to 20 s. */
export function startCapture(namespace: string): Promise<Capture> {
  const child = spawn('ip', ['netns', 'exec', namespace, 'python3', CAPTURE_SCRIPT, 'eth0', '20', '500'],
    { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr += String(d); });
  const finished = new Promise<DecodedFrame[]>((resolve, reject) => {
    child.on('close', (code) => {
      const line = stdout.trim().split('\n').pop() ?? '';
      try {
        const { frames } = JSON.parse(line) as { frames: string[] };
        resolve(frames.map((hex) => decodeFrame(Buffer.from(hex, 'hex'))));
      } catch {
        reject(new Error(`capture in ${namespace} ended (${code}) without an answer: ${stdout.slice(-500)} ${stderr.slice(-500)}`));
      }
    });
  });
  finished.catch(() => undefined);  // reported by stop() or the ready wait
  return withTimeout(new Promise<Capture>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      const before = stdout;
      stdout += String(d);
      if (!before.includes('ready') && stdout.includes('ready')) {
        resolve({ stop: () => { child.stdin.end(); return withTimeout(finished, 25_000, `capture in ${namespace}`); } });
      }
    });
    finished.then(() => reject(new Error(`capture in ${namespace} ended before it was ready: ${stderr}`)), reject);
  }), 10_000, `capture in ${namespace} ready`);
}
