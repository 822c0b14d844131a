// One pcadm invocation: argv → parse → gRPC → output, with the process's stdio or
// the caller's (tests run it in process against a real daemon).
import { ModelError } from '../../model/index.js';
import { connect } from '../client.js';
import { ENDPOINT_OPTIONS, resolveEndpoint, type EndpointFlags } from '../endpoint.js';
import { parseCommandLine } from './args.js';
import { runCommand, type CommandContext } from './commands.js';
import { EXIT_BAD_ARGUMENT, EXIT_FAILED, PcadmError } from './errors.js';
import { systemNameTables } from './names.js';
import { USAGE } from './usage.js';

const CONNECTION_FLAGS = Object.keys(ENDPOINT_OPTIONS) as (keyof EndpointFlags)[];

/** Takes pcadm's own connection flags (--socket, --server, --tls-*, --token-file; ipvsadm has none) out of argv. */
export function extractConnection(argv: string[], env: NodeJS.ProcessEnv = process.env): { flags: EndpointFlags; rest: string[] } {
  const flags: EndpointFlags = {};
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const flag = CONNECTION_FLAGS.find((name) => arg === `--${name}` || arg.startsWith(`--${name}=`));
    if (!flag) { rest.push(arg); continue; }
    if (arg.includes('=')) flags[flag] = arg.slice(arg.indexOf('=') + 1);
    else if (i + 1 < argv.length) flags[flag] = argv[++i]!;
    else throw new PcadmError(EXIT_BAD_ARGUMENT, `--${flag}: missing argument`);
  }
  // The environment's socket only when no TCP server was asked for on the command line.
  const envSocket = env['PCADM_SOCKET'] ?? env['PORTCULLIS_SOCKET'];
  if (flags.socket === undefined && flags.server === undefined && envSocket) flags.socket = envSocket;
  return { flags, rest };
}

/**
 * -R: one rule per line, optionally starting with "ipvsadm"/"pcadm". As ipvsadm's
 * restore_table: a bad line stops the restore (its fail() exits), a refused operation is
 * reported and the next line runs; the status is the last line's.
 */
async function restore(input: string, context: CommandContext, stderr: (text: string) => void): Promise<number> {
  const lines = input.split('\n');
  let status = 0;
  for (let i = 0; i < lines.length; i++) {
    const words = lines[i]!.replace(/#.*/, '').trim().split(/\s+/).filter(Boolean);
    if (words[0] === 'ipvsadm' || words[0] === 'pcadm') words.shift();
    if (words.length === 0) continue;
    const parsed = parseCommandLine(words, context.names);
    if (parsed.command === 'restore') throw new PcadmError(EXIT_FAILED, `line ${i + 1}: -R inside -R input`);
    try {
      await runCommand(parsed, context);
      status = 0;
    } catch (error) {
      if (!(error instanceof PcadmError) || error.exitCode !== EXIT_FAILED) throw error;
      stderr(`${error.message}\n`);
      status = error.exitCode;
    }
  }
  return status;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export interface PcadmIo {
  stdout(text: string): void;
  stderr(text: string): void;
  /** All of stdin (read only by -R). */
  stdin(): Promise<string>;
}

export const PROCESS_IO: PcadmIo = {
  stdout: (text) => { process.stdout.write(text); },
  stderr: (text) => { process.stderr.write(text); },
  stdin: readStdin,
};

/** Runs one pcadm invocation; returns ipvsadm's exit status. */
export async function runPcadm(argv: readonly string[], io: PcadmIo = PROCESS_IO): Promise<number> {
  const names = systemNameTables();
  let client: ReturnType<typeof connect> | undefined;
  try {
    const { flags, rest } = extractConnection([...argv]);
    const parsed = parseCommandLine(rest, names);
    if (parsed.command === 'help') {
      io.stdout(USAGE);
      return 0;
    }
    let endpoint;
    try {
      endpoint = resolveEndpoint(flags);
    } catch (error) {
      if (error instanceof ModelError) throw new PcadmError(EXIT_BAD_ARGUMENT, `pcadm: ${error.message}`);
      throw error;
    }
    client = connect(endpoint);
    const context: CommandContext = { api: client.api, target: client.target, names, write: io.stdout };
    if (parsed.command === 'restore') return await restore(await io.stdin(), context, io.stderr);
    await runCommand(parsed, context);
    return 0;
  } catch (error) {
    if (error instanceof PcadmError) {
      io.stderr(`${error.message}\n`);
      return error.exitCode;
    }
    io.stderr(`pcadm: ${(error as Error)?.stack ?? String(error)}\n`);
    return EXIT_FAILED;
  } finally {
    client?.close();
  }
}

