// Which unix socket the demo's daemon serves gRPC on. The default one when it is free, so that
// `pcadm -Ln` and `portcullis stats` work with no flags right after `npm start`; otherwise a
// socket in the demo's own folder, and a line saying why and which one it is. Free means: its
// folder can be made and written, and nothing is there but perhaps the stale socket of a daemon
// that crashed (the daemon replaces that one; src/api/unix-socket.ts).
import { constants } from 'node:fs';
import { access, mkdir, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { demoConfigYaml } from './demo-config.js';
import { socketInUse } from '../api/unix-socket.js';
import { DEFAULT_SOCKET } from '../config/types.js';

export interface DemoSocket {
  path: string;
  /** True when it is `preferred` (the default socket, which the CLIs find without --socket, unless a test says otherwise). */
  preferred: boolean;
  /** The line the demo prints about it. */
  note: string;
}

/** Why `path` cannot take the demo's socket, or undefined when it is free. */
export async function socketBusyReason(path: string): Promise<string | undefined> {
  const directory = dirname(path);
  try {
    // The daemon makes it too (mode 0750); made here so an unwritable parent shows now, not as a failed start.
    await mkdir(directory, { recursive: true, mode: 0o750 });
    await access(directory, constants.W_OK | constants.X_OK);
  } catch (error) {
    return `its folder ${directory} cannot be used (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`;
  }
  const existing = await stat(path).catch(() => undefined);
  if (!existing) return undefined;
  if (!existing.isSocket()) return `${path} exists and is not a socket`;
  if (await socketInUse(path)) return 'another daemon is serving on it';
  return undefined;
}

/** The default socket when it is free, else `fallback`; `preferred` is for tests. */
export async function chooseDemoSocket(fallback: string, preferred: string = DEFAULT_SOCKET): Promise<DemoSocket> {
  const busy = await socketBusyReason(preferred);
  if (busy === undefined) {
    return { path: preferred, preferred: true, note: `demo: gRPC on ${preferred}: pcadm and portcullis reach it with no --socket` };
  }
  return {
    path: fallback,
    preferred: false,
    note: `demo: the default socket ${preferred} is not free (${busy}); gRPC on ${fallback} instead: give pcadm and portcullis --socket ${fallback}`,
  };
}

export interface DemoFiles {
  configPath: string;
  socketPath: string;
  stateFilePath: string;
  /** What the demo says about the socket it took. */
  note: string;
}

/**
 * Writes the demo's config into `workDir` (its state file and, unless the default socket is free,
 * its socket live there too) and says where everything is; `preferred` is for tests.
 */
export async function writeDemoConfig(workDir: string, preferred: string = DEFAULT_SOCKET): Promise<DemoFiles> {
  const socket = await chooseDemoSocket(join(workDir, 'portcullis.sock'), preferred);
  const files = { configPath: join(workDir, 'portcullis.yaml'), socketPath: socket.path, stateFilePath: join(workDir, 'state.json'), note: socket.note };
  await writeFile(files.configPath, demoConfigYaml({ socket: files.socketPath, stateFile: files.stateFilePath }));
  return files;
}
