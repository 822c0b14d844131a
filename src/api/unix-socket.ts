// The control socket is never reachable with a wider mode than SOCKET_MODE, not even for an
// instant. bind(2) creates the socket file with the process umask (0777 & ~umask: 0777 under
// umask 0), and chmod can only follow it, so binding at the final path leaves a window. We bind
// inside a fresh private directory beside the final path (mkdtemp: mode 0700, so nobody but the
// daemon's user can reach what is in it), set the socket's mode and group there, and rename(2) it
// into place: the rename is atomic, so the final path goes from "no socket" (or the stale socket
// of a crashed daemon, which it replaces) to "our socket with its final mode and group".
// Why not a tightened umask around bind: umask is process-wide, grpc-js binds at a moment we do
// not control (after its own address resolution), and every file created meanwhile by any thread
// (the state file, the audit log, the data plane) would get it too.
import { chmod, chown, mkdir, mkdtemp, rename, rm, stat } from 'node:fs/promises';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import { socketPathProblem } from '../config/api-security.js';
import { resolveGroupId } from './socket-group.js';

/** Owner and group may connect (connecting needs write permission), nobody else. */
export const SOCKET_MODE = 0o660;
const SOCKET_DIR_MODE = 0o750;
const PRIVATE_DIR_PREFIX = '.pcs-';

/** True when something accepts connections on the socket (another daemon). */
export function socketInUse(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = connect(path);
    probe.once('connect', () => { probe.destroy(); resolve(true); });
    probe.once('error', () => resolve(false));
  });
}

/** Refuses to replace anything but the stale socket of a crashed daemon. */
async function checkReplaceable(path: string): Promise<void> {
  const existing = await stat(path).catch(() => undefined);
  if (!existing) return;
  if (!existing.isSocket()) throw new Error(`${path} exists and is not a socket; refusing to replace it`);
  if (await socketInUse(path)) throw new Error(`${path} is in use by another process (is a daemon already running?)`);
}

function bind(server: grpc.Server, address: string, credentials: grpc.ServerCredentials): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(address, credentials, (error, port) => (error ? reject(error) : resolve(port)));
  });
}

/**
 * Binds `server` to the unix socket `path` with mode SOCKET_MODE and, when given, `group`.
 * Throws naming api.socket / api.socket_group when that cannot be done.
 */
export async function bindUnixSocket(server: grpc.Server, path: string, credentials: grpc.ServerCredentials, group?: string): Promise<void> {
  const problem = socketPathProblem(path);
  if (problem) throw new Error(`api.socket: ${problem}`);
  const gid = group === undefined ? undefined : await resolveGroupId(group);
  const directory = dirname(path);
  await mkdir(directory, { recursive: true, mode: SOCKET_DIR_MODE });
  await checkReplaceable(path);
  const privateDir = await mkdtemp(join(directory, PRIVATE_DIR_PREFIX));
  try {
    const bound = join(privateDir, 's');
    const failed = (field: string, what: string) => (error: Error) => { throw new Error(`${field}: cannot ${what} (${error.message})`); };
    await bind(server, `unix:${bound}`, credentials).catch(failed('api.socket', `bind a socket for ${path}`));
    await chmod(bound, SOCKET_MODE).catch(failed('api.socket', `set the mode of ${path}`));
    if (gid !== undefined) await chown(bound, -1, gid).catch(failed('api.socket_group', `give ${path} to group ${group} (gid ${gid})`));
    await rename(bound, path).catch(failed('api.socket', `move the socket into place at ${path}`));
  } finally {
    // Empty after the rename; holds the socket when something failed before it.
    await rm(privateDir, { recursive: true, force: true });
  }
}
