// Issue 14 item 1: a TLS client that writes a whole mutating call WITHOUT credentials and then
// resets the TCP connection (SO_LINGER 0) used to reach the handler with an empty peer address —
// which the old interceptor took for "unix socket" and ran with operator rights (several hundred
// deletions in 500 tries on loopback). The unix socket and the TCP listener are now separate
// servers whose interceptors know their transport by construction, so a reset changes nothing.
// The client is built by hand (test/api/raw-http2.ts) so the request really is complete before the
// reset; a positive control with valid credentials shows the same frames do delete when allowed.
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { loadPortcullisProto } from '../../src/api/proto.js';
import type { Pair } from './certificates.js';
import { withDaemonOutput } from './daemon.js';
import { callFrames, connectionStart, connectRaw, isEndOfStream, serializeRequest } from './raw-http2.js';
import { makeLab, OPERATOR_TOKEN, startSecured, type Lab } from './secured.js';

const ATTEMPTS = 500;
const PARALLEL = 5;
const DELETE_PATH = '/portcullis.v1.VirtualServices/DeleteVirtualService';
const WEB_KEY = { protocol: 'TCP', vip: '198.18.0.10', port: 80 };

/** One attack: TLS (optionally with a client certificate), the whole DeleteVirtualService call, RST. */
async function resetAttack(lab: Lab, port: number, certificate?: Pair): Promise<'reset' | 'refused-early'> {
  const ca = await readFile(lab.ca.cert);
  const tls = certificate ? { cert: await readFile(certificate.cert), key: await readFile(certificate.key) } : {};
  let connection;
  try {
    connection = await connectRaw({ port, ca, ...tls });
  } catch {
    return 'refused-early';
  }
  const request = serializeRequest('VirtualServices', 'DeleteVirtualService', { key: WEB_KEY });
  // A forged caller entry rides along: it must be stripped, never believed.
  await connection.write(Buffer.concat([connectionStart(),
    callFrames({ stream: 1, path: DELETE_PATH, message: request, metadata: [['x-portcullis-caller', 'ops']] })]));
  connection.tcp.resetAndDestroy();
  await connection.closed;
  return 'reset';
}

/** The same frames, credentials included, no reset: the positive control. Resolves when the daemon answered. */
async function allowedDelete(lab: Lab, port: number, options: { token?: string; certificate?: Pair }): Promise<void> {
  const ca = await readFile(lab.ca.cert);
  const tls = options.certificate ? { cert: await readFile(options.certificate.cert), key: await readFile(options.certificate.key) } : {};
  const connection = await connectRaw({ port, ca, ...tls });
  try {
    const metadata: [string, string][] = options.token ? [['authorization', `Bearer ${options.token}`]] : [];
    await connection.write(Buffer.concat([connectionStart(),
      callFrames({ stream: 1, path: DELETE_PATH, message: serializeRequest('VirtualServices', 'DeleteVirtualService', { key: WEB_KEY }), metadata })]));
    await connection.waitFor((f) => isEndOfStream(f, 1), 5000, 'the answer to the allowed delete');
  } finally {
    connection.tls.destroy();
  }
}

/** Services the daemon holds, asked over its unix socket. */
async function serviceKeys(lab: Lab): Promise<string[]> {
  const { grpcObject } = loadPortcullisProto();
  const client = new grpcObject.portcullis.v1.VirtualServices(`unix:${join(lab.dir, 'api.sock')}`, grpc.credentials.createInsecure());
  try {
    const reply = await new Promise<{ services: { key: { vip: string; port: number } }[] }>((resolve, reject) =>
      client.listVirtualServices({}, (error, response) => (error ? reject(error) : resolve(response as never))));
    return reply.services.map((s) => `${s.key.vip}:${s.key.port}`);
  } finally {
    client.close();
  }
}

/** Open descriptors of the daemon once they stop falling (connections being torn down), within 5 s. */
async function settledDescriptors(pid: number): Promise<number> {
  let last = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 25; i++) {
    const now = (await readdir(`/proc/${pid}/fd`)).length;
    if (now >= last) return now;
    last = now;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return last;
}

async function attackMany(lab: Lab, port: number, certificate?: Pair): Promise<{ reset: number; refusedEarly: number }> {
  const counts = { reset: 0, refusedEarly: 0 };
  for (let done = 0; done < ATTEMPTS; done += PARALLEL) {
    const outcomes = await Promise.all(Array.from({ length: Math.min(PARALLEL, ATTEMPTS - done) }, () => resetAttack(lab, port, certificate)));
    for (const outcome of outcomes) { if (outcome === 'reset') counts.reset++; else counts.refusedEarly++; }
  }
  return counts;
}

test(`TCP, no credentials: ${ATTEMPTS} complete DeleteVirtualService calls each followed by a TCP reset change nothing`, async () => {
  const lab = await makeLab('pc-reset-');
  const { daemon, port } = await startSecured(lab);
  try {
    const stateBefore = await readFile(join(lab.dir, 'state.json'));
    const descriptorsBefore = await settledDescriptors(daemon.pid);
    const counts = await attackMany(lab, port);
    // More attacks than api.limits.max_connections (64): none may leave its connection behind.
    const descriptorsAfter = await settledDescriptors(daemon.pid);
    assert.ok(descriptorsAfter <= descriptorsBefore + 2, `the daemon holds ${descriptorsAfter} descriptors after the attacks, ${descriptorsBefore} before`);
    assert.is(counts.reset, ATTEMPTS, `every attack got through TLS and sent its call: ${JSON.stringify(counts)}`);
    assert.equal(await serviceKeys(lab), ['198.18.0.10:80'], 'the service survived');
    assert.ok(stateBefore.equals(await readFile(join(lab.dir, 'state.json'))), 'state file unchanged');
    // Positive control: the very same frames with the operator token do delete.
    await allowedDelete(lab, port, { token: OPERATOR_TOKEN });
    assert.equal(await serviceKeys(lab), [], 'the hand-built call works when it is allowed');
  } catch (error) {
    throw withDaemonOutput(error, daemon);
  } finally {
    await daemon.stop();
    await rm(lab.dir, { recursive: true, force: true });
  }
});

test(`client_certs: required, a read-only certificate: ${ATTEMPTS} reset DeleteVirtualService calls change nothing`, async () => {
  const lab = await makeLab('pc-reset-');
  const { daemon, port } = await startSecured(lab, { clientCerts: 'required' });
  try {
    const stateBefore = await readFile(join(lab.dir, 'state.json'));
    const descriptorsBefore = await settledDescriptors(daemon.pid);
    const counts = await attackMany(lab, port, lab.viewer);
    // More attacks than api.limits.max_connections (64): none may leave its connection behind.
    const descriptorsAfter = await settledDescriptors(daemon.pid);
    assert.ok(descriptorsAfter <= descriptorsBefore + 2, `the daemon holds ${descriptorsAfter} descriptors after the attacks, ${descriptorsBefore} before`);
    assert.is(counts.reset, ATTEMPTS, `every attack got through TLS and sent its call: ${JSON.stringify(counts)}`);
    assert.equal(await serviceKeys(lab), ['198.18.0.10:80'], 'the service survived');
    assert.ok(stateBefore.equals(await readFile(join(lab.dir, 'state.json'))), 'state file unchanged');
    await allowedDelete(lab, port, { certificate: lab.operator });
    assert.equal(await serviceKeys(lab), [], 'the hand-built call works with an operator certificate');
  } catch (error) {
    throw withDaemonOutput(error, daemon);
  } finally {
    await daemon.stop();
    await rm(lab.dir, { recursive: true, force: true });
  }
});

test.run();
