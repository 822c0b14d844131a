// pcadm, WatchStats, Prometheus and `portcullis top` against the REAL daemon (live mode,
// two ring ports): a keepalived-style sequence of pcadm commands, then the observers.
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { connect } from '../../src/cli/client.js';
import { runPcadm } from '../../src/cli/pcadm/main.js';
import type { GetStatsResponse__Output } from '../../src/api/generated/portcullis/v1/GetStatsResponse.js';
import { REPO_ROOT, startDaemon, testConfig, type Daemon } from './daemon.js';

let dir = '';
let daemon: Daemon | undefined;
let socket = '';

test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pc-pcadm-'));
  socket = join(dir, 'api.sock');
  const config = join(dir, 'config.yaml');
  // Port 0: the kernel picks a free one; the daemon logs the bound address.
  await writeFile(config, `${testConfig(dir)}metrics: { listen: "127.0.0.1:0" }\n`);
  daemon = await startDaemon(['--config', config]);
});
test.after(async () => {
  await daemon?.stop();
  await rm(dir, { recursive: true, force: true });
});

async function pcadm(line: string, stdin = ''): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runPcadm(['--socket', socket, ...line.split(' ').filter(Boolean)], {
    stdout: (t) => { out += t; }, stderr: (t) => { err += t; }, stdin: async () => stdin,
  });
  return { code, out, err };
}

async function ok(line: string): Promise<string> {
  const r = await pcadm(line);
  assert.is(r.code, 0, `pcadm ${line}: exit ${r.code}: ${r.err}\n--- daemon ---\n${daemon?.output()}`);
  return r.out;
}

async function refused(line: string, code: number, message: string): Promise<void> {
  const r = await pcadm(line);
  assert.is(r.code, code, `pcadm ${line}: ${r.err}`);
  assert.is(r.err, `${message}\n`);
}

const TITLE = 'Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n';

test('keepalived-style sequence: add, quiesce, remove, re-add; -Ln, -Sn, -C, -R round trip', async () => {
  // What keepalived does at start-up and on health-check changes, as ipvsadm commands.
  await ok('-A -t 198.18.0.10:80 -s wrr -p 60 -M 255.255.255.0');
  await ok('--add-laddr -t 198.18.0.10:80 -z 198.19.0.200');
  await ok('-P -t 198.18.0.10:80 -z 198.19.0.201');
  await ok('-a -t 198.18.0.10:80 -r 198.19.0.1:80 -b -w 3 -x 1000 -y 800');
  await ok('-a -t 198.18.0.10:80 -r 198.19.0.2 -w 1');
  await ok('-e -t 198.18.0.10:80 -r 198.19.0.2:80 -w 0');      // health check failed: quiesce
  await ok('-d -t 198.18.0.10:80 -r 198.19.0.2:80');           // then removed
  await ok('-a -t 198.18.0.10:80 -r 198.19.0.2:80 -w 2');      // back again
  await ok('-A -u 198.18.0.10:53 -s rr');
  assert.match(await ok('-Ln --thresholds'), /^  -> 198\.19\.0\.1:80 {16}1000 {7}800 {8}0 {10}0 {9}$/m);
  await ok('-a -u 198.18.0.10:53 -r 198.19.0.3:53');
  await ok('-E -t 198.18.0.10:80 -s rr');
  await ok('-Q -t 198.18.0.10:80 -z 198.19.0.201');

  const listing = [
    'IP Virtual Server version 1.2.1 (size=4096)',
    TITLE.trimEnd(),
    'TCP  198.18.0.10:80 rr persistent 60 mask 255.255.255.0',
    '  -> 198.19.0.1:80                FullNat 3      0          0         ',
    '  -> 198.19.0.2:80                FullNat 2      0          0         ',
    'UDP  198.18.0.10:53 rr',
    '  -> 198.19.0.3:53                FullNat 1      0          0         ',
    '',
  ].join('\n');
  assert.fixture(await ok('-Ln'), listing);
  assert.fixture(await ok('-L -n -u 198.18.0.10:53'), `${TITLE}UDP  198.18.0.10:53 rr\n  -> 198.19.0.3:53                FullNat 1      0          0         \n`);

  const saved = await ok('-Sn');
  assert.fixture(saved, [
    '-A -t 198.18.0.10:80 -s rr -p 60 -M 255.255.255.0',
    '--add-laddr -t 198.18.0.10:80 -z 198.19.0.200',
    '-a -t 198.18.0.10:80 -r 198.19.0.1:80 -b -w 3 -x 1000 -y 800',
    '-a -t 198.18.0.10:80 -r 198.19.0.2:80 -b -w 2',
    '-A -u 198.18.0.10:53 -s rr',
    '-a -u 198.18.0.10:53 -r 198.19.0.3:53 -b -w 1',
    '',
  ].join('\n'));

  await ok('-C');
  assert.fixture(await ok('-Ln'), `IP Virtual Server version 1.2.1 (size=4096)\n${TITLE}`);
  const restored = await pcadm('-R', `# saved by pcadm -Sn\n${saved.split('\n').map((l) => (l ? `ipvsadm ${l}` : l)).join('\n')}`);
  assert.is(restored.code, 0, restored.err);
  assert.fixture(await ok('-Sn'), saved);
  assert.fixture(await ok('-Ln'), listing);

  // Replaying over existing rules: each refusal is reported, later lines still run.
  const again = await pcadm('-R', '-A -t 198.18.0.10:80 -s rr\n-A -t 198.18.0.30:80 -s rr\n');
  assert.is(again.code, 0, 'the status is the last line\'s');
  assert.is(again.err, 'Service already exists\n');
  await ok('-D -t 198.18.0.30:80');
});

test('the ovf and twos schedulers: -A/-E -s, -L shows them, -Sn/-R round trip', async () => {
  await ok('-A -t 198.18.0.50:80 -s ovf');
  await ok('-a -t 198.18.0.50:80 -r 198.19.0.1:80 -w 3');
  await ok('-A -u 198.18.0.50:53 -s twos -p 60');
  await ok('-a -u 198.18.0.50:53 -r 198.19.0.2:53 -w 2');
  const tcpListing = `${TITLE}TCP  198.18.0.50:80 ovf\n  -> 198.19.0.1:80                FullNat 3      0          0         \n`;
  const udpListing = `${TITLE}UDP  198.18.0.50:53 twos persistent 60\n  -> 198.19.0.2:53                FullNat 2      0          0         \n`;
  assert.fixture(await ok('-L -n -t 198.18.0.50:80'), tcpListing);
  assert.fixture(await ok('-L -n -u 198.18.0.50:53'), udpListing);
  const mine = async () => (await ok('-Sn')).split('\n').filter((l) => l.includes('198.18.0.50:'));
  const rules = [
    '-A -t 198.18.0.50:80 -s ovf',
    '-a -t 198.18.0.50:80 -r 198.19.0.1:80 -b -w 3',
    '-A -u 198.18.0.50:53 -s twos -p 60',
    '-a -u 198.18.0.50:53 -r 198.19.0.2:53 -b -w 2',
  ];
  assert.equal(await mine(), rules);
  await ok('-D -t 198.18.0.50:80');
  await ok('-D -u 198.18.0.50:53');
  assert.equal(await mine(), []);
  const restored = await pcadm('-R', `${rules.map((l) => `ipvsadm ${l}`).join('\n')}\n`);
  assert.is(restored.code, 0, restored.err);
  assert.equal(await mine(), rules);
  assert.fixture(await ok('-L -n -t 198.18.0.50:80'), tcpListing);
  assert.fixture(await ok('-L -n -u 198.18.0.50:53'), udpListing);
  await ok('-E -t 198.18.0.50:80 -s twos');
  await ok('-E -u 198.18.0.50:53 -s ovf -p 60');
  assert.match(await ok('-L -n -t 198.18.0.50:80'), /^TCP  198\.18\.0\.50:80 twos$/m);
  assert.match(await ok('-L -n -u 198.18.0.50:53'), /^UDP  198\.18\.0\.50:53 ovf persistent 60$/m);
  await ok('-D -t 198.18.0.50:80');
  await ok('-D -u 198.18.0.50:53');
});

test('one-packet scheduling: -A -o / --ops, -L shows "ops", -Sn/-R round trip, ipvsadm\'s saved "ops" read back, refusals', async () => {
  await ok('-A -u 198.18.0.60:53 -s rr -o');
  await ok('-a -u 198.18.0.60:53 -r 198.19.0.1:53');
  await ok('-A -u 198.18.0.61:53 -s wrr --ops');
  const listing = `${TITLE}UDP  198.18.0.60:53 rr ops\n  -> 198.19.0.1:53                FullNat 1      0          0         \n`;
  assert.fixture(await ok('-L -n -u 198.18.0.60:53'), listing);
  assert.match(await ok('-L -n -u 198.18.0.61:53'), /^UDP  198\.18\.0\.61:53 wrr ops$/m);
  const mine = async () => (await ok('-Sn')).split('\n').filter((l) => l.includes('198.18.0.6'));
  const rules = [
    '-A -u 198.18.0.60:53 -s rr -o',
    '-a -u 198.18.0.60:53 -r 198.19.0.1:53 -b -w 1',
    '-A -u 198.18.0.61:53 -s wrr -o',
  ];
  assert.equal(await mine(), rules);
  await ok('-D -u 198.18.0.60:53');
  await ok('-D -u 198.18.0.61:53');
  const restored = await pcadm('-R', `${rules.join('\n')}\n`);
  assert.is(restored.code, 0, restored.err);
  assert.equal(await mine(), rules);
  assert.fixture(await ok('-L -n -u 198.18.0.60:53'), listing);
  // ipvsadm -S writes the flag as a bare word after the scheduler.
  await ok('-D -u 198.18.0.61:53');
  const fromIpvsadm = await pcadm('-R', 'ipvsadm -A -u 198.18.0.61:53 -s wrr ops\n');
  assert.is(fromIpvsadm.code, 0, fromIpvsadm.err);
  assert.match(await ok('-L -n -u 198.18.0.61:53'), /^UDP  198\.18\.0\.61:53 wrr ops$/m);
  // -E sends the flags of its command line, as ipvsadm -E does: without -o one-packet goes off.
  await ok('-E -u 198.18.0.61:53 -s rr');
  assert.match(await ok('-L -n -u 198.18.0.61:53'), /^UDP  198\.18\.0\.61:53 rr$/m);
  await ok('-E -u 198.18.0.61:53 -s rr -o');
  assert.match(await ok('-L -n -u 198.18.0.61:53'), /^UDP  198\.18\.0\.61:53 rr ops$/m);

  const tcp = await pcadm('-A -t 198.18.0.60:80 -s rr -o');
  assert.is(tcp.code, 255, tcp.err);
  assert.match(tcp.err, /^service\.one_packet: one-packet scheduling is for UDP services only/);
  const persistent = await pcadm('-E -u 198.18.0.60:53 -s rr -o -p 60');
  assert.is(persistent.code, 255, persistent.err);
  assert.match(persistent.err, /^service\.one_packet: one-packet scheduling cannot be combined with persistence_timeout 60/);
  const masq = await pcadm('-a -u 198.18.0.60:53 -r 198.19.0.2:53 -m');
  assert.is(masq.code, 255, masq.err);
  assert.match(masq.err, /servers\[1\]\.forward: nat cannot be used in a one_packet service/);
  assert.fixture(await ok('-L -n -u 198.18.0.60:53'), listing);  // refusals changed nothing
  await ok('-D -u 198.18.0.60:53');
  await ok('-D -u 198.18.0.61:53');
});

test('forwarding methods: -m/-g/-i/-b on -a and -e, the Forward column, -Sn/-R round trip, SYNPROXY + -g refused', async () => {
  await ok('-A -t 198.18.0.40:80 -s rr');
  await ok('-a -t 198.18.0.40:80 -r 198.19.0.1:8080 -m');
  await ok('-a -t 198.18.0.40:80 -r 198.19.0.2 -g');           // no port: the service's (DR cannot rewrite it)
  await ok('-a -t 198.18.0.40:80 -r 198.19.0.3:80 -i -w 2');
  await ok('-a -t 198.18.0.40:80 -r 198.19.0.4:80 -b');
  await ok('-a -t 198.18.0.40:80 -r 198.19.0.5:80');            // pcadm's default: FullNAT
  await ok('-e -t 198.18.0.40:80 -r 198.19.0.5:80 -m -w 3');    // -e changes the method
  const listing = `${TITLE}TCP  198.18.0.40:80 rr\n${[
    '  -> 198.19.0.1:8080              Masq    1      0          0         ',
    '  -> 198.19.0.2:80                Route   1      0          0         ',
    '  -> 198.19.0.3:80                Tunnel  2      0          0         ',
    '  -> 198.19.0.4:80                FullNat 1      0          0         ',
    '  -> 198.19.0.5:80                Masq    3      0          0         ',
  ].join('\n')}\n`;
  assert.fixture(await ok('-L -n -t 198.18.0.40:80'), listing);
  const rules = (await ok('-Sn')).split('\n').filter((l) => l.includes('198.18.0.40:80'));
  assert.equal(rules, [
    '-A -t 198.18.0.40:80 -s rr',
    '-a -t 198.18.0.40:80 -r 198.19.0.1:8080 -m -w 1',
    '-a -t 198.18.0.40:80 -r 198.19.0.2:80 -g -w 1',
    '-a -t 198.18.0.40:80 -r 198.19.0.3:80 -i -w 2',
    '-a -t 198.18.0.40:80 -r 198.19.0.4:80 -b -w 1',
    '-a -t 198.18.0.40:80 -r 198.19.0.5:80 -m -w 3',
  ]);
  await ok('-D -t 198.18.0.40:80');
  const restored = await pcadm('-R', `${rules.join('\n')}\n`);
  assert.is(restored.code, 0, restored.err);
  assert.fixture(await ok('-L -n -t 198.18.0.40:80'), listing);

  const synproxy = await pcadm('-E -t 198.18.0.40:80 -s rr -j enable');
  assert.is(synproxy.code, 255, synproxy.err);
  assert.match(synproxy.err, /^service\.servers\[1\]\.forward: dr cannot be used with synproxy on: the gateway never sees the server's replies/);
  const port = await pcadm('-a -t 198.18.0.40:80 -r 198.19.0.6:8080 -i');
  assert.is(port.code, 255, port.err);
  assert.match(port.err, /servers\[5\]\.port: expected 80 \(the service port: tun does not rewrite ports\), got 8080/);
  assert.fixture(await ok('-L -n -t 198.18.0.40:80'), listing);  // refusals changed nothing
  await ok('-D -t 198.18.0.40:80');
});

test("daemon refusals come back as ipvsadm's messages and exit codes", async () => {
  await refused('-A -t 198.18.0.10:80', 255, 'Service already exists');
  await refused('-a -t 198.18.0.10:80 -r 198.19.0.1:80', 255, 'Destination already exists');
  await refused('-a -t 198.18.0.99:80 -r 198.19.0.1:80', 255, 'Service not defined');
  await refused('-d -t 198.18.0.10:80 -r 198.19.0.9:80', 255, 'No such destination');
  await refused('-D -t 198.18.0.99:80', 255, 'No such service');
  await refused('-L -n -t 198.18.0.99:80', 1, 'No such service');
  await refused('-A -t 198.18.0.20:80 -s nosuch', 255, 'Scheduler not found');
  const unreachable = await runPcadm(['--socket', join(dir, 'nobody.sock'), '-Ln'], { stdout: () => undefined, stderr: () => undefined, stdin: async () => '' });
  assert.is(unreachable, 255);
});

test('-Lnc (live listing), --timeout, --stats, --rate, -Z', async () => {
  assert.fixture(await ok('-Lnc'), 'IPVS connection entries\npro expire state       source             virtual            destination\n');
  assert.is(await ok('-L --timeout'), 'Timeout (tcp tcpfin udp): 900 120 300\n');
  assert.match(await ok('-Ln --stats'), /^TCP  198\.18\.0\.10:80 {22}0 {8}0 {8}0 {8}0 {8}0$/m);
  assert.match(await ok('-Ln --rate --exact'), /^Prot LocalAddress:Port {17}CPS {4}InPPS {3}OutPPS {4}InBPS {3}OutBPS$/m);
  await ok('-Z');
  await ok('-Z -t 198.18.0.10:80');
  await refused('-Z -t 198.18.0.99:80', 255, 'No such service');
});

test('WatchStats streams at the requested interval until cancelled; rates and worker load are in it', async () => {
  const client = connect(socket);
  try {
    const messages: GetStatsResponse__Output[] = [];
    await new Promise<void>((resolve, reject) => {
      const call = client.stats.watchStats({ intervalMs: 100 });
      call.on('data', (m: GetStatsResponse__Output) => { messages.push(m); if (messages.length === 3) call.cancel(); });
      call.on('error', (e: { code?: number }) => (e.code === 1 ? resolve() : reject(e)));
      call.on('end', resolve);
    });
    assert.is(messages.length, 3);
    const web = messages[2]!.services.find((s) => s.key?.port === 80)!;
    assert.ok(web.rates, 'service rates present');
    assert.is(web.servers.length, 2);
    assert.is(messages[2]!.workers.length, 1);
    assert.ok(Number(messages[2]!.workers[0]!.idleCycles) > 0, 'the live worker loop reports its cycles');
    await new Promise<void>((resolve) => {
      const call = client.stats.watchStats({ intervalMs: 5 });
      call.on('data', () => assert.unreachable('an interval below 100 ms must be refused'));
      call.on('error', (e: { code?: number; details?: string }) => { assert.is(e.code, 3); assert.match(e.details ?? '', /^interval_ms: /); resolve(); });
    });
  } finally {
    client.close();
  }
});

function httpGet(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    request(url, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => { body += d.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject).end();
  });
}

test('Prometheus /metrics: portcullis_* names, labels per service and server, every drop reason', async () => {
  const address = /serving Prometheus metrics on (http:\/\/\S+)/.exec(daemon!.output())?.[1];
  assert.ok(address, `no metrics address in the daemon output:\n${daemon!.output()}`);
  const { status, body } = await httpGet(address!);
  assert.is(status, 200);
  for (const line of [
    'portcullis_services 2',
    'portcullis_real_servers 3',
    'portcullis_connection_capacity 4096',
    'portcullis_drops_total{reason="no_service"} 0',
    'portcullis_real_server_weight{protocol="tcp",vip="198.18.0.10",port="80",server="198.19.0.1",server_port="80"} 3',
    'portcullis_service_connections_total{protocol="udp",vip="198.18.0.10",port="53"} 0',
    'portcullis_port_rx_packets_total{port="outside"} 0',
  ]) assert.ok(body.includes(`${line}\n`), `missing "${line}" in:\n${body}`);
  assert.match(body, /^# TYPE portcullis_drops_total counter$/m);
  assert.match(body, /^portcullis_worker_idle_cycles_total\{worker="0"\} [1-9]\d*$/m);
  assert.match(body, /^portcullis_snapshot_version [1-9]\d*$/m);
  assert.is((await httpGet(address!.replace('/metrics', '/nope'))).status, 404);
});

test('`portcullis top` in a pseudo-terminal: draws services and worker load, quits on q', async () => {
  const command = `node --import tsx src/cli/portcullis.ts top --socket ${socket} --interval 200`;
  // script(1) gives the child a real pty (raw mode, isTTY), as over ssh.
  const child = spawn('script', ['-qfec', command, '/dev/null'], { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  await new Promise<void>((resolve) => {
    child.stdout.on('data', (d: Buffer) => {
      output += d.toString();
      if ((output.match(/portcullis top /g) ?? []).length >= 2) resolve();  // two frames drawn
    });
    void exited.then(() => resolve());
  });
  child.stdin.write('q');
  const code = await exited;
  clearTimeout(killer);
  assert.is(code, 0, output);
  assert.ok(output.includes('\x1b[H\x1b[2J'), 'clears the screen per frame');
  assert.match(output, /TCP 198\.18\.0\.10:80/);
  assert.match(output, /-> 198\.19\.0\.1:80/);
  assert.match(output, /WORKER\s+SNAPSHOT\s+BUSY %/);
  assert.match(output, /CPS\s+INPPS\s+OUTPPS/);
});

test('the pcadm binary: exit status and stderr as ipvsadm', async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/pcadm.ts', '--socket', socket, '-D', '-t', '198.18.0.99:80'],
    { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  assert.is(code, 255);
  assert.is(err, 'No such service\n');
});

test.run();
