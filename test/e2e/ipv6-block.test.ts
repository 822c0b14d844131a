// End to end: an IPv6 /64 blocked over the Defense gRPC service. One attacker holds a whole /64,
// so that is what gets blocked. The lab's attacker ::66 shares the client's /64
// (2001:db8:18::/64), so this suite gives pc-attacker two more addresses in a /64 of its own,
// 2001:db8:18:66::/64, for the length of the test (removed in finally), and the gateway a route
// to that /64 via the attacker's ::66. Shown: both attacker addresses are cut off and counted
// (acl_denied), the client outside that /64 keeps connecting, and unblocking lets the /64 back.
// Needs root and the lab's tools; run under `flock /tmp/pc-lab.lock` like every lab test.
import { suite } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { ATTACKER, CLIENT, VIP_V6 } from '../../src/lab/topology.js';
import { curlIn, httpUrl } from '../support/e2e-http.js';
import { requireLab, runInNamespace, sharedGateway } from '../support/e2e-lab.js';

const BLOCKED_PREFIX = '2001:db8:18:66::/64';
const ATTACKER_PREFIX_ADDRESSES = ['2001:db8:18:66::1', '2001:db8:18:66:ffff::2'];  // two addresses far apart inside the /64
const ATTACKER_NEXT_HOP = ATTACKER.addresses6[0]!;  // 2001:db8:18::66
const WEB6 = httpUrl(VIP_V6);

/** The demo config plus the route to the attacker's own /64. */
function withAttackerRoute(yaml: string): string {
  const route = `routes:\n  - { prefix: ${JSON.stringify(BLOCKED_PREFIX)}, via: ${JSON.stringify(ATTACKER_NEXT_HOP)}, port: outside }\n`;
  if (!yaml.includes('routes: []\n')) throw new Error('the demo config has no empty routes list to extend');
  return yaml.replace('routes: []\n', route);
}

const e2e = suite('e2e: a blocked IPv6 /64');
e2e.before(requireLab); // no root or a missing tool: every test fails, naming it

const gateway = sharedGateway(withAttackerRoute, undefined, { ipv6Services: true });
e2e.after(() => gateway.stop());

/** One IPv6 GET to the VIP from a namespace and one of its addresses; true on a real server's answer within 2 s. */
async function reaches(namespace: string, source: string): Promise<boolean> {
  const r = await curlIn(namespace, WEB6, { source, maxSeconds: 2, extra: ['-6'] });
  return r.code === 0 && r.answer !== undefined;
}

async function aclDenied(): Promise<bigint> {
  const stats = await gateway.running().api.call('Stats', 'GetStats', {});
  return BigInt((stats.drops as Record<string, string>).acl_denied ?? '0');
}

async function attackerAddresses(action: 'add' | 'del'): Promise<void> {
  for (const address of ATTACKER_PREFIX_ADDRESSES) {
    // nodad: usable at once; preferred_lft 0: only used when a socket binds it (as the lab's extra addresses).
    const argv = ['ip', '-6', 'address', action, `${address}/64`, 'dev', 'eth0', ...(action === 'add' ? ['nodad', 'preferred_lft', '0'] : [])];
    const r = await runInNamespace(ATTACKER.namespace, argv, 5_000);
    if (r.code !== 0 && action === 'add') throw new Error(`${argv.join(' ')} in ${ATTACKER.namespace}: ${r.stderr}`);
  }
}

e2e(`${BLOCKED_PREFIX} blocked: two of its addresses are dropped and counted (acl_denied), a client outside it still connects; unblocked, it is back`, async () => {
  const { api } = await gateway.start();
  const origin = { actor: 'e2e', reason: 'e2e IPv6 /64 block' };
  await attackerAddresses('add');
  try {
    for (const source of ATTACKER_PREFIX_ADDRESSES) assert.ok(await reaches(ATTACKER.namespace, source), `[${source}] reaches the VIP before the block`);
    assert.ok(await reaches(CLIENT.namespace, CLIENT.addresses6[0]!), 'the client reaches the VIP before the block');

    await api.call('Defense', 'Block', { prefix: BLOCKED_PREFIX, origin: { ...origin, duration: '2m' } });
    const listed = (await api.call('Defense', 'ListMitigations', {})).mitigations as { kind: string; prefix: string }[];
    assert.ok(listed.some((m) => m.kind === 'deny' && m.prefix === BLOCKED_PREFIX), `listed: ${JSON.stringify(listed)}`);
    for (const source of ATTACKER_PREFIX_ADDRESSES) {
      const before = await aclDenied();
      assert.not.ok(await reaches(ATTACKER.namespace, source), `[${source}] is cut off`);
      const after = await aclDenied();
      assert.ok(after > before, `acl_denied counted [${source}]'s packets (${before} → ${after})`);
    }
    const before = await aclDenied();
    assert.ok(await reaches(CLIENT.namespace, CLIENT.addresses6[0]!), `[${CLIENT.addresses6[0]}] (outside ${BLOCKED_PREFIX}) still connects`);
    assert.ok(await reaches(CLIENT.namespace, CLIENT.addresses6[2]!), `[${CLIENT.addresses6[2]}] too`);
    assert.is(await aclDenied(), before, 'nothing of the client\'s is denied');

    await api.call('Defense', 'Unblock', { prefix: BLOCKED_PREFIX, origin });
    for (const source of ATTACKER_PREFIX_ADDRESSES) assert.ok(await reaches(ATTACKER.namespace, source), `[${source}] reaches the VIP again after the unblock`);
  } finally {
    await attackerAddresses('del');
  }
});

e2e.run();
