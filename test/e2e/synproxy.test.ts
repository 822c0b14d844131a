// End to end SYNPROXY: a service with synproxy on, real Linux TCP stacks on both sides
// (window scaling, SACK and timestamps on in the client kernel, the defaults). The
// gateway answers the handshake itself, so curl and a 50 MB download only work if the
// backend handshake, held data and the seq/SACK/timestamp/window translation are right.
// Then PROXY protocol v1 and v2 (v2 together with SYNPROXY): the lab servers' PROXY port (81)
// reports the client address it read from the header. One lab for both: they share the machinery.

import { suite } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { patternSha256 } from '../../src/lab/pattern.js';
import { fileURLToPath } from 'node:url';
import { ATTACKER, CLIENT, LOCAL_ADDRESSES, REAL_SERVERS, VIP } from '../../src/lab/topology.js';
import { clientTool, LAB_TOOLS, requireLab, requireTool, runInNamespace, sharedGateway } from '../support/e2e-lab.js';

interface Reply { ok: boolean; status?: number; body?: string; bytes?: number; sha256?: string; error?: string; ms: number }

const SYNPROXY_PORT = 8081;
const WEB = `http://${VIP}:${SYNPROXY_PORT}/`;
const LARGE_DOWNLOAD_BYTES = 50 * 1024 * 1024;
const CURL_REQUESTS = 20;

const e2e = suite('e2e: SYNPROXY through the lab');
e2e.before(requireLab); // no root or a missing tool: every test fails, naming it

const shared = sharedGateway();
const running = () => shared.running();

async function events(): Promise<Record<string, bigint>> {
  const stats = await running().api.call('Stats', 'GetStats', {});
  const out: Record<string, bigint> = {};
  for (const [k, v] of Object.entries(stats.events as Record<string, string>)) out[k] = BigInt(v);
  for (const [k, v] of Object.entries(stats.drops as Record<string, string>)) out[`drop:${k}`] = BigInt(v);
  return out;
}

e2e.after(() => shared.stop());

e2e('the lab and daemon come up; a synproxy service is added over gRPC', async () => {
  const gateway = await shared.start();
  const servers = REAL_SERVERS.map((server) => ({ address: server.addresses[0]!, port: 80, weight: 1 }));
  await gateway.api.call('VirtualServices', 'CreateVirtualService', {
    service: {
      key: { protocol: 'TCP', vip: VIP, port: SYNPROXY_PORT }, scheduler: 'rr', synproxy: 'on',
      localAddresses: [...LOCAL_ADDRESSES], servers, name: 'e2e-synproxy',
    },
  });
  const listed = await gateway.api.call('VirtualServices', 'ListVirtualServices', {});
  const service = (listed.services as { name: string; synproxy: string }[]).find((s) => s.name === 'e2e-synproxy');
  assert.is(service?.synproxy, 'on', 'the service reads back with synproxy on');
  // The client kernel negotiates every option the cookie has to carry.
  for (const sysctl of ['net.ipv4.tcp_window_scaling', 'net.ipv4.tcp_sack', 'net.ipv4.tcp_timestamps']) {
    const r = await runInNamespace(CLIENT.namespace, ['sysctl', '-n', sysctl], 5_000);
    assert.is(r.stdout.trim(), '1', `${sysctl} in ${CLIENT.namespace}`);
  }
});

e2e(`curl: ${CURL_REQUESTS} requests through the SYNPROXY service, every handshake answered by the gateway`, async () => {
  const before = await events();
  for (let i = 0; i < CURL_REQUESTS; i++) {
    const r = await runInNamespace(CLIENT.namespace, ['curl', '-sS', '--max-time', '5', WEB], 10_000);
    assert.is(r.code, 0, `curl ${i}: ${r.stderr}`);
    const answer = JSON.parse(r.stdout) as { server: string };
    assert.match(answer.server, /^rs[123]$/);
  }
  const after = await events();
  const delta = (k: string): bigint => (after[k] ?? 0n) - (before[k] ?? 0n);
  assert.ok(delta('synproxy_syn_answered') >= BigInt(CURL_REQUESTS), `SYN-ACKs by the gateway: ${delta('synproxy_syn_answered')}`);
  assert.is(delta('synproxy_cookies_accepted'), BigInt(CURL_REQUESTS));
  assert.is(delta('synproxy_server_handshakes'), BigInt(CURL_REQUESTS));
  assert.is(delta('drop:bad_cookie'), 0n);
  assert.is(delta('synproxy_client_resets'), 0n);
});

e2e('a 50 MB download through the SYNPROXY service arrives intact', async () => {
  const reply = await clientTool<Reply>(['download', `${WEB}bytes/${LARGE_DOWNLOAD_BYTES}`, 60_000], 70_000);
  assert.ok(reply.ok, `download failed: ${reply.error ?? reply.status} after ${reply.bytes} bytes`);
  assert.is(reply.bytes, LARGE_DOWNLOAD_BYTES);
  assert.is(reply.sha256, patternSha256(LARGE_DOWNLOAD_BYTES), 'sha256 of the received bytes');
  console.log(`  SYNPROXY: 50 MB in ${reply.ms} ms (${(LARGE_DOWNLOAD_BYTES / 1e6 / (reply.ms / 1000)).toFixed(1)} MB/s)`);
});

for (const [mode, port, synproxy] of [['proxy_v1', 8082, 'off'], ['proxy_v2', 8083, 'on']] as const) {
  e2e(`${mode}${synproxy === 'on' ? ' + SYNPROXY' : ''}: the real server reads the true client address from the header`, async () => {
    const { api } = running();
    const servers = REAL_SERVERS.map((server) => ({ address: server.addresses[0]!, port: 81, weight: 1 }));
    await api.call('VirtualServices', 'CreateVirtualService', {
      service: {
        key: { protocol: 'TCP', vip: VIP, port }, scheduler: 'rr', clientAddress: mode, synproxy,
        localAddresses: [...LOCAL_ADDRESSES], servers, name: `e2e-${mode}`,
      },
    });
    for (let i = 0; i < 3; i++) {
      const r = await runInNamespace(CLIENT.namespace, ['curl', '-sS', '--max-time', '5', '-w', ' %{local_port}', `http://${VIP}:${port}/who`], 10_000);
      assert.is(r.code, 0, `curl ${i}: ${r.stderr}`);
      const split = r.stdout.lastIndexOf(' ');
      const answer = JSON.parse(r.stdout.slice(0, split)) as { server: string; peer: string; client: string; path: string };
      const localPort = r.stdout.slice(split + 1).trim();
      assert.is(answer.client, `${CLIENT.addresses[0]}:${localPort}`, 'the client address and port from the PROXY header');
      assert.ok((LOCAL_ADDRESSES as readonly string[]).includes(answer.peer.slice(0, answer.peer.lastIndexOf(':'))), `the TCP peer is a LIP: ${answer.peer}`);
      assert.is(answer.path, '/who', 'the request follows the header intact');
    }
  });
}

// nginx (apt: nginx-light, installed by scripts/setup.sh) as the real server: `listen … proxy_protocol`
// and $proxy_protocol_addr. Without nginx this test fails (requireLab names it), it does not pass.
const NGINX_PORT = 82;
const NGINX_SERVICE_PORT = 8084;
e2e('nginx behind a proxy_v2 service logs the true client address', async () => {
  const NGINX = requireTool('nginx', LAB_TOOLS.nginx);
  const dir = await mkdtemp(join(tmpdir(), 'pc-nginx-'));
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `${t}_temp_path ${dir}/${t};`).join(' ');
  await writeFile(join(dir, 'nginx.conf'), `pid ${dir}/nginx.pid; error_log ${dir}/error.log; worker_processes 1; events {}
http { log_format pp '$proxy_protocol_addr:$proxy_protocol_port via $remote_addr "$request"'; access_log ${dir}/access.log pp; ${temp}
  server { listen ${NGINX_PORT} proxy_protocol; location / { return 200 "$proxy_protocol_addr:$proxy_protocol_port"; } } }
`);
  const rs1 = REAL_SERVERS[0]!;
  const nginx = spawn('ip', ['netns', 'exec', rs1.namespace, NGINX, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'], { stdio: 'ignore' });
  try {
    await running().api.call('VirtualServices', 'CreateVirtualService', {
      service: {
        key: { protocol: 'TCP', vip: VIP, port: NGINX_SERVICE_PORT }, scheduler: 'rr', clientAddress: 'proxy_v2',
        localAddresses: [...LOCAL_ADDRESSES], servers: [{ address: rs1.addresses[0]!, port: NGINX_PORT, weight: 1 }], name: 'e2e-nginx',
      },
    });
    let r = { code: -1 as number | string, stdout: '', stderr: '' };
    for (let attempt = 0; attempt < 20 && r.code !== 0; attempt++) { // nginx needs a moment to listen
      if (attempt) await new Promise((resolve) => setTimeout(resolve, 250));
      r = await runInNamespace(CLIENT.namespace, ['curl', '-sS', '--max-time', '3', '-w', ' %{local_port}', `http://${VIP}:${NGINX_SERVICE_PORT}/nginx`], 6_000);
    }
    assert.is(r.code, 0, `curl: ${r.stderr}`);
    const [body, localPort] = r.stdout.split(' ');
    assert.is(body, `${CLIENT.addresses[0]}:${localPort}`, 'nginx $proxy_protocol_addr:$proxy_protocol_port');
    const log = await readFile(join(dir, 'access.log'), 'utf8');
    const viaLip = LOCAL_ADDRESSES.some((lip) => log.includes(`${CLIENT.addresses[0]}:${localPort} via ${lip} `));
    assert.ok(viaLip, `access log names the client, the TCP peer a LIP: ${log}`);
    assert.match(log, '"GET /nginx HTTP/1.1"');
  } finally {
    nginx.kill('SIGTERM');
    await new Promise((resolve) => { if (nginx.exitCode !== null) resolve(null); else nginx.once('exit', resolve); });
    await rm(dir, { recursive: true, force: true });
  }
});

// Stretch goal of issue 4: a bounded spoofed-source flood (198.18.0.100-199 only, 10 s, from
// pc-attacker) while the legitimate client makes 200 sequential requests.
const FLOOD_SECONDS = 10;
const FLOOD_MAX_PACKETS = 3_000_000;
const LEGIT_REQUESTS = 200;
e2e(`flood: ${FLOOD_SECONDS} s of spoofed SYNs and forged ACKs; ${LEGIT_REQUESTS} legitimate requests all succeed`, async () => {
  const before = await events();
  const floodScript = fileURLToPath(new URL('../support/syn-flood.py', import.meta.url));
  const flood = runInNamespace(ATTACKER.namespace,
    ['python3', floodScript, VIP, String(SYNPROXY_PORT), String(FLOOD_SECONDS), String(FLOOD_MAX_PACKETS)], (FLOOD_SECONDS + 20) * 1000);
  await new Promise((resolve) => setTimeout(resolve, 500));
  const legit = await clientTool<{ replies: Reply[] }>(['sequential', WEB, LEGIT_REQUESTS, 5_000], 120_000);
  const floodResult = await flood;
  const after = await events();
  const delta = (k: string): bigint => (after[k] ?? 0n) - (before[k] ?? 0n);
  const report = JSON.parse(floodResult.stdout.trim().split('\n').pop() ?? '{}') as { sent: number; syns: number; acks: number; pps: number; seconds: number };
  assert.ok(report.sent > 0, `the flood sent nothing: ${floodResult.stdout} ${floodResult.stderr}`);
  const ok = legit.replies.filter((r) => r.ok).length;
  console.log(`  flood: ${report.sent} packets in ${report.seconds} s (${report.pps} pps offered); legit ${ok}/${LEGIT_REQUESTS} ok; ` +
    `SYN-ACKs ${delta('synproxy_syn_answered')}, bad cookies ${delta('drop:bad_cookie')}, conns created ${delta('conns_created')}`);
  assert.is(ok, LEGIT_REQUESTS, `failed: ${legit.replies.filter((r) => !r.ok).map((r) => r.error).slice(0, 3).join('; ')}`);
  // Only the legitimate handshakes reached a server: one connection (and backend SYN) each.
  assert.is(delta('conns_created'), BigInt(LEGIT_REQUESTS), 'connections created = legitimate requests only');
  assert.is(delta('synproxy_server_handshakes'), BigInt(LEGIT_REQUESTS));
  assert.ok(delta('synproxy_syn_answered') > BigInt(LEGIT_REQUESTS), 'the flood SYNs were answered with cookies');
  assert.ok(delta('drop:bad_cookie') > 0n, 'forged ACKs counted as bad_cookie');
  assert.ok(delta('drop:bad_cookie') <= BigInt(report.acks), 'no more bad cookies than forged ACKs sent');
});

e2e.run();
