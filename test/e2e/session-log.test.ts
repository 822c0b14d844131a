// End to end: NAT session logs from the real daemon to a real IPFIX collector (Debian's nfdump:
// nfcapd on 127.0.0.1 in a temp dir) and to a JSON lines file, for real connections of the lab
// client through the gateway. The question a carrier must answer — "who was behind LIP:lport?" —
// is asked of nfdump exactly as docs/operations.md shows, for LIP:lport pairs the real servers
// themselves reported seeing. Runs under flock /tmp/pc-lab.lock like every lab suite.
import { suite } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { readFile, readdir, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLIENT, VIP } from '../../src/lab/topology.js';
import { requireLab, requireTool, runInNamespace, sharedGateway } from '../support/e2e-lab.js';
import { eventually } from '../support/eventually.js';

const DIR = mkdtempSync(join(tmpdir(), 'pc-session-log-'));
const CAPTURE = join(DIR, 'nfcapd');
const JSON_FILE = join(DIR, 'sessions.jsonl');
const COLLECTOR_PORT = 20000 + Math.floor(Math.random() * 30000);
const CLIENT_PORTS = [41001, 41002, 41003, 41004, 41005, 41006];
const ROTATED_CLIENT_PORT = 41007;

// Short closing timeouts so the connections end (and log their end) within seconds.
const shared = sharedGateway((yaml) => `${yaml}
timeouts: { tcp_fin_wait: 2, tcp_time_wait: 2, tcp_close: 2, tcp_close_wait: 2, tcp_last_ack: 2 }
session_log:
  ipfix: [{ collector: "127.0.0.1:${COLLECTOR_PORT}", protocol: udp }]
  json_file: ${JSON_FILE}
  drain_interval_ms: 100
  template_refresh_s: 5
`);
const running = () => shared.running();

let nfcapd: ChildProcess | undefined;
/** client port -> the LIP:lport the real server saw. */
const seenBy = new Map<number, string>();

const e2e = suite('e2e: session logs (IPFIX to nfcapd, JSON lines)');
e2e.before(() => {
  requireLab();
  requireTool('nfcapd', 'nfdump');
  requireTool('nfdump', 'nfdump');
});
e2e.after(async () => {
  nfcapd?.kill('SIGTERM');
  await shared.stop();
  await rm(DIR, { recursive: true, force: true });
});

function run(argv: string[], timeoutMs = 20_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(argv[0]!, argv.slice(1), { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${argv.join(' ')}: ${error.message} ${stderr}`));
      else resolve(String(stdout));
    });
  });
}

async function jsonLines(path = JSON_FILE): Promise<Record<string, unknown>[]> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
}

async function curlFrom(clientPort: number): Promise<string> {
  const r = await runInNamespace(CLIENT.namespace, ['curl', '-sS', '--max-time', '5', '--local-port', String(clientPort), `http://${VIP}/who`], 10_000);
  assert.is(r.code, 0, `curl from port ${clientPort}: ${r.stderr}`);
  return (JSON.parse(r.stdout) as { peer: string }).peer;
}

e2e('nfcapd listens on 127.0.0.1 and the daemon starts with session logging on', async () => {
  await run(['mkdir', '-p', CAPTURE]);
  nfcapd = spawn('nfcapd', ['-b', '127.0.0.1', '-p', String(COLLECTOR_PORT), '-w', CAPTURE, '-t', '3600'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let nfcapdErr = '';
  nfcapd.stderr!.on('data', (chunk: Buffer) => { nfcapdErr += chunk.toString(); });
  await eventually(`nfcapd listening on 127.0.0.1:${COLLECTOR_PORT} (${nfcapdErr})`,
    async () => /127\.0\.0\.1/.test(await run(['ss', '-Hlun', `sport = :${COLLECTOR_PORT}`])), 5_000);
  const gateway = await shared.start();
  assert.match(gateway.daemon.readyLine, /^portcullis ready/);
});

e2e('six connections with known client ports: each ends, and the JSON file holds its creation and its end', async () => {
  running();
  for (const port of CLIENT_PORTS) seenBy.set(port, await curlFrom(port));
  const client = CLIENT.addresses[0]!;
  const events = (lines: Record<string, unknown>[], port: number) =>
    lines.filter((l) => l.client_addr === client && l.client_port === port).map((l) => l.event);
  await eventually('every connection logged its creation and its end', async () => {
    const lines = await jsonLines();
    return CLIENT_PORTS.every((port) => events(lines, port).length === 2);
  }, 20_000, 250);
  const lines = await jsonLines();
  for (const port of CLIENT_PORTS) assert.equal(events(lines, port), ['create', 'end'], `client port ${port}`);
  for (const line of lines) {
    const port = line.client_port as number;
    if (!CLIENT_PORTS.includes(port)) continue;
    assert.is(`${line.local_addr}:${line.local_port}`, seenBy.get(port), 'the LIP:lport the server saw');
    assert.is(line.vip_addr, VIP);
    assert.is(line.vip_port, 80);
    assert.is(line.protocol, 'tcp');
    if (line.event === 'end') {
      assert.ok((line.packets_in as number) >= 4 && (line.packets_out as number) >= 3, `packets ${line.packets_in}/${line.packets_out}`);
      assert.ok((line.bytes_out as number) > 200, 'the answer came back');
      assert.ok(Date.parse(line.start as string) <= Date.parse(line.time as string));
    }
  }
});

e2e('a moved (rotated) JSON file is followed by a new one at the same path', async () => {
  running();
  await rename(JSON_FILE, `${JSON_FILE}.1`);
  await curlFrom(ROTATED_CLIENT_PORT);
  await eventually('the new file has the new connection\'s end',
    async () => (await jsonLines()).some((l) => l.client_port === ROTATED_CLIENT_PORT && l.event === 'end'), 20_000, 250);
  assert.not.ok((await jsonLines(`${JSON_FILE}.1`)).some((l) => l.client_port === ROTATED_CLIENT_PORT), 'nothing new in the moved file');
});

e2e('nothing was lost, every record was sent, and GetStats shows the session counters', async () => {
  const stats = await running().api.call('Stats', 'GetStats', {});
  const events = stats.events as Record<string, string>;
  for (const name of ['session_events_queued', 'session_events_lost', 'session_log_ipfix_records_sent', 'session_log_ipfix_send_errors',
    'session_log_json_lines_written', 'session_log_json_lines_dropped']) {
    assert.ok(events[name] !== undefined, `GetStats events lack ${name}`);
  }
  assert.ok(Number(events['session_events_queued']) >= 2 * (CLIENT_PORTS.length + 1));
  assert.is(Number(events['session_events_lost']), 0);
  assert.is(Number(events['session_log_ipfix_send_errors']), 0);
  assert.is(Number(events['session_log_json_lines_dropped']), 0);
  assert.is(Number(events['session_log_ipfix_records_sent']), Number(events['session_events_queued']));
});

e2e('nfdump answers "who was behind LIP:lport" with the client, for each LIP:lport a server saw', async () => {
  running();
  // nfcapd writes its file out when it stops.
  const stopped = new Promise<void>((resolve) => nfcapd!.once('exit', () => resolve()));
  nfcapd!.kill('SIGTERM');
  await stopped;
  nfcapd = undefined;
  const files = (await readdir(CAPTURE)).filter((f) => f.startsWith('nfcapd.'));
  assert.ok(files.length > 0, `nfcapd wrote no file in ${CAPTURE}`);
  const client = CLIENT.addresses[0]!;
  for (const [port, peer] of seenBy) {
    const [lip, lport] = [peer.slice(0, peer.lastIndexOf(':')), peer.slice(peer.lastIndexOf(':') + 1)];
    const out = await run(['nfdump', '-R', CAPTURE, '-q', '-N', '-o', 'fmt:%ts|%te|%sa|%sp|%da|%dp|%xsa|%xsp|%pkt|%opkt',
      `src xip ${lip} and src xport ${lport}`]);
    const rows = out.trim().split('\n').filter((l) => l.includes('|')).map((l) => l.split('|').map((f) => f.trim()));
    assert.is(rows.length, 2, `${peer}: a creation and an end record, got ${out}`);
    for (const row of rows) {
      assert.equal(row.slice(2, 8), [client, String(port), VIP, '80', lip, lport], `${peer}: ${row.join('|')}`);
    }
    const end = rows.find((r) => Number(r[8]) > 0);
    assert.ok(end && Number(end[9]) > 0, `${peer}: the end record counts both directions: ${out}`);
    assert.ok(Date.parse(end![0]!.replace(' ', 'T') + 'Z') <= Date.parse(end![1]!.replace(' ', 'T') + 'Z'), 'start before end');
  }
});

e2e('the daemon exits 0 on SIGTERM (its last drain included)', async () => {
  const ended = await running().daemon.stop(10_000);
  assert.is(ended, 0, `daemon ended with ${ended}; output tail:\n${running().daemon.output().slice(-2000)}`);
});

e2e.run();
