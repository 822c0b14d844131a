// Exception path (DESIGN.md §3): with exceptionPath on the inside port, its kernel
// interface (a ring port "pcx-inside" in test mode) gets TCP/UDP for the port address, ICMP
// echo replies and errors for it (echo requests stay the data plane's), and
// copies of the neighbour answers for it (ARP replies; IPv6 neighbour advertisements); what
// the interface sends, its own ARP requests and neighbour solicitations included, leaves by
// the inside port. Every case runs for both families.
import { test } from '../support/suite.js';
import { fragmentFrame4, fragmentFrame6 } from '../support/fragment-frames.js';
import * as assert from 'uvu/assert';
import type { DataplaneConfig } from '../../src/dataplane/types.js';
import {
  CLIENT6, INSIDE_ADDRESS, INSIDE_ADDRESS6, LIPS6, PORTS, PORT_MAC, SERVERS, SERVERS6, VIP, VIP6, arpRequest, clientTcp,
  dualStackConfig, expectDrops, expectEvents, frameFrom, frameFrom6, show, solicitation, withLab, type Lab,
} from '../support/golden.js';
import {
  ARP_OP, ICMP6_TYPE, ICMP_TYPE, NA_FLAG, ND_OPT, buildFrame, decodeFrame, hostMac, neighborAdvertisement,
  type DecodedFrame, type TcpSpec, type UdpSpec,
} from '../support/packet.js';

const TAP = 'pcx-inside';
const withExceptionPath = (fn: (lab: Lab) => void) => withLab(fn, dualStackConfig(), {
  ports: PORTS.map((name) => ({ name, device: 'ring', mac: PORT_MAC[name], exceptionPath: name === 'inside' })),
});
const tapFrames = (lab: Lab): DecodedFrame[] => lab.dp.capture(TAP).map((b) => decodeFrame(Buffer.from(b)));
const raw = (lab: Lab, port: string): Buffer[] => lab.dp.capture(port).map((b) => Buffer.from(b));

/** What differs between the families; every test below runs once per entry. */
interface Family {
  name: 'IPv4' | 'IPv6';
  portAddress: string;
  server: string;
  /** A frame from `src` on the inside segment. */
  inside(src: string, dst: string, l4: { tcp?: TcpSpec; udp?: UdpSpec; payload?: Buffer }): Buffer;
  /** The server answering the host's resolution of it (ARP reply / solicited NA), to the port address. */
  neighbourAnswer(): Buffer;
  /** The kernel resolving a server through the tap (ARP request / NS to the solicited-node group). */
  kernelResolves(): Buffer;
  /** What the data plane itself answers, besides VIP traffic: a request for the port address and an echo. */
  pipelineOwn(): Buffer[];
  answered: Partial<Record<'arp_requests_answered' | 'icmp_echo_answered' | 'nd_solicitations_answered' | 'icmp6_echo_answered', number>>;
  toVip(): Buffer;
}

const ipv4: Family = {
  name: 'IPv4',
  portAddress: INSIDE_ADDRESS,
  server: SERVERS[0]!,
  inside: (src, dst, l4) => frameFrom('inside', src, dst, l4),
  neighbourAnswer: () => buildFrame({
    eth: { dst: PORT_MAC.inside, src: hostMac(SERVERS[0]!) },
    arp: { op: ARP_OP.REPLY, senderMac: hostMac(SERVERS[0]!), senderIp: SERVERS[0]!, targetMac: PORT_MAC.inside, targetIp: INSIDE_ADDRESS },
  }),
  kernelResolves: () => arpRequest('inside', INSIDE_ADDRESS, SERVERS[0]!),
  pipelineOwn: () => [
    arpRequest('inside', SERVERS[0]!, INSIDE_ADDRESS),
    frameFrom('inside', SERVERS[0]!, INSIDE_ADDRESS, { icmp: { type: ICMP_TYPE.ECHO_REQUEST, id: 1, sequence: 1, payload: Buffer.from('ping') } }),
  ],
  answered: { arp_requests_answered: 1, icmp_echo_answered: 1 },
  toVip: () => clientTcp(5000, { flags: 'S', seq: 1 }, VIP),
};

const ipv6: Family = {
  name: 'IPv6',
  portAddress: INSIDE_ADDRESS6,
  server: SERVERS6[0]!,
  inside: (src, dst, l4) => frameFrom6('inside', src, dst, l4),
  neighbourAnswer: () => frameFrom6('inside', SERVERS6[0]!, INSIDE_ADDRESS6, {
    icmp6: neighborAdvertisement(SERVERS6[0]!, NA_FLAG.SOLICITED | NA_FLAG.OVERRIDE, [{ type: ND_OPT.TARGET_LL, mac: hostMac(SERVERS6[0]!) }]),
  }, { hopLimit: 255 }),
  kernelResolves: () => {
    // As the kernel sends it: from the port's MAC (the tap has it) to the solicited-node group.
    const frame = Buffer.from(solicitation('inside', INSIDE_ADDRESS6, SERVERS6[0]!));
    Buffer.from(PORT_MAC.inside.split(':').map((h) => parseInt(h, 16))).copy(frame, 6);
    return frame;
  },
  pipelineOwn: () => [
    solicitation('inside', SERVERS6[0]!, INSIDE_ADDRESS6),
    frameFrom6('inside', SERVERS6[0]!, INSIDE_ADDRESS6, { icmp6: { type: ICMP6_TYPE.ECHO_REQUEST, id: 1, sequence: 1, payload: Buffer.from('ping') } }),
  ],
  answered: { nd_solicitations_answered: 1, icmp6_echo_answered: 1 },
  toVip: () => frameFrom6('outside', CLIENT6, VIP6, { tcp: { srcPort: 5000, dstPort: 80, flags: 'S', seq: 1 } }),
};

/** dualStackConfig() with an IPv6 service, so IPv6 VIP traffic has somewhere to go. */
function config(): DataplaneConfig {
  return dualStackConfig((c) => {
    c.services.push({ ...c.services[0]!, id: 61, vip: VIP6, localAddresses: [...LIPS6],
      servers: SERVERS6.map((address, i) => ({ id: 61 + i, address, port: 80, weight: 1 })) });
  });
}
const withExceptionPathAndV6Service = (fn: (lab: Lab) => void) => withLab(fn, config(), {
  ports: PORTS.map((name) => ({ name, device: 'ring', mac: PORT_MAC[name], exceptionPath: name === 'inside' })),
});

for (const family of [ipv4, ipv6]) {
  const toPortAddress: Record<string, Buffer> = {
    tcp: family.inside(family.server, family.portAddress, { tcp: { srcPort: 80, dstPort: 40000, flags: 'SA', seq: 7, ack: 1 } }),
    udp: family.inside(family.server, family.portAddress, { udp: { srcPort: 53, dstPort: 40001 }, payload: Buffer.from('x') }),
  };

  // What the kernel's own ping and UDP probes get back (icmp and udp health checks): the
  // data plane answers echo requests itself, but replies and errors are the kernel's.
  const probe = family.inside(family.portAddress, family.server, { udp: { srcPort: 40003, dstPort: 53 }, payload: Buffer.from('q') });
  const quote = probe.subarray(14, 14 + (family === ipv4 ? 28 : 48));
  if (family === ipv4) {
    Object.assign(toPortAddress, {
      'icmp echo reply': frameFrom('inside', family.server, family.portAddress, { icmp: { type: ICMP_TYPE.ECHO_REPLY, id: 9, sequence: 1, payload: Buffer.from('ping') } }),
      'icmp port unreachable': frameFrom('inside', family.server, family.portAddress, { icmp: { type: ICMP_TYPE.DEST_UNREACH, code: 3, payload: quote } }),
    });
  } else {
    Object.assign(toPortAddress, {
      'icmp echo reply': frameFrom6('inside', family.server, family.portAddress, { icmp6: { type: ICMP6_TYPE.ECHO_REPLY, id: 9, sequence: 1, payload: Buffer.from('ping') } }),
      'icmp port unreachable': frameFrom6('inside', family.server, family.portAddress, { icmp6: { type: ICMP6_TYPE.DEST_UNREACH, code: 4, payload: quote } }),
    });
  }

  for (const [kind, frame] of Object.entries(toPortAddress)) {
    test(`${family.name}: ${kind} to the inside port address -> punted unchanged to ${TAP}, exception_punted`, async () => {
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

    test(`${family.name}: ${kind} to the port address without exceptionPath -> not punted (existing drop)`, async () => {
      await withLab((lab) => {
        const d = lab.counterDelta(() => lab.send('inside', frame));
        assert.is(d.events.exception_punted ?? 0, 0);
        assert.ok(Object.keys(d.drops).length === 1, `one drop reason: ${JSON.stringify(d.drops)}`);
      }, dualStackConfig());
    });
  }

  test(`${family.name}: UDP fragments to the port address -> every piece punted unchanged to ${TAP} (the kernel reassembles)`, async () => {
    await withExceptionPath((lab) => {
      const whole = family.inside(family.server, family.portAddress, { udp: { srcPort: 53, dstPort: 40002 }, payload: Buffer.alloc(600, 0x61) });
      const pieces = family === ipv4 ? fragmentFrame4(whole, [0, 304], 21) : fragmentFrame6(whole, [0, 304], 21);
      const d = lab.counterDelta(() => lab.send('inside', ...pieces));
      const punted = raw(lab, TAP);
      assert.is(punted.length, 2, `got ${show(punted.map((b) => decodeFrame(b)))}`);
      assert.ok(punted[0]!.equals(pieces[0]!) && punted[1]!.equals(pieces[1]!), 'unchanged, in order');
      assert.is(lab.recv('inside').length + lab.recv('outside').length, 0);
      expectDrops(d, {});
      expectEvents(d, { exception_punted: 2 });
    });
  });

  test(`${family.name}: frames from ${TAP} leave by the inside port unchanged (its own neighbour resolution too)`, async () => {
    await withExceptionPath((lab) => {
      const fromKernel = buildFrame({
        eth: { dst: hostMac(family.server), src: PORT_MAC.inside },
        ...(family === ipv4 ? { ipv4: { src: family.portAddress, dst: family.server } } : { ipv6: { src: family.portAddress, dst: family.server } }),
        tcp: { srcPort: 40000, dstPort: 80, flags: 'S', seq: 1 },
      });
      const request = family.kernelResolves();
      lab.dp.inject(TAP, [fromKernel, request]);
      lab.dp.step();
      const out = raw(lab, 'inside');
      assert.is(out.length, 2, `got ${show(out.map((b) => decodeFrame(b)))}`);
      assert.ok(out[0]!.equals(fromKernel) && out[1]!.equals(request), 'unchanged, in order');
      assert.is(lab.recv('outside').length, 0);
    });
  });

  test(`${family.name}: a neighbour answer for the port address -> learned and a copy punted to ${TAP}`, async () => {
    await withExceptionPath((lab) => {
      const answer = family.neighbourAnswer();
      const d = lab.counterDelta(() => lab.send('inside', answer));
      const punted = raw(lab, TAP);
      assert.is(punted.length, 1);
      assert.ok(punted[0]!.equals(answer), 'copy unchanged');
      expectEvents(d, { exception_punted: 1 });
      if (family === ipv4) expectEvents(d, { arp_replies_learned: 1 });
      else expectEvents(d, { nd_advertisements_learned: 1 });
      expectDrops(d, {});
    });
  });

  test(`${family.name}: requests for the port address, echo and VIP traffic are still the pipeline's, not punted`, async () => {
    await withExceptionPathAndV6Service((lab) => {
      const d = lab.counterDelta(() => {
        for (const frame of family.pipelineOwn()) lab.send('inside', frame);
        lab.send('outside', family.toVip());
      });
      assert.is(tapFrames(lab).length, 0);
      assert.is(d.events.exception_punted ?? 0, 0);
      expectEvents(d, family.answered);
    });
  });
}

test(`IPv6: advertisements not for a port address (to a LIP, to all nodes) are not copied to ${TAP}`, async () => {
  await withExceptionPathAndV6Service((lab) => {
    const server = SERVERS6[1]!;
    const na = (dst: string, flags: number) => frameFrom6('inside', server, dst, {
      icmp6: neighborAdvertisement(server, flags, [{ type: ND_OPT.TARGET_LL, mac: hostMac(server) }]),
    }, { hopLimit: 255 }, dst.startsWith('ff') ? '33:33:00:00:00:01' : PORT_MAC.inside);
    const d = lab.counterDelta(() => lab.send('inside', na(LIPS6[0]!, NA_FLAG.SOLICITED | NA_FLAG.OVERRIDE), na('ff02::1', NA_FLAG.OVERRIDE)));
    assert.is(tapFrames(lab).length, 0);
    assert.is(d.events.exception_punted ?? 0, 0);
    expectEvents(d, { nd_advertisements_learned: 2 });
  });
});

test.run();
