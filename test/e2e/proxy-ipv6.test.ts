// End to end PROXY protocol over IPv6: curl -6 from pc-client to the IPv6 VIP, the lab's real
// servers on their PROXY port (81, src/lab/servers.ts: v1 TCP6 lines and v2 AF_INET6 blocks)
// report the client address and port the header told them. The demo's web-proxy-v6 (proxy_v2,
// no SYNPROXY), then services added over gRPC: proxy_v2 with SYNPROXY on, proxy_v1 with and
// without it. The client's kernel picks the port; curl prints it, so the check is exact.
// Needs root and the lab's tools; run under `flock /tmp/pc-lab.lock` like every lab test.
import { suite } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { DEMO_PROXY_V6_SERVICE } from '../../src/lab/demo-config.js';
import { CLIENT, LOCAL_ADDRESSES_V6, PROXY_HTTP_PORT, REAL_SERVERS, VIP_V6 } from '../../src/lab/topology.js';
import { httpUrl, splitEndpoint, type ServerAnswer } from '../support/e2e-http.js';
import { requireLab, runInNamespace, sharedGateway } from '../support/e2e-lab.js';

const e2e = suite('e2e: PROXY protocol over IPv6');
e2e.before(requireLab); // no root or a missing tool: every test fails, naming it

const shared = sharedGateway(undefined, undefined, { ipv6Services: true });
e2e.after(() => shared.stop());

const REQUESTS = 3;

async function counters(): Promise<Record<string, bigint>> {
  const stats = await shared.running().api.call('Stats', 'GetStats', {});
  const out: Record<string, bigint> = {};
  for (const [k, v] of Object.entries(stats.events as Record<string, string>)) out[k] = BigInt(v);
  for (const [k, v] of Object.entries(stats.drops as Record<string, string>)) out[`drop:${k}`] = BigInt(v);
  return out;
}

/** REQUESTS curls over IPv6 to [VIP_V6]:port; each server must read pc-client's own address and port from the header. */
async function clientReadFromHeader(port: number): Promise<void> {
  const url = httpUrl(VIP_V6, port, '/who');
  for (let i = 0; i < REQUESTS; i++) {
    const r = await runInNamespace(CLIENT.namespace, ['curl', '-6', '-gsS', '--max-time', '5', '-w', ' %{local_port}', url], 10_000);
    assert.is(r.code, 0, `curl ${url} (${i}): ${r.stderr}`);
    const split = r.stdout.lastIndexOf(' ');
    const answer = JSON.parse(r.stdout.slice(0, split)) as ServerAnswer;
    const localPort = r.stdout.slice(split + 1).trim();
    assert.match(answer.server, /^rs[123]$/);
    assert.is(answer.client, `[${CLIENT.addresses6[0]}]:${localPort}`, 'the client\'s IPv6 address and port from the PROXY header');
    assert.ok((LOCAL_ADDRESSES_V6 as readonly string[]).includes(splitEndpoint(answer.peer).address), `the TCP peer is an IPv6 LIP: ${answer.peer}`);
    assert.is(answer.path, '/who', 'the request follows the header intact');
  }
}

e2e('the demo\'s web-proxy-v6 (proxy_v2 on [VIP6]:81): each server reads the IPv6 client\'s address and port', async () => {
  assert.ok(DEMO_PROXY_V6_SERVICE, 'the demo serves web-proxy-v6');
  const { api } = await shared.start();
  const listed = await api.call('VirtualServices', 'ListVirtualServices', {});
  const service = (listed.services as { name: string; clientAddress: string; key: { vip: string; port: number } }[]).find((s) => s.name === 'web-proxy-v6');
  assert.equal([service?.clientAddress, service?.key.vip, service?.key.port], ['proxy_v2', VIP_V6, PROXY_HTTP_PORT], 'the demo service reads back');
  await clientReadFromHeader(PROXY_HTTP_PORT);
});

for (const [mode, port, synproxy] of [['proxy_v2', 8083, 'on'], ['proxy_v1', 8082, 'off'], ['proxy_v1', 8084, 'on']] as const) {
  e2e(`${mode}${synproxy === 'on' ? ' + SYNPROXY' : ''} on [VIP6]:${port}: the real server reads the IPv6 client from the header`, async () => {
    const { api } = shared.running();
    const servers = REAL_SERVERS.map((server) => ({ address: server.addresses6[0]!, port: PROXY_HTTP_PORT, weight: 1 }));
    await api.call('VirtualServices', 'CreateVirtualService', {
      service: {
        key: { protocol: 'TCP', vip: VIP_V6, port }, scheduler: 'rr', clientAddress: mode, synproxy,
        localAddresses: [...LOCAL_ADDRESSES_V6], servers, name: `e2e-${mode}-${port}`,
      },
    });
    const before = await counters();
    await clientReadFromHeader(port);
    const after = await counters();
    const delta = (k: string): bigint => (after[k] ?? 0n) - (before[k] ?? 0n);
    if (synproxy === 'on') {
      assert.is(delta('synproxy_cookies_accepted'), BigInt(REQUESTS), 'every handshake went through the cookie');
      assert.is(delta('synproxy_server_handshakes'), BigInt(REQUESTS));
    } else {
      assert.is(delta('synproxy_cookies_accepted'), 0n);
    }
    assert.is(delta('drop:client_address_bad_checksum'), 0n);
  });
}

e2e.run();
