// Passive health's evidence (src/health/passive.ts reads it): per real server, the ICMP
// destination unreachable it sends about a UDP connection's datagram (IPv4 and IPv6) and the
// RSTs it sends on an opening or established TCP connection, summed over workers in stats().
// What is not a refusal moves nothing: a client's RST, a server's RST after the client closed,
// "fragmentation needed" (a path MTU) and ICMP about a TCP connection (its refusal is the RST).
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import type { DataplaneConfig } from '../../src/dataplane/types.js';
import {
  CLIENT6, VIP6, clientSegment, clientUdp, dualStackConfig, expectDrops, expectEvents, frameFrom, frameFrom6, labConfig,
  only, openTcp, serverSegment, serverTcp, synThrough, withLab, type Lab, type PortName,
} from '../support/golden.js';
import { ICMP6_TYPE, ICMP_TYPE } from '../support/packet.js';
import { UDP6_SERVICE_ID, v6Service } from '../support/flow6.js';

const PORT_UNREACHABLE = 3;
const FRAG_NEEDED = 4;
const PORT_UNREACHABLE6 = 4;

/** A server's refusal counters, by server id (the lab's servers are 198.19.0.1..3 in every service). */
function refusals(lab: Lab, serverId: number): { icmpUnreachable: number; resets: number } {
  const server = lab.stats().servers.find((s) => s.id === serverId);
  assert.ok(server, `server id ${serverId} in stats()`);
  return { icmpUnreachable: server.icmpUnreachable, resets: server.resets };
}

function serverIdOf(config: DataplaneConfig, serviceProtocol: 'tcp' | 'udp', address: string, vip = '198.18.0.10'): number {
  const service = config.services.find((s) => s.protocol === serviceProtocol && s.vip === vip);
  const server = service?.servers.find((s) => s.address === address);
  if (!server) throw new Error(`no ${serviceProtocol} server ${address} behind ${vip}`);
  return server.id;
}

function icmpError(port: PortName, from: string, to: string, type: number, code: number, quoted: Buffer): Buffer {
  return frameFrom(port, from, to, { icmp: { type, code, rest: 0, payload: quoted } });
}

test('UDP: the server\'s port unreachable moves its icmp_unreachable; fragmentation needed does not', async () => {
  const config = labConfig();
  await withLab((lab) => {
    const inside = only(lab.forward('outside', clientUdp(43001, Buffer.from('ping'))).inside, 'datagram inside');
    const ip = inside.ipv4!;
    const id = serverIdOf(config, 'udp', ip.dst);
    const quoted = inside.raw.subarray(14, 14 + ip.totalLength);
    assert.equal(refusals(lab, id), { icmpUnreachable: 0, resets: 0 });
    const delta = lab.counterDelta(() => {
      only(lab.forward('inside', icmpError('inside', ip.dst, ip.src, ICMP_TYPE.DEST_UNREACH, PORT_UNREACHABLE, quoted)).outside, 'relayed');
    });
    expectDrops(delta, {});
    expectEvents(delta, { icmp_errors_to_client: 1 });
    assert.equal(refusals(lab, id), { icmpUnreachable: 1, resets: 0 }, 'counted for the server that refused');
    only(lab.forward('inside', icmpError('inside', ip.dst, ip.src, ICMP_TYPE.DEST_UNREACH, PORT_UNREACHABLE, quoted)).outside, 'relayed');
    only(lab.forward('inside', icmpError('inside', '198.19.0.50', ip.src, ICMP_TYPE.DEST_UNREACH, FRAG_NEEDED, quoted)).outside, 'relayed');
    assert.equal(refusals(lab, id), { icmpUnreachable: 2, resets: 0 }, 'a path MTU is not a refusal');
    for (const other of config.services.find((s) => s.protocol === 'udp')!.servers.filter((s) => s.id !== id)) {
      assert.equal(refusals(lab, other.id), { icmpUnreachable: 0, resets: 0 }, `server ${other.address} untouched`);
    }
  }, config);
});

test('UDP over IPv6: ICMPv6 destination unreachable from the server moves its icmp_unreachable', async () => {
  const config = dualStackConfig((c) => { c.services.push(v6Service(UDP6_SERVICE_ID, 'udp', 7, 71)); });
  await withLab((lab) => {
    const sent = frameFrom6('outside', CLIENT6, VIP6, { udp: { srcPort: 5353, dstPort: 7, payload: Buffer.from('ping') } });
    const inside = only(lab.forward('outside', sent).inside, 'datagram inside');
    const ip = inside.ipv6!;
    const id = serverIdOf(config, 'udp', ip.dst, VIP6);
    const error = frameFrom6('inside', ip.dst, ip.src, { icmp6: { type: ICMP6_TYPE.DEST_UNREACH, code: PORT_UNREACHABLE6, rest: 0, payload: inside.raw.subarray(14) } });
    const delta = lab.counterDelta(() => { only(lab.forward('inside', error).outside, 'relayed'); });
    expectEvents(delta, { icmp_errors_to_client: 1 });
    assert.equal(refusals(lab, id), { icmpUnreachable: 1, resets: 0 });
  }, config);
});

test('TCP: the server\'s RST to a SYN and on an established connection move its resets; a client\'s RST and ICMP about TCP do not', async () => {
  const config = labConfig();
  await withLab((lab) => {
    // Refused at once: the closed port answers the SYN with RST|ACK.
    const opening = synThrough(lab, 43101);
    const id = serverIdOf(config, 'tcp', opening.server);
    const delta = lab.counterDelta(() => {
      only(lab.forward('inside', serverTcp(opening.server, opening.sport, opening.lip, opening.lport,
        { flags: 'RA', seq: 0, ack: opening.clientIsn + 1 })).outside, 'RST to the client');
    });
    expectDrops(delta, {});
    expectEvents(delta, { tcp_resets_from_server: 1 });
    assert.equal(refusals(lab, id), { icmpUnreachable: 0, resets: 1 }, 'a refused SYN');

    // rr: the next three connections go to each server once; take the one on the same server.
    const flows = [43102, 43103, 43104].map((cport) => openTcp(lab, cport));
    const same = flows.find((f) => f.server === opening.server)!;
    const other = flows.find((f) => f.server !== opening.server)!;
    only(lab.forward('inside', serverSegment(same, { flags: 'R' })).outside, 'RST to the client');
    assert.equal(refusals(lab, id), { icmpUnreachable: 0, resets: 2 }, 'a broken established connection');

    // The client resets its own connection: nothing against the server.
    const otherId = serverIdOf(config, 'tcp', other.server);
    const clientReset = lab.counterDelta(() => { only(lab.forward('outside', clientSegment(other, { flags: 'R' })).inside, 'RST to the server'); });
    expectEvents(clientReset, { tcp_resets_from_client: 1 });
    assert.equal(refusals(lab, otherId), { icmpUnreachable: 0, resets: 0 }, 'a client RST is not the server\'s');

    // The client closed first (FIN): a server RST then ends a closing connection, no refusal.
    const closing = flows.find((f) => f !== same && f !== other)!;
    const closingId = serverIdOf(config, 'tcp', closing.server);
    only(lab.forward('outside', clientSegment(closing, { flags: 'FA' })).inside, 'FIN to the server');
    only(lab.forward('inside', serverSegment(closing, { flags: 'R', ack: closing.clientIsn + 2 })).outside, 'RST to the client');
    assert.equal(refusals(lab, closingId), { icmpUnreachable: 0, resets: 0 }, 'a RST after the client\'s FIN');

    // ICMP port unreachable quoting a TCP segment: relayed, not counted (a TCP refusal is its RST).
    const fresh = openTcp(lab, 43105);
    const freshId = serverIdOf(config, 'tcp', fresh.server);
    const before = refusals(lab, freshId);
    const segment = only(lab.forward('outside', clientSegment(fresh, { flags: 'PA', payload: Buffer.from('x') })).inside, 'segment');
    const quoted = segment.raw.subarray(14, 14 + 28);
    only(lab.forward('inside', icmpError('inside', fresh.server, fresh.lip, ICMP_TYPE.DEST_UNREACH, PORT_UNREACHABLE, quoted)).outside, 'relayed');
    assert.equal(refusals(lab, freshId), before, 'ICMP about TCP moves nothing');
  }, config);
});

test('the counters start again at 0 when the server id names a new server; its old connections no longer count', async () => {
  const config = labConfig();
  await withLab((lab) => {
    const refused = synThrough(lab, 43201);
    const id = serverIdOf(config, 'tcp', refused.server);
    lab.forward('inside', serverTcp(refused.server, refused.sport, refused.lip, refused.lport, { flags: 'RA', seq: 0, ack: refused.clientIsn + 1 }));
    assert.equal(refusals(lab, id).resets, 1);
    const established = [43202, 43203, 43204].map((cport) => openTcp(lab, cport)).find((f) => f.server === refused.server)!;
    // The same id now names another address (the server was removed and a new one added under its id).
    const edited = structuredClone(config);
    edited.services.find((s) => s.protocol === 'tcp')!.servers.find((s) => s.id === id)!.address = '198.19.0.9';
    lab.apply(edited);
    lab.advance(0);
    assert.equal(refusals(lab, id), { icmpUnreachable: 0, resets: 0 }, 'reset with the new generation');
    only(lab.forward('inside', serverSegment(established, { flags: 'R' })).outside, 'the old connection\'s RST still reaches the client');
    assert.equal(refusals(lab, id), { icmpUnreachable: 0, resets: 0 }, 'but is not held against the new server');
  }, config);
});

test.run();
