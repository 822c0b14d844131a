// Who may call what on the TCP listener (issue 8). A TCP caller proves who it is with a bearer
// token (`authorization: Bearer <token>`) or, with mTLS, a client certificate that api.tls.client_ca
// signed and whose subject CN or a subjectAltName is listed in api.clients. Precedence: a call that
// carries an authorization header is judged by its token alone (an unknown token is refused even on
// a connection with a good certificate: the caller asked to be that token); without the header the
// certificate decides. The identity's role decides what it may call: read-only may read (Get*,
// List*, Watch*, health, reflection), operator may also change things. Calls on the unix socket are
// authenticated by the socket's mode and group, so they pass. A refused call never reaches a
// handler: UNAUTHENTICATED / PERMISSION_DENIED and nothing changes.
//
// The interceptor also tells handlers who called, through one metadata entry it owns (CALLER_KEY):
// whatever a client sends under that key is dropped first, so it cannot be forged.
import { readFile } from 'node:fs/promises';
import type { PeerCertificate } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import type { ApiClient, ApiRole, ApiToken } from '../config/types.js';

/** A token shorter than this is refused at start-up: guessable secrets are not secrets. */
const MIN_TOKEN_CHARS = 16;
const READ_ONLY_METHOD = /\/(Get|List|Watch)[A-Za-z]*$/;
const READ_ONLY_SERVICES = ['/grpc.health.v1.Health/', '/grpc.reflection.'];
/** Set by authInterceptor only (client copies are removed): the authenticated TCP identity's name. */
export const CALLER_KEY = 'x-portcullis-caller';

export interface Identity { name: string; role: ApiRole }

/** What the TCP listener accepts as proof of identity. */
export interface TcpCredentials {
  tokens: Map<string, Identity>;
  /** Certificate identities (only verified certificates ever reach the match). */
  clients: ApiClient[];
}

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

/** The decision for one TCP call: token first when the call carries one, else the certificate. */
export function authorize(credentials: TcpCredentials, methodPath: string, authorization: string | undefined,
  certNames: string[] = []): Decision {
  let identity: Identity | undefined;
  if (authorization !== undefined) {
    const match = /^Bearer (\S+)$/.exec(authorization);
    identity = match ? credentials.tokens.get(match[1]!) : undefined;
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

/**
 * Installed on every server (also unix-only ones, so CALLER_KEY can never be forged there).
 * `credentials` undefined = no TCP listener; a TCP call then cannot happen.
 */
export function authInterceptor(credentials: TcpCredentials | undefined): grpc.ServerInterceptor {
  return (method, call) => {
    // Unix-socket connections have no remote address; TCP ones always do (and TCP is TLS only).
    const overTcp = Boolean(call.getConnectionInfo().remoteAddress);
    const listener = new grpc.ServerListenerBuilder().withOnReceiveMetadata((metadata, next) => {
      metadata.remove(CALLER_KEY);
      if (!overTcp) { next(metadata); return; }
      const authorization = metadata.get('authorization')[0]?.toString();
      // sslPeerCertificate is only there for a certificate the TLS layer verified against client_ca.
      const certNames = certificateNames(call.getAuthContext().sslPeerCertificate);
      const decision = credentials
        ? authorize(credentials, method.path, authorization, certNames)
        : { allowed: false as const, code: grpc.status.UNAUTHENTICATED, details: 'TCP is not configured' };
      if (!decision.allowed) { call.sendStatus({ code: decision.code, details: decision.details }); return; }
      metadata.set(CALLER_KEY, decision.identity.name);
      next(metadata);
    }).build();
    return new grpc.ServerInterceptingCall(call, new grpc.ResponderBuilder().withStart((next) => next(listener)).build());
  };
}

/** The authenticated TCP identity's name, or undefined for a unix-socket call. */
export function callerName(metadata: grpc.Metadata): string | undefined {
  const value = metadata.get(CALLER_KEY)[0];
  return value === undefined ? undefined : value.toString();
}
