// Control API security settings: api.socket_group (resolved against /etc/group), and TCP only with
// api.tls + api.tokens; every mistake named by its path. Role decisions of src/api/auth.ts.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as grpc from '@grpc/grpc-js';
import { authorize } from '../../src/api/auth.js';
import { resolveGroupId } from '../../src/api/socket-group.js';
import { ConfigError, parseConfig } from '../../src/config/load.js';

const PORTS = `ports:
  - { name: outside, device: ring, addresses: [198.18.0.254/24] }
`;

test('api.socket_group: a name or a gid is kept; anything else is refused with its path', () => {
  assert.is(parseConfig(`api: { socket_group: portcullis }\n${PORTS}`, 't.yaml').api.socketGroup, 'portcullis');
  assert.is(parseConfig(`api: { socket_group: "1001" }\n${PORTS}`, 't.yaml').api.socketGroup, '1001');
  assert.is(parseConfig(PORTS, 't.yaml').api.socketGroup, undefined);
  try {
    parseConfig(`api: { socket_group: "wheel; rm -rf" }\n${PORTS}`, 't.yaml');
    assert.unreachable('accepted');
  } catch (error) {
    assert.instance(error, ConfigError);
    assert.match((error as ConfigError).problems[0]!, /^api\.socket_group: expected a group name or gid, got "wheel; rm -rf"/);
  }
});

test('resolveGroupId: names through the group file, numbers as they are, unknown names named', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pc-group-'));
  try {
    const file = join(dir, 'group');
    await writeFile(file, 'root:x:0:\nportcullis:x:998:alice,bob\n');
    assert.is(await resolveGroupId('portcullis', file), 998);
    assert.is(await resolveGroupId('4242', file), 4242);
    try {
      await resolveGroupId('operators', file);
      assert.unreachable('resolved');
    } catch (error) {
      assert.match((error as Error).message, /^api\.socket_group: no group "operators" in /);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

function problems(text: string): string[] {
  try {
    parseConfig(text, 't.yaml');
  } catch (error) {
    assert.instance(error, ConfigError);
    return (error as ConfigError).problems;
  }
  return [];
}

test('api.listen needs api.tls and api.tokens; tokens need a known role and unique names', () => {
  assert.equal(problems(`api: { listen: "127.0.0.1:50051" }\n${PORTS}`),
    ['api.tls: required when api.listen is set (TCP is never plaintext): { cert, key }']);
  assert.equal(problems(`api: { listen: "127.0.0.1:50051", tls: { cert: /c, key: /k } }\n${PORTS}`),
    ['api.tokens: required when api.listen is set: at least one { name, role, file }']);
  assert.equal(problems(`api: { tokens: [{ name: a, role: admin, file: /t }] }\n${PORTS}`),
    ['api.tokens[0].role: expected one of read-only, operator, got "admin"']);
  assert.match(problems(`api: { tokens: [{ name: a, role: operator, file: /t }, { name: a, role: read-only, file: /u }] }\n${PORTS}`)[0]!,
    /^api\.tokens\[1\]\.name: duplicate token name "a"/);
  const ok = parseConfig(`api: { listen: "0.0.0.0:50051", tls: { cert: /c, key: /k }, tokens: [{ name: grafana, role: read-only, file: /t }] }\n${PORTS}`, 't.yaml');
  assert.equal(ok.api.tokens, [{ name: 'grafana', role: 'read-only', file: '/t' }]);
});

test('authorize: no or unknown token -> UNAUTHENTICATED; read-only may read, not change', () => {
  const tokens = new Map([['r'.repeat(16), { name: 'grafana', role: 'read-only' as const }], ['o'.repeat(16), { name: 'ops', role: 'operator' as const }]]);
  const create = '/portcullis.v1.VirtualServices/CreateVirtualService';
  const list = '/portcullis.v1.VirtualServices/ListVirtualServices';
  assert.is(authorize(tokens, list, undefined)?.code, grpc.status.UNAUTHENTICATED);
  assert.is(authorize(tokens, list, 'Bearer nope')?.code, grpc.status.UNAUTHENTICATED);
  assert.is(authorize(tokens, list, `Bearer ${'r'.repeat(16)}`), undefined);
  assert.is(authorize(tokens, '/grpc.health.v1.Health/Check', `Bearer ${'r'.repeat(16)}`), undefined);
  assert.is(authorize(tokens, create, `Bearer ${'r'.repeat(16)}`)?.code, grpc.status.PERMISSION_DENIED);
  assert.is(authorize(tokens, '/portcullis.v1.Stats/ZeroStats', `Bearer ${'r'.repeat(16)}`)?.code, grpc.status.PERMISSION_DENIED);
  assert.is(authorize(tokens, create, `Bearer ${'o'.repeat(16)}`), undefined);
});

test.run();
