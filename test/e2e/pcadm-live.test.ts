// pcadm against live traffic: real Linux TCP connections through the lab and the real
// daemon, then `pcadm -Lnc` (the workers' live connection listing), paging over gRPC,
// `-Ln --stats` and the IPVS-style `--rate`; `--get-laddr` CONNS against the listing's local
// addresses and `--persistent-conn` PersistConn against the servers persistent clients
// reached. Needs root and the lab's tools; without them every test fails, naming what is missing.
import { suite } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { runPcadm } from '../../src/cli/pcadm/main.js';
import { CLIENT, LOCAL_ADDRESSES, REAL_SERVERS, VIP } from '../../src/lab/topology.js';
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
  let listed = 0;
  const { connections: all, pages } = await listAll(gateway, 7);
  for (const c of all) {
    if (c.virtualPort === 80) { seen.add(`${c.client}:${c.clientPort}`); listed++; }
  }
  assert.is(seen.size, CONNECTIONS);
  assert.is(listed, CONNECTIONS, 'each connection exactly once');
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

/** --get-laddr's rows for VIP:80: LIP -> [CONFLICTS, CONNS]. */
interface ListedConnection { client: string; clientPort: number; virtual: string; virtualPort: number; local: string }

/** Every connection, page by page until next_cursor is "0" (uint64 as a decimal string; a short page is not the end). */
async function listAll(gw: Gateway, limit: number): Promise<{ connections: ListedConnection[]; pages: number }> {
  const connections: ListedConnection[] = [];
  let cursor = '0';
  let pages = 0;
  do {
    const page = await gw.api.call('Stats', 'ListConnections', { cursor, limit });
    connections.push(...(page.connections as ListedConnection[]));
    cursor = String(page.nextCursor);
    pages++;
  } while (cursor !== '0' && pages < 1000);
  assert.is(cursor, '0', `the walk ended (${pages} pages)`);
  return { connections, pages };
}

function laddrRows(text: string): Map<string, [number, number]> {
  const rows = new Map<string, [number, number]>();
  let inService = false;
  for (const line of text.split('\n')) {
    // (The service is printed numerically, test/unit/pcadm-format.test.ts checks that.)
    if (/^\S/.test(line)) inService = line.startsWith(`${VIP}:80 `) || line.startsWith(`${VIP}:http `);
    const lip = /^ {30}(\S+) +(\d+) +(\d+) *$/.exec(line);
    if (inService && lip) rows.set(lip[1]!, [Number(lip[2]), Number(lip[3])]);
  }
  return rows;
}

e2e('--get-laddr CONNS are the connections on each LIP; --persistent-conn PersistConn the templates of the clients', async () => {
  gateway ??= await withTimeout(startGateway(), 90_000, 'lab up + daemon ready');
  const fresh = await clientTool<{ replies: { ok: boolean }[] }>(['concurrent', `http://${VIP}/`, 12, 20_000], 40_000);
  assert.is(fresh.replies.filter((r) => r.ok).length, 12);

  // The workers' own listing says which LIP each connection to VIP:80 took. A connection may
  // expire between the listing and --get-laddr (CLOSE lasts 10 s): then read both again.
  const perLip = async () => {
    const onLip = new Map<string, number>(LOCAL_ADDRESSES.map((lip) => [lip, 0]));
    for (const c of (await listAll(gateway!, 500)).connections) {
      if (c.virtual === VIP && c.virtualPort === 80) onLip.set(c.local, (onLip.get(c.local) ?? 0) + 1);
    }
    const laddr = laddrRows(await pcadm('--get-laddr'));
    const listed = LOCAL_ADDRESSES.map((lip) => [lip, 0, onLip.get(lip)]);
    const printed = LOCAL_ADDRESSES.map((lip) => [lip, ...(laddr.get(lip) ?? [])]);
    return { listed, printed, rows: [...laddr.keys()] };
  };
  let counts = await perLip();
  for (let attempt = 0; attempt < 3 && JSON.stringify(counts.listed) !== JSON.stringify(counts.printed); attempt++) counts = await perLip();
  assert.equal(counts.rows, [...LOCAL_ADDRESSES], 'one row per LIP of the service');
  assert.equal(counts.printed, counts.listed, '[LIP, CONFLICTS, CONNS] as printed vs. from the listing');
  assert.ok(counts.listed.every(([, , n]) => (n as number) > 0), `round robin puts connections on every LIP: ${JSON.stringify(counts.listed)}`);

  // Persistent from now on: three client addresses, three requests each; each sticks to one server.
  await pcadm(`-E -t ${VIP}:80 -s rr -p 300`);
  const expected = new Map<string, number>(REAL_SERVERS.map((s) => [s.addresses[0]!, 0]));
  for (const source of CLIENT.addresses.slice(1, 4)) {
    const result = await clientTool<{ replies: { ok: boolean; body?: string }[] }>(['sequential', `http://${VIP}/`, 3, 10_000, source], 40_000);
    const servers = new Set(result.replies.map((r) => (JSON.parse(r.body ?? '{}') as { server?: string }).server));
    assert.is(servers.size, 1, `${source} reached ${[...servers].join(', ')}`);
    const address = REAL_SERVERS.find((s) => s.serverName === [...servers][0])!.addresses[0]!;
    expected.set(address, expected.get(address)! + 1);
  }
  const listing = await pcadm(`-Ln --persistent-conn -t ${VIP}:80`);
  for (const [address, templates] of expected) {
    const row = new RegExp(`^  -> ${address.replace(/\./g, '\\.')}:80 +1 +(\\d+) +\\d+ +\\d+ *$`, 'm').exec(listing);
    assert.ok(row, `no row for ${address}:\n${listing}`);
    assert.is(Number(row![1]), templates, `PersistConn of ${address}:\n${listing}`);
  }
  assert.is([...expected.values()].reduce((a, b) => a + b, 0), 3);
});

e2e.run();
