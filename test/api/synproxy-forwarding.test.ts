// One invalid combination through every door: a TCP service whose SYNPROXY mode is not off (its
// own setting, or an on-call defence override) while one of its servers is DR. SYNPROXY must see
// the server's SYN-ACK and a DR server answers the client directly, so the combination cannot run.
// gRPC (create, update, add and update a server), pcadm, `portcullis defend synproxy`, the config
// file and the state file all refuse it with the same message naming the field, and the refusals
// change nothing. One check (src/model/check-forwarding.ts, run by checkState) serves them all.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { expectGrpcError } from '../support/expected-errors.js';
import { runCli, testConfig, withDaemon, writeConfig } from './daemon.js';

const web = { protocol: 'TCP' as const, vip: '198.18.0.10', port: 80 };
const shop = { protocol: 'TCP' as const, vip: '198.18.0.11', port: 80 };
/** web has a DR server and runs synproxy off; shop has only a FullNAT server. */
const SERVICES = `
  - name: web
    protocol: tcp
    vip: 198.18.0.10
    port: 80
    synproxy: off
    local_addresses: [198.19.0.200]
    servers:
      - { address: 198.19.0.1, port: 80 }
      - { address: 198.19.0.2, port: 80, forward: dr }
  - name: shop
    protocol: tcp
    vip: 198.18.0.11
    port: 80
    local_addresses: [198.19.0.201]
    servers:
      - { address: 198.19.0.1, port: 80 }
`;

const CLASH = "dr cannot be used with synproxy on: the gateway never sees the server's replies, so it cannot finish the server handshake; use fullnat or nat, or turn synproxy off";
/** What the message adds when the mode is an override (here shop's) rather than the service's own setting. */
const BY_OVERRIDE = ' (synproxy on is the defence override set by unix:carol: syn flood on shop)';

function escaped(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The whole message: the field first, then the one wording every door shares. */
function refusal(field: string, byOverride = false): RegExp {
  return new RegExp(`^${escaped(`${field}: ${CLASH}${byOverride ? BY_OVERRIDE : ''}`)}$`);
}

let dir = '';
test.before.each(async () => { dir = await mkdtemp(join(tmpdir(), 'pc-synproxy-dr-')); });
test.after.each(async () => { await rm(dir, { recursive: true, force: true }); });

test('running daemon: gRPC, pcadm and the defence override refuse synproxy with a DR server, same message, naming the field, nothing changes', async () => {
  // A free metrics port: suites run side by side.
  const config = `${testConfig(dir, SERVICES)}metrics: { listen: "127.0.0.1:0" }\n`;
  await withDaemon({ dir, config }, async ({ api, cli, pcadm }) => {
    const defend = (args: string[]) => cli(['defend', ...args]);
    // Allowed: an override on a service without one-way servers.
    const on = await defend(['synproxy', '198.18.0.11:80/tcp', 'on', '--reason', 'syn flood on shop', '--actor', 'carol']);
    assert.is(on.code, 0, on.stderr);
    const servicesBefore = await api.listVirtualServices({});
    const stateBefore = await readFile(join(dir, 'state.json'), 'utf8');
    assert.match(stateBefore, /"kind": "synproxy"/, 'the override is in the state file');

    // The service's own setting: create, update (gRPC), and pcadm -E.
    await expectGrpcError(api.createVirtualService({ service: {
      key: { ...web, vip: '198.18.0.12' }, synproxy: 'on', localAddresses: ['198.19.0.202'],
      servers: [{ address: '198.19.0.1', port: 80, weight: 1 }, { address: '198.19.0.2', port: 80, weight: 1, forward: 'dr' }],
    } }), grpc.status.INVALID_ARGUMENT, refusal('service.servers[1].forward'));
    await expectGrpcError(api.updateVirtualService({ service: { key: web, synproxy: 'on', localAddresses: ['198.19.0.200'] } }),
      grpc.status.INVALID_ARGUMENT, refusal('service.servers[1].forward'));
    const enable = await pcadm('-E -t 198.18.0.10:80 -s wlc -j enable');
    assert.is(enable.code, 255, enable.err);
    assert.match(enable.err.trimEnd(), refusal('service.servers[1].forward'));

    // The defence override: `portcullis defend synproxy` (gRPC SetSynproxy) names its mode.
    const override = await defend(['synproxy', '198.18.0.10:80/tcp', 'on', '--reason', 'syn flood on web', '--actor', 'carol']);
    assert.is(override.code, 2, override.stderr);
    assert.is(override.stderr, `portcullis defend: mode: ${CLASH}${BY_OVERRIDE.replace('shop', 'web')}\n`);

    // A DR server under shop's active override: add, update (gRPC), replace the list, and pcadm -a -g.
    await expectGrpcError(api.addRealServer({ service: shop, server: { address: '198.19.0.2', port: 80, weight: 1, forward: 'dr' } }),
      grpc.status.INVALID_ARGUMENT, refusal('service.servers[1].forward', true));
    await expectGrpcError(api.updateRealServer({ service: shop, server: { address: '198.19.0.1', port: 80, weight: 1, forward: 'dr' } }),
      grpc.status.INVALID_ARGUMENT, refusal('service.servers[0].forward', true));
    await expectGrpcError(api.updateVirtualService({
      service: { key: shop, localAddresses: ['198.19.0.201'], servers: [{ address: '198.19.0.1', port: 80, weight: 1 }, { address: '198.19.0.3', port: 80, weight: 1, forward: 'dr' }] },
      replaceServers: true,
    }), grpc.status.INVALID_ARGUMENT, refusal('service.servers[1].forward', true));
    const gatewaying = await pcadm('-a -t 198.18.0.11:80 -r 198.19.0.2:80 -g');
    assert.is(gatewaying.code, 255, gatewaying.err);
    assert.match(gatewaying.err.trimEnd(), refusal('service.servers[1].forward', true));

    assert.equal(await api.listVirtualServices({}), servicesBefore, 'the refused calls changed no service');
    assert.is(await readFile(join(dir, 'state.json'), 'utf8'), stateBefore, 'nor the state file (services and overrides)');
  });
});

test('config file: synproxy on with a DR server is refused at start with the same message, naming the field', async () => {
  const config = await writeConfig(dir, SERVICES.replace('synproxy: off', 'synproxy: on'));
  const checked = await runCli(['run', '--config', config, '--check']);
  assert.is(checked.code, 2, checked.stdout + checked.stderr);
  assert.match(checked.stderr, new RegExp(`^  ${escaped(`services[0].servers[1].forward: ${CLASH}`)}$`, 'm'));
});

test('state file: a DR server under the service\'s own synproxy on, or under a synproxy override, stops the start (exit 2), naming the field', async () => {
  const config = await writeConfig(dir, SERVICES);
  const stateFile = join(dir, 'state.json');
  const state = (services: object[], mitigations: object[] = []) => writeFile(stateFile, `${JSON.stringify({
    format: 1, next_service_id: 3, next_server_id: 4, services, ...(mitigations.length ? { mitigations } : {}),
  }, null, 2)}\n`);
  const service = (id: number, vip: string, synproxy: string) => ({
    id, protocol: 'tcp', vip, port: 80, synproxy, local_addresses: [`198.19.0.${199 + id}`],
    servers: [{ id: 2 * id - 1, address: '198.19.0.1', port: 80, weight: 1 }, { id: 2 * id, address: '198.19.0.2', port: 80, weight: 1, forward: 'dr' }],
  });
  const cases: [string, () => Promise<void>, RegExp][] = [
    ['own setting', () => state([service(1, web.vip, 'on')]),
      new RegExp(`does not fit the configuration: ${escaped(`services[0].servers[1].forward: ${CLASH}`)}\\.`)],
    ['override', () => state([service(1, web.vip, 'off'), service(2, shop.vip, 'off')], [{
      service: { protocol: 'tcp', vip: shop.vip, port: 80 }, kind: 'synproxy', mode: 'on',
      actor: 'unix:carol', reason: 'syn flood on shop', created_at: new Date().toISOString(),
    }]), new RegExp(`does not fit the configuration: ${escaped(`services[1].servers[1].forward: ${CLASH}${BY_OVERRIDE}`)}\\.`)],
  ];
  for (const [what, write, expected] of cases) {
    await write();
    // Bounded: a daemon that accepted the file would run until killed, and fail the exit code.
    const run = await runCli(['run', '--config', config], 20_000);
    assert.is(run.code, 2, `${what}: ${run.stdout}${run.stderr}`);
    assert.match(run.stdout + run.stderr, expected, what);
  }
});

test.run();
