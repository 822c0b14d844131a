// portcullis.v1.Trace and `portcullis trace` against the REAL daemon (live mode on ring
// ports, so the trace control goes through the worker mailbox). Ring ports carry no
// traffic here: what is recorded per packet is covered by test/packet/trace.test.ts.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import type { ReadTraceResponse__Output } from '../../src/api/generated/portcullis/v1/ReadTraceResponse.js';
import type { TraceClient } from '../../src/api/generated/portcullis/v1/Trace.js';
import { loadPortcullisProto } from '../../src/api/proto.js';
import { rpc } from '../../src/cli/client.js';
import { runCli, startDaemon, WEB_SEED, writeConfig, withDaemonOutput } from './daemon.js';

const web = { protocol: 'TCP' as const, vip: '198.18.0.10', port: 80 };

test('StartTrace/ReadTrace through the daemon; bad requests name the field; portcullis trace runs and stops', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pc-trace-'));
  const daemon = await startDaemon(['--config', await writeConfig(dir, WEB_SEED)]);
  const socket = join(dir, 'api.sock');
  const { grpcObject } = loadPortcullisProto();
  const client: TraceClient = new grpcObject.portcullis.v1.Trace(`unix:${socket}`, grpc.credentials.createInsecure());
  const call = <Res>(method: string, request: object) => rpc<object, Res>(client, method)(request);
  const code = (promise: Promise<unknown>) => promise.then(() => 'OK', (e: grpc.ServiceError) => `${grpc.status[e.code]}: ${e.details}`);
  try {
    assert.equal(await call('startTrace', { enabled: true, service: web, maxRecords: 16 }), {});
    const read = await call<ReadTraceResponse__Output>('readTrace', {});
    assert.equal([read.records, read.lost], [[], '0']);
    assert.equal(await call('startTrace', { enabled: true, port: 'inside' }), {});
    assert.equal(await call('startTrace', { enabled: false }), {});

    assert.match(await code(call('startTrace', { enabled: true, service: { ...web, port: 81 } })), /^NOT_FOUND: .*service/);
    assert.match(await code(call('startTrace', { enabled: true, port: 'nowhere' })), /^INVALID_ARGUMENT: .*port.*outside, inside/);
    assert.match(await code(call('startTrace', { enabled: true, maxRecords: 5000 })), /^INVALID_ARGUMENT: .*max_records/);

    const cli = await runCli(['trace', '--service', '198.18.0.10:80/tcp', '--for', '1s', '--interval', '200', '--socket', socket]);
    assert.equal([cli.code, cli.stdout, cli.stderr], [0, '', '']);
    const usage = await runCli(['trace', '--for', '1s', '--socket', socket]);
    assert.is(usage.code, 2);
    assert.match(usage.stderr, /--service/);
  } catch (error) {
    throw withDaemonOutput(error, daemon);
  } finally {
    client.close();
    await daemon.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

test.run();
