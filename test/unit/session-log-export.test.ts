// The control side of session logging (src/session-log/session-log.ts) over a real UDP socket on
// loopback and a real file: drained records reach the collector as IPFIX (templates first, again
// after template_refresh_s, RFC 7011 §8.4) and the file as JSON lines, with times placed on the
// wall clock from the drain's clock pair. The data plane's drain is a double handing out records
// laid out as dataplane/pipeline/conn/session_log.h writes them (the golden tests drive the real one).
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { createSocket } from 'node:dgram';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SessionLog, type SessionLogDataplane } from '../../src/session-log/session-log.js';
import { SESSION_RECORD_BYTES } from '../../src/session-log/records.js';
import { SESSION_LOG_DEFAULTS } from '../../src/session-log/settings.js';

function mapped(text: string): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt16BE(0xffff, 10);
  text.split('.').forEach((o, i) => { b[12 + i] = Number(o); });
  return b;
}

/** One record as the C++ SessionEvent lays it out (little-endian host fields, network-order ports). */
function rawRecord(kind: 1 | 2 | 3, cport: number, startUs: bigint, timeUs: bigint, counts = [0n, 0n, 0n, 0n]): Buffer {
  const r = Buffer.alloc(SESSION_RECORD_BYTES);
  mapped('198.18.0.1').copy(r, 0);
  mapped('198.18.0.10').copy(r, 16);
  mapped('198.19.0.200').copy(r, 32);
  mapped('198.19.0.1').copy(r, 48);
  r.writeUInt16BE(cport, 64); r.writeUInt16BE(80, 66); r.writeUInt16BE(1030, 68); r.writeUInt16BE(80, 70);
  r.writeBigUInt64LE(startUs, 72); r.writeBigUInt64LE(timeUs, 80);
  counts.forEach((v, i) => r.writeBigUInt64LE(v, 88 + 8 * i));
  r.writeUInt16LE(1, 120); r.writeUInt16LE(2, 122);
  r[124] = 6; r[125] = kind; r[126] = kind === 1 ? 0 : 5; r[127] = 0;
  return r;
}

class QueueDataplane implements SessionLogDataplane {
  pending: Buffer[] = [];
  nowUs = 10_000_000;
  sessionLogDrain(max = 65536): { records: Buffer; nowUs: number } {
    const taken = this.pending.splice(0, max);
    return { records: Buffer.concat(taken), nowUs: this.nowUs };
  }
}

test('records reach the collector (templates first, refreshed after template_refresh_s) and the JSON file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pc-session-export-'));
  const collector = createSocket('udp4');
  const received: Buffer[] = [];
  collector.on('message', (m) => received.push(m));
  await new Promise<void>((resolve) => collector.bind(0, '127.0.0.1', resolve));
  const port = collector.address().port;
  let wallMs = 1_796_000_000_000;
  const dp = new QueueDataplane();
  const log = new SessionLog({
    ipfix: [{ host: '127.0.0.1', port, protocol: 'udp', mtu: 1500 }], jsonFile: join(dir, 's.jsonl'),
    templateRefreshS: 60, observationDomain: 5, drainIntervalMs: SESSION_LOG_DEFAULTS.drainIntervalMs, jsonQueueLines: 100,
  }, dp, { now: () => wallMs });
  try {
    // Made 2 s before the drain's clock; ended 0.5 s before it; one predating logging (start 0).
    dp.pending.push(rawRecord(1, 40001, 8_000_000n, 8_000_000n), rawRecord(2, 40001, 8_000_000n, 9_500_000n, [4n, 3n, 300n, 900n]),
      rawRecord(3, 40002, 0n, 9_000_000n, [1n, 1n, 60n, 70n]));
    assert.is(log.tick(), 3);
    wallMs += 30_000;
    assert.is(log.tick(), 0, 'nothing new: no data message, templates not due');
    wallMs += 30_001;
    log.tick();
    await log.flush();
    await new Promise((resolve) => setTimeout(resolve, 200));
    const sets = received.map((m) => m.readUInt16BE(16));
    assert.equal(sets, [2, 256, 2], 'template set, one data message, the template set again after 60 s');
    const data = received[1]!;
    assert.is(data.readUInt32BE(8), 0, 'sequence before the first data records');
    assert.is(data.readUInt32BE(12), 5, 'observation domain');
    assert.is(received[2]!.readUInt32BE(8), 3, 'the refreshed templates carry the sequence after three records');
    // First record: flowStart/flowEnd = wall time of the drain less 2 s.
    assert.is(Number(data.readBigUInt64BE(20)), 1_796_000_000_000 - 2000);
    assert.is(Number(data.readBigUInt64BE(28)), 1_796_000_000_000 - 2000);
    await log.stop();
    const lines = (await readFile(join(dir, 's.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(lines.map((l) => [l.event, l.client_port, l.cause ?? null]), [['create', 40001, null], ['end', 40001, 'expired'], ['end', 40002, 'answered']]);
    assert.equal({ time: lines[1]!.time, start: lines[1]!.start, packets_in: lines[1]!.packets_in, packets_out: lines[1]!.packets_out,
      bytes_in: lines[1]!.bytes_in, bytes_out: lines[1]!.bytes_out, local: `${lines[1]!.local_addr}:${lines[1]!.local_port}`, state: lines[1]!.state },
    { time: new Date(1_796_000_000_000 - 500).toISOString(), start: new Date(1_796_000_000_000 - 2000).toISOString(),
      packets_in: 4, packets_out: 3, bytes_in: 300, bytes_out: 900, local: '198.19.0.200:1030', state: 'TIME_WAIT' });
    assert.is(lines[2]!.start, null, 'a connection that predates logging has no known start');
  } finally {
    await log.stop();
    collector.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('a drain buffer that is not whole records is refused and logged, never thrown at the timer', async () => {
  const dp = new QueueDataplane();
  const log = new SessionLog({ ipfix: [], jsonFile: '/dev/null', templateRefreshS: 60, observationDomain: 1, drainIntervalMs: 200, jsonQueueLines: 16 }, dp);
  dp.pending.push(Buffer.alloc(100));
  assert.is(log.tick(), 0);
  await log.stop();
});

test.run();
