// The kernel's FullNAT on the very same lab: the two gateway veths (pc-gw-out,
// pc-gw-in) move from the root namespace into a router namespace that owns the
// gateway addresses, the VIP and the LIPs, forwards, and rewrites with nftables:
// DNAT VIP:port round-robin to the servers (numgen), SNAT to the LIP range. Client,
// servers, bridges and veths are the ones Portcullis runs on, so only the gateway
// differs. nftablesDown() moves the veths back (a later scenario can use them).
import { rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ipIn, mustRun, mustRunIn, runTool } from '../../src/lab/run.js';
import {
  GATEWAY_INSIDE_ADDRESS, GATEWAY_INSIDE_IFACE, GATEWAY_OUTSIDE_ADDRESS, GATEWAY_OUTSIDE_IFACE,
  INSIDE_PREFIX_LENGTH, LOCAL_ADDRESSES, OUTSIDE_PREFIX_LENGTH, VIP,
} from '../../src/lab/topology.js';

export const NFT_ROUTER_NAMESPACE = 'pc-bench-nft';

export function nftFullnatRuleset(port: number, servers: string[]): string {
  const map = servers.map((address, i) => `${i} : ${address}`).join(', ');
  return `table ip portcullis_bench_fullnat {
  chain to_servers {
    type nat hook prerouting priority dstnat; policy accept;
    ip daddr ${VIP} tcp dport ${port} dnat to numgen inc mod ${servers.length} map { ${map} }
  }
  chain from_lips {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "${GATEWAY_INSIDE_IFACE}" snat to ${LOCAL_ADDRESSES[0]}-${LOCAL_ADDRESSES[LOCAL_ADDRESSES.length - 1]}
  }
}
`;
}

async function namespaceExists(name: string): Promise<boolean> {
  return (await runTool('ip', ['netns', 'list'])).stdout.split('\n').some((line) => line.split(' ')[0] === name);
}

/** Moves the gateway veths into a fresh router namespace and loads the ruleset. */
export async function nftablesUp(port: number, servers: string[]): Promise<void> {
  await nftablesDown();
  await mustRun('ip', ['netns', 'add', NFT_ROUTER_NAMESPACE]);
  const ns = NFT_ROUTER_NAMESPACE;
  await ipIn(ns, ['link', 'set', 'lo', 'up']);
  for (const iface of [GATEWAY_OUTSIDE_IFACE, GATEWAY_INSIDE_IFACE]) await mustRun('ip', ['link', 'set', iface, 'netns', ns]);
  await ipIn(ns, ['address', 'add', `${GATEWAY_OUTSIDE_ADDRESS}/${OUTSIDE_PREFIX_LENGTH}`, 'dev', GATEWAY_OUTSIDE_IFACE]);
  await ipIn(ns, ['address', 'add', `${VIP}/32`, 'dev', GATEWAY_OUTSIDE_IFACE]);
  await ipIn(ns, ['address', 'add', `${GATEWAY_INSIDE_ADDRESS}/${INSIDE_PREFIX_LENGTH}`, 'dev', GATEWAY_INSIDE_IFACE]);
  for (const lip of LOCAL_ADDRESSES) await ipIn(ns, ['address', 'add', `${lip}/32`, 'dev', GATEWAY_INSIDE_IFACE]);
  for (const iface of [GATEWAY_OUTSIDE_IFACE, GATEWAY_INSIDE_IFACE]) await ipIn(ns, ['link', 'set', iface, 'up']);
  await mustRunIn(ns, 'sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1']);
  const rulesetPath = join(tmpdir(), `pc-bench-nft-${process.pid}.nft`);
  await writeFile(rulesetPath, nftFullnatRuleset(port, servers));
  try {
    await mustRunIn(ns, 'nft', ['-f', rulesetPath]);
  } finally {
    await rm(rulesetPath, { force: true });
  }
}

/** Moves the veths back to the root namespace (bare, as labUp left them) and deletes the router. Harmless when absent. */
export async function nftablesDown(): Promise<void> {
  if (!(await namespaceExists(NFT_ROUTER_NAMESPACE))) return;
  for (const iface of [GATEWAY_OUTSIDE_IFACE, GATEWAY_INSIDE_IFACE]) {
    await runTool('ip', ['-n', NFT_ROUTER_NAMESPACE, 'address', 'flush', 'dev', iface]);
    await runTool('ip', ['-n', NFT_ROUTER_NAMESPACE, 'link', 'set', iface, 'netns', '1']);
    await runTool('ip', ['link', 'set', iface, 'up']);
    await runTool('sysctl', ['-q', '-w', `net.ipv6.conf.${iface}.disable_ipv6=1`]);
  }
  await runTool('ip', ['netns', 'del', NFT_ROUTER_NAMESPACE]);
}
