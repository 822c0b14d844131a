// Hashing schedulers over IPv6 as IPVS hashes them: ip_vs_sh/dh/mh fold an IPv6 address into one
// 32-bit key as the XOR of its four 32-bit words (network order, then ntohl), so every bit of the
// address moves the key; lblc/lblcr key by the destination, which is the VIP. Expected servers are
// computed here from that definition, as schedulers-ipvs.test.ts does for IPv4.
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import type { DataplaneConfig, DataplaneService } from '../../src/dataplane/types.js';
import { IPVS_TIMEOUTS, LIPS6, SERVERS6, VIP6, dualStackConfig, frameFrom6, only, withLab, type Lab } from '../support/golden.js';
import { ip6 } from '../support/packet.js';

function schedConfig(scheduler: DataplaneService['scheduler']): DataplaneConfig {
  return dualStackConfig((c) => {
    c.services.push({
      id: 61, protocol: 'tcp', vip: VIP6, port: 80, scheduler, localAddresses: [...LIPS6], timeouts: { ...IPVS_TIMEOUTS },
      servers: SERVERS6.map((address, i) => ({ id: 61 + i, address, port: 80, weight: 1 })),
    });
  });
}

function serverFor(lab: Lab, client: string, cport: number): string {
  const out = lab.forward('outside', frameFrom6('outside', client, VIP6, { tcp: { srcPort: cport, dstPort: 80, flags: 'S', seq: 1 } }));
  return only(out.inside, `SYN from ${client}`).ipv6!.dst;
}

/** IPVS's IPv6 key: ntohl(w0 ^ w1 ^ w2 ^ w3) over the address's four network-order words. */
function fold(address: string): number {
  const b = ip6(address);
  return (b.readUInt32BE(0) ^ b.readUInt32BE(4) ^ b.readUInt32BE(8) ^ b.readUInt32BE(12)) >>> 0;
}

// Clients that differ only in their top 64 bits (same interface id ::1): a fold of the low words
// alone, or of the last word as IPv4 uses, would give them all one server.
const CLIENTS = Array.from({ length: 12 }, (_, i) => `2001:db8:${(0x100 + i * 37).toString(16)}:${i}::1`);

test('sh over IPv6: server = hash_32(fold(client), 8) % 3, the same on every port; the top 64 bits count', async () => {
  const expected = CLIENTS.map((c) => SERVERS6[((Math.imul(fold(c), 0x61c88647) >>> 24) & 255) % 3]!);
  assert.ok(new Set(expected).size === 3, `the chosen clients spread by definition: ${expected.join(' ')}`);
  await withLab((lab) => {
    assert.equal(CLIENTS.map((c, i) => serverFor(lab, c, 41000 + i)), expected);
    assert.equal([1, 2, 3].map((k) => serverFor(lab, CLIENTS[4]!, 42000 + k)), [expected[4], expected[4], expected[4]]);
  }, schedConfig('sh'));
});

test('dh over IPv6: every client goes to the server the VIP hashes to, (fold(VIP6) * 2654435761) & 255 % 3', async () => {
  const bucket = Number((BigInt(fold(VIP6)) * 2654435761n) & 255n);
  const expected = SERVERS6[bucket % 3]!;
  await withLab((lab) => {
    assert.equal(CLIENTS.slice(0, 4).map((c, i) => serverFor(lab, c, 43000 + i)), [expected, expected, expected, expected]);
  }, schedConfig('dh'));
});

test('mh over IPv6: deterministic per client (other ports, another lab), and clients differing only in the top 64 bits spread', async () => {
  let first: string[] = [];
  await withLab((lab) => {
    first = CLIENTS.map((c, i) => serverFor(lab, c, 44000 + i));
    assert.equal([1, 2].map((k) => serverFor(lab, CLIENTS[0]!, 44100 + k)), [first[0], first[0]]);
  }, schedConfig('mh'));
  assert.ok(new Set(first).size >= 2, `spread over the servers: ${first.join(' ')}`);
  await withLab((lab) => {
    assert.equal(CLIENTS.map((c, i) => serverFor(lab, c, 45000 + i)), first, 'the same table in a fresh data plane');
  }, schedConfig('mh'));
});

test.run();
