// Running the lab's system tools (ip, ethtool, sysctl) without a shell:
// execFile with an argument vector, so no name or address is ever parsed by
// a shell, and a timeout on every call so a wedged tool cannot hang labUp.

import { execFile, spawn } from 'node:child_process';

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

/**
 * Runs several `ip` commands in one namespace through one `ip -n <namespace> -batch -` process
 * (a lab bring-up is some hundred commands; one process each made it most of its time). Stops at
 * the first failing command and throws naming it. A line takes no global options: IPv6 addresses
 * and routes are told apart by their addresses.
 */
export function ipBatchIn(namespace: string, commands: string[][]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['-n', namespace, '-batch', '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), TOOL_TIMEOUT_MS);
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    child.on('error', (error) => { clearTimeout(timer); reject(new Error(`lab: 'ip -n ${namespace} -batch -' did not start: ${error.message}`)); });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) return resolve();
      const line = Number(/Command failed -:(\d+)/.exec(stderr)?.[1] ?? 0);
      const failed = line > 0 ? `'ip -n ${namespace} ${commands[line - 1]!.join(' ')}'` : `'ip -n ${namespace} -batch -'`;
      reject(new Error(`lab: ${failed} failed (${signal ?? `exit ${code}`}): ${stderr.trim()}`));
    });
    child.stdin.end(commands.map((words) => `${words.join(' ')}\n`).join(''));
  });
}
