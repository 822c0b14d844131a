// api.tls, api.tokens and api.clients: TCP listening is never plaintext. When api.listen is set the
// daemon needs a certificate and a way to tell callers apart: bearer tokens, client certificates
// (mTLS: tls.client_ca + api.clients), or both. Each identity has a role (read-only: stats and
// listings; operator: every change). Secrets live in files, never in the config itself.
import { joinPath, ModelError } from '../model/index.js';
import { readChoice, readInteger, readList, readObject, readString, rejectUnknownKeys } from '../model/fields.js';
import { DEFAULT_API_LIMITS, type ApiClient, type ApiLimits, type ApiRole, type ApiTls, type ApiToken } from './types.js';

const TLS_KEYS = ['cert', 'key', 'client_ca', 'client_certs'] as const;
const CLIENT_KEYS = ['name', 'role'] as const;
const CLIENT_CERT_MODES = ['optional', 'required'] as const;
const TOKEN_KEYS = ['name', 'role', 'file'] as const;
const ROLES: readonly ApiRole[] = ['read-only', 'operator'];
const LIMIT_KEYS = ['max_connections', 'handshake_timeout_ms', 'idle_timeout_ms', 'max_concurrent_streams'] as const;
const MAX_TOKENS = 64;
const MAX_PATH = 4096;

export function readApiTls(value: unknown): ApiTls {
  const raw = readObject(value, 'api.tls');
  rejectUnknownKeys(raw, TLS_KEYS, 'api.tls');
  const tls: ApiTls = {
    cert: readString(raw.cert, 'api.tls.cert', { nonEmpty: true, maxLength: MAX_PATH }),
    key: readString(raw.key, 'api.tls.key', { nonEmpty: true, maxLength: MAX_PATH }),
  };
  if (raw.client_ca !== undefined) tls.clientCa = readString(raw.client_ca, 'api.tls.client_ca', { nonEmpty: true, maxLength: MAX_PATH });
  if (raw.client_certs !== undefined) {
    if (tls.clientCa === undefined) throw new ModelError('INVALID_ARGUMENT', 'api.tls.client_certs', 'needs api.tls.client_ca (the CA that signs client certificates)');
    tls.clientCerts = readChoice(raw.client_certs, 'api.tls.client_certs', CLIENT_CERT_MODES);
  }
  if (tls.clientCa !== undefined) tls.clientCerts ??= 'optional';
  return tls;
}

function readRole(value: unknown, path: string): ApiRole {
  const role = readString(value, path, { nonEmpty: true, maxLength: 16 }) as ApiRole;
  if (!ROLES.includes(role)) throw new ModelError('INVALID_ARGUMENT', path, `expected one of ${ROLES.join(', ')}, got ${JSON.stringify(role)}`);
  return role;
}

/** api.clients: certificate identities (subject CN or a subjectAltName value) and their roles. */
export function readApiClients(value: unknown): ApiClient[] {
  const names = new Set<string>();
  return readList(value, 'api.clients', MAX_TOKENS).map((item, i) => {
    const path = joinPath('api.clients', i);
    const raw = readObject(item, path);
    rejectUnknownKeys(raw, CLIENT_KEYS, path);
    const name = readString(raw.name, joinPath(path, 'name'), { nonEmpty: true, maxLength: 64 });
    if (names.has(name)) throw new ModelError('INVALID_ARGUMENT', joinPath(path, 'name'), `duplicate client name "${name}"`);
    names.add(name);
    return { name, role: readRole(raw.role, joinPath(path, 'role')) };
  });
}

export function readApiTokens(value: unknown): ApiToken[] {
  const names = new Set<string>();
  return readList(value, 'api.tokens', MAX_TOKENS).map((item, i) => {
    const path = joinPath('api.tokens', i);
    const raw = readObject(item, path);
    rejectUnknownKeys(raw, TOKEN_KEYS, path);
    const name = readString(raw.name, joinPath(path, 'name'), { nonEmpty: true, maxLength: 64 });
    if (names.has(name)) throw new ModelError('INVALID_ARGUMENT', joinPath(path, 'name'), `duplicate token name "${name}"`);
    names.add(name);
    const role = readRole(raw.role, joinPath(path, 'role'));
    return { name, role, file: readString(raw.file, joinPath(path, 'file'), { nonEmpty: true, maxLength: MAX_PATH }) };
  });
}

/** TCP only with TLS and identities: the unix socket is guarded by its mode and group, TCP is not. */
export function checkTcpSecured(listen: string, tls: ApiTls | undefined, tokens: ApiToken[] | undefined, clients?: ApiClient[]): void {
  if (clients?.length && !tls?.clientCa) {
    throw new ModelError('INVALID_ARGUMENT', 'api.clients', 'needs api.tls.client_ca: client identities come from certificates that CA signed');
  }
  if (!listen) return;
  if (!tls) throw new ModelError('INVALID_ARGUMENT', 'api.tls', 'required when api.listen is set (TCP is never plaintext): { cert, key }');
  if (!tokens?.length && !clients?.length) {
    throw new ModelError('INVALID_ARGUMENT', 'api.tokens', 'required when api.listen is set: at least one { name, role, file } (or api.clients with api.tls.client_ca)');
  }
}

/**
 * api.limits: bounds of the TCP listener. Ranges keep each knob meaningful: a handshake needs
 * some time on a slow link and must end within minutes; an idle timeout under a second would cut
 * clients between two calls; past 4096 connections or 1024 streams per connection a limit no longer
 * protects a control API.
 */
export function readApiLimits(value: unknown): ApiLimits {
  const limits: ApiLimits = { ...DEFAULT_API_LIMITS };
  if (value === undefined || value === null) return limits;
  const raw = readObject(value, 'api.limits');
  rejectUnknownKeys(raw, LIMIT_KEYS, 'api.limits');
  if (raw.max_connections !== undefined) limits.maxConnections = readInteger(raw.max_connections, 'api.limits.max_connections', 1, 4096);
  if (raw.handshake_timeout_ms !== undefined) limits.handshakeTimeoutMs = readInteger(raw.handshake_timeout_ms, 'api.limits.handshake_timeout_ms', 100, 120_000);
  if (raw.idle_timeout_ms !== undefined) limits.idleTimeoutMs = readInteger(raw.idle_timeout_ms, 'api.limits.idle_timeout_ms', 1000, 86_400_000);
  if (raw.max_concurrent_streams !== undefined) {
    limits.maxConcurrentStreams = readInteger(raw.max_concurrent_streams, 'api.limits.max_concurrent_streams', 1, 1024);
  }
  return limits;
}

/**
 * The unix socket is bound inside a private directory beside it, then renamed into place
 * (src/api/unix-socket.ts): that path ("<dir>/.pcs-XXXXXX/s") must fit a socket address too.
 */
export const MAX_SOCKET_PATH_BYTES = 107;
export const PRIVATE_BIND_EXTRA_BYTES = '/.pcs-XXXXXX/s'.length;

/** Why `socket` cannot be used, or undefined. */
export function socketPathProblem(socket: string): string | undefined {
  const bytes = Buffer.byteLength(socket);
  if (bytes > MAX_SOCKET_PATH_BYTES) return `expected at most ${MAX_SOCKET_PATH_BYTES} bytes (a unix socket address), got ${bytes}`;
  const directory = socket.slice(0, Math.max(0, socket.lastIndexOf('/')));
  const bindBytes = Buffer.byteLength(directory || '.') + PRIVATE_BIND_EXTRA_BYTES;
  if (bindBytes > MAX_SOCKET_PATH_BYTES) {
    return `its directory is too long: the socket is first bound as <directory>${'/.pcs-XXXXXX/s'} (${bindBytes} bytes, at most ${MAX_SOCKET_PATH_BYTES}); use a shorter directory`;
  }
  return undefined;
}
