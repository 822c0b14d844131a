// pcadm against live traffic: real Linux TCP connections through the lab and the real
// daemon, then `pcadm -Lnc` (the workers' live connection listing), paging over gRPC,
// `-Ln --stats` and the IPVS-style `--rate`. Needs root and the lab's tools; without them every test fails, naming what is missing.
import { suite } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { runPcadm } from '../../src/cli/pcadm/main.js';
import { CLIENT, REAL_SERVERS, VIP } from '../../src/lab/topology.js';
import { clientTool, type Gateway, requireLab, startGateway, stopGateway, withTimeout } from '../support/e2e-lab.js';

const e2e = suite('e2e: pcadm on live connections');
e2e.before(requireLab); // no root or a missing tool: every test fails, naming it
const CONNECTIONS = 50;

let gateway: Gateway | undefined;

e2e.after(async () => {
  await stopGateway(gateway);
  gateway = undefined;
});

async function pcadm(line: string): Promise<string> {
  let out = '';
  let err = '';
  const code = await runPcadm(['--socket', gateway!.daemon.socketPath, ...line.split(' ')], {
    stdout: (t) => { out += t; }, stderr: (t) => { err += t; }, stdin: async () => '',
  });
  assert.is(code, 0, `pcadm ${line}: ${err}`);
  return out;
}

e2e(`${CONNECTIONS} HTTP connections show up in -Lnc, in ListConnections pages, in --stats and --rate`, async () => {
  gateway = await withTimeout(startGateway(), 90_000, 'lab up + daemon ready');
  const result = await clientTool<{ replies: { ok: boolean }[] }>(['concurrent', `http://${VIP}/`, CONNECTIONS, 20_000], 40_000);
  assert.is(result.replies.filter((r) => r.ok).length, CONNECTIONS);

  // Connections stay in the table (TIME_WAIT, CLOSE, ...) until they expire.
  const listing = await pcadm('-Lnc');
  const lines = listing.split('\n');
  assert.is(lines[0], 'IPVS connection entries');
  assert.is(lines[1], 'pro expire state       source             virtual            destination');
  const servers = REAL_SERVERS.flatMap((s) => s.addresses);
  const rows = lines.slice(2).filter(Boolean).map((line) => {
    const match = /^TCP (\d\d:\d\d)  ([A-Z_]+) +(\S+):(\d+) +(\S+) +(\S+):(\d+)$/.exec(line);
    assert.ok(match, `row does not follow "%-3s %-6s %-11s %-18s %-18s %s": ${JSON.stringify(line)}`);
    return { client: match![3]!, virtual: match![5]!, server: match![6]! };
  }).filter((row) => row.virtual === `${VIP}:80`);
  assert.is(rows.length, CONNECTIONS, listing);
  for (const row of rows) {
    assert.ok(CLIENT.addresses.includes(row.client), `source ${row.client}`);
    assert.ok(servers.includes(row.server), `destination ${row.server}`);
  }

  // The same table a page at a time: every connection exactly once.
  const seen = new Set<string>();
  let cursor = 0;
  let pages = 0;
  do {
    const page = await gateway.api.call('Stats', 'ListConnections', { cursor, limit: 7 });
    for (const c of page.connections as { client: string; clientPort: number; virtualPort: number }[]) {
      if (c.virtualPort === 80) seen.add(`${c.client}:${c.clientPort}`);
    }
    cursor = page.nextCursor as number;
    pages++;
  } while (cursor !== 0 && pages < 100);
  assert.is(seen.size, CONNECTIONS);
  assert.ok(pages >= Math.ceil(CONNECTIONS / 7), `only ${pages} pages`);

  assert.match(await pcadm('-Ln --stats'), new RegExp(`^TCP  ${VIP.replace(/\./g, '\\.')}:80 +${CONNECTIONS} `, 'm'));

  // The estimator ticks every 2 s; the next tick after the burst makes CPS non-zero.
  let rate = '';
  for (let i = 0; i < 20; i++) {
    rate = await pcadm('-Ln --rate');
    const cps = Number(new RegExp(`^TCP  ${VIP.replace(/\./g, '\\.')}:80 +(\\d+)`, 'm').exec(rate)?.[1] ?? 0);
    if (cps > 0) break;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  assert.match(rate, new RegExp(`^TCP  ${VIP.replace(/\./g, '\\.')}:80 +[1-9]\\d* `, 'm'));
});

e2e.run();
