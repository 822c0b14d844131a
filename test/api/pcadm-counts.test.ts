// pcadm --persistent-conn (PersistConn) and --get-laddr (CONNS, CONFLICTS) print the data
// plane's own counts. The daemon's gRPC server, controller and stats hub run in process over
// a TEST-mode data plane (the live daemon's ring ports cannot be fed from outside), so that
// real connections can be made with golden frames; pcadm itself is the real CLI talking gRPC
// over the unix socket, and the Prometheus registry reads the same hub.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { startApiServer, type ApiServer } from '../../src/api/server.js';
import { runPcadm } from '../../src/cli/pcadm/main.js';
import { Controller } from '../../src/daemon/controller.js';
import { setLogLevel } from '../../src/log.js';
import { createMetrics } from '../../src/metrics/prometheus.js';
import { StatsHub } from '../../src/metrics/stats-hub.js';
import { VIP, clientTcp, only, withLab, type Lab } from '../support/golden.js';
import { ringPortsState } from '../support/desired-state.js';

setLogLevel('error');

const [RS1, RS2] = ['198.19.0.1', '198.19.0.2'];
const [LIP_A, LIP_B] = ['198.19.0.200', '198.19.0.201'];
const WORKERS = 4;
const SHARE = (65536 - 1024) / WORKERS;  // one worker's lports of one LIP


async function pcadm(socket: string, line: string): Promise<string> {
  let out = '';
  let err = '';
  const code = await runPcadm(['--socket', socket, ...line.split(' ').filter(Boolean)], {
    stdout: (t) => { out += t; }, stderr: (t) => { err += t; }, stdin: async () => '',
  });
  assert.is(code, 0, `pcadm ${line}: exit ${code}: ${err}`);
  return out;
}

/** ipvsadm's --persistent-conn dest line "  -> %-28s %-9u %-11u %-10u %-10u". */
function persistLine(server: string, weight: number, persist: number, active: number, inactive: number): string {
  return `  -> ${server.padEnd(28)} ${String(weight).padEnd(9)} ${String(persist).padEnd(11)} ${String(active).padEnd(10)} ${String(inactive).padEnd(10)}`;
}

/** DPVS --get-laddr lines: service "%-20s %-8u \\n", LIP "%-20s %-8s %-20s %-10lu %-10u". */
const laddrService = (vip: string, total: number) => `${vip.padEnd(20)} ${String(total).padEnd(8)} `;
const laddrLine = (lip: string, conflicts: number, conns: number) =>
  `${''.padEnd(20)} ${''.padEnd(8)} ${lip.padEnd(20)} ${String(conflicts).padEnd(10)} ${String(conns).padEnd(10)}`;

/** A SYN from client:cport to VIP:dport; ARP answered; returns the SYN that left inside. */
function syn(lab: Lab, client: string, cport: number, dport: number): { server: string; lip: string } {
  const out = lab.forward('outside', clientTcp(cport, { flags: 'S', seq: 1 }, VIP, dport, client));
  const frame = only(out.inside, `SYN from ${client}:${cport} to :${dport}`);
  return { server: frame.ipv4!.dst, lip: frame.ipv4!.src };
}

test('pcadm prints the data plane\'s PersistConn, CONNS and CONFLICTS for real connections (not zeros)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pc-pcadm-counts-'));
  const socket = join(dir, 'api.sock');
  let api: ApiServer | undefined;
  try {
    await withLab(async (lab) => {
      const controller = new Controller(lab.dp, join(dir, 'state.json'), ringPortsState());
      await controller.applyInitial();
      const hub = new StatsHub(lab.dp);
      api = await startApiServer({ socket, controller, stats: hub, info: { version: 'test', startedAt: Date.now(), workers: WORKERS, polling: 'busy' },
        forwarding: () => ({ started: controller.snapshotVersion > 0, ports: [], rollbackFailure: controller.rollbackFailure }) });

      // :80 persistent over two LIPs; :81 takes every lport of LIP_A (the pool is per address).
      await pcadm(socket, `-A -t ${VIP}:80 -s rr -p 300`);
      await pcadm(socket, `--add-laddr -t ${VIP}:80 -z ${LIP_A}`);
      await pcadm(socket, `--add-laddr -t ${VIP}:80 -z ${LIP_B}`);
      await pcadm(socket, `-a -t ${VIP}:80 -r ${RS1}:80 -b`);
      await pcadm(socket, `-a -t ${VIP}:80 -r ${RS2}:80 -b`);
      await pcadm(socket, `-A -t ${VIP}:81 -s rr`);
      await pcadm(socket, `--add-laddr -t ${VIP}:81 -z ${LIP_A}`);
      await pcadm(socket, `-a -t ${VIP}:81 -r ${RS1}:81 -b`);
      lab.dp.step();

      // :81 takes every lport of LIP_A on every worker (a client of its own per worker's rx queue;
      // :81 is neither NAT nor persistent, so each SYN's connection is made where it arrived).
      assert.equal(syn(lab, '198.18.0.9', 2000, 81), { server: RS1, lip: LIP_A });
      for (let worker = 0; worker < WORKERS; worker++) {
        const client = `198.18.0.${9 - worker}`;
        const count = worker === 0 ? SHARE - 1 : SHARE;
        for (let i = 0; i < count; i += 1024) {
          const cports = Array.from({ length: Math.min(1024, count - i) }, (_, k) => 3000 + i + k);
          lab.sendOn('outside', worker, ...cports.map((cport) => clientTcp(cport, { flags: 'S', seq: 1 }, VIP, 81, client)));
          lab.dp.capture('inside');
        }
      }
      // Three clients on :80, .1 twice: each SYN finds LIP_A full first (on whichever worker the
      // client's network names), takes LIP_B, and .1's second connection follows its template.
      const flows = [['198.18.0.1', 40001], ['198.18.0.2', 40002], ['198.18.0.3', 40003], ['198.18.0.1', 40004]] as const;
      const made = flows.map(([client, cport]) => syn(lab, client, cport, 80));
      made.forEach((flow, index) => assert.is(flow.lip, LIP_B, `flow ${index} took LIP_B`));
      assert.is(made[3]!.server, made[0]!.server, "198.18.0.1's second connection follows its template");
      const templatesTo = (server: string) => made.slice(0, 3).filter((flow) => flow.server === server).length;
      const connsTo = (server: string) => made.filter((flow) => flow.server === server).length;
      assert.ok(templatesTo(RS1) > 0 && templatesTo(RS1) + templatesTo(RS2) === 3, 'three templates on the two servers');

      assert.fixture(await pcadm(socket, `-Ln --persistent-conn -t ${VIP}:80`), [
        'Prot LocalAddress:Port            Weight    PersistConn ActiveConn InActConn ',
        '  -> RemoteAddress:Port',
        `TCP  ${VIP}:80 rr persistent 300`,
        persistLine(`${RS1}:80`, 1, templatesTo(RS1), 0, connsTo(RS1)),
        persistLine(`${RS2}:80`, 1, templatesTo(RS2), 0, connsTo(RS2)),
        '',
      ].join('\n'));
      assert.fixture(await pcadm(socket, '--get-laddr'), [
        'VIP:VPORT            TOTAL    SNAT_IP              CONFLICTS  CONNS     ',
        laddrService(`${VIP}:80`, 2),
        laddrLine(LIP_A, 4, 0),
        laddrLine(LIP_B, 0, 4),
        laddrService(`${VIP}:81`, 1),
        laddrLine(LIP_A, 0, WORKERS * SHARE),
        '',
      ].join('\n'));

      const { registry, refresh } = createMetrics({ hub, state: () => controller.state, connectionCapacity: 0 });
      refresh();
      const metrics = await registry.metrics();
      assert.match(metrics, `portcullis_real_server_persistent_connections{protocol="tcp",vip="${VIP}",port="80",server="${RS1}",server_port="80"} ${templatesTo(RS1)}`);
      assert.match(metrics, `portcullis_local_address_conflicts_total{protocol="tcp",vip="${VIP}",port="80",local_address="${LIP_A}"} 4`);
      assert.match(metrics, `portcullis_local_address_connections{protocol="tcp",vip="${VIP}",port="81",local_address="${LIP_A}"} ${WORKERS * SHARE}`);

      // Everything half-open ends after 60 s (SYN_RECV), the templates 300 s after their last use.
      lab.advance(61);
      assert.ok((await pcadm(socket, `-Ln --persistent-conn -t ${VIP}:80`)).includes(persistLine(`${RS1}:80`, 1, templatesTo(RS1), 0, 0)));
      assert.ok((await pcadm(socket, '--get-laddr')).includes(laddrLine(LIP_B, 0, 0)));
      lab.advance(300);
      assert.ok((await pcadm(socket, `-Ln --persistent-conn -t ${VIP}:80`)).includes(persistLine(`${RS1}:80`, 1, 0, 0, 0)));
    }, null, { workers: WORKERS, connCapacity: SHARE + 64 });
  } finally {
    await api?.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test.run();
