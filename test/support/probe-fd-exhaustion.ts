// Child process of test/unit/health-check.test.ts: the real health checker and socket prober
// (with the real Controller and model) while this process has NO file descriptor left — a real
// EMFILE from socket(), not a mock. Started under `ulimit -n` so filling the table is quick.
// argv: <state dir> <tcp|http>. Prints one JSON line.
//
// Two HTTP servers in this process: `steady` always answers 200; `flaky` stops listening (its
// port refuses) and comes back. rise = fall = 2. Rounds: 2 with flaky refusing (it goes down), 1
// with flaky back (one pass toward rise), 3 with the descriptor table full, 1 with descriptors again.
//
// "Full" must hold at every probe of the 3 rounds, yet descriptors opened before the fill can close
// after it and leave a slot a probe's socket() then takes (it connects: a pass, not EMFILE):
// - the servers' side of the earlier rounds' connections, which close in a later turn of the
//   event loop (the probes' own sockets close when they finish);
// - tsx's cache directory, which its loader thread walks (opendir over every cached entry) after
//   a module missed the cache, e.g. the first run after a source changed: the test starts this
//   child with TSX_DISABLE_CACHE=1, so that thread does no file work while the table is full.
// So: every accepted connection is closed and the table has stayed unchanged for a while before
// the fill, and the table is filled again right before each round (nothing but the round's own
// synchronous socket() calls runs between that fill and the probes: one round is a single turn).
// What the top-ups took is reported: anything there was freed while the table was full.
import { closeSync, openSync, readdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import { Controller } from '../../src/daemon/controller.js';
import type { DataplaneConfig } from '../../src/dataplane/types.js';
import { HealthChecker } from '../../src/health/checker.js';
import { socketProber } from '../../src/health/probe.js';
import { setLogLevel } from '../../src/log.js';
import { controlEvents } from '../../src/metrics/control-events.js';
import { createService, DEFAULT_TIMEOUTS, readServiceSpec, setServerHealth, type DesiredState } from '../../src/model/index.js';

setLogLevel('error');

function listen(server: Server, port = 0): Promise<number> {
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

/** Opens /dev/null into `held` until the table is full; returns how many it took and the error that stopped it. */
function fillTable(held: number[]): { taken: number; error: string } {
  for (let taken = 0; ; taken++) {
    try {
      held.push(openSync('/dev/null', 'r'));
    } catch (error) {
      return { taken, error: (error as NodeJS.ErrnoException).code ?? String(error) };
    }
  }
}

const QUIET_MS = 100;
const QUIET_TIMEOUT_MS = 10_000;

/**
 * Closes the servers' side of every connection accepted so far and waits until the set of open
 * descriptors stayed the same for QUIET_MS (a connection still in the accept queue is accepted,
 * and closed, meanwhile); throws when it never settles.
 */
async function settleDescriptors(accepted: Set<Socket>): Promise<void> {
  const openNow = () => readdirSync('/proc/self/fd').sort().join(' ');
  const deadline = Date.now() + QUIET_TIMEOUT_MS;
  let last = '';
  for (;;) {
    for (const socket of accepted) socket.destroy();
    await new Promise((resolve) => setTimeout(resolve, QUIET_MS));
    const now = openNow();
    if (now === last && accepted.size === 0) return;
    if (Date.now() > deadline) throw new Error(`descriptors never settled: ${now}`);
    last = now;
  }
}

async function main(): Promise<void> {
  const [dir, kind] = [process.argv[2]!, process.argv[3]!];
  const steadyServer = createServer((_request, response) => response.writeHead(200).end());
  const flakyServer = createServer((_request, response) => response.writeHead(200).end());
  const accepted = new Set<Socket>();
  for (const server of [steadyServer, flakyServer]) {
    server.on('connection', (socket: Socket) => {
      accepted.add(socket);
      socket.once('close', () => accepted.delete(socket));
    });
  }
  const [livePort, flakyPort] = [await listen(steadyServer), await listen(flakyServer)];
  await new Promise((resolve) => flakyServer.close(resolve));
  const base: DesiredState = {
    ports: [
      { name: 'outside', device: 'ring', addresses: ['198.18.0.254/24'] },
      { name: 'inside', device: 'ring', addresses: ['198.19.0.254/24'] },
    ],
    routes: [{ prefix: '0.0.0.0/0', port: 'inside' }], defaultTimeouts: { ...DEFAULT_TIMEOUTS }, services: [], nextServiceId: 1, nextServerId: 1,
  };
  const spec = readServiceSpec({
    name: 'web', protocol: 'tcp', vip: '198.18.0.10', port: 80, local_addresses: ['198.19.0.200'],
    health_check: { kind, path: '/health', interval_ms: 1000, timeout_ms: 500, rise: 2, fall: 2 },
    servers: [{ address: '127.0.0.1', port: livePort, weight: 5 }, { address: '127.0.0.1', port: flakyPort, weight: 5 }],
  }, 'service');
  const applied: DataplaneConfig[] = [];
  const controller = new Controller({ apply: (config) => { applied.push(config); return { version: applied.length }; } },
    join(dir, 'state.json'), createService(base, spec).state);
  await controller.applyInitial();
  // Passes every probe through unchanged, keeping what it answered for the report.
  const answers: string[] = [];
  const checker = new HealthChecker({
    prober: async (target, check) => {
      const result = await socketProber(target, check);
      answers.push(`${result.outcome} ${result.detail}`);
      return result;
    },
    state: () => controller.state,
    apply: async ({ service, serverId, state }) => { await controller.mutate((s) => setServerHealth(s, service, serverId, state === 'down')); },
  });
  const service = controller.state.services[0]!;
  const [steady, flaky] = service.servers;
  const snapshot = () => ({
    steady: checker.healthOf(steady!.id)?.state, flaky: checker.healthOf(flaky!.id)?.state, flakyStreak: checker.healthOf(flaky!.id)?.streak,
    weights: applied.at(-1)!.services[0]!.servers.map((s) => s.weight), applies: applied.length,
    unknown: controlEvents().health_probes_unknown,
    answers: answers.splice(0),
  });

  for (let i = 0; i < 2; i++) await checker.probeService(service.id);
  const down = snapshot();
  await listen(flakyServer, flakyPort);
  await checker.probeService(service.id);
  const before = snapshot();

  // Fill the descriptor table: every socket() the probes make now fails with EMFILE.
  await settleDescriptors(accepted);
  const held: number[] = [];
  const fillError = fillTable(held).error;
  const topUps: number[] = [];
  for (let i = 0; i < 3; i++) {
    topUps.push(fillTable(held).taken);
    await checker.probeService(service.id);
  }
  topUps.push(fillTable(held).taken);
  const exhausted = snapshot();
  for (const fd of held) closeSync(fd);

  await checker.probeService(service.id);
  const after = snapshot();
  steadyServer.close();
  flakyServer.close();
  process.stdout.write(`${JSON.stringify({ fillError, held: held.length, topUps, down, before, exhausted, after })}\n`);
}

main().then(() => process.exit(0), (error: Error) => {
  process.stdout.write(`${JSON.stringify({ error: error.stack ?? error.message })}\n`);
  process.exit(1);
});
