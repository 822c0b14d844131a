// End to end: QUIC routing by connection id (docs/schedulers.md, "QUIC") with a real QUIC stack.
// Each real server runs ngtcp2's example HTTP/3 server (Debian ngtcp2-server) twice: on :4433
// behind a service with quic: true and on :4434 behind the same service without it; its connection
// ids carry its quic_id (test/support/quic/cid-shim.c). The ngtcp2 example client fetches through
// the gateway from every server, then migrates to a new source port mid-connection: with quic the
// download completes from the same server; without it the migrated path lands on another server,
// which cannot decrypt it, and the download never completes (the control: the test can fail).
// Needs root and the lab's tools; run under `flock /tmp/pc-lab.lock` like every lab test.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { LOCAL_ADDRESSES, REAL_SERVERS, VIP } from '../../src/lab/topology.js';
import { requireLab, sharedGateway } from '../support/e2e-lab.js';
import {
  prepareQuicTools, quicFetch, startQuicServer, stopQuicServers, type QuicServer, type QuicTools,
} from '../support/quic-lab.js';

const QUIC_PORT = 4433;
const PLAIN_PORT = 4434;
const QUIC_IDS = [0x0a01, 0x0a02, 0x0a03];
const BIG_BYTES = 8_000_000;

const e2e = suite('e2e: QUIC routing by connection id, real ngtcp2 client and servers');
e2e.before(requireLab);

const gateway = sharedGateway();
const running = () => gateway.running();
let workDir = '';
let tools: QuicTools | undefined;
const servers: QuicServer[] = [];

e2e.after(async () => {
  try {
    await stopQuicServers(servers);
  } finally {
    await gateway.stop();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  }
});

async function quicEvent(name: string): Promise<number> {
  const stats = await running().api.call('Stats', 'GetStats', {}) as { events: Record<string, string | number> };
  return Number(stats.events[name] ?? 0);
}

interface Listed { client: string; clientPort: number; virtualPort: number; server: string }

/** The gateway's connections to VIP:port, by client port. */
async function connectionsTo(port: number): Promise<Map<number, string>> {
  const byClientPort = new Map<number, string>();
  let cursor = '0';
  for (let pages = 0; pages < 100; pages++) {
    const page = await running().api.call('Stats', 'ListConnections', { cursor, limit: 4096 }) as { connections: Listed[]; nextCursor: string };
    for (const c of page.connections) if (c.virtualPort === port) byClientPort.set(c.clientPort, c.server);
    cursor = String(page.nextCursor);
    if (cursor === '0') break;
  }
  return byClientPort;
}

/** Servers of the connections that appeared since `before` (the fetch's first path and its migrated one). */
async function newConnectionServers(port: number, before: Map<number, string>): Promise<string[]> {
  const after = await connectionsTo(port);
  return [...after.entries()].filter(([clientPort]) => !before.has(clientPort)).map(([, server]) => server);
}

const serverName = (address: string) => REAL_SERVERS.find((s) => s.addresses[0] === address)?.serverName ?? address;

function service(port: number, quic: boolean) {
  return {
    key: { protocol: 'UDP', vip: VIP, port }, scheduler: 'rr', localAddresses: [...LOCAL_ADDRESSES], name: `e2e-quic-${port}`,
    quic,
    servers: REAL_SERVERS.map((server, i) => ({ address: server.addresses[0]!, port, weight: 1, quicId: QUIC_IDS[i]! })),
  };
}

const need = () => {
  if (!tools) throw new Error('the QUIC tools were not prepared (the first test failed)');
  return tools;
};

e2e('the lab comes up; ngtcp2 servers on every real server; three fetches reach rs1, rs2 and rs3', async () => {
  const { api } = await gateway.start();
  workDir = await mkdtemp(join(tmpdir(), 'portcullis-quic-'));
  tools = await prepareQuicTools(workDir);
  for (const port of [QUIC_PORT, PLAIN_PORT]) {
    for (const [i, host] of REAL_SERVERS.entries()) servers.push(await startQuicServer(tools, workDir, host, port, QUIC_IDS[i]!, BIG_BYTES));
    await api.call('VirtualServices', 'CreateVirtualService', { service: service(port, port === QUIC_PORT) });
  }
  const seen: string[] = [];
  for (let i = 0; i < 3; i++) {
    const fetched = await quicFetch(tools, workDir, VIP, QUIC_PORT, ['whoami'], { tag: `plain-${i}` });
    assert.ok(fetched.files['whoami'], `fetch ${i} got nothing (exit ${fetched.result.code}): ${fetched.result.stderr.slice(-1500)}`);
    seen.push(fetched.files['whoami']!.toString());
  }
  assert.equal(new Set(seen), new Set(['rs1', 'rs2', 'rs3']), `answers: ${seen.join(' ')}`);
});

e2e('quic: true — the client migrates to a new port mid-download and completes from the same server', async () => {
  const routedBefore = await quicEvent('quic_routed_by_id');
  const connsBefore = await connectionsTo(QUIC_PORT);
  const fetched = await quicFetch(need(), workDir, VIP, QUIC_PORT, ['whoami', 'big'], { migrateAfterMs: 100, tag: 'migrate-quic' });
  const tail = fetched.result.stderr.split('\n').filter((l) => !/^I\d+ /.test(l)).slice(-40).join('\n');
  assert.ok(fetched.migrated, `the client never changed its local address (exit ${fetched.result.code}): ${tail}`);
  assert.is(fetched.result.code, 0, `client exit: ${tail}`);
  const name = fetched.files['whoami']?.toString();
  assert.ok(name && ['rs1', 'rs2', 'rs3'].includes(name), `whoami: ${String(name)}`);
  const big = fetched.files['big'];
  assert.ok(big, `big file missing: ${tail}`);
  assert.is(big.length, BIG_BYTES, 'the whole download');
  assert.ok(big.every((b) => b === name.charCodeAt(2)), `every byte from ${name}: the same server before and after the move`);
  const routed = (await quicEvent('quic_routed_by_id')) - routedBefore;
  assert.ok(routed >= 1, `quic_routed_by_id moved by ${routed}`);
  const paths = (await newConnectionServers(QUIC_PORT, connsBefore)).map(serverName);
  assert.equal(paths, [name, name], 'two client ports (before and after the move), one server');
});

e2e('without quic: the same migration lands on another server and the download never completes', async () => {
  const routedBefore = await quicEvent('quic_routed_by_id');
  const connsBefore = await connectionsTo(PLAIN_PORT);
  const fetched = await quicFetch(need(), workDir, VIP, PLAIN_PORT, ['whoami', 'big'],
    { migrateAfterMs: 100, idleTimeoutS: 3, tag: 'migrate-plain' });
  const tail = fetched.result.stderr.split('\n').filter((l) => !/^I\d+ /.test(l)).slice(-40).join('\n');
  assert.ok(fetched.migrated, `the client never changed its local address, nothing was tested (exit ${fetched.result.code}): ${tail}`);
  assert.ok((fetched.files['big']?.length ?? 0) < BIG_BYTES, `the download completed although the path moved to another server: ${tail}`);
  assert.is((await quicEvent('quic_routed_by_id')) - routedBefore, 0);
  const paths = await newConnectionServers(PLAIN_PORT, connsBefore);
  assert.is(paths.length, 2, `connections of the two client ports: ${paths.join(' ')}`);
  assert.is.not(paths[0], paths[1], 'rr sent the migrated port to another server');
});

e2e.run();
