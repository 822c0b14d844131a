// Exception path (DESIGN.md §3): with exceptionPath on the inside port, its kernel
// interface (a ring port "pcx-inside" in test mode) gets TCP/UDP for the port address
// and copies of ARP replies for it; what the interface sends leaves by the inside port.
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import {
  INSIDE_ADDRESS, PORTS, PORT_MAC, SERVERS, VIP, arpRequest, clientTcp, expectDrops, expectEvents, frameFrom, show,
  withLab, type Lab,
} from '../support/golden.js';
import { ARP_OP, ICMP_TYPE, buildFrame, decodeFrame, hostMac, type DecodedFrame } from '../support/packet.js';

const TAP = 'pcx-inside';
const withExceptionPath = (fn: (lab: Lab) => void) => withLab(fn, undefined, {
  ports: PORTS.map((name) => ({ name, device: 'ring', mac: PORT_MAC[name], exceptionPath: name === 'inside' })),
});
const tapFrames = (lab: Lab): DecodedFrame[] => lab.dp.capture(TAP).map((b) => decodeFrame(Buffer.from(b)));
const raw = (lab: Lab, port: string): Buffer[] => lab.dp.capture(port).map((b) => Buffer.from(b));

const server = SERVERS[0]!;
const toPortAddress = {
  tcp: frameFrom('inside', server, INSIDE_ADDRESS, { tcp: { srcPort: 80, dstPort: 40000, flags: 'SA', seq: 7, ack: 1 } }),
  udp: frameFrom('inside', server, INSIDE_ADDRESS, { udp: { srcPort: 53, dstPort: 40001 }, payload: Buffer.from('x') }),
};

for (const [kind, frame] of Object.entries(toPortAddress)) {
  test(`${kind} to the inside port address -> punted unchanged to ${TAP}, exception_punted`, async () => {
    await withExceptionPath((lab) => {
      const d = lab.counterDelta(() => lab.send('inside', frame));
      const punted = raw(lab, TAP);
      assert.is(punted.length, 1);
      assert.ok(punted[0]!.equals(frame), 'frame unchanged');
      assert.is(lab.recv('inside').length + lab.recv('outside').length, 0);
      expectDrops(d, {});
      expectEvents(d, { exception_punted: 1 });
    });
  });

  test(`${kind} to the port address without exceptionPath -> not punted (existing drop)`, async () => {
    await withLab((lab) => {
      const d = lab.counterDelta(() => lab.send('inside', frame));
      assert.is(d.events.exception_punted ?? 0, 0);
      assert.ok(Object.keys(d.drops).length === 1, `one drop reason: ${JSON.stringify(d.drops)}`);
    });
  });
}

test(`frames from ${TAP} leave by the inside port unchanged`, async () => {
  await withExceptionPath((lab) => {
    const fromKernel = buildFrame({
      eth: { dst: hostMac(server), src: PORT_MAC.inside },
      ipv4: { src: INSIDE_ADDRESS, dst: server }, tcp: { srcPort: 40000, dstPort: 80, flags: 'S', seq: 1 },
    });
    const request = arpRequest('inside', INSIDE_ADDRESS, server);  // the kernel resolving a server
    lab.dp.inject(TAP, [fromKernel, request]);
    lab.dp.step();
    const out = raw(lab, 'inside');
    assert.is(out.length, 2, `got ${show(out.map((b) => decodeFrame(b)))}`);
    assert.ok(out[0]!.equals(fromKernel) && out[1]!.equals(request), 'unchanged, in order');
    assert.is(lab.recv('outside').length, 0);
  });
});

test(`ARP reply for the port address -> learned and a copy punted to ${TAP}`, async () => {
  await withExceptionPath((lab) => {
    const reply = buildFrame({
      eth: { dst: PORT_MAC.inside, src: hostMac(server) },
      arp: { op: ARP_OP.REPLY, senderMac: hostMac(server), senderIp: server, targetMac: PORT_MAC.inside, targetIp: INSIDE_ADDRESS },
    });
    const d = lab.counterDelta(() => lab.send('inside', reply));
    const punted = raw(lab, TAP);
    assert.is(punted.length, 1);
    assert.ok(punted[0]!.equals(reply), 'copy unchanged');
    expectEvents(d, { exception_punted: 1 });
    expectEvents(d, { arp_replies_learned: 1 });
  });
});

test('ARP requests, ICMP echo and VIP traffic are still the pipeline\'s, not punted', async () => {
  await withExceptionPath((lab) => {
    const d = lab.counterDelta(() => {
      lab.send('inside', arpRequest('inside', server, INSIDE_ADDRESS));
      lab.send('inside', frameFrom('inside', server, INSIDE_ADDRESS,
        { icmp: { type: ICMP_TYPE.ECHO_REQUEST, id: 1, sequence: 1, payload: Buffer.from('ping') } }));
      lab.send('outside', clientTcp(5000, { flags: 'S', seq: 1 }, VIP));
    });
    assert.is(tapFrames(lab).length, 0);
    assert.is(d.events.exception_punted ?? 0, 0);
    expectEvents(d, { arp_requests_answered: 1 });
    expectEvents(d, { icmp_echo_answered: 1 });
  });
});

test.run();
