// Writes a seed corpus for dataplane/fuzz/pipeline_fuzz.cpp: inputs in its record format
// ([control][length hi][length lo][frame]) made of valid lab traffic (a TCP handshake, UDP, ICMP,
// ARP) and frames from the seeded malformed-frame generator, so the fuzzer starts deep in the
// pipeline instead of rediscovering Ethernet. Usage: tsx scripts/fuzz-seeds.ts <dir> [count]
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLIENT, clientTcp, clientUdp, echoRequest, arpRequest, frameFrom, seededRandom, type PortName } from '../test/support/golden.js';
import { randomFrame } from '../test/support/random-frames.js';

const ANSWER_ARP = 2;

function record(port: PortName, frame: Buffer, control = ANSWER_ARP): Buffer {
  const header = Buffer.from([(port === 'inside' ? 1 : 0) | control, frame.length >> 8, frame.length & 0xff]);
  return Buffer.concat([header, frame]);
}

const dir = process.argv[2];
if (!dir) throw new Error('usage: tsx scripts/fuzz-seeds.ts <dir> [count]');
const count = Number(process.argv[3] ?? 200);
mkdirSync(dir, { recursive: true });

const handcrafted: Buffer[] = [
  record('outside', clientTcp(40000, { flags: 'S', seq: 1, options: [{ kind: 'mss', value: 1460 }] })),
  Buffer.concat([
    record('outside', clientTcp(40001, { flags: 'S', seq: 1 })),
    record('outside', clientTcp(40001, { flags: 'A', seq: 2, ack: 1 })),
    record('outside', clientTcp(40001, { flags: 'PA', seq: 2, ack: 1, payload: Buffer.from('GET / HTTP/1.0\r\n\r\n') })),
  ]),
  record('outside', clientTcp(40002, { flags: 'S', seq: 1, options: [{ kind: 'mss', value: 1460 }, { kind: 'sackPermitted' }] }, undefined, 443)),
  record('outside', clientUdp(5000, Buffer.from('ping'))),
  record('outside', echoRequest('198.18.0.10', 1, 1, Buffer.from('echo'))),
  record('inside', arpRequest('inside', '198.19.0.1', '198.19.0.200')),
  // TCP :8080: rr over a NAT, a DR and a TUN server; the NAT server's reply to the client;
  // a full-size DF segment that no longer fits once tunnelled.
  Buffer.concat([
    ...[40010, 40011, 40012].map((cport) => record('outside', clientTcp(cport, { flags: 'S', seq: 1 }, undefined, 8080))),
    record('inside', frameFrom('inside', '198.19.0.1', CLIENT, { tcp: { srcPort: 8080, dstPort: 40010, flags: 'SA', seq: 9, ack: 2 } })),
    record('outside', frameFrom('outside', CLIENT, '198.18.0.10',
      { tcp: { srcPort: 40012, dstPort: 8080, flags: 'A', seq: 2, ack: 1, payload: Buffer.alloc(1460, 0x61) } }, { dontFragment: true })),
  ]),
];
handcrafted.forEach((input, i) => writeFileSync(join(dir, `seed-lab-${i}`), input));

const rnd = seededRandom(0xf022);
for (let i = 0; i < count; i++) {
  const frames = Array.from({ length: 1 + Math.floor(rnd() * 4) }, () => randomFrame(rnd));
  writeFileSync(join(dir, `seed-random-${i}`), Buffer.concat(frames.map((f) => record(f.port, f.frame))));
}
console.log(`fuzz-seeds: ${handcrafted.length + count} inputs in ${dir}`);
