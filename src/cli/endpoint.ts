// Where a CLI command reaches the daemon, and with what credentials: the unix socket by default
// (authenticated by its mode and group), or `--server HOST:PORT` over TLS with a bearer token
// (--token-file, else $PORTCULLIS_TOKEN) and/or a client certificate (--tls-cert + --tls-key).
// Shared by pcadm and every `portcullis` client command so the flags mean the same everywhere.
// Bad combinations are ModelErrors naming the flag (the commands print them and exit 2).
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { invalid, ModelError } from '../model/index.js';

export const DEFAULT_SOCKET = '/run/portcullis/portcullis.sock';
const HOST_PORT = /^([A-Za-z0-9.\-]+|\[[0-9a-fA-F:]+\]):(\d{1,5})$/;

export interface EndpointFlags {
  socket?: string;
  server?: string;
  'tls-ca'?: string;
  'tls-cert'?: string;
  'tls-key'?: string;
  'tls-server-name'?: string;
  'token-file'?: string;
}

/** node:util parseArgs options for the flags above. */
export const ENDPOINT_OPTIONS = {
  socket: { type: 'string' },
  server: { type: 'string' },
  'tls-ca': { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'tls-server-name': { type: 'string' },
  'token-file': { type: 'string' },
} as const;

export const ENDPOINT_USAGE = `connection (every client command): --socket PATH (default ${DEFAULT_SOCKET}), or
  --server HOST:PORT [--tls-ca CA.pem] [--tls-server-name NAME] with --token-file FILE ($PORTCULLIS_TOKEN)
  and/or --tls-cert CERT.pem --tls-key KEY.pem (mTLS)`;

export interface Endpoint {
  /** grpc target: "unix:/run/…" or "host:port". */
  target: string;
  credentials: grpc.ChannelCredentials;
  options: grpc.ChannelOptions;
}

function readSecretFile(path: string, flag: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new ModelError('INVALID_ARGUMENT', flag, `cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
}

/** "unix:/p", "/p" or "./p" → unix socket; "host:port" → TCP (kept for --socket HOST:PORT callers). */
export function grpcTarget(address: string): string {
  if (address.startsWith('unix:')) return address;
  if (address.includes('/') || !/:\d+$/.test(address)) return `unix:${address}`;
  return address;
}

const TCP_ONLY = ['tls-ca', 'tls-cert', 'tls-key', 'tls-server-name', 'token-file'] as const;

/** Checks the flags and builds the channel; throws ModelError naming the flag. */
export function resolveEndpoint(flags: EndpointFlags, env: NodeJS.ProcessEnv = process.env): Endpoint {
  if (flags.server === undefined) {
    const stray = TCP_ONLY.find((flag) => flags[flag] !== undefined);
    if (stray) throw new ModelError('INVALID_ARGUMENT', `--${stray}`, 'only goes with --server HOST:PORT (the unix socket uses neither TLS nor tokens)');
    return { target: grpcTarget(flags.socket ?? DEFAULT_SOCKET), credentials: grpc.credentials.createInsecure(), options: {} };
  }
  if (flags.socket !== undefined) throw new ModelError('INVALID_ARGUMENT', '--server', 'give --socket PATH or --server HOST:PORT, not both');
  const match = HOST_PORT.exec(flags.server);
  if (!match || Number(match[2]) < 1 || Number(match[2]) > 65535) throw invalid('--server', 'HOST:PORT like gw.example:50051', flags.server);
  if ((flags['tls-cert'] === undefined) !== (flags['tls-key'] === undefined)) {
    throw new ModelError('INVALID_ARGUMENT', flags['tls-cert'] === undefined ? '--tls-key' : '--tls-cert', 'a client certificate needs both --tls-cert and --tls-key');
  }
  let token: string | undefined;
  if (flags['token-file'] !== undefined) {
    token = readSecretFile(flags['token-file'], '--token-file').toString('utf8').trim();
    if (!token) throw new ModelError('INVALID_ARGUMENT', '--token-file', `${flags['token-file']} is empty`);
  } else if (env.PORTCULLIS_TOKEN) {
    token = env.PORTCULLIS_TOKEN.trim();
  }
  if (token !== undefined && /\s/.test(token)) throw new ModelError('INVALID_ARGUMENT', flags['token-file'] ? '--token-file' : 'PORTCULLIS_TOKEN', 'a token is one word (no spaces or newlines inside)');
  if (token === undefined && flags['tls-cert'] === undefined) {
    throw new ModelError('INVALID_ARGUMENT', '--server', 'needs a credential: --token-file FILE (or $PORTCULLIS_TOKEN), or --tls-cert and --tls-key');
  }
  const ca = flags['tls-ca'] !== undefined ? readSecretFile(flags['tls-ca'], '--tls-ca') : null; // null = the system's CAs
  const key = flags['tls-key'] !== undefined ? readSecretFile(flags['tls-key'], '--tls-key') : null;
  const cert = flags['tls-cert'] !== undefined ? readSecretFile(flags['tls-cert'], '--tls-cert') : null;
  let credentials = grpc.credentials.createSsl(ca, key, cert);
  if (token !== undefined) {
    const header = `Bearer ${token}`;
    // Call credentials: grpc-js sends them on TLS channels only, never in the clear.
    credentials = grpc.credentials.combineChannelCredentials(credentials, grpc.credentials.createFromMetadataGenerator((_, callback) => {
      const metadata = new grpc.Metadata();
      metadata.set('authorization', header);
      callback(null, metadata);
    }));
  }
  const name = flags['tls-server-name'];
  return {
    target: flags.server,
    credentials,
    // The certificate must name what we connect to; --tls-server-name checks another name (e.g. dialing an IP).
    options: name ? { 'grpc.ssl_target_name_override': name, 'grpc.default_authority': name } : {},
  };
}

export interface CommandFailure {
  /** The usage-error classes of the command (their message is shown with the usage, exit 2). */
  usageErrors: ReadonlyArray<abstract new (...args: never[]) => Error>;
  usage: string;
  /** Where the call went, for the message. */
  target: string;
  /** Status codes that mean the operator's input was wrong (exit 2); other refusals exit 1. */
  inputCodes: readonly grpc.status[];
}

/**
 * The exit code of a `portcullis <command>` that failed, its message written to stderr: a usage
 * error (exit 2, with the usage), a refused or failed call (describeCallError; exit 2 for the
 * input codes, else 1). Anything else is a bug and is thrown on.
 */
export function commandFailureExit(name: string, error: unknown, how: CommandFailure): number {
  if (how.usageErrors.some((kind) => error instanceof kind)) {
    process.stderr.write(`portcullis ${name}: ${(error as Error).message}\nusage:\n${how.usage}\n`);
    return 2;
  }
  const serviceError = error as Partial<grpc.ServiceError>;
  if (typeof serviceError.code !== 'number') throw error;
  process.stderr.write(`portcullis ${name}: ${describeCallError(serviceError, how.target)}\n`);
  return how.inputCodes.includes(serviceError.code) ? 2 : 1;
}

/** The message for a refused or failed call, with what to do about it. */
/** UNAVAILABLE from a daemon that answered but refuses changes during an upgrade hand-over. */
export function isHandingOver(details: string | undefined): boolean {
  return /^handing over to a new daemon/.test(details ?? '');
}

export function describeCallError(error: unknown, target: string): string {
  const e = error as Partial<grpc.ServiceError>;
  switch (e.code) {
    case grpc.status.UNAVAILABLE:
      // The daemon answered: it refuses changes while it hands over to a new one (src/daemon/hand-over.ts).
      if (isHandingOver(e.details)) return `${e.details ?? ''}`;
      return `cannot reach the daemon at ${target} (is it running? TLS trusted?): ${e.details}`;
    case grpc.status.UNAUTHENTICATED: return `not authenticated by ${target}: ${e.details}`;
    case grpc.status.PERMISSION_DENIED: return `permission denied: ${e.details} (this needs an operator token or certificate)`;
    default: return e.details ?? String(error);
  }
}
