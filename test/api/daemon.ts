// Test support for the api suites: write a config, spawn the REAL daemon exactly as
// a user would (`portcullis run --config …`), wait for its ready line, stop it.
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnDaemon, type DaemonProcess } from '../../src/lab/daemon-process.js';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(REPO_ROOT, 'src/cli/portcullis.ts');

/** Two ring ports (live mode, no network set-up), no hugepages, small memory. */
export function testConfig(dir: string, services = ''): string {
  return `dataplane: { workers: 1, lcores: "0-1", polling: adaptive, memory_mb: 256, hugepages: "off", conn_capacity: 4096 }
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

function nodeArgs(args: string[], preloads: string[] = []): string[] {
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

/** Runs the CLI to completion (bounded), e.g. `run --check` or `stats`; `env` is added to ours. */
export function runCli(args: string[], timeoutMs = 20_000, env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return runProcess([process.execPath, ...nodeArgs(args)], timeoutMs, env);
}

/** Starts `portcullis run <args…>` from source (tsx) and waits for its ready line; `preloads` are extra `--import` modules. */
export function startDaemon(args: string[], readyTimeoutMs = 30_000, preloads: string[] = []): Promise<Daemon> {
  return spawnDaemon(nodeArgs(['run', ...args], preloads), { cwd: REPO_ROOT, readyTimeoutMs });
}

/** Adds what the daemon printed to a failing test's error, keeping the assertion (and its diff). */
export function withDaemonOutput(error: unknown, daemon: Daemon): unknown {
  if (error instanceof Error) error.message += `\n--- daemon output ---\n${daemon.output()}`;
  return error;
}
