// Control API bounds (issue 8): the socket is not world-accessible; oversized messages are refused by
// the transport, over-long strings and lists by the validator, and neither changes anything.
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { WEB_SEED, startDaemon, testConfig, withDaemon } from './daemon.js';
import { expectGrpcError } from '../support/expected-errors.js';

/** grpc-js refuses requests above 4 MiB unless told otherwise; the daemon keeps that default. */
const OVERSIZED_BYTES = 5 * 1024 * 1024;

let dir = '';
test.before.each(async () => { dir = await mkdtemp(join(tmpdir(), 'pc-limits-')); });
test.after.each(async () => { await rm(dir, { recursive: true, force: true }); });


test('socket 0660; oversized message: RESOURCE_EXHAUSTED; over-long name and list: INVALID_ARGUMENT with the path; nothing changes', async () => {
  await withDaemon({ dir, config: testConfig(dir, WEB_SEED) }, async ({ api }) => {
    const key = { protocol: 'TCP' as const, vip: '198.18.0.10', port: 81 };
    assert.is((await stat(join(dir, 'api.sock'))).mode & 0o777, 0o660, 'socket mode: owner and group only');
    const before = await readFile(join(dir, 'state.json'), 'utf8');
    await expectGrpcError(api.createVirtualService({ service: { key, name: 'x'.repeat(OVERSIZED_BYTES) } }),
      grpc.status.RESOURCE_EXHAUSTED, /larger than max|message/i);
    await expectGrpcError(api.createVirtualService({ service: { key, name: 'x'.repeat(65) } }),
      grpc.status.INVALID_ARGUMENT, /^service\.name\b/);
    const lips = Array.from({ length: 257 }, (_, i) => `198.19.${1 + (i >> 8)}.${i & 0xff}`);
    await expectGrpcError(api.createVirtualService({ service: { key, localAddresses: lips } }),
      grpc.status.INVALID_ARGUMENT, /^service\.local_addresses\b/);
    assert.equal((await api.listVirtualServices({})).services.map((s) => s.key?.port), [80], 'no service added');
    assert.is(await readFile(join(dir, 'state.json'), 'utf8'), before, 'state file untouched');
    // The daemon still serves after the refusals.
    await api.createVirtualService({ service: { key, localAddresses: ['198.19.0.201'] } });
  });
});

/** The test config with api.socket_group set. */
async function configWithGroup(group: string): Promise<string> {
  const path = join(dir, 'config.yaml');
  await writeFile(path, testConfig(dir, WEB_SEED).replace(/^api: \{ socket: (.*) \}$/m, `api: { socket: $1, socket_group: "${group}" }`));
  return path;
}

test('api.socket_group: the socket belongs to that group; an unknown group stops the daemon naming the field', async () => {
  const daemon = await startDaemon(['--config', await configWithGroup('daemon')]); // gid 1 on Debian
  try {
    const socket = await stat(join(dir, 'api.sock'));
    assert.is(socket.gid, 1);
    assert.is(socket.mode & 0o777, 0o660);
  } finally {
    await daemon.stop();
  }
  try {
    const stray = await startDaemon(['--config', await configWithGroup('no-such-group-pc')]);
    await stray.stop();
    assert.unreachable('the daemon started');
  } catch (error) {
    assert.match((error as Error).message, /api\.socket_group: no group "no-such-group-pc"/);
  }
});

test.run();
