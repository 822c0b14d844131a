// Starting and stopping the real `portcullis run` daemon as a child process,
// exactly as a user would: used by the demo, the e2e tests and (from source,
// through spawnDaemon) the api tests.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const DEFAULT_READY_TIMEOUT_MS = 30_000;
const DEFAULT_STOP_TIMEOUT_MS = 10_000;
/** Keep the tail of the daemon's output for error messages, not all of it. */
const OUTPUT_TAIL_CHARS = 64 * 1024;
const READY_PATTERN = /^portcullis ready\b.*$/m;

export interface DaemonOptions {
  configPath: string;
  socketPath: string;
  stateFilePath: string;
  readyTimeoutMs?: number;
  /** The CLI to run; default: the built one (portcullisCliPath()). */
  cliPath?: string;
  /** Called with every chunk the daemon writes to stdout/stderr (the demo shows them). */
  onOutput?: (chunk: string) => void;
  /**
   * Network namespace to run the daemon in (`ip netns exec <namespace> node …`): the cluster
   * lab runs one gateway per namespace, each with its own ports, exception-path interfaces,
   * gobgpd and kernel routes. `ip netns exec` execs in place, so `pid` is still the daemon's.
   */
  namespace?: string;
}

export interface DaemonProcess {
  /** The child itself (tests kill -9 it to simulate a crash). */
  child: ChildProcess;
  pid: number;
  socketPath: string;
  /** The `portcullis ready: ...` line. */
  readyLine: string;
  /** The last OUTPUT_TAIL_CHARS characters of stdout+stderr. */
  output(): string;
  /** Resolves with the exit code (or the signal name) when the daemon ends. */
  exited: Promise<number | string>;
  /**
   * SIGTERM, then SIGKILL after `timeoutMs`. Resolves with how it ended.
   * Harmless when the daemon already exited.
   */
  stop(timeoutMs?: number): Promise<number | string>;
}

/** Absolute path of the built CLI (dist/src/cli/portcullis.js), from dist or from source. */
export function portcullisCliPath(): string {
  const here = import.meta.url;
  const relative = here.endsWith('.ts') ? '../../dist/src/cli/portcullis.js' : '../cli/portcullis.js';
  return fileURLToPath(new URL(relative, here));
}

/**
 * Spawns `node dist/src/cli/portcullis.js run --config … --state-file … --socket …`
 * and resolves once it prints `portcullis ready`. Rejects (after killing the
 * child) if it exits first or is not ready within the timeout; the error
 * carries the daemon's output.
 */
export function startDaemon(options: DaemonOptions): Promise<DaemonProcess> {
  const cliPath = options.cliPath ?? portcullisCliPath();
  if (!existsSync(cliPath)) {
    return Promise.reject(new Error(`daemon: ${cliPath} does not exist; run \`npm run build\` first`));
  }
  return spawnDaemon([cliPath, 'run', '--config', options.configPath,
    '--state-file', options.stateFilePath, '--socket', options.socketPath], options);
}

export interface SpawnOptions {
  socketPath?: string;
  /** See DaemonOptions.namespace. */
  namespace?: string;
  readyTimeoutMs?: number;
  onOutput?: (chunk: string) => void;
  cwd?: string;
  /**
   * A command that execs node in place, put in front of it (after `ip netns exec`): e.g.
   * `setpriv --bounding-set … --` to start the daemon with the capabilities its systemd unit gives.
   */
  execPrefix?: string[];
}

/**
 * Spawns `node <nodeArgs…>` (which must run `portcullis run …`) and resolves once it
 * prints `portcullis ready`, with the same failure handling as startDaemon.
 */
export function spawnDaemon(nodeArgs: string[], options: SpawnOptions = {}): Promise<DaemonProcess> {
  const node = [...(options.execPrefix ?? []), process.execPath, ...nodeArgs];
  const argv = options.namespace === undefined ? node : ['ip', 'netns', 'exec', options.namespace, ...node];
  const child = spawn(argv[0]!, argv.slice(1), { cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const append = (chunk: Buffer): void => {
    const text = chunk.toString('utf8');
    output = (output + text).slice(-OUTPUT_TAIL_CHARS);
    options.onOutput?.(text);
  };
  child.stdout!.on('data', append);
  child.stderr!.on('data', append);
  const exited = new Promise<number | string>((resolve) => {
    child.on('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
    child.on('error', (error) => {
      output += `\nspawn failed: ${error.message}`;
      resolve('spawn-error');
    });
  });

  return new Promise((resolve, reject) => {
    const timeoutMs = options.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
    let settled = false;
    const timer = setTimeout(() => {
      cleanup();
      void stopChild(child, exited, 2_000).then(() =>
        reject(new Error(`daemon: not ready after ${timeoutMs} ms; output:\n${output}`)));
    }, timeoutMs);
    const onData = (): void => {
      const match = output.match(READY_PATTERN);
      if (!match) return;
      cleanup();
      resolve({
        child,
        pid: child.pid!,
        socketPath: options.socketPath ?? '',
        readyLine: match[0],
        output: () => output,
        exited,
        stop: (stopTimeoutMs = DEFAULT_STOP_TIMEOUT_MS) => stopChild(child, exited, stopTimeoutMs),
      });
    };
    const onEarlyExit = (how: number | string): void => {
      cleanup();
      reject(new Error(`daemon: exited (${how}) before it was ready; output:\n${output}`));
    };
    const cleanup = (): void => {
      settled = true;
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      child.stderr!.off('data', onData);
    };
    // Registered after `append`, so `output` already holds the new chunk.
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then((how) => {
      if (!settled) onEarlyExit(how);
    });
  });
}

async function stopChild(child: ChildProcess, exited: Promise<number | string>, timeoutMs: number): Promise<number | string> {
  if (child.exitCode !== null || child.signalCode !== null) return exited;
  child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => { timer = setTimeout(() => resolve('timeout'), timeoutMs); });
  const first = await Promise.race([exited, timedOut]);
  clearTimeout(timer);
  if (first !== 'timeout') return first;
  child.kill('SIGKILL');
  return exited;
}
