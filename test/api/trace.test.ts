// portcullis.v1.Trace and `portcullis trace` against the REAL daemon (live mode on ring
// ports, so the trace control goes through the worker mailbox). Ring ports carry no
// traffic here: what is recorded per packet is covered by test/packet/trace.test.ts.
import * as grpc from '@grpc/grpc-js';
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import type { ReadTraceResponse__Output } from '../../src/api/generated/portcullis/v1/ReadTraceResponse.js';
import { testConfig, WEB_SEED, withDaemon } from './daemon.js';

const web = { protocol: 'TCP' as const, vip: '198.18.0.10', port: 80 };

test('StartTrace/ReadTrace through the daemon; bad requests name the field; portcullis trace runs and stops', async () => {
  await withDaemon({ config: (dir) => testConfig(dir, WEB_SEED) }, async ({ trace: call, cli }) => {
    const code = (promise: Promise<unknown>) => promise.then(() => 'OK', (e: grpc.ServiceError) => `${grpc.status[e.code]}: ${e.details}`);
    assert.equal(await call('startTrace', { enabled: true, service: web, maxRecords: 16 }), {});
    const read = await call<ReadTraceResponse__Output>('readTrace', {});
    assert.equal([read.records, read.lost], [[], '0']);
    assert.equal(await call('startTrace', { enabled: true, port: 'inside' }), {});
    assert.equal(await call('startTrace', { enabled: false }), {});

    assert.match(await code(call('startTrace', { enabled: true, service: { ...web, port: 81 } })), /^NOT_FOUND: .*service/);
    assert.match(await code(call('startTrace', { enabled: true, port: 'nowhere' })), /^INVALID_ARGUMENT: .*port.*outside, inside/);
    assert.match(await code(call('startTrace', { enabled: true, maxRecords: 5000 })), /^INVALID_ARGUMENT: .*max_records/);

    const traced = await cli(['trace', '--service', '198.18.0.10:80/tcp', '--for', '1s', '--interval', '200']);
    assert.equal([traced.code, traced.stdout, traced.stderr], [0, '', '']);
    const usage = await cli(['trace', '--for', '1s']);
    assert.is(usage.code, 2);
    assert.match(usage.stderr, /--service/);
  });
});

test.run();
