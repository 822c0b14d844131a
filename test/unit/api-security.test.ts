// Control API security settings: api.socket_group (resolved against /etc/group), and TCP only with
// api.tls + api.tokens; every mistake named by its path. Role decisions of src/api/auth.ts.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import * as grpc from '@grpc/grpc-js';
import { authorize, certificateNames, TokenTable } from '../../src/api/auth.js';
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
    ['api.tokens: required when api.listen is set: at least one { name, role, file } (or api.clients with api.tls.client_ca)']);
  assert.equal(problems(`api: { tokens: [{ name: a, role: admin, file: /t }] }\n${PORTS}`),
    ['api.tokens[0].role: expected one of read-only, operator, got "admin"']);
  assert.match(problems(`api: { tokens: [{ name: a, role: operator, file: /t }, { name: a, role: read-only, file: /u }] }\n${PORTS}`)[0]!,
    /^api\.tokens\[1\]\.name: duplicate token name "a"/);
  const ok = parseConfig(`api: { listen: "0.0.0.0:50051", tls: { cert: /c, key: /k }, tokens: [{ name: grafana, role: read-only, file: /t }] }\n${PORTS}`, 't.yaml');
  assert.equal(ok.api.tokens, [{ name: 'grafana', role: 'read-only', file: '/t' }]);
});

const CREATE = '/portcullis.v1.VirtualServices/CreateVirtualService';
const LIST = '/portcullis.v1.VirtualServices/ListVirtualServices';
const credentials = {
  tokens: TokenTable.from([['r'.repeat(16), { name: 'grafana', role: 'read-only' as const }], ['o'.repeat(16), { name: 'ops', role: 'operator' as const }]]),
  clients: [{ name: 'alice-laptop', role: 'operator' as const }, { name: 'dash.example', role: 'read-only' as const }],
};
const refusal = (d: ReturnType<typeof authorize>) => (d.allowed ? 'allowed' : d.code);
const who = (d: ReturnType<typeof authorize>) => (d.allowed ? d.identity.name : `refused ${d.code}`);

test('authorize: no or unknown token -> UNAUTHENTICATED; read-only may read, not change', () => {
  assert.is(refusal(authorize(credentials, LIST, undefined)), grpc.status.UNAUTHENTICATED);
  assert.is(refusal(authorize(credentials, LIST, 'Bearer nope')), grpc.status.UNAUTHENTICATED);
  assert.is(refusal(authorize(credentials, LIST, 'Basic abc')), grpc.status.UNAUTHENTICATED);
  assert.is(who(authorize(credentials, LIST, `Bearer ${'r'.repeat(16)}`)), 'grafana');
  assert.is(refusal(authorize(credentials, '/grpc.health.v1.Health/Check', `Bearer ${'r'.repeat(16)}`)), 'allowed');
  assert.is(refusal(authorize(credentials, CREATE, `Bearer ${'r'.repeat(16)}`)), grpc.status.PERMISSION_DENIED);
  assert.is(refusal(authorize(credentials, '/portcullis.v1.Stats/ZeroStats', `Bearer ${'r'.repeat(16)}`)), grpc.status.PERMISSION_DENIED);
  assert.is(who(authorize(credentials, CREATE, `Bearer ${'o'.repeat(16)}`)), 'ops');
});

test('authorize: a certificate name listed in api.clients is the identity; a token, when sent, takes precedence', () => {
  assert.is(who(authorize(credentials, CREATE, undefined, ['alice-laptop'])), 'alice-laptop');
  assert.is(who(authorize(credentials, LIST, undefined, ['somebody', 'dash.example'])), 'dash.example', 'a SAN matches too');
  assert.is(refusal(authorize(credentials, CREATE, undefined, ['dash.example'])), grpc.status.PERMISSION_DENIED);
  const unknown = authorize(credentials, LIST, undefined, ['mallory']);
  assert.is(refusal(unknown), grpc.status.UNAUTHENTICATED);
  assert.match(unknown.allowed ? '' : unknown.details, /client certificate \(mallory\) matches no api\.clients entry/);
  // The token decides: a read-only token on an operator's certificate may not change, a bad token is refused.
  assert.is(refusal(authorize(credentials, CREATE, `Bearer ${'r'.repeat(16)}`, ['alice-laptop'])), grpc.status.PERMISSION_DENIED);
  assert.is(refusal(authorize(credentials, LIST, 'Bearer nope', ['alice-laptop'])), grpc.status.UNAUTHENTICATED);
});

test('certificateNames: subject CN and every subjectAltName value', () => {
  assert.equal(certificateNames(undefined), []);
  assert.equal(certificateNames({ subject: { CN: 'alice' } as never, subjectaltname: 'DNS:a.example, URI:spiffe://pc/ops, IP Address:10.0.0.1' }),
    ['alice', 'a.example', 'spiffe://pc/ops', '10.0.0.1']);
});

test('api.tls.client_ca / client_certs / api.clients: mTLS needs the CA; listen accepts clients instead of tokens', () => {
  const ok = parseConfig(`api: { listen: "0.0.0.0:50051", tls: { cert: /c, key: /k, client_ca: /ca }, clients: [{ name: alice, role: operator }] }\n${PORTS}`, 't.yaml');
  assert.equal(ok.api.tls, { cert: '/c', key: '/k', clientCa: '/ca', clientCerts: 'optional' });
  assert.equal(ok.api.clients, [{ name: 'alice', role: 'operator' }]);
  assert.equal(problems(`api: { tls: { cert: /c, key: /k, client_certs: required } }\n${PORTS}`),
    ['api.tls.client_certs: needs api.tls.client_ca (the CA that signs client certificates)']);
  assert.equal(problems(`api: { tls: { cert: /c, key: /k, client_ca: /ca, client_certs: always } }\n${PORTS}`),
    ['api.tls.client_certs: expected one of optional, required, got "always"']);
  assert.equal(problems(`api: { tls: { cert: /c, key: /k }, clients: [{ name: alice, role: operator }] }\n${PORTS}`),
    ['api.clients: needs api.tls.client_ca: client identities come from certificates that CA signed']);
  assert.match(problems(`api: { tls: { cert: /c, key: /k, client_ca: /ca }, clients: [{ name: a, role: operator }, { name: a, role: operator }] }\n${PORTS}`)[0]!,
    /^api\.clients\[1\]\.name: duplicate client name "a"/);
  assert.match(problems(`api: { tls: { cert: /c, key: /k, client_ca: /ca }, clients: [{ name: a, role: root }] }\n${PORTS}`)[0]!,
    /^api\.clients\[0\]\.role: expected one of read-only, operator/);
});

test('api.limits: defaults when absent, each key read, every mistake named by its path', () => {
  assert.equal(parseConfig(PORTS, 't.yaml').api.limits, { maxConnections: 64, handshakeTimeoutMs: 5000, idleTimeoutMs: 300000, maxConcurrentStreams: 32 });
  assert.equal(parseConfig(`api: { limits: { max_connections: 8, handshake_timeout_ms: 2000, idle_timeout_ms: 60000, max_concurrent_streams: 4 } }\n${PORTS}`, 't.yaml').api.limits,
    { maxConnections: 8, handshakeTimeoutMs: 2000, idleTimeoutMs: 60000, maxConcurrentStreams: 4 });
  assert.equal(parseConfig(`api: { limits: { max_connections: 8 } }\n${PORTS}`, 't.yaml').api.limits.idleTimeoutMs, 300000, 'unset keys keep their defaults');
  assert.equal(problems(`api: { limits: { max_connections: 0 } }\n${PORTS}`), ['api.limits.max_connections: expected integer 1..4096, got 0']);
  assert.equal(problems(`api: { limits: { handshake_timeout_ms: 50 } }\n${PORTS}`), ['api.limits.handshake_timeout_ms: expected integer 100..120000, got 50']);
  assert.equal(problems(`api: { limits: { idle_timeout_ms: "5m" } }\n${PORTS}`), ['api.limits.idle_timeout_ms: expected integer 1000..86400000, got "5m"']);
  assert.equal(problems(`api: { limits: { max_concurrent_streams: 1.5 } }\n${PORTS}`), ['api.limits.max_concurrent_streams: expected integer 1..1024, got 1.5']);
  assert.match(problems(`api: { limits: { max_conns: 3 } }\n${PORTS}`)[0]!, /^api\.limits\.max_conns: unknown key \(expected one of: max_connections, handshake_timeout_ms, idle_timeout_ms, max_concurrent_streams\)/);
  assert.match(problems(`api: { limits: 5 }\n${PORTS}`)[0]!, /^api\.limits: expected a mapping/);
});

test('api.socket: its directory must leave room for the private bind directory', () => {
  const directory = `/${'d'.repeat(92)}`;
  assert.is(parseConfig(`api: { socket: ${directory}/s }\n${PORTS}`, 't.yaml').api.socket, `${directory}/s`, '93-byte directory: fits');
  assert.match(problems(`api: { socket: ${directory}d/s }\n${PORTS}`)[0]!,
    /^api\.socket: its directory is too long: the socket is first bound as <directory>\/\.pcs-XXXXXX\/s \(108 bytes, at most 107\)/);
});

test.run();
