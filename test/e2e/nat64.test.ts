// End to end, NAT64 (docs/forwarding-modes.md "NAT64"): the demo's web-nat64 service on
// [VIP6]:8080 (DEMO_IPV6_SERVICES' configuration, asked for here whatever the switch says),
// an IPv6 VIP whose servers are the lab's IPv4 ones, reached through the IPv4 LIPs. Real Linux
// stacks on both sides: curl from pc-client over IPv6, the servers see an IPv4 LIP; a download
// of full-size segments arrives intact with none refused for its size once IPv6, and the
// SYN-ACK MSS is lowered by 20. (With both lab links at 1500 each stack also limits itself
// to its own link, so the lowering is seen here as the event; what it prevents, a client
// path narrower than its link, is the golden test's: test/packet/nat64.test.ts.)
// Needs root and the lab's tools; run under `flock /tmp/pc-lab.lock` like every lab test.

import { suite } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { CLIENT, LOCAL_ADDRESSES, NAT64_HTTP_PORT, REAL_SERVERS, VIP_V6 } from '../../src/lab/topology.js';
import { curlIn, downloadChecked, httpUrl, peerAddress } from '../support/e2e-http.js';
import { requireLab, sharedGateway } from '../support/e2e-lab.js';

const e2e = suite('e2e: NAT64 through the lab');
e2e.before(requireLab); // no root or a missing tool: every test fails, naming it

const shared = sharedGateway(undefined, undefined, { ipv6Services: true });
e2e.after(() => shared.stop());

const DOWNLOAD_BYTES = 8 * 1024 * 1024;

async function statsCounter(kind: 'drops' | 'events', name: string): Promise<bigint> {
  const stats = await shared.running().api.call('Stats', 'GetStats', {});
  const value = (stats[kind] as Record<string, string>)[name];
  assert.ok(value !== undefined, `GetStats has no ${kind} counter ${name}`);
  return BigInt(value);
}

e2e('curl from an IPv6 client to [VIP6]:8080 is served by the IPv4 servers, each seeing an IPv4 LIP', async () => {
  await shared.start();
  const url = httpUrl(VIP_V6, NAT64_HTTP_PORT, '/nat64');
  const servers: string[] = [];
  for (let i = 0; i < 6; i++) {
    const result = await curlIn(CLIENT.namespace, url);
    assert.is(result.code, 0, `curl ${url}: ${result.stderr}`);
    const answer = result.answer;
    assert.ok(answer, `a server answer: ${result.stdout}`);
    assert.is(answer.path, '/nat64');
    assert.ok((LOCAL_ADDRESSES as readonly string[]).includes(peerAddress(answer)), `the server saw ${answer.peer}: an IPv4 LIP (${LOCAL_ADDRESSES.join(', ')})`);
    servers.push(answer.server);
  }
  const names = REAL_SERVERS.map((server) => server.serverName);
  for (const name of names) assert.is(servers.filter((s) => s === name).length, 2, `rr over ${names.join(', ')}: ${servers.join(' ')}`);
});

e2e(`an ${DOWNLOAD_BYTES / 1024 / 1024} MB download through NAT64 arrives intact, no packet refused for its size`, async () => {
  const lowered = await statsCounter('events', 'nat64_mss_lowered');
  const tooBig = await statsCounter('drops', 'egress_mtu_exceeded');
  const download = await downloadChecked(VIP_V6, NAT64_HTTP_PORT, DOWNLOAD_BYTES, 30_000);
  assert.ok(download.intact, `download: ${JSON.stringify(download)}`);
  assert.is(await statsCounter('drops', 'egress_mtu_exceeded'), tooBig, 'every segment fitted the outside link as IPv6');
  assert.ok((await statsCounter('events', 'nat64_mss_lowered')) > lowered, 'the SYN-ACK MSS was lowered');
});

e2e.run();
