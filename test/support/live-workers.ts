// Child process of test/api/workers-live.test.ts: the data plane in LIVE mode with three
// worker lcores sharing one CPU (EAL --lcores 0@0,1@1,2@1,3@1, adaptive polling) on ring
// ports. This process is the rings' far end: it injects client SYNs on one worker's queue
// and the servers' SYN-ACKs on ANOTHER worker's queue, answers ARP, and prints one JSON
// line with what came out and the counters. Its own process because live mode gives EAL
// up at stop() (DPDK cannot start again in a process).
import { ealArgs, loadDataplane } from '../../src/dataplane/addon.js';
import type { DataplaneAddon } from '../../src/dataplane/types.js';
import { CLIENT, PORT_MAC, PORTS, arpReply, clientTcp, labConfig, serverTcp, type PortName } from './golden.js';
import { ARP_OP, decodeFrame, type DecodedFrame } from './packet.js';

const WORKERS = 3;
const FLOWS = 30;
const WAIT_MS = 5_000;  // per expected frame; a bound on a failure, not a performance figure
const ARP_QUEUE = 2;    // any queue will do: every worker gets a copy of an ARP reply

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Captures `port` until a non-ARP frame appears (answering ARP requests meanwhile). */
async function nextFrame(dp: DataplaneAddon, port: PortName, pending: Record<PortName, DecodedFrame[]>): Promise<DecodedFrame> {
  const deadline = Date.now() + WAIT_MS;
  while (Date.now() < deadline) {
    for (const p of PORTS) {
      for (const raw of dp.capture(p)) {
        const frame = decodeFrame(Buffer.from(raw));
        if (frame.arp?.op === ARP_OP.REQUEST) dp.inject(p, [arpReply(frame, p)], ARP_QUEUE);
        else pending[p].push(frame);
      }
    }
    const frame = pending[port].shift();
    if (frame) return frame;
    await sleep(1);
  }
  throw new Error(`no frame on ${port} within ${WAIT_MS} ms`);
}

async function main(): Promise<void> {
  const dp = loadDataplane();
  const eal = ealArgs({ lcores: '0@0,1@1,2@1,3@1', memoryMb: 256, hugepages: 'off', logLevel: 'lib.eal:error' });
  dp.start({
    mode: 'live', eal: eal.args, workers: WORKERS, polling: 'adaptive', connCapacity: 65536, mbufs: 8191,
    ports: PORTS.map((name) => ({ name, device: 'ring', mac: PORT_MAC[name] })),
  });
  try {
    const { version } = dp.apply(labConfig());
    const deadline = Date.now() + WAIT_MS;
    while (dp.stats().workerVersions.some((v) => v !== version) && Date.now() < deadline) await sleep(1);

    const pending: Record<PortName, DecodedFrame[]> = { outside: [], inside: [] };
    const flows: { synQueue: number; lport: number; replyQueue: number; toClient: DecodedFrame }[] = [];
    for (let i = 0; i < FLOWS; i++) {
      const cport = 52000 + i;
      const synQueue = i % WORKERS;
      dp.inject('outside', [clientTcp(cport, { flags: 'S', seq: 1000, options: [{ kind: 'mss', value: 1460 }] })], synQueue);
      const syn = await nextFrame(dp, 'inside', pending);
      const lport = syn.tcp!.srcPort;
      const replyQueue = (lport + 1) % WORKERS;  // never the owner (lport % WORKERS)
      dp.inject('inside', [serverTcp(syn.ipv4!.dst, 80, syn.ipv4!.src, lport,
        { flags: 'SA', seq: 50000, ack: 1001, options: [{ kind: 'mss', value: 1460 }] })], replyQueue);
      flows.push({ synQueue, lport, replyQueue, toClient: await nextFrame(dp, 'outside', pending) });
    }
    // Hand-offs are counted by the receiving worker before the owner takes them: wait until both agree.
    const settle = Date.now() + WAIT_MS;
    let stats = dp.stats();
    while (stats.events.redirected_in !== stats.events.redirected_out && Date.now() < settle) {
      await sleep(1);
      stats = dp.stats();
    }
    // Page through all three live workers 7 at a time; 65536 records a worker = 64 scans each,
    // every one on the worker's own thread.
    const listed: string[] = [];
    let cursor = 0;
    let pages = 0;
    const listingStart = process.hrtime.bigint();
    do {
      const page = dp.connections(cursor, 7);
      listed.push(...page.connections.map((c) => `${c.client}:${c.clientPort}`));
      cursor = page.nextCursor;
      pages++;
    } while (cursor !== 0 && pages < 1000);
    const listingMs = Number(process.hrtime.bigint() - listingStart) / 1e6;
    const { workerListingScans: listing, tscHz } = dp.stats();
    console.log(JSON.stringify({
      client: CLIENT,
      flows: flows.map((f) => ({
        synQueue: f.synQueue, lport: f.lport, replyQueue: f.replyQueue,
        to: { dst: f.toClient.ipv4?.dst, src: f.toClient.ipv4?.src, sport: f.toClient.tcp?.srcPort, dport: f.toClient.tcp?.dstPort,
          flags: f.toClient.tcp?.flagNames, ipOk: f.toClient.ipv4?.checksumOk, tcpOk: f.toClient.tcp?.checksumOk },
      })),
      events: stats.events, drops: stats.drops, connections: new Set(listed).size, listed: listed.length, pages, listing, listingMs, tscHz,
      workerVersions: stats.workerVersions,
      ports: dp.ports(),
    }));
  } finally {
    dp.stop();
  }
}

main().catch((error: unknown) => {
  console.log(JSON.stringify({ error: error instanceof Error ? error.stack ?? error.message : String(error) }));
  process.exitCode = 1;
});
