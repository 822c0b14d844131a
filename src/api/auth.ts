// Who may call what (issue 8, hardened by issue 14). The unix socket and the TCP listener are two
// separate grpc.Server instances (src/api/server.ts), each with its own interceptor that knows its
// transport by construction — never from the peer address, which a TCP peer that resets its
// connection does not have (the old "no remote address = unix socket" rule ran such calls with
// operator rights).
//
// Unix socket: authenticated by the socket's mode and group; every call passes, marked "unix".
// TCP: a caller proves who it is with a bearer token (`authorization: Bearer <token>`) or, with
// mTLS, a client certificate that api.tls.client_ca signed and whose subject CN or a subjectAltName
// is listed in api.clients. Precedence: a call that carries an authorization header is judged by its
// token alone (an unknown token is refused even on a connection with a good certificate: the caller
// asked to be that token); without the header the certificate decides. The identity's role decides
// what it may call: read-only may read (Get*, List*, Watch*, health, reflection), operator may also
// change things. The TCP interceptor never passes a call on without an identity: a refused call
// never reaches a handler (UNAUTHENTICATED / PERMISSION_DENIED) and nothing changes.
//
// Both interceptors tell handlers who called by recording a Caller against the call's Metadata
// object in a WeakMap only this module writes: nothing a client sends can create such an entry.
// Client metadata under CALLER_KEY (x-portcullis-caller) is stripped too, so nothing downstream
// ever sees a claim. A handler that finds no entry (a server wired without an interceptor) refuses the call
// (callerOf), even when the client sent a look-alike of a mark.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { PeerCertificate } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import type { ApiClient, ApiRole, ApiToken } from '../config/types.js';
import { readSecretFile } from './secret-files.js';

/** A token shorter than this is refused at start-up: guessable secrets are not secrets. */
const MIN_TOKEN_CHARS = 16;
const READ_ONLY_METHOD = /\/(Get|List|Watch)[A-Za-z]*$/;
const READ_ONLY_SERVICES = ['/grpc.health.v1.Health/', '/grpc.reflection.'];
/** Metadata key the interceptors strip from every call: a client can claim nothing with it. */
export const CALLER_KEY = 'x-portcullis-caller';

export interface Identity { name: string; role: ApiRole }

/**
 * Bearer tokens, held as SHA-256 digests. A lookup hashes the presented token once and compares
 * it with every stored digest through crypto.timingSafeEqual, without stopping at a match: the
 * time taken depends on the presented token's length and the number of tokens, never on how much
 * of a secret a guess got right (a Map or === on the secret returns early at the first difference).
 */
export class TokenTable {
  private constructor(private readonly entries: readonly { digest: Buffer; identity: Identity }[]) {}

  static from(tokens: Iterable<[secret: string, identity: Identity]>): TokenTable {
    return new TokenTable([...tokens].map(([secret, identity]) => ({ digest: digest(secret), identity })));
  }

  get size(): number {
    return this.entries.length;
  }

  match(presented: string): Identity | undefined {
    const wanted = digest(presented);
    let found: Identity | undefined;
    for (const entry of this.entries) {
      const equal = timingSafeEqual(wanted, entry.digest);
      if (equal && found === undefined) found = entry.identity;
    }
    return found;
  }
}

function digest(secret: string): Buffer {
  return createHash('sha256').update(secret, 'utf8').digest();
}

/** What the TCP listener accepts as proof of identity. */
export interface TcpCredentials {
  tokens: TokenTable;
  /** Certificate identities (only verified certificates ever reach the match). */
  clients: ApiClient[];
}

/** Reads every token file; throws naming the token when one is missing, exposed, short or reused. */
export async function loadTokens(tokens: ApiToken[]): Promise<TokenTable> {
  const loaded: [string, Identity][] = [];
  for (const [i, t] of tokens.entries()) {
    const secret = (await readSecretFile(t.file, `api.tokens[${i}].file`)).toString('utf8').trim();
    if (secret.length < MIN_TOKEN_CHARS) throw new Error(`api.tokens[${i}].file: ${t.file} holds ${secret.length} characters, expected at least ${MIN_TOKEN_CHARS}`);
    const twin = TokenTable.from(loaded).match(secret);
    if (twin) throw new Error(`api.tokens[${i}].file: same token as "${twin.name}"`);
    loaded.push([secret, { name: t.name, role: t.role }]);
  }
  return TokenTable.from(loaded);
}

export function roleAllows(role: ApiRole, methodPath: string): boolean {
  if (role === 'operator') return true;
  return READ_ONLY_METHOD.test(methodPath) || READ_ONLY_SERVICES.some((prefix) => methodPath.startsWith(prefix));
}

/** The subject CN and every subjectAltName value (DNS, URI, email, IP) of a verified certificate. */
export function certificateNames(certificate: Pick<PeerCertificate, 'subject' | 'subjectaltname'> | undefined): string[] {
  if (!certificate) return [];
  const names: string[] = [];
  const cn = certificate.subject?.CN;
  if (cn) names.push(...(Array.isArray(cn) ? cn : [cn]));
  // Node's format: "DNS:a.example, URI:spiffe://x, email:o@x, IP Address:10.0.0.1".
  for (const entry of (certificate.subjectaltname ?? '').split(/,\s*/)) {
    const colon = entry.indexOf(':');
    if (colon > 0) names.push(entry.slice(colon + 1));
  }
  return names;
}

export type Decision =
  | { allowed: true; identity: Identity }
  | { allowed: false; code: grpc.status; details: string };

/**
 * The decision for one TCP call: token first when the call carries one, else the certificate.
 * `authorization` is every authorization entry the call carried (more than one is refused: which
 * one would count is exactly the kind of ambiguity an attacker looks for).
 */
export function authorize(credentials: TcpCredentials, methodPath: string, authorization: string[] | string | undefined,
  certNames: string[] = []): Decision {
  const headers = authorization === undefined ? [] : Array.isArray(authorization) ? authorization : [authorization];
  if (headers.length > 1) return { allowed: false, code: grpc.status.UNAUTHENTICATED, details: 'more than one authorization entry' };
  let identity: Identity | undefined;
  if (headers.length === 1) {
    const match = /^Bearer (\S+)$/.exec(headers[0]!);
    identity = match ? credentials.tokens.match(match[1]!) : undefined;
    if (!identity) {
      return { allowed: false, code: grpc.status.UNAUTHENTICATED, details: match ? 'unknown bearer token' : 'malformed authorization metadata (expected "Bearer <token>")' };
    }
  } else {
    const client = credentials.clients.find((c) => certNames.includes(c.name));
    if (client) identity = { name: client.name, role: client.role };
    else if (certNames.length > 0) {
      return { allowed: false, code: grpc.status.UNAUTHENTICATED, details: `client certificate (${certNames.join(', ')}) matches no api.clients entry and no bearer token was sent` };
    } else {
      return { allowed: false, code: grpc.status.UNAUTHENTICATED, details: 'missing "authorization: Bearer <token>" metadata (or a client certificate listed in api.clients)' };
    }
  }
  if (!roleAllows(identity.role, methodPath)) {
    return { allowed: false, code: grpc.status.PERMISSION_DENIED, details: `${identity.name} (${identity.role}) may not call ${methodPath}` };
  }
  return { allowed: true, identity };
}

export type Caller = { transport: 'unix' } | { transport: 'tcp'; identity: string };

/** Who called, per received Metadata object; written by the interceptors below only. */
const callers = new WeakMap<grpc.Metadata, Caller>();

/** An interceptor whose only job is to judge the received metadata: record its caller and pass it on, or end the call. */
function metadataGate(judge: (metadata: grpc.Metadata, call: grpc.ServerInterceptingCallInterface, path: string) =>
  { pass: true; caller: Caller } | { pass: false; code: grpc.status; details: string }): grpc.ServerInterceptor {
  return (method, call) => {
    const listener = new grpc.ServerListenerBuilder().withOnReceiveMetadata((metadata, next) => {
      metadata.remove(CALLER_KEY);
      const verdict = judge(metadata, call, method.path);
      if (!verdict.pass) { call.sendStatus({ code: verdict.code, details: verdict.details }); return; }
      callers.set(metadata, verdict.caller);
      next(metadata);
    }).build();
    return new grpc.ServerInterceptingCall(call, new grpc.ResponderBuilder().withStart((next) => next(listener)).build());
  };
}

/** For the unix-socket server only: its callers are whoever the socket's mode and group let in. */
export function unixSocketInterceptor(): grpc.ServerInterceptor {
  return metadataGate(() => ({ pass: true, caller: { transport: 'unix' } }));
}

/** For the TCP server only: no identity, no call. */
export function tcpInterceptor(credentials: TcpCredentials): grpc.ServerInterceptor {
  return metadataGate((metadata, call, path) => {
    const authorization = metadata.get('authorization').map((v) => v.toString());
    // sslPeerCertificate is only there for a certificate the TLS layer verified against client_ca
    // (and only while the connection exists: a reset peer has none, and then needs a token).
    const certNames = certificateNames(call.getAuthContext().sslPeerCertificate);
    const decision = authorize(credentials, path, authorization, certNames);
    if (!decision.allowed) return { pass: false, code: decision.code, details: decision.details };
    return { pass: true, caller: { transport: 'tcp', identity: decision.identity.name } };
  });
}

/** A call that reached a handler without an interceptor's mark: refused, never guessed. */
export class CallerUnknownError extends Error {
  override readonly name = 'CallerUnknownError';
}

/** Who called, as the server's interceptor recorded it; throws CallerUnknownError when no interceptor did. */
export function callerOf(metadata: grpc.Metadata): Caller {
  const caller = callers.get(metadata);
  if (caller) return caller;
  throw new CallerUnknownError('refused: no interceptor of this server recorded who called (a server wired without one); nothing was done');
}

/** The authenticated TCP identity's name, or undefined for a unix-socket call; throws when unknown. */
export function callerName(metadata: grpc.Metadata): string | undefined {
  const caller = callerOf(metadata);
  return caller.transport === 'tcp' ? caller.identity : undefined;
}
