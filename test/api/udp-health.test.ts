// Health checks for UDP services on the REAL daemon: a UDP service with a dns check whose real
// servers are DNS servers on 127.0.0.1 (the probes go out through the host's stack). One server
// starts answering SERVFAIL: after `fall` rounds it is down (over gRPC, in GetStats and in the log;
// its configured weight kept), and back after `rise` once it answers NOERROR again. (That down means
// weight 0 in the data plane is the model's, the same for every kind: test/unit/health-check.test.ts.) The gRPC door takes udp, dns and
// icmp checks, reads them back, and refuses a dns check on a TCP service naming the field.
import { createSocket, type Socket } from 'node:dgram';
import * as grpc from '@grpc/grpc-js';
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { expectGrpcError } from '../support/expected-errors.js';
import { testConfig, withDaemon, type DaemonSession } from './daemon.js';
import { eventually } from '../support/eventually.js';

const SETTLE_MS = 5_000;
const dnsKey = { protocol: 'UDP' as const, vip: '198.18.0.53', port: 53 };

/** A DNS server on 127.0.0.1 answering every query with `rcode` (QR and RA set, question echoed). */
async function dnsServer(): Promise<{ socket: Socket; port: number; setRcode(rcode: number): void }> {
  const socket = createSocket('udp4');
  let rcode = 0;
  socket.on('message', (query, from) => {
    if (query.length < 12) return;
    const answer = Buffer.from(query);
    answer.writeUInt16BE((query.readUInt16BE(2) & 0x0100) | 0x8080 | rcode, 2);
    socket.send(answer, from.port, from.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return { socket, port: socket.address().port, setRcode: (value) => { rcode = value; } };
}

async function healthOf(api: DaemonSession['api']): Promise<string[]> {
  const service = await api.getVirtualService({ key: dnsKey });
  return service.servers.map((s) => `${s.port}:${s.health}:${s.weight}`);
}

test('a UDP service with a dns check: a server answering SERVFAIL goes down and comes back when it answers NOERROR', async () => {
  const steady = await dnsServer();
  const flaky = await dnsServer();
  try {
    const services = `
  - name: dns
    protocol: udp
    vip: ${dnsKey.vip}
    port: 53
    local_addresses: [198.19.0.200]
    health_check: { kind: dns, query_name: health.example., query_type: A, interval_ms: 200, timeout_ms: 100, rise: 2, fall: 2 }
    servers:
      - { address: 127.0.0.1, port: ${steady.port}, weight: 3 }
      - { address: 127.0.0.1, port: ${flaky.port}, weight: 4 }
`;
    await withDaemon({ config: (dir) => testConfig(dir, services) }, async ({ api, daemon }) => {
      const up = [`${steady.port}:up:3`, `${flaky.port}:up:4`];
      assert.equal(await healthOf(api), up);
      const check = (await api.getVirtualService({ key: dnsKey })).healthCheck;
      assert.equal([check?.kind, check?.queryName, check?.queryType], ['dns', 'health.example', 'A']);

      flaky.setRcode(2);
      await eventually('the SERVFAIL server is down', async () => (await healthOf(api)).join() === [`${steady.port}:up:3`, `${flaky.port}:down:4`].join(), SETTLE_MS);
      assert.match(daemon.output(), new RegExp(`health: udp/198\\.18\\.0\\.53:53 real server 127\\.0\\.0\\.1:${flaky.port} is down \\(SERVFAIL for health\\.example A; 2 failed in a row\\)`));
      const stats = (await api.getStats({})).services.find((row) => row.key?.port === 53);
      assert.equal(stats?.servers.map((row) => `${row.port}:${row.health}`), [`${steady.port}:up`, `${flaky.port}:down`], 'GetStats shows it too');

      flaky.setRcode(0);
      await eventually('the server answering NOERROR again is up', async () => (await healthOf(api)).join() === up.join(), SETTLE_MS);
      assert.match(daemon.output(), new RegExp(`health: udp/198\\.18\\.0\\.53:53 real server 127\\.0\\.0\\.1:${flaky.port} is up \\(NOERROR for health\\.example A; 2 passed in a row\\)`));
    });
  } finally {
    steady.socket.close();
    flaky.socket.close();
  }
});

test('gRPC door: udp, dns and icmp checks are taken and read back; a dns check on a TCP service and a udp check without payload are INVALID_ARGUMENT naming the field', async () => {
  await withDaemon({}, async ({ api }) => {
    const base = { localAddresses: ['198.19.0.200'], servers: [{ address: '198.19.0.1', port: 53, weight: 1 }] };
    const udpKey = { ...dnsKey, port: 5300 };
    await api.createVirtualService({ service: { key: dnsKey, ...base, healthCheck: { kind: 'dns', queryName: '.', queryType: 'SOA' } } });
    await api.createVirtualService({ service: { key: udpKey, ...base, healthCheck: { kind: 'udp', payload: 'ping', expect: 'pong' } } });
    const dns = (await api.getVirtualService({ key: dnsKey })).healthCheck;
    assert.equal([dns?.kind, dns?.queryName, dns?.queryType], ['dns', '.', 'SOA']);
    const udp = (await api.getVirtualService({ key: udpKey })).healthCheck;
    assert.equal([udp?.kind, udp?.payloadHex, udp?.expectHex, udp?.payload], ['udp', '70696e67', '706f6e67', '']);
    // What comes back can be sent back unchanged (pcadm -E re-sends the service's check this way).
    const current = await api.getVirtualService({ key: udpKey });
    await api.updateVirtualService({ service: current, replaceServers: false });
    assert.is((await api.getVirtualService({ key: udpKey })).healthCheck?.payloadHex, '70696e67');
    await api.updateVirtualService({ service: { ...current, healthCheck: { kind: 'icmp' } }, replaceServers: false });
    assert.is((await api.getVirtualService({ key: udpKey })).healthCheck?.kind, 'icmp');

    const tcpKey = { protocol: 'TCP' as const, vip: '198.18.0.10', port: 53 };
    await expectGrpcError(api.createVirtualService({ service: { key: tcpKey, ...base, healthCheck: { kind: 'dns', queryName: 'x' } } }),
      grpc.status.INVALID_ARGUMENT, /^service\.health_check\.kind: dns checks are for udp services; this service is tcp/);
    await expectGrpcError(api.createVirtualService({ service: { key: { ...udpKey, port: 5301 }, ...base, healthCheck: { kind: 'udp' } } }),
      grpc.status.INVALID_ARGUMENT, /^service\.health_check\.payload: a udp check needs the datagram to send/);
    assert.equal((await api.listVirtualServices({})).services.map((s) => s.key?.port).sort(), [53, 5300], 'nothing else was created');
  });
});

test.run();
