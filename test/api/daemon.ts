// Test support for the api suites: write a config, spawn the REAL daemon exactly as
// a user would (`portcullis run --config …`), wait for its ready line, stop it. withDaemon
// does all of it around a test body and hands it clients for every door on the socket.
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import type { DefenseClient } from '../../src/api/generated/portcullis/v1/Defense.js';
import type { TraceClient } from '../../src/api/generated/portcullis/v1/Trace.js';
import { loadPortcullisProto } from '../../src/api/proto.js';
import { connect, rpc, type PortcullisApi, type PortcullisClients } from '../../src/cli/client.js';
import { runPcadm } from '../../src/cli/pcadm/main.js';
import { spawnDaemon, type DaemonProcess } from '../../src/lab/daemon-process.js';
import { currentBuiltCli } from '../../src/lab/build-freshness.js';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(REPO_ROOT, 'src/cli/portcullis.ts');

/**
 * Two ring ports (live mode, no network set-up), no hugepages, small memory. The connection region
 * lives in the folder (not /dev/shm under a name from the state file), so it goes with the folder.
 */
export function testConfig(dir: string, services = ''): string {
  return `dataplane: { workers: 1, lcores: "0-1", polling: adaptive, memory_mb: 256, hugepages: "off", conn_capacity: 4096, conn_region: ${join(dir, 'conns.region')} }
api: { socket: ${join(dir, 'api.sock')} }
state_file: ${join(dir, 'state.json')}
defense: { audit_log: ${join(dir, 'audit.log')} }
ports:
  - { name: outside, device: ring, addresses: [198.18.0.254/24] }
  - { name: inside, device: ring, addresses: [198.19.0.254/24] }
services:${services || ' []'}
`;
}

/** `services:` YAML for one TCP service "web" 198.18.0.10:80 -> 198.19.0.1:80 via LIP 198.19.0.200. */
export const WEB_SEED = `
  - name: web
    protocol: tcp
    vip: 198.18.0.10
    port: 80
    local_addresses: [198.19.0.200]
    servers:
      - { address: 198.19.0.1, port: 80, weight: 1 }
`;

export async function writeConfig(dir: string, services = ''): Promise<string> {
  const path = join(dir, 'config.yaml');
  await writeFile(path, testConfig(dir, services));
  return path;
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The daemon as the api tests see it: the same process handle the demo and e2e suites use. */
export type Daemon = DaemonProcess;

/**
 * node's arguments for `portcullis <args…>`: the built CLI when dist/ is current with the source
 * (src/lab/build-freshness.ts: the same code, without tsx's start-up), else the source through tsx;
 * always the source when extra `--import` modules go in.
 */
function nodeArgs(args: string[], preloads: string[] = []): string[] {
  const built = preloads.length === 0 ? currentBuiltCli(REPO_ROOT) : undefined;
  if (built) return [built, ...args];
  return ['--import', 'tsx', ...preloads.flatMap((file) => ['--import', file]), CLI, ...args];
}

/** Runs a command to completion (bounded: SIGKILL after timeoutMs) from the repository root; `env` is added to ours. */
export function runProcess(argv: string[], timeoutMs: number, env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(argv[0]!, argv.slice(1), { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

/** Runs the CLI (built when current, else from source) to completion (bounded), e.g. `run --check` or `stats`; `env` is added to ours. */
export function runCli(args: string[], timeoutMs = 20_000, env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return runProcess([process.execPath, ...nodeArgs(args)], timeoutMs, env);
}

/** Starts `portcullis run <args…>` (built when current, else from source) and waits for its ready line; `preloads` are extra `--import` modules. */
export function startDaemon(args: string[], readyTimeoutMs = 30_000, preloads: string[] = []): Promise<Daemon> {
  return spawnDaemon(nodeArgs(['run', ...args], preloads), { cwd: REPO_ROOT, readyTimeoutMs });
}

/** Adds what the daemon printed to a failing test's error, keeping the assertion (and its diff). */
export function withDaemonOutput(error: unknown, daemon: Daemon): unknown {
  if (error instanceof Error) error.message += `\n--- daemon output ---\n${daemon.output()}`;
  return error;
}

/** How withDaemon starts the daemon. */
export interface DaemonRunOptions {
  /**
   * The folder the daemon's files live in (api.sock, state.json, audit.log, config.yaml). Give the
   * suite's folder to keep the state across runs (a restart is a second withDaemon on the same
   * folder); without one, a fresh folder is made and removed afterwards.
   */
  dir?: string;
  /** The config's YAML, or a function of the folder returning it (it may write files there first). Default: testConfig(dir). */
  config?: string | ((dir: string) => string);
  /** Files written into the folder before the start, by name (e.g. a state.json from an older version). */
  files?: Record<string, string>;
  /** Arguments after `run --config <dir>/config.yaml` (e.g. --reset-state). */
  args?: string[];
  /** Extra `--import` modules for the daemon's node (e.g. probes that throw). */
  preloads?: string[];
}

/** One running daemon and a client for each of its doors, all on its unix socket. */
export interface DaemonSession {
  daemon: Daemon;
  dir: string;
  socket: string;
  /** The promise API (VirtualServices, Routes, Stats). */
  api: PortcullisApi;
  /** The generated clients behind `api`, for the streaming calls (stats.watchStats). */
  clients: PortcullisClients;
  /** One unary call of portcullis.v1.Defense by method name. */
  defense<Res>(method: string, request: object): Promise<Res>;
  /** One unary call of portcullis.v1.Trace by method name. */
  trace<Res>(method: string, request: object): Promise<Res>;
  /** `portcullis <args…> --socket <socket>` to completion. */
  cli(args: string[]): Promise<CliResult>;
  /** `pcadm --socket <socket> <line>` in process, its output captured. */
  pcadm(line: string, stdin?: string): Promise<PcadmResult>;
}

export interface PcadmResult {
  code: number;
  out: string;
  err: string;
}

/**
 * Starts the real daemon on ring ports with a temporary config, runs body with a session on it,
 * and always stops it (and removes the folder it made). A failure carries the daemon's output.
 * Resolves with how the daemon ended (the exit code, or the signal's name).
 */
export async function withDaemon(options: DaemonRunOptions, body: (session: DaemonSession) => Promise<void>): Promise<number | string> {
  const dir = options.dir ?? await mkdtemp(join(tmpdir(), 'pc-daemon-'));
  try {
    for (const [name, text] of Object.entries(options.files ?? {})) await writeFile(join(dir, name), text);
    const config = join(dir, 'config.yaml');
    const text = options.config ?? testConfig(dir);
    await writeFile(config, typeof text === 'function' ? text(dir) : text);
    const daemon = await startDaemon(['--config', config, ...(options.args ?? [])], 30_000, options.preloads);
    try {
      await runSession(daemon, dir, body);
    } finally {
      await daemon.stop();
    }
    return await daemon.exited;
  } finally {
    if (!options.dir) await rm(dir, { recursive: true, force: true });
  }
}

/** One daemon that several tests of a suite use in turn (see sharedDaemon). */
export interface SharedDaemon {
  /** Starts it (the suite's `before`). */
  start(): Promise<void>;
  /** Runs body on the running daemon; a failure carries the daemon's output, as with withDaemon. */
  use(body: (session: DaemonSession) => Promise<void>): Promise<void>;
  /** Stops it and resolves with how it ended; a second call returns the same (the suite's `after`, or a test that restarts it). */
  stop(): Promise<number | string>;
}

/**
 * withDaemon held open across tests: each start costs seconds, and tests that need no fresh
 * daemon put it back as they found it (through the API) instead. The daemon, its clients and
 * the folder's life are withDaemon's; only the body spans from start() to stop().
 */
export function sharedDaemon(options: DaemonRunOptions): SharedDaemon {
  let session: DaemonSession | undefined;
  let release: () => void = () => undefined;
  let ended: Promise<number | string> | undefined;
  return {
    async start() {
      await new Promise<void>((ready, fail) => {
        ended = withDaemon(options, (s) => {
          session = s;
          ready();
          return new Promise<void>((resolve) => { release = resolve; });
        });
        ended.catch(fail);
      });
    },
    async use(body) {
      if (!session || !ended) throw new Error('the shared daemon was not started (or was stopped)');
      try {
        await body(session);
      } catch (error) {
        throw withDaemonOutput(error, session.daemon);
      }
    },
    async stop() {
      if (!ended) return 'never started';
      const s = session;
      session = undefined;
      if (s) release();
      return await ended;
    },
  };
}

async function runSession(daemon: Daemon, dir: string, body: (session: DaemonSession) => Promise<void>): Promise<void> {
  const socket = join(dir, 'api.sock');
  const clients = connect(socket);
  const { grpcObject } = loadPortcullisProto();
  const defense: DefenseClient = new grpcObject.portcullis.v1.Defense(`unix:${socket}`, grpc.credentials.createInsecure());
  const trace: TraceClient = new grpcObject.portcullis.v1.Trace(`unix:${socket}`, grpc.credentials.createInsecure());
  try {
    await body({
      daemon, dir, socket, clients,
      api: clients.api,
      defense: (method, request) => rpc<object, never>(defense, method)(request),
      trace: (method, request) => rpc<object, never>(trace, method)(request),
      cli: (args) => runCli([...args, '--socket', socket]),
      pcadm: async (line, stdin = '') => {
        let out = '';
        let err = '';
        const code = await runPcadm(['--socket', socket, ...line.split(' ').filter(Boolean)], {
          stdout: (t) => { out += t; }, stderr: (t) => { err += t; }, stdin: async () => stdin,
        });
        return { code, out, err };
      },
    });
  } catch (error) {
    throw withDaemonOutput(error, daemon);
  } finally {
    trace.close();
    defense.close();
    clients.close();
  }
}
