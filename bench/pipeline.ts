// `npm run bench`: the pipeline benchmark of DESIGN.md §8. One worker on the
// caller's thread, two ring ports, pre-built frames; every figure comes from the
// TSC inside the addon and is reported next to the raw ring I/O baseline measured
// in the same process, so the ratio is what matters, not the absolute number.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadDataplane } from '../src/dataplane/addon.js';
import type { BenchResult, BenchScenario, DataplaneConfig, DataplaneDefense, DataplaneTimeouts } from '../src/dataplane/types.js';

const PACKETS = Number(process.env.BENCH_PACKETS ?? 20_000_000);
const FLOWS = Number(process.env.BENCH_FLOWS ?? 1024);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

const ipvsTimeouts: DataplaneTimeouts = {
  tcpEstablished: 900, tcpSynSent: 120, tcpSynRecv: 60, tcpFinWait: 120, tcpTimeWait: 120,
  tcpClose: 10, tcpCloseWait: 60, tcpLastAck: 30, udp: 300,
};

/**
 * Flood defences switched on but letting the benchmark's traffic through: 4096 global
 * deny entries that miss, and per-source and per-service UDP buckets too large to run
 * dry. What this costs per packet is what an on-call "limit udp" costs legit traffic.
 */
function passingDefense(): DataplaneDefense {
  const entries = Array.from({ length: 4096 }, (_, i) => ({ prefix: `10.${i >> 8}.${i & 255}.0/24`, action: 'deny' as const }));
  const open = { pps: 4_000_000_000, burst: 4_000_000_000 };
  return { acl: { entries }, services: [{ serviceId: 1, udpPerSource: open, udpPerService: open }] };
}

function benchConfig(protocol: 'tcp' | 'udp', defended = false, synproxy = false): DataplaneConfig {
  return {
    ...(defended ? { defense: passingDefense() } : {}),
    ports: [
      { name: 'outside', addresses: ['198.18.0.254/24'] },
      { name: 'inside', addresses: ['198.19.0.254/24'] },
    ],
    routes: [],
    services: [{
      id: 1, protocol, vip: '198.18.0.10', port: protocol === 'tcp' ? 80 : 7, scheduler: 'rr', synproxy,
      localAddresses: ['198.19.0.200', '198.19.0.201', '198.19.0.202', '198.19.0.203'],
      timeouts: ipvsTimeouts,
      servers: [1, 2, 3].map((n) => ({ id: n, address: `198.19.0.${n}`, port: protocol === 'tcp' ? 80 : 7, weight: 1 })),
    }],
  };
}

interface Row { scenario: string; cyclesPerPacket: number; mpps: number; ratioToIo: number }

function best(results: BenchResult[]): BenchResult {
  return results.reduce((a, b) => (b.cycles / b.packets < a.cycles / a.packets ? b : a));
}

function main(): void {
  const dp = loadDataplane();
  const eal = ['-l', '0', '--no-huge', '-m', '512', '--no-pci', '--no-shconf', '--no-telemetry', '--log-level=lib.eal:error'];
  const rows: Row[] = [];
  let ioCycles = 0;
  let tscHz = 0;
  const scenarios: { name: string; scenario: BenchScenario; protocol: 'tcp' | 'udp'; defended?: boolean; synproxy?: boolean }[] = [
    { name: 'raw ring I/O (baseline)', scenario: 'io', protocol: 'udp' },
    { name: 'established FullNAT, TCP', scenario: 'fullnat', protocol: 'tcp' },
    { name: 'established FullNAT, UDP', scenario: 'fullnat', protocol: 'udp' },
    { name: 'FullNAT UDP, defences on', scenario: 'fullnat', protocol: 'udp', defended: true },
    // Issue 10 goal: <= 250 cycles per SYN answered.
    { name: 'SYNPROXY cookie SYN-ACKs', scenario: 'synproxy', protocol: 'tcp', synproxy: true },
  ];
  for (const s of scenarios) {
    dp.start({
      mode: 'test', eal, workers: 1, polling: 'busy', connCapacity: FLOWS * 2, mbufs: 16383,
      ports: [
        { name: 'outside', device: 'ring', mac: '02:00:00:00:00:01' },
        { name: 'inside', device: 'ring', mac: '02:00:00:00:00:02' },
      ],
    });
    try {
      dp.apply(benchConfig(s.protocol, s.defended, s.synproxy));
      const runs: BenchResult[] = [];
      for (let r = 0; r < ROUNDS; r++) runs.push(dp.bench({ scenario: s.scenario, packets: PACKETS, flows: FLOWS }));
      const b = best(runs);
      tscHz = b.tscHz;
      const cpp = b.cycles / b.packets;
      if (s.scenario === 'io') ioCycles = cpp;
      rows.push({ scenario: s.name, cyclesPerPacket: cpp, mpps: b.tscHz / cpp / 1e6, ratioToIo: cpp / ioCycles });
    } finally {
      dp.stop();
    }
  }

  const line = (r: Row) =>
    `| ${r.scenario.padEnd(28)} | ${r.cyclesPerPacket.toFixed(1).padStart(14)} | ${r.mpps.toFixed(1).padStart(6)} | ${r.ratioToIo.toFixed(2).padStart(10)} |`;
  console.log(`pipeline benchmark: ${PACKETS} packets x best of ${ROUNDS}, ${FLOWS} flows, TSC ${(tscHz / 1e9).toFixed(2)} GHz`);
  console.log('| scenario                     | cycles/packet  |  Mpps  | × raw I/O  |');
  console.log('|------------------------------|----------------|--------|------------|');
  for (const r of rows) console.log(line(r));

  const here = dirname(fileURLToPath(import.meta.url));
  const outDir = join(here, '..', '..', 'bench', 'results');
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, 'pipeline-latest.json');
  writeFileSync(file, JSON.stringify({ date: new Date().toISOString(), packets: PACKETS, flows: FLOWS, tscHz, rows }, null, 2));
  console.log(`written ${file}`);
}

main();
