// A test's end of portcullis.v1.Takeover/HandOver: send steps, read answers one at a time, see how
// the stream ended. The daemon under test is real (or the real handler over a fake data plane);
// this only plays the new daemon, so a test can stop at any step (cancel, half-close).
import * as grpc from '@grpc/grpc-js';
import { loadPortcullisProto } from '../../src/api/proto.js';
import type { HandOverRequest } from '../../src/api/generated/portcullis/v1/HandOverRequest.js';
import type { HandOverResponse__Output } from '../../src/api/generated/portcullis/v1/HandOverResponse.js';

type Stream = grpc.ClientDuplexStream<HandOverRequest, HandOverResponse__Output>;

export interface HandOverStream {
  send(request: HandOverRequest): void;
  /** The next answer; rejects with the stream's error (a grpc ServiceError) or after timeoutMs. */
  next(timeoutMs?: number): Promise<HandOverResponse__Output>;
  /** How the stream ended: the status code (OK = 0); rejects after timeoutMs. */
  ended(timeoutMs?: number): Promise<{ code: grpc.status; details: string }>;
  halfClose(): void;
  cancel(): void;
  close(): void;
}

/** Opens HandOver on `target` ("unix:/…" or "host:port") with the given channel credentials. */
export function openHandOver(target: string, credentials = grpc.credentials.createInsecure(), options: grpc.ChannelOptions = {}): HandOverStream {
  const { grpcObject } = loadPortcullisProto();
  const client = new grpcObject.portcullis.v1.Takeover(target, credentials, options);
  const stream = (client as unknown as { HandOver(): Stream }).HandOver();
  const answers: HandOverResponse__Output[] = [];
  let failure: grpc.ServiceError | undefined;
  let status: { code: grpc.status; details: string } | undefined;
  const waiters: (() => void)[] = [];
  const wake = () => { for (const w of waiters.splice(0)) w(); };
  stream.on('data', (answer: HandOverResponse__Output) => { answers.push(answer); wake(); });
  stream.on('error', (error: grpc.ServiceError) => { failure = error; wake(); });
  stream.on('status', (s: grpc.StatusObject) => { status = { code: s.code, details: s.details }; wake(); });
  const until = async <T>(ready: () => T | undefined, timeoutMs: number, what: string): Promise<T> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = ready();
      if (value !== undefined) return value;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`HandOver: no ${what} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => { const t = setTimeout(resolve, left); waiters.push(() => { clearTimeout(t); resolve(); }); });
    }
  };
  return {
    send: (request) => { stream.write(request); },
    next: async (timeoutMs = 10_000) => until(() => {
      const answer = answers.shift();
      if (answer) return answer;
      if (failure) throw failure;
      return undefined;
    }, timeoutMs, 'answer'),
    ended: (timeoutMs = 10_000) => until(() => status, timeoutMs, 'status'),
    halfClose: () => { stream.end(); },
    cancel: () => { stream.cancel(); },
    close: () => { stream.cancel(); client.close(); },
  };
}
