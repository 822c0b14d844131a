// portcullis.v1.Capture and `portcullis capture` against the REAL daemon (live mode on ring
// ports, so the capture control goes through the worker mailbox), over its TCP listener with
// tokens: the operator role only, the bounds, one capture per daemon, and callers who never read,
// stop early or reset. Ring ports carry no traffic here: what is copied per packet is covered by
// test/packet/capture.test.ts, a real flow in a pcap file by test/e2e/capture.test.ts.
import { readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import type { CapturePacketsResponse__Output } from '../../src/api/generated/portcullis/v1/CapturePacketsResponse.js';
import type { CaptureSummary__Output } from '../../src/api/generated/portcullis/v1/CaptureSummary.js';
import { loadPortcullisProto } from '../../src/api/proto.js';
import { resolveEndpoint, type Endpoint } from '../../src/cli/endpoint.js';
import { runCli, withDaemonOutput } from './daemon.js';
import { makeLab, startSecured, OPERATOR_TOKEN, VIEWER_TOKEN } from './secured.js';

const web = { protocol: 'TCP' as const, vip: '198.18.0.10', port: 80 };

interface Outcome { code: number; details: string; packets: number; summary?: CaptureSummary__Output; ms: number }

interface OpenCapture { call: grpc.ClientDuplexStream<object, CapturePacketsResponse__Output>; outcome: Promise<Outcome> }

/** One CapturePackets call; read=false never reads a response (the stream stays paused). */
function openCapture(endpoint: Endpoint, request: object, read = true): OpenCapture {
  const { grpcObject } = loadPortcullisProto();
  const client = new grpcObject.portcullis.v1.Capture(endpoint.target, endpoint.credentials, endpoint.options);
  const call = client.capturePackets({ deadline: Date.now() + 30_000 }) as unknown as OpenCapture['call'];
  const started = Date.now();
  let packets = 0;
  let summary: CaptureSummary__Output | undefined;
  if (read) call.on('data', (r) => { packets += r.packets.length; if (r.summary) summary = r.summary; });
  call.on('error', () => undefined);  // the status below says it
  const outcome = new Promise<Outcome>((resolve) => {
    call.on('status', (s: grpc.StatusObject) => setImmediate(() => {
      client.close();
      resolve({ code: s.code, details: s.details, packets, ...(summary ? { summary } : {}), ms: Date.now() - started });
    }));
  });
  call.write(request);
  return { call, outcome };
}

const status = (o: Outcome) => `${grpc.status[o.code]}${o.details ? `: ${o.details}` : ''}`;

test('CapturePackets: operator only, bounded, one at a time; hostile callers give the capture back', async () => {
  const lab = await makeLab('pc-capture-');
  const { daemon, port } = await startSecured(lab);
  const tcp = (token: string) => resolveEndpoint({ server: `127.0.0.1:${port}`, 'tls-ca': lab.ca.cert, 'tls-server-name': 'localhost' },
    { PORTCULLIS_TOKEN: token });
  const operator = tcp(OPERATOR_TOKEN);
  try {
    // The read-only role may not see payloads.
    const viewer = await openCapture(tcp(VIEWER_TOKEN), { service: web, durationMs: 200 }).outcome;
    assert.is(status(viewer).split(':')[0], 'PERMISSION_DENIED', status(viewer));

    // The operator's capture ends at its duration with the totals.
    const timed = await openCapture(operator, { service: web, durationMs: 300 }).outcome;
    assert.is(timed.code, grpc.status.OK, status(timed));
    assert.equal(timed.summary, { captured: '0', lost: '0', endedBy: 'duration' });
    assert.ok(timed.ms >= 300 && timed.ms < 5000, `took ${timed.ms} ms`);

    // Bad requests name the field.
    const bad: [object, RegExp][] = [
      [{}, /^INVALID_ARGUMENT: .*service/],
      [{ service: web, port: 'inside' }, /^INVALID_ARGUMENT: .*port.*not both/],
      [{ service: { ...web, port: 81 } }, /^NOT_FOUND: .*service/],
      [{ port: 'nowhere' }, /^INVALID_ARGUMENT: .*port.*outside, inside/],
      [{ service: web, maxPackets: 1_000_001 }, /^INVALID_ARGUMENT: .*max_packets/],
      [{ service: web, durationMs: 600_001 }, /^INVALID_ARGUMENT: .*duration_ms/],
      [{ service: web, snaplen: 2049 }, /^INVALID_ARGUMENT: .*snaplen/],
      [{ service: web, maxBytes: String(64 * 1024 * 1024 + 1) }, /^INVALID_ARGUMENT: .*max_bytes/],
    ];
    for (const [request, expected] of bad) assert.match(status(await openCapture(operator, request).outcome), expected, JSON.stringify(request));

    // One capture per daemon; half-closing stops it early with the totals.
    const first = openCapture(operator, { port: 'outside', durationMs: 20_000 });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const second = await openCapture(operator, { service: web, durationMs: 200 }).outcome;
    assert.match(status(second), /^RESOURCE_EXHAUSTED: .*already running/);
    first.call.end();
    const stopped = await first.outcome;
    assert.is(stopped.code, grpc.status.OK, status(stopped));
    assert.is(stopped.summary?.endedBy, 'stopped');
    assert.ok(stopped.ms < 5000, `half-close took ${stopped.ms} ms to end the capture`);

    // A caller who resets mid-capture gives it back at once.
    const reset = openCapture(operator, { service: web, durationMs: 20_000 });
    await new Promise((resolve) => setTimeout(resolve, 300));
    reset.call.cancel();
    assert.is((await reset.outcome).code, grpc.status.CANCELLED);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const afterReset = await openCapture(operator, { service: web, durationMs: 200 }).outcome;
    assert.is(afterReset.code, grpc.status.OK, `after a reset: ${status(afterReset)}`);

    // A caller who never reads nor half-closes: the capture still ends at its duration, and the next one may start.
    const deaf = openCapture(operator, { service: web, durationMs: 500 }, false);
    await new Promise((resolve) => setTimeout(resolve, 900));
    const afterDeaf = await openCapture(operator, { service: web, durationMs: 200 }).outcome;
    assert.is(afterDeaf.code, grpc.status.OK, `after a caller who never reads: ${status(afterDeaf)}`);
    deaf.call.cancel();
    await deaf.outcome;
  } catch (error) {
    throw withDaemonOutput(error, daemon);
  } finally {
    await daemon.stop();
    await rm(lab.dir, { recursive: true, force: true });
  }
});

test('portcullis capture writes a valid pcap, prints the totals; wrong flags and services are clear errors', async () => {
  const lab = await makeLab('pc-capture-cli-');
  const { daemon, port } = await startSecured(lab);
  const connection = ['--server', `127.0.0.1:${port}`, '--tls-ca', lab.ca.cert, '--tls-server-name', 'localhost', '--token-file', lab.opsTokenFile];
  const file = join(lab.dir, 'web.pcap');
  try {
    const ok = await runCli(['capture', '--service', '198.18.0.10:80/tcp', '--for', '1s', '--count', '10', '-w', file, ...connection]);
    assert.equal([ok.code, ok.stdout], [0, '0 packets captured, 0 lost (ended by duration)\n'], ok.stderr);
    const pcap = await readFile(file);
    assert.is(pcap.length, 24, 'the global header only');
    assert.is(pcap.readUInt32LE(0), 0xa1b2c3d4, 'microsecond magic');
    assert.equal([pcap.readUInt16LE(4), pcap.readUInt16LE(6), pcap.readUInt32LE(16), pcap.readUInt32LE(20)], [2, 4, 2048, 1]);
    assert.is((await stat(file)).mode & 0o777, 0o600, 'payloads are for the operator only');

    const usage: [string[], RegExp][] = [
      [['capture', '--for', '1s', '-w', file], /--service/],
      [['capture', '--service', '198.18.0.10:80/tcp', '--for', '1s'], /-w/],
      [['capture', '--service', '198.18.0.10:80/tcp', '--count', '0', '-w', file], /--count.*1\.\.1000000/],
      [['capture', '--service', '198.18.0.10:80/tcp', '--snaplen', '9000', '-w', file], /--snaplen/],
      [['capture', '--service', '198.18.0.10:80/tcp', '--for', '11m', '-w', file], /--for/],
      [['capture', '--service', '198.18.0.10:80/tcp', '--port', 'inside', '-w', file], /either --service or --port/],
      [['capture', '--service', '198.18.0.10:80/tcp', '--bogus', '-w', file], /bogus/],
    ];
    for (const [args, message] of usage) {
      const r = await runCli([...args, ...connection]);
      assert.is(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
    const missing = join(lab.dir, 'none.pcap');
    const unknown = await runCli(['capture', '--service', '198.18.0.10:81/tcp', '--for', '1s', '-w', missing, ...connection]);
    assert.is(unknown.code, 2, unknown.stderr);
    assert.match(unknown.stderr, /198\.18\.0\.10:81.*does not exist/);
    assert.is(await stat(missing).then(() => 'left behind', () => 'removed'), 'removed', 'no empty file for a refused capture');
    const viewer = await runCli(['capture', '--service', '198.18.0.10:80/tcp', '--for', '1s', '-w', missing,
      ...connection.slice(0, -2), '--token-file', lab.viewerTokenFile]);
    assert.is(viewer.code, 1, viewer.stderr);
    assert.match(viewer.stderr, /permission denied/);
  } catch (error) {
    throw withDaemonOutput(error, daemon);
  } finally {
    await daemon.stop();
    await rm(lab.dir, { recursive: true, force: true });
  }
});

test.run();
