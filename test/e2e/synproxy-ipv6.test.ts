// End to end SYNPROXY on an IPv6 service: real Linux TCP stacks on both sides over IPv6 (window
// scaling, SACK and timestamps on), so curl only works if the IPv6 cookie SYN-ACK, the backend
// handshake to an IPv6 server and the sequence translation are right. Then a bounded spoofed
// IPv6 SYN flood (with forged ACKs) from pc-attacker while the real client keeps fetching: every
// request succeeds and the flood makes no connection.
// Needs root and the lab's tools; run under `flock /tmp/pc-lab.lock` like every lab test.

import { suite } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { CLIENT, LOCAL_ADDRESSES_V6, REAL_SERVERS, VIP_V6 } from '../../src/lab/topology.js';
import { synFlood } from '../support/e2e-floods.js';
import { curlIn, httpUrl, peerAddress } from '../support/e2e-http.js';
import { requireLab, runInNamespace, sharedGateway } from '../support/e2e-lab.js';

const SYNPROXY_PORT = 8081;
const WEB6 = httpUrl(VIP_V6, SYNPROXY_PORT);
const CURL_REQUESTS = 10;
const FLOOD_SECONDS = 5;
const FLOOD_MAX_PACKETS = 1_000_000;
const LEGIT_DURING_FLOOD = 30;

/**
 * The demo's IPv6 services plus an IPv6 SYNPROXY service. The NAT64 demo service is left out:
 * it is not what this suite tests (and a data plane without NAT64 refuses it).
 */
function withSynproxyService(yaml: string): string {
  const withoutNat64 = yaml.replace(/ {2}- name: web-nat64\n(?: {4}.*\n)*/, '');
  const servers = REAL_SERVERS.map((server) => `      - { address: ${JSON.stringify(server.addresses6[0]!)}, port: 80, weight: 1 }`).join('\n');
  return `${withoutNat64.trimEnd()}
  - name: web-synproxy-v6
    protocol: tcp
    vip: ${JSON.stringify(VIP_V6)}
    port: ${SYNPROXY_PORT}
    scheduler: rr
    synproxy: on
    local_addresses: [${LOCAL_ADDRESSES_V6.map((a) => JSON.stringify(a)).join(', ')}]
    servers:
${servers}
`;
}

const e2e = suite('e2e: SYNPROXY on an IPv6 service');
e2e.before(requireLab); // no root or a missing tool: every test fails, naming it

const shared = sharedGateway(withSynproxyService, undefined, { ipv6Services: true });
const running = () => shared.running();
e2e.after(() => shared.stop());

async function counters(): Promise<Record<string, bigint>> {
  const stats = await running().api.call('Stats', 'GetStats', {});
  const out: Record<string, bigint> = {};
  for (const [k, v] of Object.entries(stats.events as Record<string, string>)) out[k] = BigInt(v);
  for (const [k, v] of Object.entries(stats.drops as Record<string, string>)) out[`drop:${k}`] = BigInt(v);
  return out;
}
function deltaOf(before: Record<string, bigint>, after: Record<string, bigint>): (k: string) => bigint {
  return (k) => (after[k] ?? 0n) - (before[k] ?? 0n);
}

/** One IPv6 curl from the client: asserts it got a real server's answer through an IPv6 LIP. */
async function fetchOnce(what: string): Promise<void> {
  const r = await curlIn(CLIENT.namespace, WEB6, { maxSeconds: 5, extra: ['-6'] });
  assert.is(r.code, 0, `${what}: curl ${WEB6}: ${r.stderr}`);
  assert.ok(r.answer, `${what}: not a server answer: ${r.stdout.slice(0, 200)}`);
  assert.match(r.answer!.server, /^rs[123]$/);
  assert.ok((LOCAL_ADDRESSES_V6 as readonly string[]).includes(peerAddress(r.answer!)), `${what}: the server's peer is an IPv6 LIP: ${r.answer!.peer}`);
}

e2e('the lab and daemon come up with an IPv6 service that has synproxy on; the client kernel offers every option', async () => {
  const gateway = await shared.start();
  const listed = await gateway.api.call('VirtualServices', 'ListVirtualServices', {});
  const service = (listed.services as { name: string; synproxy: string; key: { vip: string } }[]).find((s) => s.name === 'web-synproxy-v6');
  assert.equal([service?.synproxy, service?.key.vip], ['on', VIP_V6], 'the service reads back');
  for (const sysctl of ['net.ipv4.tcp_window_scaling', 'net.ipv4.tcp_sack', 'net.ipv4.tcp_timestamps']) {
    const r = await runInNamespace(CLIENT.namespace, ['sysctl', '-n', sysctl], 5_000);
    assert.is(r.stdout.trim(), '1', `${sysctl} in ${CLIENT.namespace} (TCP over IPv6 uses them too)`);
  }
});

e2e(`curl over IPv6: ${CURL_REQUESTS} requests, every handshake answered by the gateway with a cookie`, async () => {
  const before = await counters();
  for (let i = 0; i < CURL_REQUESTS; i++) await fetchOnce(`request ${i}`);
  const delta = deltaOf(before, await counters());
  assert.ok(delta('synproxy_syn_answered') >= BigInt(CURL_REQUESTS), `SYN-ACKs by the gateway: ${delta('synproxy_syn_answered')}`);
  assert.is(delta('synproxy_cookies_accepted'), BigInt(CURL_REQUESTS));
  assert.is(delta('synproxy_server_handshakes'), BigInt(CURL_REQUESTS));
  assert.is(delta('conns_created'), BigInt(CURL_REQUESTS));
  assert.is(delta('drop:bad_cookie'), 0n);
  assert.is(delta('synproxy_client_resets'), 0n);
});

e2e(`flood: ${FLOOD_SECONDS} s of spoofed IPv6 SYNs and forged ACKs; ${LEGIT_DURING_FLOOD} IPv6 curls meanwhile all succeed, the flood opens nothing`, async () => {
  const before = await counters();
  const flood = synFlood(VIP_V6, SYNPROXY_PORT, FLOOD_SECONDS, FLOOD_MAX_PACKETS);
  let legit = 0;
  let failure: unknown;
  try {
    await new Promise((resolve) => setTimeout(resolve, 300));
    for (; legit < LEGIT_DURING_FLOOD; legit++) await fetchOnce(`request ${legit} during the flood`);
  } catch (error) {
    failure = error;  // reported after the flood has ended (it is bounded), with what it did
  }
  const report = await flood;
  const delta = deltaOf(before, await counters());
  console.log(`  IPv6 flood: ${report.sent} packets (${report.syns} SYNs, ${report.acks} ACKs) in ${report.seconds} s (${report.pps} pps); ` +
    `legit ${legit}/${LEGIT_DURING_FLOOD}; SYN-ACKs ${delta('synproxy_syn_answered')}, bad cookies ${delta('drop:bad_cookie')}, ` +
    `conns created ${delta('conns_created')}`);
  if (failure) throw failure;
  assert.ok(report.sent > 0 && report.syns > 0, `the flood sent nothing: ${JSON.stringify(report)}`);
  // Only the legitimate handshakes made connections (and backend SYNs): one each.
  assert.is(delta('conns_created'), BigInt(legit), 'connections created = legitimate requests only');
  assert.is(delta('synproxy_server_handshakes'), BigInt(legit));
  assert.ok(delta('synproxy_syn_answered') > BigInt(legit), 'the flood SYNs were answered with cookies');
  assert.ok(delta('drop:bad_cookie') > 0n, 'forged ACKs counted as bad_cookie');
  assert.ok(delta('drop:bad_cookie') <= BigInt(report.acks), 'no more bad cookies than forged ACKs sent');
  assert.is(legit, LEGIT_DURING_FLOOD);
});

e2e.run();
