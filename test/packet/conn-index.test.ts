// The connection index (dataplane/pipeline/conn/conn.h): keyless 7-slot buckets, a full bucket
// spills into the next ones and each bucket counts what spilled past it. Random tuples rarely
// fill a bucket, so this test picks client ports whose client tuples all hash to ONE bucket
// (the same CRC32-C as conn_hash), forcing a chain of spills, then checks that every flow in
// the chain still translates both ways, and that removing entries from the middle of the chain
// (expiry of half-open flows) leaves the later ones reachable.
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import {
  CLIENT, IPVS_TIMEOUTS, VIP, clientSegment, clientTcp, expectEvents, labConfig, only, openTcp, serverSegment,
  withLab, type Flow, type Lab,
} from '../support/golden.js';

const CAPACITY = 64;  // conn.cpp sizes 2 * 64 entries at <= 75% load: 32 buckets
const BUCKETS = 32;

// CRC32-C (Castagnoli, reflected 0x82F63B78) with no pre/post inversion: what the SSE4.2
// crc32 instruction computes, i.e. rte_hash_crc_8byte(data, init).
const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  return c >>> 0;
});
function crc32c8(bytes: Buffer, init: number): number {
  let crc = init >>> 0;
  for (const b of bytes) crc = (CRC_TABLE[(crc ^ b) & 0xff]! ^ (crc >>> 8)) >>> 0;
  return crc;
}

/** An IPv4 address as the data plane holds it: IPv4-mapped, ::ffff:a.b.c.d (common/ip_address.h). */
function ipBytes(ip: string): Buffer {
  return Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...ip.split('.').map(Number)]);
}

/** conn_hash(FlowKey).bucket of the client tuple CLIENT:cport -> VIP:80/TCP, modulo BUCKETS. */
function clientBucket(cport: number): number {
  const key = Buffer.alloc(40);  // src_addr, dst_addr (16 bytes each), src_port, dst_port (network order), protocol, pad
  ipBytes(CLIENT).copy(key, 0);
  ipBytes(VIP).copy(key, 16);
  key.writeUInt16BE(cport, 32);
  key.writeUInt16BE(80, 34);
  key[36] = 6;
  let crc = 0x9e3779b9;
  for (let word = 0; word < 40; word += 8) crc = crc32c8(key.subarray(word, word + 8), crc);
  return crc % BUCKETS;
}

/** count client ports (from 20000 on) whose client tuples share one home bucket. */
function sameBucketPorts(count: number): number[] {
  const byBucket = new Map<number, number[]>();
  for (let cport = 20000; ; cport++) {
    const bucket = clientBucket(cport);
    const ports = byBucket.get(bucket) ?? [];
    ports.push(cport);
    byBucket.set(bucket, ports);
    if (ports.length === count) return ports;
  }
}

function assertForwards(lab: Lab, flow: Flow, what: string): void {
  const payload = Buffer.from(what);
  only(lab.forward('outside', clientSegment(flow, { flags: 'PA', payload })).inside, `${what}: client -> server`);
  only(lab.forward('inside', serverSegment(flow, { flags: 'PA', payload })).outside, `${what}: server -> client`);
}

test('conn index: a chain of 20 spilled entries translates both ways, and survives removals from its middle', async () => {
  const ports = sameBucketPorts(20);
  await withLab((lab) => {
    // Alternate: even positions become established flows, odd ones stay half-open (SYN only).
    const established: Flow[] = [];
    for (const [i, cport] of ports.entries()) {
      if (i % 2 === 0) established.push(openTcp(lab, cport));
      else only(lab.forward('outside', clientTcp(cport, { flags: 'S', seq: 7 })).inside, `SYN ${cport}`);
    }
    assert.is(lab.stats().connections, ports.length);
    for (const flow of established) assertForwards(lab, flow, `chain flow ${flow.cport}`);

    // Half-open flows expire (SYN_RECV) from between the established ones; the rest must still be found.
    lab.advance(IPVS_TIMEOUTS.tcpSynRecv + 1);
    assert.is(lab.stats().connections, established.length);
    for (const flow of established) assertForwards(lab, flow, `after removals ${flow.cport}`);

    // The freed slots take new flows on the same tuples again.
    const drops = lab.counterDelta(() => {
      for (const [i, cport] of ports.entries())
        if (i % 2 === 1) only(lab.forward('outside', clientTcp(cport, { flags: 'S', seq: 9 })).inside, `SYN again ${cport}`);
    });
    expectEvents(drops, { conns_created: ports.length / 2 });
    assert.is(lab.stats().connections, ports.length);
  }, labConfig(), { connCapacity: CAPACITY });
});

test.run();
