// Failures are values with a status code: ModelError codes map 1:1 to gRPC codes.
import * as grpc from '@grpc/grpc-js';
import { log } from '../log.js';
import { ModelError, type ErrorCode } from '../model/index.js';
import { CallerUnknownError, callerOf } from './auth.js';

const STATUS: Record<ErrorCode, grpc.status> = {
  INVALID_ARGUMENT: grpc.status.INVALID_ARGUMENT,
  NOT_FOUND: grpc.status.NOT_FOUND,
  ALREADY_EXISTS: grpc.status.ALREADY_EXISTS,
  FAILED_PRECONDITION: grpc.status.FAILED_PRECONDITION,
  RESOURCE_EXHAUSTED: grpc.status.RESOURCE_EXHAUSTED,
  ABORTED: grpc.status.ABORTED,
  UNAVAILABLE: grpc.status.UNAVAILABLE,
  INTERNAL: grpc.status.INTERNAL,
};

export function toServiceError(error: unknown): Partial<grpc.ServiceError> {
  if (error instanceof ModelError) {
    return { code: STATUS[error.code], details: error.message };
  }
  if (error instanceof CallerUnknownError) {
    log.error(`a call reached a handler without a transport mark: ${error.message}`);
    return { code: grpc.status.UNAUTHENTICATED, details: error.message };
  }
  log.error(`unexpected error in an RPC: ${(error as Error)?.stack ?? String(error)}`);
  return { code: grpc.status.INTERNAL, details: `internal error: ${(error as Error)?.message ?? String(error)}` };
}

/**
 * Wraps an async handler body so every outcome reaches the callback exactly once. A call without
 * the transport mark of the server's interceptor (src/api/auth.ts) is refused before the body runs:
 * fail closed, whatever the handler would have done.
 */
export function unary<Req, Res>(
  body: (request: Req, metadata: grpc.Metadata) => Promise<Res> | Res,
): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    Promise.resolve()
      .then(() => { callerOf(call.metadata); return body(call.request, call.metadata); })
      .then((response) => callback(null, response), (error: unknown) => callback(toServiceError(error)));
  };
}
