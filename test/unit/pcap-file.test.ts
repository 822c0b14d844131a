// The pcap files `portcullis capture` writes (src/cli/pcap-file.ts), read back by the real
// tcpdump: header fields, timestamps, a truncated packet (snaplen) with its original length.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { pcapHeader, PcapWriter } from '../../src/cli/pcap-file.js';
import { requireTool } from '../support/e2e-lab.js';
import { buildFrame } from '../support/packet.js';

const frame = buildFrame({
  eth: { src: '02:00:00:00:00:01', dst: '02:00:00:00:00:02', type: 0x0800 },
  ipv4: { src: '198.18.0.1', dst: '198.18.0.10' },
  tcp: { srcPort: 40000, dstPort: 80, flags: 'S', seq: 7 },
});

test('the global header: magic, version 2.4, snaplen, LINKTYPE_ETHERNET', () => {
  const h = pcapHeader(2048);
  assert.equal([h.length, h.readUInt32LE(0), h.readUInt16LE(4), h.readUInt16LE(6), h.readUInt32LE(16), h.readUInt32LE(20)],
    [24, 0xa1b2c3d4, 2, 4, 2048, 1]);
});

test('tcpdump reads what PcapWriter wrote: times, a whole frame and a truncated one', () => {
  const tcpdump = requireTool('tcpdump', 'tcpdump');
  const dir = mkdtempSync(join(tmpdir(), 'pc-pcap-'));
  try {
    const file = join(dir, 'two.pcap');
    const writer = new PcapWriter(file, 2048);
    const at = Date.UTC(2026, 0, 2, 3, 4, 5) * 1000 + 678901;  // µs
    writer.append([{ timeUs: at, wireLength: frame.length, data: frame }]);
    writer.append([{ timeUs: at + 1, wireLength: frame.length, data: frame.subarray(0, 40) }]);
    writer.close();
    const bytes = readFileSync(file);
    assert.is(bytes.length, 24 + 16 + frame.length + 16 + 40);
    const out = execFileSync(tcpdump, ['-r', file, '-nn', '-tt', '-e'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const lines = out.trim().split('\n');
    assert.is(lines.length, 2, out);
    assert.match(lines[0]!, new RegExp(`^${Math.floor(at / 1e6)}\\.678901 02:00:00:00:00:01 > 02:00:00:00:00:02, .*length ${frame.length}: 198\\.18\\.0\\.1\\.40000 > 198\\.18\\.0\\.10\\.80: Flags \\[S\\]`));
    assert.match(lines[1]!, /\.678902 .*length 54: .*\[\|tcp\]/, 'truncated at 40 bytes, its original length kept');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
