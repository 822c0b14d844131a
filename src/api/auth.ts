// Who may call what on the TCP listener (issue 8). Calls over TLS must carry
// `authorization: Bearer <token>`; the token's role decides: read-only may read (Get*, List*,
// Watch*, health, reflection), operator may also change things. Calls on the unix socket are
// authenticated by the socket's mode and group, so they pass untouched. A refused call never
// reaches a handler: UNAUTHENTICATED / PERMISSION_DENIED and nothing changes.
import { readFile } from 'node:fs/promises';
import * as grpc from '@grpc/grpc-js';
import type { ApiRole, ApiToken } from '../config/types.js';

/** A token shorter than this is refused at start-up: guessable secrets are not secrets. */
const MIN_TOKEN_CHARS = 16;
const READ_ONLY_METHOD = /\/(Get|List|Watch)[A-Za-z]*$/;
const READ_ONLY_SERVICES = ['/grpc.health.v1.Health/', '/grpc.reflection.'];

export interface Identity { name: string; role: ApiRole }

/** Reads every token file; throws naming the token when one is missing, short or reused. */
export async function loadTokens(tokens: ApiToken[]): Promise<Map<string, Identity>> {
  const byToken = new Map<string, Identity>();
  for (const [i, t] of tokens.entries()) {
    const secret = (await readFile(t.file, 'utf8').catch((error: Error) => {
      throw new Error(`api.tokens[${i}].file: cannot read ${t.file} (${error.message})`);
    })).trim();
    if (secret.length < MIN_TOKEN_CHARS) throw new Error(`api.tokens[${i}].file: ${t.file} holds ${secret.length} characters, expected at least ${MIN_TOKEN_CHARS}`);
    if (byToken.has(secret)) throw new Error(`api.tokens[${i}].file: same token as "${byToken.get(secret)!.name}"`);
    byToken.set(secret, { name: t.name, role: t.role });
  }
  return byToken;
}

export function roleAllows(role: ApiRole, methodPath: string): boolean {
  if (role === 'operator') return true;
  return READ_ONLY_METHOD.test(methodPath) || READ_ONLY_SERVICES.some((prefix) => methodPath.startsWith(prefix));
}

/** The decision for one call; undefined = allowed. */
export function authorize(tokens: Map<string, Identity>, methodPath: string, authorization: string | undefined):
  { code: grpc.status; details: string } | undefined {
  const match = /^Bearer (\S+)$/.exec(authorization ?? '');
  const identity = match ? tokens.get(match[1]!) : undefined;
  if (!identity) {
    return { code: grpc.status.UNAUTHENTICATED, details: match ? 'unknown bearer token' : 'missing "authorization: Bearer <token>" metadata' };
  }
  if (!roleAllows(identity.role, methodPath)) {
    return { code: grpc.status.PERMISSION_DENIED, details: `${identity.name} (${identity.role}) may not call ${methodPath}` };
  }
  return undefined;
}

export function authInterceptor(tokens: Map<string, Identity>): grpc.ServerInterceptor {
  return (method, call) => {
    // Unix-socket connections have no remote address; TCP ones always do (and TCP is TLS only).
    // (getAuthContext() says 'ssl' only for verified client certificates, so it cannot tell.)
    const overTcp = Boolean(call.getConnectionInfo().remoteAddress);
    const listener = new grpc.ServerListenerBuilder().withOnReceiveMetadata((metadata, next) => {
      const refusal = overTcp ? authorize(tokens, method.path, metadata.get('authorization')[0]?.toString()) : undefined;
      if (refusal) call.sendStatus(refusal);
      else next(metadata);
    }).build();
    return new grpc.ServerInterceptingCall(call, new grpc.ResponderBuilder().withStart((next) => next(listener)).build());
  };
}
