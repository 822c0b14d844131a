// End to end (issue 18): established TCP connections through the gateway survive the three ways
// a daemon is replaced — (1) SIGTERM and a new start with the same config, (2) `kill -9` in the
// middle of a download and a new start, (3) `portcullis run --takeover` beside the running one.
// Each way: 50 kept-alive HTTP connections spread over a TOA service and a SYNPROXY service
// (both FullNAT) and a paced 200 MB download go through it with real Linux TCP stacks on both
// sides. Then every kept-alive connection answers one more request on the same socket, nothing was
// reset, the download's sha256 is right, and `pcadm -Ln` shows the same conn counts as before
// (only the download moved from active to inactive, because it ended). The packets that arrive
// while no daemon forwards are dropped by the ports and TCP retransmits them: the client sees a
// stall (reported), not an error. Needs root and the lab's tools (without them every test fails,
// naming what is missing). Run under `flock /tmp/pc-lab.lock` like every lab test.

import { join } from 'node:path';
import * as assert from 'uvu/assert';
import { suite } from '../support/suite.js';
import { patternSha256 } from '../../src/lab/pattern.js';
import { portcullisCliPath, spawnDaemon, startDaemon, type DaemonProcess } from '../../src/lab/daemon-process.js';
import { LOCAL_ADDRESSES, REAL_SERVERS, VIP } from '../../src/lab/topology.js';
import { requireLab, sharedGateway, withTimeout, type Gateway } from '../support/e2e-lab.js';
import { httpUrl } from '../support/e2e-http.js';
import {
  adoptedFromStatus, parseConnCounts, parseConnListing, pcadm, portcullisStatus, removeConnRegionFiles, startTraffic,
  type ListedConn, type ServerConns,
} from '../support/e2e-restart.js';
import type { TrafficEvent } from '../support/restart-traffic.js';

const TOA_PORT = 8081;
const SYNPROXY_PORT = 8082;
const KEPT_ALIVE = 50;
const DOWNLOAD_BYTES = 200 * 1000 * 1000;
/** Paced so the download is still running when the daemon goes, and the file stays near a minute. */
const DOWNLOAD_RATE = 50 * 1000 * 1000;
/** The daemon is replaced once this much of the download has arrived. */
const REPLACE_AFTER_BYTES = 40 * 1000 * 1000;
/** A request on a live connection through the lab answers in milliseconds. */
const REQUEST_TIMEOUT_MS = 5_000;
/** From "check" on: the rest of the download at its pace, plus the retransmission back-off of the gap. */
const DOWNLOAD_TIMEOUT_MS = 20_000;
/** Bounds on a daemon start and stop (the lab daemon is ready in a few seconds). */
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;

const SERVICES = `  - name: restart-toa
    protocol: tcp
    vip: ${VIP}
    port: ${TOA_PORT}
    scheduler: rr
    client_address: toa
    local_addresses: [${LOCAL_ADDRESSES.join(', ')}]
    servers:
${REAL_SERVERS.map((server) => `      - { address: ${server.addresses[0]}, port: 80, weight: 1 }`).join('\n')}
  - name: restart-synproxy
    protocol: tcp
    vip: ${VIP}
    port: ${SYNPROXY_PORT}
    scheduler: rr
    synproxy: on
    local_addresses: [${LOCAL_ADDRESSES.join(', ')}]
    servers:
${REAL_SERVERS.map((server) => `      - { address: ${server.addresses[0]}, port: 80, weight: 1 }`).join('\n')}
`;

const e2e = suite('e2e: established connections survive a restart, a kill -9 and a takeover of the daemon');
e2e.before(requireLab); // no root or a missing tool: every test fails, naming it

// IPv4 only: fewer services to start, and the connections under test are IPv4.
const shared = sharedGateway((yaml) => `${yaml.trimEnd()}\n${SERVICES}`, undefined, { ipv6Services: false });
let regionStateFile: string | undefined;
e2e.after(async () => {
  await shared.stop();
  if (regionStateFile) await removeConnRegionFiles(regionStateFile);
});

const paths = (gateway: Gateway) => ({
  configPath: join(gateway.workDir, 'portcullis.yaml'),
  socketPath: gateway.daemon.socketPath,
  stateFilePath: join(gateway.workDir, 'state.json'),
});

/** Replaces gateway.daemon one of the three ways; resolves with the new daemon and how long forwarding was off. */
type Way = (gateway: Gateway) => Promise<{ daemon: DaemonProcess; replaceMs: number; oldEnded: number | string }>;

const sigtermAndStart: Way = async (gateway) => {
  const started = performance.now();
  const oldEnded = await gateway.daemon.stop(STOP_TIMEOUT_MS);
  const daemon = await startDaemon({ ...paths(gateway), readyTimeoutMs: START_TIMEOUT_MS });
  return { daemon, replaceMs: performance.now() - started, oldEnded };
};

const killAndStart: Way = async (gateway) => {
  const started = performance.now();
  gateway.daemon.child.kill('SIGKILL');
  const oldEnded = await withTimeout(gateway.daemon.exited, STOP_TIMEOUT_MS, 'the killed daemon to exit');
  const daemon = await startDaemon({ ...paths(gateway), readyTimeoutMs: START_TIMEOUT_MS });
  return { daemon, replaceMs: performance.now() - started, oldEnded };
};

const takeover: Way = async (gateway) => {
  const { configPath, socketPath, stateFilePath } = paths(gateway);
  const started = performance.now();
  // Same config, state file and socket as the running daemon: the new one reaches the old one
  // through that socket, and after the hand-over serves on it.
  const daemon = await spawnDaemon([portcullisCliPath(), 'run', '--takeover', '--config', configPath,
    '--state-file', stateFilePath, '--socket', socketPath], { socketPath, readyTimeoutMs: START_TIMEOUT_MS });
  const oldEnded = await withTimeout(gateway.daemon.exited, STOP_TIMEOUT_MS, 'the old daemon to exit after the hand-over');
  return { daemon, replaceMs: performance.now() - started, oldEnded };
};

/** The counts of the two services under test, keyed "service -> server". */
function countsByServer(rows: ServerConns[]): Map<string, { active: number; inactive: number }> {
  const wanted = new Set([`TCP ${VIP}:${TOA_PORT}`, `TCP ${VIP}:${SYNPROXY_PORT}`]);
  return new Map(rows.filter((row) => wanted.has(row.service))
    .map((row) => [`${row.service} -> ${row.server}`, { active: row.active, inactive: row.inactive }]));
}

function describeCounts(counts: Map<string, { active: number; inactive: number }>): string {
  return [...counts].map(([key, c]) => `${key}: ${c.active} active, ${c.inactive} inactive`).join('\n  ');
}

async function readTables(gateway: Gateway): Promise<{ counts: Map<string, { active: number; inactive: number }>; rows: ListedConn[] }> {
  const socket = gateway.daemon.socketPath;
  return { counts: countsByServer(parseConnCounts(await pcadm(socket, '-Ln'))), rows: parseConnListing(await pcadm(socket, '-Lnc')) };
}

/** The way whose test failed after it replaced the daemon (its connections are left half-open at the servers). */
let earlierFailure: string | undefined;

/** One way, end to end; prints what it measured whatever the outcome. */
async function survive(name: string, way: Way, downloadPort: number): Promise<void> {
  const gateway = shared.running();
  const wayStarted = performance.now();
  const expectedSha256 = patternSha256(DOWNLOAD_BYTES);
  const traffic = startTraffic({
    vip: VIP, ports: [TOA_PORT, SYNPROXY_PORT], connections: KEPT_ALIVE,
    downloadUrl: httpUrl(VIP, downloadPort, `/bytes/${DOWNLOAD_BYTES}?rate=${DOWNLOAD_RATE}`),
    readyAfterBytes: REPLACE_AFTER_BYTES, requestTimeoutMs: REQUEST_TIMEOUT_MS, downloadTimeoutMs: DOWNLOAD_TIMEOUT_MS,
  }, 30_000);
  try {
    const ready = await traffic.ready.catch((error: Error) => {
      // Without adoption an earlier way's connections stay open at the servers, and a daemon with
      // empty tables hands out their LIP:lport pairs again: new connections then meet old ones.
      if (earlierFailure) error.message += `\n(the ${earlierFailure} before this one failed, which may be why)`;
      throw error;
    });
    const before = await readTables(gateway);
    const listedBefore = new Map(before.rows.map((row) => [row.source, row]));
    const downloadRow = [...listedBefore.values()].find((row) => row.source.endsWith(`:${ready.download.localPort}`)
      && row.virtual === `${VIP}:${downloadPort}`);
    assert.ok(downloadRow, `the download's connection (local port ${ready.download.localPort}) is not in pcadm -Lnc:\n${before.rows.map((r) => JSON.stringify(r)).join('\n')}`);

    earlierFailure = name;
    const replaced = await way(gateway);
    gateway.daemon = replaced.daemon;

    const done = await traffic.check(REQUEST_TIMEOUT_MS + DOWNLOAD_TIMEOUT_MS + 10_000);
    const after = await readTables(gateway);
    const status = await portcullisStatus(gateway.daemon.socketPath);
    report(name, replaced.replaceMs, done, gateway.daemon.output(), performance.now() - wayStarted);

    assert.is(replaced.oldEnded, name === 'kill -9' ? 'SIGKILL' : 0, 'how the old daemon ended');
    // First the cause, when there is one: every connection of the old tables was adopted (at least the
    // kept-alive ones and the download).
    const adopted = adoptedFromStatus(status) ?? 0;
    assert.ok(adopted >= KEPT_ALIVE + 1, `portcullis status: ${adopted} connections adopted, at least ${KEPT_ALIVE + 1} expected:\n${status}`);
    const failed = done.connections.filter((c) => c.second === undefined);
    assert.equal(done.ends, [], `kept-alive sockets reset or closed:\n  ${done.ends.map((e) => `#${e.index} ${e.how} at ${e.atMs} ms`).join('\n  ')}`);
    assert.is(failed.length, 0, `${failed.length} of ${KEPT_ALIVE} kept-alive connections gave no answer after the ${name}: `
      + `${failed.slice(0, 5).map((c) => `#${c.index} (port ${c.port}): ${c.error}`).join('; ')}\nnew daemon:\n${gateway.daemon.output().slice(-2000)}`);
    for (const c of done.connections) {
      // The same TCP connection on both sides: the same server saw it from the same LIP:lport.
      assert.equal([c.second!.server, c.second!.peer], [c.first!.server, c.first!.peer], `connection #${c.index} (port ${c.port})`);
    }
    const download = done.download;
    assert.ok(download.ok && download.error === undefined, `download: ${download.error ?? `status ${download.status}`} after ${download.bytes} bytes`);
    assert.is(download.bytes, DOWNLOAD_BYTES, 'download size');
    assert.is(download.sha256, expectedSha256, 'sha256 of the downloaded bytes');

    // The conn counts: the same, except the download, which ended meanwhile (active -> inactive).
    const expected = new Map([...before.counts].map(([key, c]) => [key, { ...c }]));
    const downloadKey = `TCP ${VIP}:${downloadPort} -> ${downloadRow!.destination}`;
    const moved = expected.get(downloadKey);
    assert.ok(moved, `no pcadm -Ln row ${downloadKey}`);
    moved!.active -= 1;
    moved!.inactive += 1;
    assert.equal(describeCounts(after.counts), describeCounts(expected), 'pcadm -Ln conn counts after (right) = before, the download ended');
    for (const c of done.connections) {
      const row = after.rows.find((r) => r.source.endsWith(`:${c.localPort}`) && r.virtual === `${VIP}:${c.port}`);
      const was = before.rows.find((r) => r.source.endsWith(`:${c.localPort}`) && r.virtual === `${VIP}:${c.port}`);
      assert.equal(row, was, `pcadm -Lnc row of kept-alive connection #${c.index} before and after`);
      assert.is(row?.state, 'ESTABLISHED');
    }
    earlierFailure = undefined;
  } finally {
    await traffic.close();
  }
}

function report(name: string, replaceMs: number, done: Extract<TrafficEvent, { event: 'done' }>, daemonOutput: string, wayMs: number): void {
  const answered = done.connections.filter((c) => c.second !== undefined).length;
  const gap = /takeover[^\n]*gap[^\n]*/i.exec(daemonOutput)?.[0];
  console.log(`  ${name}: daemon replaced in ${replaceMs.toFixed(0)} ms${gap ? ` (daemon: "${gap.trim()}")` : ''}; `
    + `kept-alive ${answered}/${KEPT_ALIVE} answered after, ${done.ends.length} reset/closed; download ${done.download.bytes} B `
    + `${done.download.ok ? 'complete' : `failed (${done.download.error ?? done.download.status})`} in ${done.download.ms} ms, `
    + `largest stall ${done.download.maxGapMs} ms; this way took ${(wayMs / 1000).toFixed(1)} s`);
}

e2e('the lab comes up; the daemon serves a TOA service and a SYNPROXY service', async () => {
  const gateway = await shared.start();
  regionStateFile = paths(gateway).stateFilePath;
  const listing = await pcadm(gateway.daemon.socketPath, '-Ln');
  assert.match(listing, `TCP  ${VIP}:${TOA_PORT} rr`);
  assert.match(listing, `TCP  ${VIP}:${SYNPROXY_PORT} rr`);
});

e2e('clean restart: SIGTERM, then a new start with the same config; every connection continues', async () => {
  await survive('SIGTERM + start', sigtermAndStart, TOA_PORT);
});

e2e('crash: kill -9 in the middle of the download, then a new start; every connection continues', async () => {
  await survive('kill -9', killAndStart, SYNPROXY_PORT);
});

e2e('upgrade: `portcullis run --takeover` beside the running daemon; every connection continues', async () => {
  await survive('takeover', takeover, SYNPROXY_PORT);
});

e2e.run();
