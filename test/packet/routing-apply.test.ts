// Static routes steer traffic to a next hop's MAC; apply() swaps snapshots under live flows.
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import {
  CLIENT, LIPS, PORT_MAC, SERVERS, TCP_SERVER_IDS, TCP_SERVICE_ID, VIP, clientSegment, clientTcp, expectDrops,
  expectEvents, labConfig, only, openTcp, serverSegment, serverTcp, show, synThrough, withLab, type Flow, type Lab,
} from '../support/golden.js';
import { hostMac, mac } from '../support/packet.js';

const REMOTE_SERVER = '10.99.0.5';
const ROUTER = '198.19.0.9';

test('static route 10.99.0.0/16 via 198.19.0.9: SYN goes to the router\'s MAC, reply comes back', async () => {
  const config = labConfig((c) => {
    c.routes.push({ prefix: '10.99.0.0/16', via: ROUTER, port: 'inside' });
    c.services[0]!.servers = [{ id: 1, address: REMOTE_SERVER, port: 80, weight: 1 }];
  });
  await withLab((lab) => {
    const out = lab.forward('outside', clientTcp(47000, { flags: 'S', seq: 9 }));
    const syn = only(out.inside, 'SYN via the router');
    assert.is(syn.ipv4!.dst, REMOTE_SERVER);
    assert.ok(LIPS.includes(syn.ipv4!.src));
    assert.equal(syn.eth, { dst: hostMac(ROUTER), src: PORT_MAC.inside, type: 0x0800 });
    assert.equal(lab.arpRequests.map((f) => f.arp!.targetIp), [ROUTER], `ARP only for the next hop: ${show(lab.arpRequests)}`);
    assert.ok(syn.ipv4!.checksumOk && syn.tcp!.checksumOk);
    // the reply arrives from the router's MAC
    const reply = serverTcp(REMOTE_SERVER, 80, syn.ipv4!.src, syn.tcp!.srcPort, { flags: 'SA', seq: 5, ack: 10 });
    mac(hostMac(ROUTER)).copy(reply, 6);
    const back = only(lab.forward('inside', reply).outside, 'SYN-ACK back');
    assert.equal([back.ipv4!.src, back.tcp!.srcPort, back.ipv4!.dst, back.tcp!.dstPort], [VIP, 80, CLIENT, 47000]);
  }, config);
});

test('a server outside every route: the config is accepted, its new flows are dropped no_route', async () => {
  const config = labConfig((c) => { c.services[0]!.servers = [{ id: 1, address: '10.98.0.5', port: 80, weight: 1 }]; });
  await withLab((lab) => {
    lab.apply(config);
    lab.dp.step();
    let n = 0;
    const d = lab.counterDelta(() => { const o = lab.forward('outside', clientTcp(47001, { flags: 'S' })); n = o.inside.length + o.outside.length; });
    assert.is(n, 0);
    expectDrops(d, { no_route: 1 });
  }, null);
});

/** One round trip on an established flow: client data in, server data out. */
function roundTrip(lab: Lab, flow: Flow, what: string): void {
  const inbound = only(lab.forward('outside', clientSegment(flow, { flags: 'PA', payload: Buffer.from('q') })).inside, `${what}: client data`);
  assert.equal([inbound.ipv4!.src, inbound.tcp!.srcPort, inbound.ipv4!.dst], [flow.lip, flow.lport, flow.server], what);
  const outbound = only(lab.forward('inside', serverSegment(flow, { flags: 'PA', ack: flow.clientIsn + 2, payload: Buffer.from('r') })).outside, `${what}: server data`);
  assert.equal([outbound.ipv4!.src, outbound.tcp!.srcPort, outbound.ipv4!.dst, outbound.tcp!.dstPort], [VIP, 80, CLIENT, flow.cport], what);
}

test('apply() under a live flow: new version adopted, flow keeps going; removed server keeps its conn; deleted service -> no_service', async () => {
  await withLab((lab) => {
    const flow = openTcp(lab, 47100);
    const v1 = lab.stats().snapshotVersion;

    // same config again: a new snapshot, the flow is unaffected
    const d = lab.counterDelta(() => {
      const v2 = lab.apply(labConfig());
      assert.ok(v2 > v1, `version grows: ${v1} -> ${v2}`);
      lab.dp.step();
      const s = lab.stats();
      assert.is(s.snapshotVersion, v2);
      assert.equal(s.workerVersions, [v2]);
    });
    expectEvents(d, { snapshots_adopted: 1 });
    roundTrip(lab, flow, 'after re-apply');
    // per-server counters survive a snapshot with the same ids
    const serverId = TCP_SERVER_IDS[SERVERS.indexOf(flow.server)]!;
    // (openTcp: SYN + ACK in, SYN-ACK out; roundTrip: one each way)
    const kept = lab.stats().servers.find((s) => s.id === serverId)!;
    assert.equal([kept.conns, kept.inPackets, kept.outPackets], [1, 3, 2], 'server counters kept across apply');

    // remove the flow's real server: the existing connection keeps forwarding
    const v3 = lab.apply(labConfig((c) => {
      c.services[0]!.servers = c.services[0]!.servers.filter((s) => s.address !== flow.server);
    }));
    lab.dp.step();
    assert.equal(lab.stats().workerVersions, [v3]);
    roundTrip(lab, flow, 'after removing its server');
    // new connections avoid the removed server
    for (let i = 0; i < 4; i++) {
      assert.is.not(synThrough(lab, 47200 + i).server, flow.server, `new conn ${i} avoids the removed server`);
    }

    // delete the TCP service: new SYNs are dropped no_service
    const v4 = lab.apply(labConfig((c) => { c.services = c.services.filter((s) => s.id !== TCP_SERVICE_ID); }));
    lab.dp.step();
    assert.equal(lab.stats().workerVersions, [v4]);
    assert.is(lab.stats().services.find((s) => s.id === TCP_SERVICE_ID), undefined, 'deleted service not listed');
    let n = 0;
    const dd = lab.counterDelta(() => { const o = lab.forward('outside', clientTcp(47300, { flags: 'S' })); n = o.inside.length + o.outside.length; });
    assert.is(n, 0);
    expectDrops(dd, { no_service: 1 });
  });
});

test('a config the data plane refuses leaves the old snapshot live', async () => {
  await withLab((lab) => {
    const flow = openTcp(lab, 47400);
    const before = lab.stats().snapshotVersion;
    let code: unknown;
    try {
      lab.apply(labConfig((c) => { c.ports[0]!.name = 'no-such-port'; }));
    } catch (e) {
      code = (e as { code?: unknown }).code;
    }
    assert.ok(code === 'CONFIG_REJECTED' || code === 'EINVAL', `rejected with a stable code, got ${String(code)}`);
    lab.dp.step();
    assert.is(lab.stats().snapshotVersion, before);
    roundTrip(lab, flow, 'after a refused apply');
  });
});

test.run();
