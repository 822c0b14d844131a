// Health checks for UDP services: the config validator for kinds udp, dns and icmp, and the real
// socket prober against real UDP servers on 127.0.0.1 (echo, silent, wrong id, SERVFAIL, malformed,
// port closed), ping of 127.0.0.1, and local errors that must stay unknown.
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { join } from 'node:path';
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { probeIcmp } from '../../src/health/probe-udp.js';
import { socketProber, type ProbeResult } from '../../src/health/probe.js';
import { ModelError, readHealthCheck, readServiceSpec, type HealthCheck } from '../../src/model/index.js';
import { healthCheckToRaw } from '../../src/model/health-check-fields.js';
import { REPO_ROOT, runProcess } from '../api/daemon.js';

const TIMEOUT_MS = 300;
const udpCheck = (fields: Record<string, unknown>): HealthCheck =>
  readHealthCheck({ kind: 'udp', interval_ms: 1000, timeout_ms: TIMEOUT_MS, ...fields }, 'hc', 'udp');
const dnsCheck = (fields: Record<string, unknown> = {}): HealthCheck =>
  readHealthCheck({ kind: 'dns', query_name: 'health.example.', interval_ms: 1000, timeout_ms: TIMEOUT_MS, ...fields }, 'hc', 'udp');

/** A UDP server on 127.0.0.1 answering each datagram with whatever `answer` returns (nothing: silence). */
async function udpServer(answer: (datagram: Buffer) => Buffer | undefined, address = '127.0.0.1'): Promise<{ socket: Socket; port: number; received: Buffer[] }> {
  const socket = createSocket(address.includes(':') ? 'udp6' : 'udp4');
  const received: Buffer[] = [];
  socket.on('message', (datagram: Buffer, from: RemoteInfo) => {
    received.push(datagram);
    const reply = answer(datagram);
    if (reply) socket.send(reply, from.port, from.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, address, resolve));
  return { socket, port: socket.address().port, received };
}

function closeSocket(socket: Socket): Promise<void> {
  return new Promise((resolve) => socket.close(() => resolve()));
}

/** A UDP port nothing listens on: bound, read, released (the kernel answers port-unreachable). */
async function closedUdpPort(): Promise<number> {
  const { socket, port } = await udpServer(() => undefined);
  await closeSocket(socket);
  return port;
}

/** What a DNS server would answer: the query with QR, RA and `rcode` set, the question echoed. */
function dnsAnswer(query: Buffer, rcode = 0, edit: (answer: Buffer) => void = () => undefined): Buffer {
  const answer = Buffer.from(query);
  answer.writeUInt16BE((query.readUInt16BE(2) & 0x0100) | 0x8080 | rcode, 2);
  edit(answer);
  return answer;
}

const checkError = (raw: unknown, protocol: 'tcp' | 'udp' = 'udp') => {
  try { readHealthCheck(raw, 'services[0].health_check', protocol); } catch (e) { return (e as ModelError).message; }
  return 'accepted';
};

test('config: udp, dns and icmp checks read with their defaults; round trip through the state-file spelling', () => {
  const udp = readHealthCheck({ kind: 'udp', payload: 'ping\n', expect_hex: '504F4e47' }, 'hc', 'udp');
  assert.equal([udp.payloadHex, udp.expectHex], [Buffer.from('ping\n').toString('hex'), '504f4e47']);
  const dns = readHealthCheck({ kind: 'dns', query_name: 'Example.COM.' }, 'hc', 'udp');
  assert.equal([dns.queryName, dns.queryType], ['Example.COM', 'A'], 'type A by default; the trailing dot dropped');
  const root = readHealthCheck({ kind: 'dns', query_name: '.', query_type: 'NS' }, 'hc', 'udp');
  assert.equal([root.queryName, root.queryType], ['', 'NS']);
  assert.is(readHealthCheck({ kind: 'icmp' }, 'hc', 'tcp').kind, 'icmp', 'icmp on a TCP service too');
  for (const check of [udp, dns, root, readHealthCheck({ kind: 'icmp' }, 'hc', 'udp')]) {
    assert.equal(readHealthCheck(healthCheckToRaw(check), 'hc', 'udp'), check, `${check.kind} reads back the same`);
  }
  // What today accepts stays accepted: tcp and http checks on a UDP service.
  assert.is(checkError({ kind: 'tcp' }), 'accepted');
  assert.is(checkError({ kind: 'http', path: '/healthz' }), 'accepted');
});

test('config: bad udp/dns/icmp checks are refused naming the field', () => {
  const p = 'services[0].health_check';
  const cases: [unknown, string | RegExp, ('tcp' | 'udp')?][] = [
    [{ kind: 'udp', query_name: 'x' }, `${p}.query_name: is for kind dns checks only; this check is udp`],
    [{ kind: 'udp' }, `${p}.payload: a udp check needs the datagram to send: payload (text) or payload_hex`],
    [{ kind: 'udp', payload: '' }, new RegExp(`^${p.replace(/[[\]]/g, '\\$&')}\\.payload: expected a non-empty string`)],
    [{ kind: 'udp', payload: 'x', payload_hex: '00' }, `${p}.payload_hex: give payload (text) or payload_hex, not both`],
    [{ kind: 'udp', payload_hex: 'abc' }, `${p}.payload_hex: must be pairs of hex digits (e.g. "0a1b"): "abc"`],
    [{ kind: 'udp', payload_hex: '0g' }, /payload_hex: must be pairs of hex digits/],
    [{ kind: 'udp', payload: 'x'.repeat(513) }, /health_check\.payload: expected a non-empty string of at most 512 characters/],
    [{ kind: 'udp', payload: 'é'.repeat(300) }, `${p}.payload: is 600 bytes in UTF-8; at most 512`],
    [{ kind: 'udp', payload: 'x', expect: 3 }, /health_check\.expect: expected a non-empty string/],
    [{ kind: 'udp', payload: 'x', expect: 'a', expect_hex: '61' }, `${p}.expect_hex: give expect (text) or expect_hex, not both`],
    [{ kind: 'dns' }, `${p}.query_name: a dns check needs the name to ask for (e.g. "example.com", "." for the root)`],
    [{ kind: 'dns', query_name: 'a..b' }, `${p}.query_name: label 2 "" must be 1 to 63 letters, digits, "-" or "_": "a..b"`],
    [{ kind: 'dns', query_name: 'bad name.com' }, /query_name: label 1 "bad name"/],
    [{ kind: 'dns', query_name: `${'a'.repeat(64)}.com` }, /query_name: label 1 "a{64}" must be 1 to 63/],
    [{ kind: 'dns', query_name: Array.from({ length: 4 }, () => 'a'.repeat(63)).join('.') }, `${p}.query_name: is 257 bytes on the wire; at most 255`],
    [{ kind: 'dns', query_name: 'x', query_type: 'AXFR' }, /health_check\.query_type: expected one of A, NS, CNAME, SOA, PTR, MX, TXT, AAAA, SRV/],
    [{ kind: 'dns', query_name: 'x', payload: 'y' }, `${p}.payload: is for kind udp checks only; this check is dns`],
    [{ kind: 'tcp', expect: 'y' }, `${p}.expect: is for kind udp checks only; this check is tcp`],
    [{ kind: 'icmp', query_type: 'A' }, `${p}.query_type: is for kind dns checks only; this check is icmp`],
    [{ kind: 'udp', payload: 'x' }, `${p}.kind: udp checks are for udp services; this service is tcp (use tcp, http or icmp)`, 'tcp'],
    [{ kind: 'dns', query_name: 'x' }, `${p}.kind: dns checks are for udp services; this service is tcp (use tcp, http or icmp)`, 'tcp'],
    [{ kind: 'ping' }, /health_check\.kind: expected one of tcp, http, udp, dns, icmp/],
  ];
  for (const [raw, expected, protocol] of cases) {
    const message = checkError(raw, protocol);
    if (typeof expected === 'string') assert.is(message, expected, JSON.stringify(raw));
    else assert.match(message, expected, JSON.stringify(raw));
  }
  // Through the service reader, the protocol comes from the service and the path is the service's.
  assert.throws(() => readServiceSpec({ protocol: 'tcp', vip: '198.18.0.10', port: 53, local_addresses: ['198.19.0.200'],
    health_check: { kind: 'dns', query_name: 'x' }, servers: [] }, 'services[3]'), /^services\[3\]\.health_check\.kind: dns checks are for udp services/);
});

test('udp prober: any reply passes, a reply with the expected prefix passes, another fails; silence and a closed port fail', async () => {
  const echo = await udpServer((datagram) => datagram);
  const silent = await udpServer(() => undefined);
  const closed = await closedUdpPort();
  try {
    const target = (port: number) => ({ address: '127.0.0.1', port });
    assert.equal(await socketProber(target(echo.port), udpCheck({ payload: 'hello' })), { outcome: 'pass', detail: 'reply of 5 bytes' });
    assert.equal(echo.received.at(-1)?.toString(), 'hello', 'the payload went out as configured');
    assert.equal(await socketProber(target(echo.port), udpCheck({ payload_hex: '00ff10', expect_hex: '00ff' })), { outcome: 'pass', detail: 'reply of 3 bytes' });
    assert.equal(await socketProber(target(echo.port), udpCheck({ payload: 'hello', expect: 'help' })),
      { outcome: 'fail', detail: 'reply 68656c6c6f (5 bytes) does not start with 68656c70' });
    assert.equal(await socketProber(target(echo.port), udpCheck({ payload: 'he', expect: 'hello' })),
      { outcome: 'fail', detail: 'reply 6865 (2 bytes) does not start with 68656c6c6f' }, 'a reply shorter than the prefix fails');
    const started = Date.now();
    assert.equal(await socketProber(target(silent.port), udpCheck({ payload: 'hello' })), { outcome: 'fail', detail: `no reply within ${TIMEOUT_MS} ms` });
    assert.ok(Date.now() - started >= TIMEOUT_MS - 5, 'silence is waited for up to the timeout');
    assert.equal(await socketProber(target(closed), udpCheck({ payload: 'hello' })), { outcome: 'fail', detail: 'udp ECONNREFUSED' },
      'the port-unreachable the kernel answers a closed port with is a fail, at once');
    const echo6 = await udpServer((datagram) => datagram, '::1');
    try {
      assert.equal(await socketProber({ address: '::1', port: echo6.port }, udpCheck({ payload: 'six', expect: 'six' })), { outcome: 'pass', detail: 'reply of 3 bytes' }, 'IPv6');
    } finally {
      await closeSocket(echo6.socket);
    }
  } finally {
    await closeSocket(echo.socket);
    await closeSocket(silent.socket);
  }
});

test('dns prober: NOERROR with the query\'s id and question passes; wrong id, SERVFAIL, NXDOMAIN, another question, malformed, silence, closed port fail', async () => {
  let behaviour: (query: Buffer) => Buffer | undefined = (query) => dnsAnswer(query);
  const server = await udpServer((query) => behaviour(query));
  const closed = await closedUdpPort();
  const target = { address: '127.0.0.1', port: server.port };
  const probe = (check = dnsCheck()) => socketProber(target, check);
  try {
    assert.equal(await probe(), { outcome: 'pass', detail: 'NOERROR for health.example A' });
    const query = server.received.at(-1)!;
    assert.is(query.subarray(2).toString('hex'), '0100000100000000000006' + Buffer.from('health').toString('hex') + '07'
      + Buffer.from('example').toString('hex') + '0000010001', 'a standard query, RD, one question health.example IN A');
    assert.equal(await probe(dnsCheck({ query_name: 'Health.Example', query_type: 'AAAA' })), { outcome: 'pass', detail: 'NOERROR for Health.Example AAAA' });
    assert.is(server.received.at(-1)!.readUInt16BE(server.received.at(-1)!.length - 4), 28, 'type AAAA asked');
    const ids = new Set<number>();
    for (let i = 0; i < 20; i++) { await probe(); ids.add(server.received.at(-1)!.readUInt16BE(0)); }
    assert.ok(ids.size >= 15, `a random id per query (${ids.size} different of 20)`);

    const cases: [string, (query: Buffer) => Buffer | undefined, ProbeResult | RegExp][] = [
      ['wrong id', (q) => dnsAnswer(q, 0, (a) => a.writeUInt16BE(q.readUInt16BE(0) ^ 0x5555, 0)), /^answer id 0x[0-9a-f]+, the query's was 0x[0-9a-f]+$/],
      ['SERVFAIL', (q) => dnsAnswer(q, 2), { outcome: 'fail', detail: 'SERVFAIL for health.example A' }],
      ['NXDOMAIN', (q) => dnsAnswer(q, 3), { outcome: 'fail', detail: 'NXDOMAIN for health.example A' }],
      ['rcode 9', (q) => dnsAnswer(q, 9), { outcome: 'fail', detail: 'rcode 9 for health.example A' }],
      ['another name', (q) => dnsAnswer(q, 0, (a) => a.write('x', 13, 'latin1')), { outcome: 'fail', detail: 'answer for xealth.example type 1 class 1, asked health.example A' }],
      ['another type', (q) => dnsAnswer(q, 0, (a) => a.writeUInt16BE(28, a.length - 4)), { outcome: 'fail', detail: 'answer for health.example type 28 class 1, asked health.example A' }],
      ['NOERROR without the question', (q) => dnsAnswer(q.subarray(0, 12), 0, (a) => a.writeUInt16BE(0, 4)), { outcome: 'fail', detail: 'NOERROR for health.example A without the question' }],
      ['5 bytes', (q) => q.subarray(0, 5), { outcome: 'fail', detail: 'malformed answer to health.example A: 5 bytes, shorter than the 12-byte header' }],
      ['the query echoed (QR clear)', (q) => q, { outcome: 'fail', detail: 'malformed answer to health.example A: QR bit clear: a query, not a response' }],
      ['question cut short', (q) => dnsAnswer(q).subarray(0, q.length - 2), { outcome: 'fail', detail: 'malformed answer to health.example A: question cut short before its type and class' }],
      ['silence', () => undefined, { outcome: 'fail', detail: `no answer to health.example A within ${TIMEOUT_MS} ms` }],
    ];
    for (const [what, answer, expected] of cases) {
      behaviour = answer;
      const result = await probe();
      if (expected instanceof RegExp) {
        assert.is(result.outcome, 'fail', what);
        assert.match(result.detail, expected, what);
      } else {
        assert.equal(result, expected, what);
      }
    }
    assert.equal(await socketProber({ address: '127.0.0.1', port: closed }, dnsCheck()), { outcome: 'fail', detail: 'dns ECONNREFUSED' });
    behaviour = (q) => dnsAnswer(q);
    assert.is((await probe()).outcome, 'pass', 'the same server answering again passes again');
  } finally {
    await closeSocket(server.socket);
  }
});

test('icmp prober: ping of 127.0.0.1 passes; a ping that cannot be started is unknown, not a fail', async () => {
  const check = readHealthCheck({ kind: 'icmp', interval_ms: 2000, timeout_ms: 1000 }, 'hc', 'udp');
  assert.equal(await socketProber({ address: '127.0.0.1', port: 53 }, check), { outcome: 'pass', detail: 'echo reply' });
  assert.equal(await socketProber({ address: '::1', port: 53 }, check), { outcome: 'pass', detail: 'echo reply' }, 'IPv6 too');
  assert.equal(await probeIcmp({ address: '127.0.0.1', port: 53 }, check, 'portcullis-no-such-ping'), { outcome: 'unknown', detail: 'ping ENOENT' });
});

test('udp/dns probers: a send refused on this host (EACCES: connect to broadcast without SO_BROADCAST) is unknown, never a fail', async () => {
  const target = { address: '255.255.255.255', port: 9 };
  assert.equal(await socketProber(target, udpCheck({ payload: 'x' })), { outcome: 'unknown', detail: 'udp connect EACCES' });
  assert.equal(await socketProber(target, dnsCheck()), { outcome: 'unknown', detail: 'dns connect EACCES' });
});

test('udp/dns probers with no descriptor left (EMFILE under ulimit -n, a real child process): unknown, never a fail', async () => {
  const child = await runProcess(['sh', '-c', 'ulimit -n 64 && exec "$0" "$@"', process.execPath, '--import', 'tsx',
    join(REPO_ROOT, 'test/support/udp-probe-fd-exhaustion.ts')], 60_000, { TSX_DISABLE_CACHE: '1' });
  const line = child.stdout.trim().split('\n').pop() ?? '';
  let report: { fillError?: string; before?: string[]; exhausted?: string[]; after?: string[]; error?: string };
  try {
    report = JSON.parse(line) as typeof report;
  } catch {
    throw new Error(`the child gave no report, exit ${child.code}: ${child.stdout} ${child.stderr}`);
  }
  assert.is(report.error, undefined, String(report.error));
  assert.is(report.fillError, 'EMFILE', 'the descriptor table was really full');
  assert.equal(report.before, ['pass', 'pass'], 'with descriptors both probes pass');
  assert.equal(report.exhausted!.map((r) => r.split(' ')[0]), ['unknown', 'unknown'], `no descriptor: unknown (${report.exhausted!.join('; ')})`);
  assert.match(report.exhausted!.join('; '), /EMFILE/);
  assert.equal(report.after, ['pass', 'pass'], 'descriptors back: pass again');
});

test.run();
