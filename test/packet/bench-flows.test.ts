// The pipeline benchmark's realistic scenarios (bench/pipeline.ts rows "established FullNAT,
// 1 M flows, cold headers" and "complete TCP connection"), run small on the golden harness's
// ring ports: the simulated clients and servers must open every connection through the
// pipeline, every output must pass the bench's own checks (addresses, ports, checksums), and a
// data plane that rewrites wrongly must make the scenario fail rather than report a figure.
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import type { BenchResult, DataplaneConfig } from '../../src/dataplane/types.js';
import { labConfig, withLab } from '../support/golden.js';

const SIZES = { connCapacity: 8192 };

/** labConfig() with one service first: the bench runs the config's first service. */
function firstService(protocol: 'tcp' | 'udp', edit?: (config: DataplaneConfig) => void): DataplaneConfig {
  return labConfig((config) => {
    config.services = config.services.filter((s) => s.protocol === protocol);
    edit?.(config);
  });
}

type WithLeak = BenchResult & { mbufsLeaked: number };

function assertColdRow(r: WithLeak, connections: number): void {
  assert.is(r.outputErrors, 0, `wrong outputs: ${r.firstError}`);
  assert.is(r.connections, connections, 'live connections');
  assert.ok(r.packets >= 20_000, `${r.packets} packets`);
  assert.is(r.packetsOut, r.packets, 'one frame out per frame in');
  assert.is(r.outputChecked, r.packetsOut, 'every output compared with its flow');
  assert.is(r.dropped, 0, 'drops');
  assert.is(r.connsCreated, 0, 'new connections in the measured loop');
  assert.is(r.mbufsLeaked, 0, 'mbufs leaked');
  assert.ok(r.chunks >= 9 && r.chunkP10 <= r.chunkMedian && r.chunkMedian <= r.chunkP90, `chunks ${JSON.stringify(r)}`);
  assert.ok(r.wallNs > 0, 'wall time measured');
}

test('cold, TCP: 3000 connections opened through the pipeline, random flows both ways, every output right', async () => {
  await withLab(({ dp }) => {
    assertColdRow(dp.bench({ scenario: 'cold', packets: 20_000, flows: 1, connections: 3000 }) as WithLeak, 3000);
  }, firstService('tcp'), SIZES);
});

test('cold, UDP: the same over UDP connections', async () => {
  await withLab(({ dp }) => {
    assertColdRow(dp.bench({ scenario: 'cold', packets: 20_000, flows: 1, connections: 3000 }) as WithLeak, 3000);
  }, firstService('udp'), SIZES);
});

function assertWholeConnections(r: WithLeak, connections: number): void {
  assert.is(r.outputErrors, 0, `wrong outputs: ${r.firstError}`);
  assert.is(r.connections, connections, 'connections completed');
  assert.is(r.connsCreated, connections, 'connections created');
  // Steady state: as many freed by the wheel inside the loop as made, within a timer tick's worth.
  assert.ok(Math.abs(r.connsExpired - connections) <= 256, `${r.connsExpired} expired for ${connections}`);
  assert.is(r.packets, 7 * connections, 'seven packets into the data plane per connection');
  assert.is(r.outputChecked, r.packetsOut, 'every output checked');
  assert.is(r.dropped, 0, 'drops');
  assert.is(r.chunks, connections / 64, 'one chunk per batch of 64');
  assert.is(r.mbufsLeaked, 0, 'mbufs leaked');
}

test('connections: SYN, SYN-ACK, ACK, request, response, FIN each way, then expiry, all through the pipeline', async () => {
  await withLab(({ dp }) => {
    const r = dp.bench({ scenario: 'connections', packets: 1, flows: 1, connections: 640 }) as WithLeak;
    assertWholeConnections(r, 640);
    assert.is(r.packetsOut, r.packets, 'without SYNPROXY every packet in makes one out');
  }, firstService('tcp'), { connCapacity: 131_072 });
});

test('connections with SYNPROXY: the cookie handshake, the backend one and the held request as well', async () => {
  await withLab(({ dp }) => {
    const r = dp.bench({ scenario: 'connections', packets: 1, flows: 1, connections: 640 }) as WithLeak;
    assertWholeConnections(r, 640);
    // In: SYN, ACK, request, server SYN-ACK, response, FIN each way. Out: cookie SYN-ACK,
    // backend SYN, the handshake's ACK to the server, the held request, response, FIN each way.
    assert.is(r.packetsOut, 7 * 640, 'frames out');
  }, firstService('tcp', (config) => { config.services[0]!.synproxy = true; }), { connCapacity: 131_072 });
});

test('a data plane whose output is not FullNAT (servers forwarded -m, the client as source) fails the scenario', async () => {
  const nat = firstService('tcp', (config) => {
    for (const server of config.services[0]!.servers) server.forward = 'nat';
  });
  await withLab(({ dp }) => {
    assert.throws(() => dp.bench({ scenario: 'cold', packets: 2_000, flows: 1, connections: 300 }), /not from a LIP/);
    // The hot-cache rows count wrong outputs (bench/pipeline.ts then throws for the row).
    const hot = dp.bench({ scenario: 'fullnat', packets: 2_000, flows: 64 });
    assert.ok(hot.outputErrors > 0, 'wrong outputs counted');
    assert.match(hot.firstError, /not from a LIP/);
  }, nat, SIZES);
});

test('options.connections is checked: 0 and more than 4 M are refused naming the field', async () => {
  await withLab(({ dp }) => {
    assert.throws(() => dp.bench({ scenario: 'cold', packets: 1, flows: 1, connections: 0 }), /options\.connections/);
    assert.throws(() => dp.bench({ scenario: 'cold', packets: 1, flows: 1, connections: 5_000_000 }), /options\.connections/);
  }, firstService('tcp'), SIZES);
});

test.run();
