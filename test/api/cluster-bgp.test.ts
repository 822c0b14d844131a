// Cluster BGP against REAL parts: the real daemon (ring ports) whose speaker is a real managed
// gobgpd, peered over loopback with two real BIRD 2 routers the test starts — "vips" (sent the
// VIPs) and "lips" (sent the LIPs). What the daemon announced is read from the routers' own tables
// with `birdc show route all`. BIRD connects to the daemon's gobgpd, which listens on 17930: BIRD
// opens a session within about a second, where gobgpd's own connect waits 5..10 s (GoBGP's
// connect delay). Unusual ports: daemon's gobgpd API 50931 and BGP 17930, routers' BGP 17931 on
// 127.0.0.2 / 127.0.0.3 only, the external gobgpd's API 50934. Every process is stopped in `finally`.
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as assert from 'uvu/assert';
import type { ClusterClient } from '../../src/api/generated/portcullis/v1/Cluster.js';
import type { ClusterStatus__Output } from '../../src/api/generated/portcullis/v1/ClusterStatus.js';
import { loadPortcullisProto } from '../../src/api/proto.js';
import { connect, rpc } from '../../src/cli/client.js';
import { setLogLevel } from '../../src/log.js';
import { expectGrpcError } from '../support/expected-errors.js';
import { test } from '../support/suite.js';
import { rib, ribPrefixes, startBareGobgpd, startRouter, waitForRib, type Router } from './bgp-router.js';
import { runCli, runProcess, startDaemon, testConfig, withDaemonOutput, type Daemon } from './daemon.js';
import { eventually } from '../support/eventually.js';

setLogLevel('error');

const SPEAKER_API = 50931;
/** The daemon's gobgpd listens here (all addresses); the routers connect to it from 127.0.0.2 / 127.0.0.3. */
const SPEAKER_BGP_PORT = 17930;
const ROUTER_BGP_PORT = 17931;
const VIP = '198.18.77.10';
const VIP6 = '2001:db8:77::10';
const CHECKED_VIP = '198.18.77.11';
const LIP = '198.19.77.200';
const NODE = '198.18.77.254';
const NODE6 = '2001:db8:77::254';
const METRICS = '127.0.0.1:19931';

let dir = '';
test.before.each(async () => { dir = await mkdtemp(join(tmpdir(), 'pc-bgp-')); });
test.after.each(async () => { await rm(dir, { recursive: true, force: true }); });

const SERVICES = `
  - name: web
    protocol: tcp
    vip: ${VIP}
    port: 80
    local_addresses: [${LIP}]
    servers:
      - { address: 198.19.77.1, port: 80, weight: 1 }
      - { address: 198.19.77.3, port: 80, weight: 1 }
  - name: web6
    protocol: tcp
    vip: "${VIP6}"
    port: 80
    local_addresses: ["2001:db8:79::200"]
    servers:
      - { address: "2001:db8:79::1", port: 80, weight: 1 }
  - name: checked
    protocol: tcp
    vip: ${CHECKED_VIP}
    port: 80
    local_addresses: [198.19.77.201]
    health_check: { kind: tcp, interval_ms: 300, timeout_ms: 200, rise: 1, fall: 1 }
    servers:
      - { address: 198.19.77.2, port: 80, weight: 1 }
`;

/**
 * The api tests' config on ports of its own (bgpo/bgpi: their exception-path interfaces pcx-bgpo /
 * pcx-bgpi do not collide with the lab's) with a cluster section. The health check of "checked"
 * probes 198.19.77.2 through pcx-bgpi into a ring nobody answers on: it fails.
 */
async function writeClusterConfig(options: { cluster?: string; outside6?: boolean; file?: string } = {}): Promise<string> {
  const key = join(dir, 'cluster.key');
  await writeFile(key, 'k'.repeat(48), { mode: 0o600 });
  const cluster = options.cluster ?? `cluster:
  node: gw1
  nodes: [{ name: gw1, address: ${NODE} }, { name: gw2, address: 198.18.77.253 }]
  sync: { key_file: ${key} }
  bgp:
    speaker: managed
    api: 127.0.0.1:${SPEAKER_API}
    asn: 65010
    router_id: ${NODE}
    listen_port: ${SPEAKER_BGP_PORT}
    peers:
      - { address: 127.0.0.2, asn: 65000, hold_time: 3, announce: [vips], port: ${ROUTER_BGP_PORT} }
      - { address: 127.0.0.3, asn: 65001, hold_time: 3, announce: [lips], port: ${ROUTER_BGP_PORT} }
`;
  const outside = options.outside6 === false ? `[${NODE}/24]` : `[${NODE}/24, "${NODE6}/64"]`;
  const text = testConfig(dir, SERVICES)
    .replace('- { name: outside, device: ring, addresses: [198.18.0.254/24] }', `- { name: bgpo, device: ring, addresses: ${outside}, exception_path: true }`)
    .replace('- { name: inside, device: ring, addresses: [198.19.0.254/24] }', '- { name: bgpi, device: ring, addresses: [198.19.77.254/24, "2001:db8:79::254/64"], exception_path: true }')
    .replace(/^services:/m, `metrics: { listen: ${METRICS} }\n${cluster}services:`);
  const path = join(dir, options.file ?? 'config.yaml');
  await writeFile(path, text);
  return path;
}

async function withRouters(body: (vips: Router, lips: Router) => Promise<void>): Promise<void> {
  const routers: Router[] = [];
  try {
    routers.push(await startRouter(dir, { name: 'vips', address: '127.0.0.2', port: ROUTER_BGP_PORT, asn: 65000, peerAsn: 65010, peerPort: SPEAKER_BGP_PORT }));
    routers.push(await startRouter(dir, { name: 'lips', address: '127.0.0.3', port: ROUTER_BGP_PORT, asn: 65001, peerAsn: 65010, peerPort: SPEAKER_BGP_PORT }));
    await body(routers[0]!, routers[1]!);
  } finally {
    for (const router of routers) await router.stop();
  }
}

function clusterApi(socket: string) {
  const { grpcObject } = loadPortcullisProto();
  const client: ClusterClient = new grpcObject.portcullis.v1.Cluster(`unix:${socket}`, grpc.credentials.createInsecure());
  return {
    client,
    drain: rpc<object, ClusterStatus__Output>(client, 'drain'),
    undrain: rpc<object, ClusterStatus__Output>(client, 'undrain'),
    status: rpc<object, ClusterStatus__Output>(client, 'getClusterStatus'),
  };
}

/** The managed gobgpd: the daemon's child process running gobgpd. */
function speakerPid(daemon: Daemon): number | undefined {
  let out: string;
  try {
    out = execFileSync('ps', ['--ppid', String(daemon.pid), '-o', 'pid=,comm='], { encoding: 'utf8' });
  } catch {
    return undefined;  // ps exits 1 when the daemon has no child at all
  }
  const line = out.split('\n').find((l) => /\bgobgpd\b/.test(l));
  return line ? Number(line.trim().split(/\s+/)[0]) : undefined;
}

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

const has = (...wanted: string[]) => (prefixes: string[]) => wanted.every((w) => prefixes.includes(w));
const lacks = (...unwanted: string[]) => (prefixes: string[]) => unwanted.every((w) => !prefixes.includes(w));

test('VIPs (/32 and IPv6 /128) go to the vips router, LIPs only to the lips router; weight 0, health down, drain withdraw; SIGTERM withdraws before exit', async () => {
  await withRouters(async (vips, lips) => {
    const daemon = await startDaemon(['--config', await writeClusterConfig()]);
    const cluster = clusterApi(join(dir, 'api.sock'));
    const api = connect(join(dir, 'api.sock'));
    try {
      // Announced, with the node address as next hop (IPv6: the node's IPv6 address on the same port).
      await waitForRib(vips, 'VIP and IPv6 VIP announced', has(`${VIP}/32`, `${VIP6}/128`), 30_000);
      const paths = await rib(vips);
      assert.equal(paths.find((p) => p.prefix === `${VIP}/32`)?.nextHop, NODE);
      assert.equal(paths.find((p) => p.prefix === `${VIP6}/128`)?.nextHop, NODE6);
      // Tagged with the kind's large community (asn:1:1 VIPs, asn:1:2 LIPs): what selects the peers.
      for (const prefix of [`${VIP}/32`, `${VIP6}/128`]) assert.equal(paths.find((p) => p.prefix === prefix)?.largeCommunities, ['65010:1:1'], prefix);
      // The health check took "checked"'s only server down: its VIP is never in the RIB. No LIP either.
      assert.ok(lacks(`${CHECKED_VIP}/32`, `${LIP}/32`, '198.19.77.201/32', '2001:db8:79::200/128')(paths.map((p) => p.prefix)), JSON.stringify(paths));
      await waitForRib(lips, 'LIPs announced to the lips router', has(`${LIP}/32`, '198.19.77.201/32', '2001:db8:79::200/128'), 30_000);
      const lipPaths = await rib(lips);
      assert.ok(lacks(`${VIP}/32`, `${VIP6}/128`)(lipPaths.map((p) => p.prefix)), 'the lips router is not sent VIPs');
      assert.equal(lipPaths.find((p) => p.prefix === `${LIP}/32`)?.largeCommunities, ['65010:1:2']);
      const checked = await api.api.getVirtualService({ key: { protocol: 'TCP', vip: CHECKED_VIP, port: 80 } });
      assert.equal(checked.servers.map((s) => s.health), ['down'], 'the health check decided down');

      let status = await cluster.status({});
      assert.equal(status.node, 'gw1');
      assert.equal(status.drained, false);
      assert.ok(status.speakerUp);
      assert.equal(status.peers.map((p) => [p.address, p.sessionState]), [['127.0.0.2', 'ESTABLISHED'], ['127.0.0.3', 'ESTABLISHED']]);
      assert.equal(status.peers[0]!.announced.sort(), [`${VIP}/32`, `${VIP6}/128`].sort());
      assert.ok(status.peers[1]!.announced.includes(`${LIP}/32`));

      // Every server of the VIP at weight 0 → withdrawn; one back → announced.
      for (const address of ['198.19.77.1', '198.19.77.3']) {
        await api.api.updateRealServer({ service: { protocol: 'TCP', vip: VIP, port: 80 }, server: { address, port: 80, weight: 0 } });
        if (address === '198.19.77.1') {
          await new Promise((resolve) => setTimeout(resolve, 1_500));
          assert.ok(has(`${VIP}/32`)(await ribPrefixes(vips)), 'one usable server left: still announced');
        }
      }
      await waitForRib(vips, 'VIP withdrawn at weight 0 everywhere', lacks(`${VIP}/32`));
      assert.ok(has(`${VIP6}/128`)(await ribPrefixes(vips)), 'the other VIPs stay');
      await api.api.updateRealServer({ service: { protocol: 'TCP', vip: VIP, port: 80 }, server: { address: '198.19.77.3', port: 80, weight: 2 } });
      await waitForRib(vips, 'VIP back with a usable server', has(`${VIP}/32`));

      // Drain: every VIP withdrawn, the LIPs stay; the CLI waits for the (zero) connections.
      const drained = await runCli(['drain', '--wait', '--timeout', '10s', '--socket', join(dir, 'api.sock')]);
      assert.equal(drained.code, 0, drained.stderr);
      assert.match(drained.stdout, /0 connection\(s\) remaining/);
      await waitForRib(vips, 'VIPs withdrawn on drain', lacks(`${VIP}/32`, `${VIP6}/128`));
      assert.ok(has(`${LIP}/32`)(await ribPrefixes(lips)), 'LIPs stay announced while drained');
      status = await cluster.status({});
      assert.equal(status.drained, true);
      assert.equal(status.peers[0]!.announced, []);
      const statusCli = await runCli(['cluster', 'status', '--socket', join(dir, 'api.sock')]);
      assert.equal(statusCli.code, 0, statusCli.stderr);
      assert.match(statusCli.stdout, /node gw1: DRAINED/);
      assert.match(statusCli.stdout, /127\.0\.0\.2\s+65000\s+ESTABLISHED/);
      const metrics = await (await fetch(`http://${METRICS}/metrics`)).text();
      assert.match(metrics, /^portcullis_cluster_drained 1$/m);
      assert.match(metrics, /^portcullis_bgp_peer_established\{peer="127\.0\.0\.2"\} 1$/m);
      assert.match(metrics, /^portcullis_bgp_announced_prefixes\{kind="vips"\} 0$/m);
      assert.match(metrics, /^portcullis_bgp_withdraws_total [1-9]/m);

      const undrained = await runCli(['undrain', '--socket', join(dir, 'api.sock')]);
      assert.equal(undrained.code, 0, undrained.stderr);
      await waitForRib(vips, 'VIPs back on undrain', has(`${VIP}/32`, `${VIP6}/128`));
      const after = await (await fetch(`http://${METRICS}/metrics`)).text();
      assert.match(after, /^portcullis_bgp_announced_prefixes\{kind="vips"\} 2$/m);
      assert.match(after, /^portcullis_cluster_drained 0$/m);

      // A clean stop withdraws everything before gobgpd stops (the log's order), and gobgpd goes too.
      const pid = speakerPid(daemon);
      assert.ok(pid, 'the managed gobgpd runs as the daemon\'s child');
      assert.equal(await daemon.stop(10_000), 0);
      const output = daemon.output();
      const withdrawAt = output.indexOf(`bgp: withdraw ${VIP}/32 (vips: stopping)`);
      const stoppedAt = output.indexOf('bgp: gobgpd stopped');
      assert.ok(withdrawAt >= 0 && stoppedAt > withdrawAt, 'withdraw logged before gobgpd stopped');
      assert.ok(!alive(pid!), 'gobgpd stopped with the daemon');
      await waitForRib(vips, 'nothing left after the stop', (p) => p.length === 0, 5_000);
    } catch (error) {
      throw withDaemonOutput(error, daemon);
    } finally {
      cluster.client.close();
      api.close();
      await daemon.stop();
    }
  });
});

test('gobgpd killed: restarted, peers and paths back; drain survives a daemon restart; kill -9 of the daemon takes gobgpd along', async () => {
  await withRouters(async (vips) => {
    const config = await writeClusterConfig({ outside6: false });
    let daemon = await startDaemon(['--config', config]);
    let cluster = clusterApi(join(dir, 'api.sock'));
    const pids: number[] = [];
    try {
      await waitForRib(vips, 'VIP announced', has(`${VIP}/32`), 30_000);
      // Without an IPv6 address on the node's port, the IPv6 VIP is not announced and status says why.
      let status = await cluster.status({});
      assert.ok(status.notAnnounced.some((n) => n.startsWith(`${VIP6}/128: no IPv6 address on port bgpo`)), JSON.stringify(status.notAnnounced));
      assert.ok(lacks(`${VIP6}/128`)(await ribPrefixes(vips)));

      const first = speakerPid(daemon)!;
      pids.push(first);
      process.kill(first, 'SIGKILL');
      await waitForRib(vips, 'routes gone with the killed gobgpd', lacks(`${VIP}/32`), 10_000);
      await eventually('a new gobgpd', () => { const pid = speakerPid(daemon); if (pid) pids.push(pid); return pid !== undefined && pid !== first; }, 15_000, 200);
      await waitForRib(vips, 'VIP announced again by the restarted gobgpd', has(`${VIP}/32`), 30_000);
      status = await cluster.status({});
      assert.equal(status.counters.bgp_speaker_starts, '2');
      assert.equal(status.counters.bgp_speaker_losses, '1');
      // Whichever the daemon noticed first: the child's exit or its API stream breaking.
      assert.match(daemon.output(), /bgp: (gobgpd exited \(SIGKILL\)|the event stream ended[^;]*); restarting gobgpd in \d+ ms/);

      // Drained, then restarted: it comes back drained (the drain file beside the state file).
      await cluster.drain({});
      await waitForRib(vips, 'withdrawn on drain', lacks(`${VIP}/32`));
      assert.match(await readFile(join(dir, 'state.json.cluster'), 'utf8'), /"drained":true/);
      cluster.client.close();
      assert.equal(await daemon.stop(10_000), 0);
      daemon = await startDaemon(['--config', config]);
      cluster = clusterApi(join(dir, 'api.sock'));
      assert.match(daemon.output(), /starts DRAINED/);
      await eventually('session up after restart', async () => (await cluster.status({})).peers[0]!.sessionState === 'ESTABLISHED', 30_000, 200);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      assert.ok(lacks(`${VIP}/32`)(await ribPrefixes(vips)), 'still drained after the restart');
      assert.equal((await cluster.status({})).drained, true);
      await cluster.undrain({});
      await waitForRib(vips, 'announced after undrain', has(`${VIP}/32`));

      // kill -9 of the daemon: its gobgpd dies with it (parent-death signal), the router drops the routes.
      const speaker = speakerPid(daemon)!;
      pids.push(speaker);
      daemon.child.kill('SIGKILL');
      await daemon.exited;
      await eventually('gobgpd gone with its daemon', () => !alive(speaker), 5_000, 200);
      await waitForRib(vips, 'routes gone with the killed node', lacks(`${VIP}/32`), 5_000);
    } catch (error) {
      throw withDaemonOutput(error, daemon);
    } finally {
      cluster.client.close();
      await daemon.stop();
      for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
    }
  });
});

test('external speaker: the daemon configures a running gobgpd; SIGTERM withdraws by UPDATE while the session stays up', async () => {
  await withRouters(async (vips) => {
    const speaker = await startBareGobgpd(50934);
    let daemon: Daemon | undefined;
    try {
      const config = await writeClusterConfig({ outside6: false });
      const external = (await readFile(config, 'utf8'))
        .replace('speaker: managed', 'speaker: external')
        .replace(`api: 127.0.0.1:${SPEAKER_API}`, 'api: 127.0.0.1:50934')
        .replace(/      - \{ address: 127\.0\.0\.3.*\n/, '');
      await writeFile(config, external);
      daemon = await startDaemon(['--config', config]);
      await waitForRib(vips, 'VIP announced through the external gobgpd', has(`${VIP}/32`), 30_000);
      assert.equal(await daemon.stop(10_000), 0);
      // gobgpd still runs and the session is still up: only UPDATE withdraws can have emptied the RIB.
      await waitForRib(vips, 'VIP withdrawn on the daemon\'s stop', lacks(`${VIP}/32`), 5_000);
      const neighbours = await runProcess(['gobgp', '-p', '50934', 'neighbor'], 5_000);
      assert.match(neighbours.stdout, /127\.0\.0\.2\s+65000\s+\S+\s+Establ/, neighbours.stdout);
      assert.equal(await vips.sessionState(), 'Established', 'the router saw no session drop either');
      assert.ok(speaker.child.exitCode === null, 'the external gobgpd was left running');
      // A new daemon finds AS 65010 configured and the peer there: it adds its paths again.
      daemon = await startDaemon(['--config', config]);
      await waitForRib(vips, 'VIP announced again by the next daemon', has(`${VIP}/32`), 15_000);
      assert.match(daemon.output(), /external gobgpd at 127\.0\.0\.1:50934 already runs AS 65010/);
    } catch (error) {
      throw daemon ? withDaemonOutput(error, daemon) : error;
    } finally {
      await daemon?.stop();
      await speaker.stop();
    }
  });
});

test('not clustered: every Cluster call is FAILED_PRECONDITION naming the missing section; the CLI says so', async () => {
  const config = join(dir, 'config.yaml');
  await writeFile(config, testConfig(dir));
  const daemon = await startDaemon(['--config', config]);
  const cluster = clusterApi(join(dir, 'api.sock'));
  try {
    for (const call of [cluster.status, cluster.drain, cluster.undrain]) {
      await expectGrpcError(call({}), grpc.status.FAILED_PRECONDITION, /not part of a cluster: the config has no `cluster` section/);
    }
    const cli = await runCli(['drain', '--socket', join(dir, 'api.sock')]);
    assert.equal(cli.code, 1);
    assert.match(cli.stderr, /not part of a cluster/);
  } catch (error) {
    throw withDaemonOutput(error, daemon);
  } finally {
    cluster.client.close();
    await daemon.stop();
  }
});

test('bad cluster config: every problem named by its field; an unreadable key file stops the start (exit 2); a gobgpd that dies at once fails it (exit 1)', async () => {
  const bad = `cluster:
  node: gw9
  nodes: [{ name: gw1, address: 198.18.77.254 }, { name: gw1, address: 198.18.77.253 }, { name: gw3, address: 198.18.77.254 }]
  sync: { key_file: /nonexistent/cluster.key }
  bgp:
    asn: 0
    router_id: "2001:db8::1"
    listen_port: 0
    peers:
      - { address: 127.0.0.2, asn: 65000, hold_time: 2, announce: [vips] }
      - { address: 127.0.0.3, asn: 4294967296, announce: [] }
`;
  const badConfig = await writeClusterConfig({ cluster: bad, file: 'bad.yaml' });
  const good = await readFile(await writeClusterConfig(), 'utf8');
  // Shape fine, key file missing: the parser passes it (readability is a start-time fact), the start refuses.
  const missingKey = join(dir, 'missing-key.yaml');
  await writeFile(missingKey, good.replace(/key_file: \S+ \}/, 'key_file: /nonexistent/cluster.key }'));
  // A managed gobgpd that dies at once: the start fails (exit 1) saying so.
  const falseSpeaker = join(dir, 'false-speaker.yaml');
  await writeFile(falseSpeaker, good.replace('speaker: managed', 'speaker: managed\n    gobgpd: /bin/false'));
  // Four CLI processes that share nothing but the temp dir: the key file is refused before the
  // start touches anything, so only the /bin/false one gets as far as starting: run them at once.
  const [checked, missingKeyChecked, started, dead] = await Promise.all([
    runCli(['run', '--config', badConfig, '--check']),
    runCli(['run', '--config', missingKey, '--check']),
    runCli(['run', '--config', missingKey], 30_000),
    runCli(['run', '--config', falseSpeaker], 30_000),
  ]);

  assert.equal(checked.code, 2);
  for (const line of [
    /cluster\.nodes\[1\]\.name: "gw1" is already the name of cluster\.nodes\[0\]/,
    /cluster\.nodes\[2\]\.address: 198\.18\.77\.254 is already the address of cluster\.nodes\[0\]/,
    /cluster\.node: expected one of the nodes' names \(gw1\), got "gw9"/,
    /cluster\.bgp\.asn: expected integer 1\.\.4294967295, got 0/,
    /cluster\.bgp\.router_id: expected an IPv4 address/,
    /cluster\.bgp\.listen_port: expected integer 1\.\.65535, or -1/,
    /cluster\.bgp\.peers\[0\]\.hold_time: expected seconds: 0 \(no keepalives\) or 3\.\.65535/,
    /cluster\.bgp\.peers\[1\]\.asn: expected integer 1\.\.4294967295, got 4294967296/,
  ]) assert.match(checked.stderr, line);

  assert.equal(missingKeyChecked.code, 0, missingKeyChecked.stderr);
  assert.equal(started.code, 2, started.stderr);
  assert.match(started.stderr, /cluster\.sync\.key_file: cannot read \/nonexistent\/cluster\.key/);

  assert.equal(dead.code, 1, dead.stderr);
  assert.match(dead.stderr, /gobgpd exited before its API answered \(code 1\)/);
});
test.run();
