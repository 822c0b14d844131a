#!/usr/bin/env node
// `portcullis`: the daemon (run), its clients (status, stats) and the lab/demo.
// Exit codes: 0 ok, 1 failure at run time, 2 usage or configuration error (apply adds 3: stale generation).
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type * as grpc from '@grpc/grpc-js';
import { formatStats, formatStatus } from '../api/format.js';
import { ConfigError, configWarnings, loadConfigFile } from '../config/load.js';
import { runDaemon, StartupError } from '../daemon/run.js';
import { log } from '../log.js';
import { ModelError } from '../model/index.js';
import { connect } from './client.js';
import { DEFAULT_SOCKET, describeCallError, ENDPOINT_OPTIONS, ENDPOINT_USAGE, resolveEndpoint } from './endpoint.js';
import { commandDefend, DEFEND_USAGE } from './defend.js';
import { commandRoute, ROUTE_USAGE } from './route.js';
import { APPLY_USAGE, commandApply } from './apply.js';
import { CLUSTER_USAGE, commandCluster, commandDrain, commandUndrain } from './cluster.js';
import { commandTrace, TRACE_USAGE } from './trace.js';
import { CAPTURE_USAGE, commandCapture } from './capture.js';
import { commandImport, IMPORT_USAGE } from './import.js';

const USAGE = `usage:
  portcullis run --config FILE [--state-file PATH] [--socket PATH] [--reset-state] [--takeover]
                                 start the daemon (prints "portcullis ready: ..." when serving);
                                 --takeover: from the daemon running on the config's socket,
                                 keeping its connections (docs/operations.md)
  portcullis run --config FILE --check
                                 validate the config only ("config OK" or the errors; exit 0/2)
  portcullis status [CONNECTION]
  portcullis stats  [CONNECTION] [--json]
                                 uint64 counters are decimal strings in --json output
  portcullis top    [CONNECTION] [--interval MS] [--frames N]
                                 live view refreshed every second (q quits)
${APPLY_USAGE}
${DEFEND_USAGE}
${ROUTE_USAGE}
${CLUSTER_USAGE}
${TRACE_USAGE}
${CAPTURE_USAGE}
${IMPORT_USAGE}
  portcullis lab up|down|status  the network-namespace lab (down removes the cluster lab too)
  portcullis lab up|status --cluster
                                 the cluster lab: BIRD edge router, two gateway namespaces
  portcullis demo                lab + daemon with the demo config
  portcullis demo --cluster      cluster lab + two gateway daemons announcing the VIP by BGP
CONNECTION = ${ENDPOINT_USAGE}`;

class UsageError extends Error {}

function parse<T extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: T) {
  try {
    return parseArgs<{ args: string[]; options: T; strict: true; allowPositionals: false }>({ args, options, strict: true, allowPositionals: false });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

async function commandRun(args: string[]): Promise<number> {
  const { values } = parse(args, {
    config: { type: 'string' },
    'state-file': { type: 'string' },
    socket: { type: 'string' },
    'reset-state': { type: 'boolean' },
    takeover: { type: 'boolean' },
    check: { type: 'boolean' },
  });
  if (!values.config) throw new UsageError('run: --config FILE is required');
  try {
    if (values.check) {
      const config = await loadConfigFile(values.config);
      for (const warning of configWarnings(config)) process.stderr.write(`warning: ${warning}\n`);
      process.stdout.write('config OK\n');
      return 0;
    }
    return await runDaemon({
      configPath: values.config,
      stateFile: values['state-file'],
      socket: values.socket,
      resetState: values['reset-state'] ?? false,
      takeover: values.takeover ?? false,
    });
  } catch (error) {
    if (error instanceof ConfigError) {
      if (values.check) process.stderr.write(`${error.message}\n`);
      else log.error(error.message);
      return 2;
    }
    if (error instanceof StartupError) {
      log.error(error.message);
      return error.exitCode;
    }
    throw error;
  }
}

function describeRpcError(error: unknown, target: string): string {
  return describeCallError(error as grpc.ServiceError, target);
}

/** The connection flags (endpoint.ts) → clients; a bad combination is a usage error. */
function connectWith(values: Parameters<typeof resolveEndpoint>[0]) {
  try {
    return connect(resolveEndpoint(values));
  } catch (error) {
    if (error instanceof ModelError) throw new UsageError(error.message);
    throw error;
  }
}

async function commandStatus(args: string[]): Promise<number> {
  const { values } = parse(args, { ...ENDPOINT_OPTIONS });
  const clients = connectWith(values);
  try {
    const status = await clients.api.getStatus({});
    process.stdout.write(`${formatStatus(status)}\n`);
    return 0;
  } catch (error) {
    process.stderr.write(`portcullis status: ${describeRpcError(error, clients.target)}\n`);
    return 1;
  } finally {
    clients.close();
  }
}

async function commandStats(args: string[]): Promise<number> {
  const { values } = parse(args, { ...ENDPOINT_OPTIONS, json: { type: 'boolean' } });
  const clients = connectWith(values);
  try {
    const stats = await clients.api.getStats({});
    process.stdout.write(values.json ? `${JSON.stringify(stats, null, 2)}\n` : `${formatStats(stats)}\n`);
    return 0;
  } catch (error) {
    process.stderr.write(`portcullis stats: ${describeRpcError(error, clients.target)}\n`);
    return 1;
  } finally {
    clients.close();
  }
}

async function commandTop(args: string[]): Promise<number> {
  const { values } = parse(args, { ...ENDPOINT_OPTIONS, interval: { type: 'string' }, frames: { type: 'string' } });
  const interval = Number(values.interval ?? 1000);
  const frames = Number(values.frames ?? 0);
  if (!Number.isInteger(interval) || interval < 100) throw new UsageError(`top: --interval: expected milliseconds >= 100, got "${values.interval}"`);
  if (!Number.isInteger(frames) || frames < 0) throw new UsageError(`top: --frames: expected an integer >= 0, got "${values.frames}"`);
  const { runTop } = await import('./top.js');
  const clients = connectWith(values);
  try {
    return await runTop(clients, { intervalMs: interval, frames, write: (text) => process.stdout.write(text) });
  } finally {
    clients.close();
  }
}

async function commandLab(args: string[]): Promise<number> {
  const cluster = args.includes('--cluster');
  const [action, ...rest] = args.filter((arg) => arg !== '--cluster');
  if (rest.length > 0 || !['up', 'down', 'status'].includes(action ?? '')) {
    throw new UsageError(`lab: expected up, down or status [--cluster]${action ? `, got "${args.join(' ')}"` : ''}`);
  }
  // Imported on demand: the lab needs root and ip(8), the other commands do not.
  const lab = await import('../lab/lab.js');
  const clusterLab = await import('../lab/cluster-lab.js');
  if (action === 'down') {
    // Either lab, whichever is up: their namespace names differ, so removing both is always safe.
    await lab.labDown();
    await clusterLab.clusterLabDown();
  } else if (action === 'up') {
    await (cluster ? clusterLab.clusterLabUp() : lab.labUp());
  } else {
    process.stdout.write(`${cluster ? await clusterLab.clusterLabStatus() : await lab.labStatus()}\n`);
  }
  return 0;
}

async function commandDemo(args: string[]): Promise<number> {
  const cluster = args.length === 1 && args[0] === '--cluster';
  if (args.length > 0 && !cluster) throw new UsageError(`demo: takes no arguments or --cluster, got "${args.join(' ')}"`);
  if (cluster) {
    const clusterDemo = await import('../lab/cluster-demo.js');
    await clusterDemo.runClusterDemo();
  } else {
    const demo = await import('../lab/demo.js');
    await demo.runDemo();
  }
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  try {
    switch (command) {
      case 'run': return await commandRun(args);
      case 'status': return await commandStatus(args);
      case 'stats': return await commandStats(args);
      case 'top': return await commandTop(args);
      case 'defend': return await commandDefend(args);
      case 'route': return await commandRoute(args);
      case 'apply': return await commandApply(args);
      case 'drain': return await commandDrain(args);
      case 'undrain': return await commandUndrain(args);
      case 'cluster': return await commandCluster(args);
      case 'trace': return await commandTrace(args);
      case 'capture': return await commandCapture(args);
      case 'import': return await commandImport(args);
      case 'lab': return await commandLab(args);
      case 'demo': return await commandDemo(args);
      case 'help': case '--help': case '-h':
        process.stdout.write(`${USAGE}\n`);
        return 0;
      default:
        throw new UsageError(command ? `unknown command "${command}"` : 'no command given');
    }
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`portcullis: ${error.message}\n${USAGE}\n`);
      return 2;
    }
    log.error(`portcullis ${command ?? ''}: ${(error as Error)?.stack ?? String(error)}`);
    return 1;
  }
}

// The daemon may hold native handles after stop(); exit explicitly with the code.
main(process.argv.slice(2)).then((code) => process.exit(code), () => process.exit(1));
