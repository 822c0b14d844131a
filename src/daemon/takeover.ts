// `portcullis run --takeover`, the new daemon's part (docs/operations.md "Restarts, crashes and
// upgrades"; the old daemon's part: ./hand-over.ts and src/api/takeover.ts).
//
//   connect      the running daemon must answer on the config's socket before anything starts
//   (run.ts)     the data plane starts with holdUntilRelease: ports open, workers discard
//   hold()       HOLD → the old daemon writes its state file and holds its workers → HELD
//   (run.ts)     the state file is read and applied
//   release()    dataplane.release(): adopt the region and forward; gap = now − the old's heldAtUs
//   commit()     COMMIT → COMMITTED; then the old daemon's pid must exit (bounded) before this one
//                binds the API and metrics listeners it frees
// Anything failing before COMMIT: abort() cancels the stream and the old daemon resumes.
import * as grpc from '@grpc/grpc-js';
import { userInfo } from 'node:os';
import { loadPortcullisProto } from '../api/proto.js';
import type { HandOverRequest } from '../api/generated/portcullis/v1/HandOverRequest.js';
import type { HandOverResponse__Output } from '../api/generated/portcullis/v1/HandOverResponse.js';
import type { ConnRegionReport, DataplaneAddon } from '../dataplane/types.js';
import { log } from '../log.js';

/** How long each step may take before the hand-over is given up (and the old daemon resumes). */
export const CONNECT_TIMEOUT_MS = 5_000;
export const STEP_TIMEOUT_MS = 10_000;
/** After COMMITTED, the old daemon closes its listeners (≤ 2 s grace for open calls) and exits. */
export const OLD_EXIT_TIMEOUT_MS = 10_000;

/** The hand-over this daemon started with, as status and metrics show it. */
export interface TakeoverRecord {
  gapUs: number;
  oldPid: number;
  /** When forwarding resumed (ms since the epoch). */
  at: number;
}

export class TakeoverError extends Error {
  override readonly name = 'TakeoverError';
}

/** CLOCK_MONOTONIC in µs, the clock of the data plane's heldAtUs (Node's hrtime is CLOCK_MONOTONIC on Linux). */
export function monotonicUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

type Stream = grpc.ClientDuplexStream<HandOverRequest, HandOverResponse__Output>;

export class Takeover {
  private stream: Stream | undefined;
  private answers: HandOverResponse__Output[] = [];
  private waiter: (() => void) | undefined;
  private closed: Error | undefined;
  private oldPid = 0;
  private heldAtUs = 0;
  private committed = false;
  record: TakeoverRecord | undefined;

  private constructor(private readonly client: grpc.Client, private readonly socket: string) {}

  /** Connects to the running daemon; throws TakeoverError when nothing answers on the socket. */
  static async connect(socket: string): Promise<Takeover> {
    const { grpcObject } = loadPortcullisProto();
    const client = new grpcObject.portcullis.v1.Takeover(`unix:${socket}`, grpc.credentials.createInsecure());
    try {
      await new Promise<void>((resolve, reject) => client.waitForReady(Date.now() + CONNECT_TIMEOUT_MS, (error) => (error ? reject(error) : resolve())));
    } catch (error) {
      client.close();
      throw new TakeoverError(`--takeover: no daemon answers on ${socket} (${(error as Error).message}); start without --takeover`);
    }
    return new Takeover(client, socket);
  }

  /** True once COMMIT was answered: the old daemon is going away, this one owns the data plane. */
  get done(): boolean {
    return this.committed;
  }

  /** HOLD → HELD. Returns the state file the old daemon just wrote. */
  async hold(): Promise<{ stateFile: string; oldPid: number }> {
    // The indexed call is typed by the generated client's HandOver signature.
    const stream = (this.client as unknown as { HandOver(): Stream }).HandOver();
    this.stream = stream;
    stream.on('data', (answer: HandOverResponse__Output) => { this.answers.push(answer); this.wake(); });
    stream.on('error', (error: Error) => { this.closed = error; this.wake(); });
    stream.on('end', () => { this.closed ??= new Error('the old daemon ended the stream'); this.wake(); });
    let user = 'unknown';
    try { user = userInfo().username; } catch { /* no passwd entry: keep "unknown" */ }
    stream.write({ step: 'HOLD', pid: process.pid, actor: `${user} (portcullis run --takeover)`, reason: 'upgrade hand-over (portcullis run --takeover)' });
    const held = await this.next('HELD');
    this.oldPid = held.pid;
    this.heldAtUs = Number(held.heldAtUs);
    log.info(`takeover: old daemon pid ${held.pid} holds its workers; starting from its state file ${held.stateFile}`);
    return { stateFile: held.stateFile, oldPid: held.pid };
  }

  /** dataplane.release() and the gap from the old daemon's hold to this one forwarding. */
  release(dataplane: Pick<DataplaneAddon, 'release'>): ConnRegionReport {
    if (typeof dataplane.release !== 'function') throw new TakeoverError('this data plane build has no release(): rebuild the addon (npm run build:addon)');
    const report = dataplane.release();
    const gapUs = Math.max(0, monotonicUs() - this.heldAtUs);
    this.record = { gapUs, oldPid: this.oldPid, at: Date.now() };
    log.info(`takeover: forwarding; gap ${(gapUs / 1000).toFixed(1)} ms without forwarding (old daemon held at ${this.heldAtUs} us); `
      + `region ${report.path}: ${report.outcome}, ${report.adopted} connection(s) adopted in ${report.adoptUs} us`);
    return report;
  }

  /** True once release() returned: this daemon forwards and holds the region. */
  get released(): boolean {
    return this.record !== undefined;
  }

  /**
   * COMMIT → COMMITTED, then waits (bounded) for the old daemon's process to exit. Never throws:
   * this daemon forwards already. Should the old one not confirm, the stream's end makes it try to
   * resume, which fails (the region is taken), and it exits as after COMMIT (./hand-over.ts).
   */
  async commit(): Promise<void> {
    try {
      this.stream!.write({ step: 'COMMIT', gapUs: this.record?.gapUs ?? 0 });
      await this.next('COMMITTED');
    } catch (error) {
      log.error(`takeover: ${(error as Error).message}; this daemon forwards already, the old one exits once it finds the region taken`);
    }
    this.committed = true;
    this.stream!.end();
    this.client.close();
    if (!await waitForExit(this.oldPid, OLD_EXIT_TIMEOUT_MS)) {
      log.error(`takeover: old daemon pid ${this.oldPid} still runs ${OLD_EXIT_TIMEOUT_MS / 1000} s after COMMIT; binding ${this.socket} anyway`);
    }
  }

  /** Gives up before COMMIT: the old daemon resumes. Harmless after commit() or twice. */
  abort(): void {
    if (this.committed) return;
    this.stream?.cancel();
    this.client.close();
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.();
  }

  private async next(step: 'HELD' | 'COMMITTED'): Promise<HandOverResponse__Output> {
    const deadline = Date.now() + STEP_TIMEOUT_MS;
    for (;;) {
      const answer = this.answers.shift();
      if (answer) {
        if (answer.step !== step) throw new TakeoverError(`--takeover: the old daemon answered ${answer.step}, expected ${step}`);
        return answer;
      }
      if (this.closed) throw new TakeoverError(`--takeover: the old daemon refused (${describe(this.closed)})`);
      const left = deadline - Date.now();
      if (left <= 0) throw new TakeoverError(`--takeover: no ${step} from the old daemon within ${STEP_TIMEOUT_MS / 1000} s`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => { clearTimeout(timer); resolve(); };
      });
    }
  }
}

function describe(error: Error): string {
  const status = error as Partial<grpc.ServiceError>;
  return status.code !== undefined ? `${grpc.status[status.code]}: ${status.details ?? error.message}` : error.message;
}

/** Polls until `pid` is gone; false when it still runs after timeoutMs. */
export async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  if (!Number.isInteger(pid) || pid <= 0) return true;  // kill(0) would signal our own process group
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      process.kill(pid, 0);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ESRCH') return true;
    }
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
