// Ownership sync between cluster nodes (src/cluster/flow-sync.ts) over real UDP sockets on
// loopback: gw1 = 127.0.0.1, gw2 = 127.0.0.2 (all of 127/8 is local on Linux), forgers elsewhere.
// The data plane's two calls are a recording double here; the golden tests drive the real ones.
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { createSocket, type Socket } from 'node:dgram';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FlowSync, readSyncKey, type FlowSyncCounters, type FlowSyncDataplane } from '../../src/cluster/flow-sync.js';
import { decodeSyncMessage, encodeSyncMessage, RECORD_BYTES } from '../../src/cluster/flow-sync-wire.js';
import type { ClusterSettings } from '../../src/config/cluster-types.js';

const KEY = Buffer.from('0123456789abcdef0123456789abcdef-shared');
const PORT = 20000 + Math.floor(Math.random() * 30000);

function cluster(node: string): Pick<ClusterSettings, 'node' | 'nodes' | 'sync'> {
  return {
    node,
    nodes: [{ name: 'gw1', address: '127.0.0.1' }, { name: 'gw2', address: '127.0.0.2' }],
    sync: { keyFile: '/unused', port: PORT, foreignFlows: 1024 },
  };
}

/** Records the data plane would hand out, and what it was given. */
class RecordingDataplane implements FlowSyncDataplane {
  pending: Buffer = Buffer.alloc(0);
  learned: { records: Buffer; owner: number }[] = [];
  room = Infinity;
  ownershipDrain(max = 65536): Buffer {
    const take = this.pending.subarray(0, max * RECORD_BYTES);
    this.pending = this.pending.subarray(take.length);
    return Buffer.from(take);
  }
  foreignLearn(records: Buffer, owner: number): number {
    this.learned.push({ records: Buffer.from(records), owner });
    const count = records.length / RECORD_BYTES;
    return Math.min(count, this.room);
  }
  learnedRecords(): number {
    return this.learned.reduce((n, l) => n + l.records.length / RECORD_BYTES, 0);
  }
}

/** n distinct 40-byte records: client 198.18.0.x:port → VIP 198.18.0.10:80, TCP. */
function records(n: number, first = 0): Buffer {
  const out = Buffer.alloc(n * RECORD_BYTES);
  for (let i = 0; i < n; i++) {
    const r = out.subarray(i * RECORD_BYTES);
    r.writeUInt16BE(0xffff, 10);
    r.writeUInt32BE((198 << 24 | 18 << 16 | ((first + i) >> 8 & 0xff) << 8 | (first + i) & 0xff) >>> 0, 12);
    r.writeUInt16BE(0xffff, 26);
    r.writeUInt32BE((198 << 24 | 18 << 16 | 10) >>> 0, 28);
    r.writeUInt16BE(10000 + first + i, 32);
    r.writeUInt16BE(80, 34);
    r.writeUInt8(6, 36);
  }
  return out;
}

async function rejection(fn: () => Promise<unknown>): Promise<string> {
  try {
    await fn();
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('expected a rejection');
}

async function until(what: string, check: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function sender(address: string): Promise<Socket> {
  const s = createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.bind({ address, port: 0 }, () => resolve());
  });
  return s;
}

async function send(from: Socket, datagram: Buffer, to = '127.0.0.2'): Promise<void> {
  await new Promise<void>((resolve, reject) => from.send(datagram, PORT, to, (e) => (e ? reject(e) : resolve())));
}

/** gw2 listening, a socket on `from` to forge with; always closed. */
async function withReceiver(from: string,
  fn: (gw2: FlowSync, dp: RecordingDataplane, forger: Socket) => Promise<void>, now?: () => number): Promise<void> {
  const dp = new RecordingDataplane();
  const gw2 = new FlowSync({ cluster: cluster('gw2'), key: KEY, dataplane: dp, ...(now ? { now } : {}) });
  let forger: Socket | undefined;
  try {
    await gw2.start();
    forger = await sender(from);
    await fn(gw2, dp, forger);
  } finally {
    forger?.close();
    await gw2.stop();
  }
}

function message(sequence: bigint, opts: { sender?: string; timestampMs?: number; key?: Buffer; count?: number } = {}): Buffer {
  return encodeSyncMessage({
    sender: opts.sender ?? 'gw1', sequence, timestampMs: opts.timestampMs ?? Date.now(), records: records(opts.count ?? 1),
  }, opts.key ?? KEY);
}

function rejected(c: FlowSyncCounters): Record<string, number> {
  return Object.fromEntries(Object.entries(c).filter(([k, v]) => k.startsWith('sync_rejected_') && v > 0));
}

test('two nodes exchange ownership records both ways: owner = the sender\'s node index, counted', async () => {
  const dp1 = new RecordingDataplane();
  const dp2 = new RecordingDataplane();
  const gw1 = new FlowSync({ cluster: cluster('gw1'), key: KEY, dataplane: dp1, intervalMs: 10 });
  const gw2 = new FlowSync({ cluster: cluster('gw2'), key: KEY, dataplane: dp2, intervalMs: 10 });
  try {
    await gw1.start();
    await gw2.start();
    dp1.pending = records(100);        // 4 messages of ≤ 32
    dp2.pending = records(5, 1000);
    await until('gw2 learns 100', () => dp2.learnedRecords() === 100);
    await until('gw1 learns 5', () => dp1.learnedRecords() === 5);
    assert.ok(dp2.learned.every((l) => l.owner === 0), 'gw1 is node 0');
    assert.ok(dp1.learned.every((l) => l.owner === 1), 'gw2 is node 1');
    assert.equal(Buffer.concat(dp2.learned.map((l) => l.records)), records(100), 'records arrive unchanged, in order');
    const c1 = gw1.snapshot();
    const c2 = gw2.snapshot();
    assert.is(c1.sync_messages_sent, 4);
    assert.is(c1.sync_records_sent, 100);
    assert.is(c2.sync_messages_received, 4);
    assert.is(c2.sync_records_received, 100);
    assert.is(c2.sync_records_learned, 100);
    assert.is(c2.sync_messages_sent, 1);
    assert.is(c1.sync_records_learned, 5);
    assert.equal(rejected(c1), {});
    assert.equal(rejected(c2), {});
  } finally {
    await gw1.stop();
    await gw2.stop();
  }
});

test('records the data plane has no room for are counted (sync_records_dropped)', async () => {
  await withReceiver('127.0.0.1', async (gw2, dp, forger) => {
    dp.room = 3;
    await send(forger, message(BigInt(Date.now()) * 1000n, { count: 10 }));
    await until('message taken', () => gw2.snapshot().sync_messages_received === 1);
    assert.is(gw2.snapshot().sync_records_learned, 3);
    assert.is(gw2.snapshot().sync_records_dropped, 7);
  });
});

test('forged MAC (another key, or a flipped bit) is rejected: sync_rejected_bad_mac, nothing learned', async () => {
  await withReceiver('127.0.0.1', async (gw2, dp, forger) => {
    await send(forger, message(1n, { key: Buffer.alloc(32, 7) }));
    const good = message(2n);
    good[good.length - 50]! ^= 1;  // inside a record
    await send(forger, good);
    await until('two rejections', () => gw2.snapshot().sync_rejected_bad_mac === 2);
    assert.is(dp.learned.length, 0);
    assert.is(gw2.snapshot().sync_messages_received, 0);
  });
});

test('replayed message and one older than the window are rejected (sync_rejected_replayed); reordering within it is taken', async () => {
  await withReceiver('127.0.0.1', async (gw2, dp, forger) => {
    const base = 1_000_000n;
    await send(forger, message(base + 100n));
    await send(forger, message(base + 100n));  // the same again: a replay
    await send(forger, message(base + 90n));   // late but inside the 64-wide window: taken once
    await send(forger, message(base + 90n));   // replayed
    await send(forger, message(base + 30n));   // older than the window
    await until('five judged', () => {
      const c = gw2.snapshot();
      return c.sync_messages_received + c.sync_rejected_replayed === 5;
    });
    assert.is(gw2.snapshot().sync_messages_received, 2);
    assert.is(gw2.snapshot().sync_rejected_replayed, 3);
    assert.is(dp.learnedRecords(), 2);
  });
});

test('unknown sender name (signed with the right key) is rejected: sync_rejected_unknown_node', async () => {
  await withReceiver('127.0.0.1', async (gw2, dp, forger) => {
    await send(forger, message(5n, { sender: 'gw9' }));
    await send(forger, message(6n, { sender: 'gw2' }));  // its own name coming back: not another node
    await until('rejections', () => gw2.snapshot().sync_rejected_unknown_node === 2);
    assert.is(dp.learned.length, 0);
  });
});

test('a sender name from an address that is not that node\'s is rejected: sync_rejected_wrong_source', async () => {
  await withReceiver('127.0.0.3', async (gw2, dp, forger) => {
    await send(forger, message(7n));
    await until('rejection', () => gw2.snapshot().sync_rejected_wrong_source === 1);
    assert.is(dp.learned.length, 0);
  });
});

test('a timestamp beyond the allowed skew (past or future) is rejected: sync_rejected_stale', async () => {
  await withReceiver('127.0.0.1', async (gw2, dp, forger) => {
    await send(forger, message(8n, { timestampMs: Date.now() - 60_000 }));
    await send(forger, message(9n, { timestampMs: Date.now() + 60_000 }));
    await until('rejections', () => gw2.snapshot().sync_rejected_stale === 2);
    assert.is(dp.learned.length, 0);
    // A stale message does not use up its sequence number's place: a fresh one with it is taken.
    await send(forger, message(9n));
    await until('taken', () => gw2.snapshot().sync_messages_received === 1);
  });
});

test('garbage of every shape is counted as malformed, nothing throws, and a good message is still taken after', async () => {
  await withReceiver('127.0.0.1', async (gw2, dp, forger) => {
    const good = message(10n, { count: 2 });
    const shapes = [
      Buffer.alloc(0), Buffer.from('x'), Buffer.alloc(2000, 0xff), good.subarray(0, 20), good.subarray(0, good.length - 1),
      Buffer.concat([good, Buffer.alloc(1)]), Buffer.concat([Buffer.from('XXXX'), good.subarray(4)]),
      (() => { const b = Buffer.from(good); b[4] = 2; return b; })(),            // version
      (() => { const b = Buffer.from(good); b[5] = 0; return b; })(),            // empty name
      (() => { const b = Buffer.from(good); b[5] = 200; return b; })(),          // name past the end
      (() => { const b = Buffer.from(good); b.writeUInt16BE(3, 6 + 3 + 16); return b; })(),  // count ≠ length
    ];
    for (let i = 0; i < 200; i++) shapes.push(Buffer.from(Array.from({ length: 1 + Math.floor(Math.random() * 300) }, () => Math.floor(Math.random() * 256))));
    // One at a time, each judged before the next: a burst of them would overflow the receiving
    // socket's buffer (the receiver shares this event loop) and lose datagrams before any check.
    const judged = () => { const c = gw2.snapshot(); return c.sync_rejected_malformed + c.sync_rejected_bad_mac; };
    for (const [i, shape] of shapes.entries()) {
      await send(forger, shape);
      await until(`shape ${i} judged`, () => judged() === i + 1);
    }
    await send(forger, good);
    await until('good one taken', () => gw2.snapshot().sync_messages_received === 1);
    const c = gw2.snapshot();
    assert.is(c.sync_rejected_malformed + c.sync_rejected_bad_mac, shapes.length, 'each one rejected, by exactly one reason');
    assert.ok(c.sync_rejected_malformed >= 11, `malformed ${c.sync_rejected_malformed}`);
    assert.is(dp.learnedRecords(), 2);
    // decode never throws on its own either
    for (const shape of shapes) assert.ok(!decodeSyncMessage(shape, KEY).ok);
  });
});

test('the key file: missing or shorter than 32 bytes is a clear error naming cluster.sync.key_file; whitespace trimmed', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pc-sync-key-'));
  try {
    assert.match(await rejection(() => readSyncKey(join(dir, 'none'))), /cluster\.sync\.key_file .*none: cannot read the shared key/);
    await writeFile(join(dir, 'short'), 'too-short\n');
    assert.match(await rejection(() => readSyncKey(join(dir, 'short'))), /cluster\.sync\.key_file .*short: the shared key is 9 bytes, at least 32/);
    await writeFile(join(dir, 'good'), `  ${KEY.toString()}\n`);
    assert.equal(await readSyncKey(join(dir, 'good')), KEY);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
test.run();
