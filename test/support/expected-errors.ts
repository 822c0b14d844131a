// Assertions that an operation fails the way it should: a model operation with a ModelError, a
// gRPC call with a status code. Each names what was expected and what came instead.
import type * as grpc from '@grpc/grpc-js';
import * as assert from 'uvu/assert';
import { ModelError } from '../../src/model/index.js';

export function expectError(fn: () => unknown, code: string, pattern: RegExp): void {
  try {
    fn();
  } catch (error) {
    assert.instance(error, ModelError);
    assert.is((error as ModelError).code, code);
    assert.match((error as ModelError).message, pattern);
    return;
  }
  assert.unreachable('no error');
}

/** The call fails with `code` and details matching `pattern`; a call that succeeds fails the test. */
export async function expectGrpcError(call: Promise<unknown>, code: grpc.status, pattern: RegExp): Promise<void> {
  try {
    await call;
  } catch (error) {
    const e = error as grpc.ServiceError;
    assert.is(e.code, code, `got status ${e.code}: ${e.details}`);
    assert.match(e.details, pattern);
    return;
  }
  assert.unreachable('the call succeeded');
}
