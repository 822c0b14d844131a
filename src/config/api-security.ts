// api.tls and api.tokens: TCP listening is never plaintext. When api.listen is set the daemon
// needs a certificate and at least one bearer token; each token has a role (read-only: stats and
// listings; operator: every change). Secrets live in files, never in the config itself.
import { joinPath, ModelError } from '../model/index.js';
import { readList, readObject, readString, rejectUnknownKeys } from '../model/fields.js';
import type { ApiRole, ApiTls, ApiToken } from './types.js';

const TLS_KEYS = ['cert', 'key'] as const;
const TOKEN_KEYS = ['name', 'role', 'file'] as const;
const ROLES: readonly ApiRole[] = ['read-only', 'operator'];
const MAX_TOKENS = 64;
const MAX_PATH = 4096;

export function readApiTls(value: unknown): ApiTls {
  const raw = readObject(value, 'api.tls');
  rejectUnknownKeys(raw, TLS_KEYS, 'api.tls');
  return {
    cert: readString(raw.cert, 'api.tls.cert', { nonEmpty: true, maxLength: MAX_PATH }),
    key: readString(raw.key, 'api.tls.key', { nonEmpty: true, maxLength: MAX_PATH }),
  };
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
    const role = readString(raw.role, joinPath(path, 'role'), { nonEmpty: true, maxLength: 16 }) as ApiRole;
    if (!ROLES.includes(role)) {
      throw new ModelError('INVALID_ARGUMENT', joinPath(path, 'role'), `expected one of ${ROLES.join(', ')}, got ${JSON.stringify(role)}`);
    }
    return { name, role, file: readString(raw.file, joinPath(path, 'file'), { nonEmpty: true, maxLength: MAX_PATH }) };
  });
}

/** TCP only with TLS and tokens: the unix socket is guarded by its mode and group, TCP is not. */
export function checkTcpSecured(listen: string, tls: ApiTls | undefined, tokens: ApiToken[] | undefined): void {
  if (!listen) return;
  if (!tls) throw new ModelError('INVALID_ARGUMENT', 'api.tls', 'required when api.listen is set (TCP is never plaintext): { cert, key }');
  if (!tokens?.length) throw new ModelError('INVALID_ARGUMENT', 'api.tokens', 'required when api.listen is set: at least one { name, role, file }');
}
