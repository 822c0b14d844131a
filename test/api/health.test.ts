// Issue 14 item 6: grpc.health.v1 on the REAL daemon says whether it forwards. One port is a DPDK
// tap (net_tap) whose kernel interface the test takes down and up with `ip link` — the same link
// state the link monitor reads (the ethdev's status and the interface's operstate) — and Check and
// Watch, overall and for every service, follow: SERVING, NOT_SERVING while the link is down,
// SERVING again. The tap lives only as long as the daemon (non-persistent), carries no address,
// and its IPv6 is turned off so the kernel sends nothing into it.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { testConfig, withDaemon } from './daemon.js';
import { eventually } from '../support/eventually.js';

const SERVICES = ['', 'portcullis.v1.VirtualServices', 'portcullis.v1.Stats', 'portcullis.v1.Defense', 'portcullis.v1.Trace', 'portcullis.v1.Capture'];
/** Link monitor polls once a second, health every 250 ms: a change shows within ~1.5 s; allow slack. */
const SETTLE_MS = 5000;

type Status = 'SERVING' | 'NOT_SERVING' | 'UNKNOWN' | 'SERVICE_UNKNOWN';
interface HealthClient extends grpc.Client {
  check(request: { service: string }, callback: (error: grpc.ServiceError | null, reply: { status: Status }) => void): void;
  watch(request: { service: string }): grpc.ClientReadableStream<{ status: Status }>;
}

function healthClient(socket: string): HealthClient {
  const loaded = grpc.loadPackageDefinition(protoLoader.loadSync(healthProtoPath, { enums: String, keepCase: true })) as unknown as {
    grpc: { health: { v1: { Health: new (target: string, credentials: grpc.ChannelCredentials) => HealthClient } } };
  };
  return new loaded.grpc.health.v1.Health(`unix:${socket}`, grpc.credentials.createInsecure());
}

function check(client: HealthClient, service: string): Promise<Status> {
  return new Promise((resolve, reject) => client.check({ service }, (error, reply) => (error ? reject(error) : resolve(reply.status))));
}

async function statuses(client: HealthClient): Promise<Status[]> {
  return Promise.all(SERVICES.map((s) => check(client, s)));
}

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

test('health: SERVING while forwarding, NOT_SERVING (overall and every service, Check and Watch) while a port link is down, SERVING again when it is back', async () => {
  const iface = `pch${process.pid % 100000}`;
  const config = (dir: string) => testConfig(dir)
    .replace('device: ring, addresses: [198.18.0.254/24]', `device: "net_tap0,iface=${iface}", addresses: [198.18.0.254/24]`)
    .replace(/^api: /m, 'metrics: { listen: "" }\napi: ');
  await withDaemon({ config }, async ({ daemon, socket }) => {
    const client = healthClient(socket);
    const watched: Status[] = [];
    const watch = client.watch({ service: '' });
    watch.on('data', (reply: { status: Status }) => watched.push(reply.status));
    watch.on('error', () => undefined);
    try {
      assert.ok(existsSync(`/sys/class/net/${iface}`), `the daemon created tap ${iface}`);
      execFileSync('sysctl', ['-q', '-w', `net.ipv6.conf.${iface}.disable_ipv6=1`]);
      await eventually('SERVING at start', async () => (await statuses(client)).every((s) => s === 'SERVING'), SETTLE_MS);

      ip('link', 'set', 'dev', iface, 'down');
      await eventually('NOT_SERVING with the link down', async () => (await statuses(client)).every((s) => s === 'NOT_SERVING'), SETTLE_MS);
      assert.match(daemon.output(), /health: NOT_SERVING \(port outside: link down\)/);

      ip('link', 'set', 'dev', iface, 'up');
      await eventually('SERVING again with the link up', async () => (await statuses(client)).every((s) => s === 'SERVING'), SETTLE_MS);
      await eventually('Watch saw every transition', async () => watched.join(',') === 'SERVING,NOT_SERVING,SERVING', SETTLE_MS);
    } finally {
      watch.cancel();
      client.close();
    }
  });
});

test.run();
