// Running the lab's system tools (ip, ethtool, sysctl) without a shell:
// execFile with an argument vector, so no name or address is ever parsed by
// a shell, and a timeout on every call so a wedged tool cannot hang labUp.

import { execFile } from 'node:child_process';

const TOOL_TIMEOUT_MS = 15_000;

export interface RunResult {
  ok: boolean;
  stdout: string;
  stderr: string;
}

/** Runs a command; never throws. `ok` is false on a non-zero exit, a signal or a timeout. */
export function runTool(file: string, args: string[], timeoutMs = TOOL_TIMEOUT_MS): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      resolve({ ok: error === null, stdout: String(stdout), stderr: String(stderr || (error ? error.message : '')) });
    });
  });
}

/** Runs a command that must succeed; throws an Error naming the command and its stderr. */
export async function mustRun(file: string, args: string[], timeoutMs = TOOL_TIMEOUT_MS): Promise<string> {
  const result = await runTool(file, args, timeoutMs);
  if (!result.ok) {
    throw new Error(`lab: '${[file, ...args].join(' ')}' failed: ${result.stderr.trim()}`);
  }
  return result.stdout;
}

/** `ip -n <namespace> ...` (the namespace's own view of links and addresses). */
export function ipIn(namespace: string, args: string[]): Promise<string> {
  return mustRun('ip', ['-n', namespace, ...args]);
}

/** Runs a tool inside a namespace: `ip netns exec <namespace> <file> <args...>`. */
export function mustRunIn(namespace: string, file: string, args: string[], timeoutMs?: number): Promise<string> {
  return mustRun('ip', ['netns', 'exec', namespace, file, ...args], timeoutMs);
}
