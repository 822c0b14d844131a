// E2E harness: the lab plus the real daemon started as a user would, a gRPC
// client on its socket, and helpers that run traffic from inside the lab's
// namespaces. Every wait is bounded; stopGateway always tears everything down.

import { execFile } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { demoConfigYaml, type DemoConfigOptions } from '../../src/lab/demo-config.js';
import { portcullisCliPath, startDaemon, type DaemonProcess } from '../../src/lab/daemon-process.js';
import { CLIENT, labDown, labUp, type LabOptions } from '../../src/lab/lab.js';
import { plainNodeToolArgv } from './plain-node-tool.js';
import { connectPortcullis, type PortcullisClient } from './e2e-grpc.js';
import { removeConnRegionFiles } from '../../src/config/conn-region.js';

export const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/**
 * The commands the lab tests run, with the Debian package that provides each; scripts/setup.sh
 * installs every one (its APT_PACKAGES list; test/unit/e2e-requirements.test.ts keeps them in step).
 */
export const LAB_TOOLS = {
  ip: 'iproute2', ethtool: 'ethtool', sysctl: 'procps', curl: 'curl', python3: 'python3',
  ping: 'iputils-ping', nft: 'nftables', nginx: 'nginx-light', tcpdump: 'tcpdump',
} as const;
export type LabTool = keyof typeof LAB_TOOLS;

/**
 * The absolute path of `command` on PATH (plus the sbin directories, where root's tools live);
 * throws naming the command and its package when it is missing. A missing tool fails the test:
 * it never turns into a quiet pass.
 */
export function requireTool(command: string, debianPackage: string, path = process.env['PATH'] ?? ''): string {
  const dirs = [...path.split(delimiter).filter(Boolean), '/usr/local/sbin', '/usr/sbin', '/sbin'];
  for (const dir of dirs) {
    const candidate = join(dir, command);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch { /* not in this directory */ }
  }
  throw new Error(`${command} is not installed: apt-get install ${debianPackage} (scripts/setup.sh installs it)`);
}

/**
 * For the `before` hook of every lab suite: root (network namespaces, af_packet ports) and every
 * tool in LAB_TOOLS. Throws naming what is missing, so each test of the suite fails with it.
 */
export function requireLab(): void {
  if (!isRoot) throw new Error('the lab tests need root (network namespaces, af_packet ports): run them as root, under flock /tmp/pc-lab.lock');
  for (const [command, debianPackage] of Object.entries(LAB_TOOLS)) requireTool(command, debianPackage);
}

/** Rejects with a message naming `what` if `promise` does not settle within `ms`. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export interface CommandResult {
  code: number | string;
  stdout: string;
  stderr: string;
}

/** Runs argv inside a namespace (`ip netns exec`); killed after timeoutMs. Never rejects. */
export function runInNamespace(namespace: string, argv: string[], timeoutMs: number): Promise<CommandResult> {
  return new Promise((resolve) => {
    execFile('ip', ['netns', 'exec', namespace, ...argv], { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : (typeof error.code === 'number' ? error.code : (error.signal ?? 'error'));
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      });
  });
}

/**
 * Runs test/support/e2e-netns-client.ts inside pc-client and returns its JSON
 * answer; rejects with its output when it produced none.
 */
export async function clientTool<T>(args: (string | number)[], timeoutMs: number): Promise<T> {
  const argv = [...plainNodeToolArgv(import.meta.url, 'e2e-netns-client'), ...args.map(String)];
  // Give the tool's own timeouts a head start so it can report what failed.
  const result = await runInNamespace(CLIENT.namespace, argv, timeoutMs + 5_000);
  const line = result.stdout.trim().split('\n').pop() ?? '';
  try {
    const parsed = JSON.parse(line) as T & { error?: string };
    return parsed;
  } catch {
    throw new Error(`client tool ${args[0]} gave no answer (exit ${result.code}): ${result.stdout.slice(-2000)} ${result.stderr.slice(-2000)}`);
  }
}

export interface Gateway {
  daemon: DaemonProcess;
  api: PortcullisClient;
  workDir: string;
}

/** Which demo configuration: ipv6Services overrides DEMO_IPV6_SERVICES (src/lab/demo-config.ts). */
export type DemoChoice = Pick<DemoConfigOptions, 'ipv6Services'>;

/** labUp, then the daemon with the demo configuration in a temp dir; cleans up itself on failure. */
export async function startGateway(readyTimeoutMs = 40_000, editConfig: (yaml: string) => string = (yaml) => yaml,
  lab: LabOptions = {}, demo: DemoChoice = {}): Promise<Gateway> {
  const workDir = await mkdtemp(join(tmpdir(), 'portcullis-e2e-'));
  const configPath = join(workDir, 'portcullis.yaml');
  const socketPath = join(workDir, 'portcullis.sock');
  const stateFilePath = join(workDir, 'state.json');
  try {
    await withTimeout(labUp({ ...lab, quiet: true }), 60_000, 'lab up');
    await writeFile(configPath, editConfig(demoConfigYaml({ ...demo, socket: socketPath, stateFile: stateFilePath })));
    const daemon = await startDaemon({ configPath, socketPath, stateFilePath, readyTimeoutMs });
    return { daemon, api: connectPortcullis(socketPath), workDir };
  } catch (error) {
    await withTimeout(labDown(), 30_000, 'lab down').catch(() => undefined);
    await removeConnRegionFiles(stateFilePath);
    await rm(workDir, { recursive: true, force: true });
    throw error;
  }
}

/** Stops the daemon (reporting how it ended), the lab and the temp dir. Harmless with undefined. */
export async function stopGateway(gateway: Gateway | undefined): Promise<number | string | undefined> {
  let ended: number | string | undefined;
  try {
    if (gateway) {
      gateway.api.close();
      ended = await withTimeout(gateway.daemon.stop(10_000), 15_000, 'daemon stop');
    }
  } finally {
    await withTimeout(labDown(), 30_000, 'lab down').catch(() => undefined);
    if (gateway) {
      await removeConnRegionFiles(join(gateway.workDir, 'state.json'));
      await rm(gateway.workDir, { recursive: true, force: true });
    }
  }
  return ended;
}

/**
 * One gateway shared by the tests of a suite that run in order: the first test calls
 * start() (so a start-up failure is that test's failure, with its message), later
 * tests call running() (which repeats why start-up failed), the suite's `after`
 * hook calls stop().
 */
export interface SharedGateway {
  start(): Promise<Gateway>;
  running(): Gateway;
  stop(): Promise<void>;
}

/**
 * editConfig changes the demo configuration's YAML text before the daemon reads it; lab sets lab
 * options (link MTUs); demo picks the demo configuration ({ ipv6Services: true } for IPv6 suites).
 */
export function sharedGateway(editConfig?: (yaml: string) => string, lab?: LabOptions, demo?: DemoChoice): SharedGateway {
  let gateway: Gateway | undefined;
  let startError: unknown = 'the first test did not run';
  return {
    async start() {
      try {
        if (!existsSync(portcullisCliPath())) throw new Error(`${portcullisCliPath()} is missing: run \`npm run build\``);
        gateway = await withTimeout(startGateway(undefined, editConfig, lab, demo), 90_000, 'lab up + daemon ready');
        return gateway;
      } catch (error) {
        startError = error;
        throw error;
      }
    },
    running() {
      if (!gateway) throw new Error(`the gateway is not running (start-up: ${startError instanceof Error ? startError.message.split('\n')[0] : String(startError)})`);
      return gateway;
    },
    async stop() {
      await stopGateway(gateway);
      gateway = undefined;
    },
  };
}
