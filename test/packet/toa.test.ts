// TOA (client address in TCP option 254): which segments carry it, the exact bytes,
// lengths and checksums of a grown segment, the skip cases, and the SYN-ACK MSS lowering.
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import type { ClientAddressMode, DataplaneConfig } from '../../src/dataplane/types.js';
import {
  CLIENT, PORT_MAC, TCP_SERVICE_ID, clientSegment, clientTcp, expectDrops, expectEvents, expectSameFrame, labConfig, only, openTcp,
  seededRandom, serverTcp, show, synThrough, withBadTcpChecksum, withLab, type Flow, type Lab,
} from '../support/golden.js';
import { buildFrame, hostMac, type DecodedFrame, type TcpOption, type TcpSpec } from '../support/packet.js';
import { toaKindBytes, toaKindPositions, toaModuleReads } from '../support/tcp-receiver.js';

function configWith(mode: ClientAddressMode | undefined): DataplaneConfig {
  return labConfig((config) => {
    const tcp = config.services.find((s) => s.id === TCP_SERVICE_ID)!;
    if (mode === undefined) delete tcp.clientAddress;
    else tcp.clientAddress = mode;
  });
}

const TOA_CONFIG = configWith('toa');

/** The frame the data plane must send inside for a client segment on flow, given the options it should carry. */
function expectedInside(flow: Flow, tcp: Partial<TcpSpec>, options: TcpOption[] | Buffer, ttl = 63): Buffer {
  return buildFrame({
    eth: { dst: hostMac(flow.server), src: PORT_MAC.inside },
    ipv4: { src: flow.lip, dst: flow.server, ttl },
    tcp: { srcPort: flow.lport, dstPort: flow.sport, flags: 'A', seq: flow.clientIsn + 1, ack: flow.serverIsn + 1, ...tcp, options },
  });
}

function toaOf(flow: Flow): TcpOption {
  return { kind: 'toa', port: flow.cport, address: CLIENT };
}

/** SYN and SYN-ACK through the data plane; returns the flow and the SYN-ACK the client got. */
function handshakeUntilSynAck(lab: Lab, cport: number, serverMss = 1460): { flow: Flow; synAck: DecodedFrame } {
  const flow = synThrough(lab, cport);
  const out = lab.forward('inside', serverTcp(flow.server, flow.sport, flow.lip, flow.lport, {
    flags: 'SA', seq: flow.serverIsn, ack: flow.clientIsn + 1,
    options: [{ kind: 'nop' }, { kind: 'mss', value: serverMss }, { kind: 'sackPermitted' }, { kind: 'nop' }, { kind: 'nop' }],
  }));
  return { flow, synAck: only(out.outside, 'SYN-ACK to the client') };
}

test('TOA: the handshake ACK grows by the 8-byte option: exact bytes, doff 7, length 48, checksums', async () => {
  await withLab((lab) => {
    const { flow } = handshakeUntilSynAck(lab, 41001);
    let inside: DecodedFrame[] = [];
    const d = lab.counterDelta(() => {
      inside = lab.forward('outside', clientTcp(flow.cport, { flags: 'A', seq: flow.clientIsn + 1, ack: flow.serverIsn + 1 })).inside;
    });
    const ack = only(inside, 'ACK inside');
    assert.equal(ack.raw, expectedInside(flow, {}, [toaOf(flow)]), `exact frame: ${show([ack])}`);
    // The same facts spelled out, so a failure says which one broke.
    assert.is(ack.tcp!.dataOffset, 7);
    assert.is(ack.ipv4!.totalLength, 20 + 20 + 8);
    assert.equal([...ack.tcp!.optionBytes], [254, 8, flow.cport >> 8, flow.cport & 255, 198, 18, 0, 1]);
    assert.ok(ack.ipv4!.checksumOk && ack.tcp!.checksumOk, 'checksums');
    expectEvents(d, { toa_added: 1 });
    assert.is(d.events.toa_no_room, undefined);
  }, TOA_CONFIG);
});

test('TOA: the first data segment carries it before its own options; later segments do not', async () => {
  await withLab((lab) => {
    const flow = openTcp(lab, 41002);
    const timestamp: TcpOption[] = [{ kind: 'nop' }, { kind: 'nop' }, { kind: 'timestamp', value: 7, echo: 9 }];
    const payload = Buffer.from('GET / HTTP/1.1\r\n\r\n');
    let first: DecodedFrame[] = [];
    const d = lab.counterDelta(() => {
      first = lab.forward('outside', clientSegment(flow, { flags: 'PA', options: timestamp, payload })).inside;
    });
    const segment = only(first, 'first data segment');
    assert.equal(segment.raw, expectedInside(flow, { flags: 'PA', payload }, [toaOf(flow), ...timestamp]), show([segment]));
    assert.is(segment.tcp!.dataOffset, 10);
    assert.is(segment.tcp!.payload.toString(), payload.toString());
    expectEvents(d, { toa_added: 1 });

    const next = only(lab.forward('outside', clientSegment(flow, {
      flags: 'PA', seq: flow.clientIsn + 1 + payload.length, options: timestamp, payload,
    })).inside, 'second data segment');
    assert.equal(next.tcp!.options, timestamp, 'no TOA on the second data segment');
    assert.ok(next.tcp!.checksumOk);
  }, TOA_CONFIG);
});

test('TOA: the server SYN-ACK MSS is lowered by 8 (odd-aligned option, checksum kept right)', async () => {
  await withLab((lab) => {
    let synAck: DecodedFrame | undefined;
    const d = lab.counterDelta(() => { synAck = handshakeUntilSynAck(lab, 41003, 1460).synAck; });
    assert.equal(synAck!.tcp!.options.filter((o) => o.kind === 'mss'), [{ kind: 'mss', value: 1452 }]);
    assert.ok(synAck!.tcp!.checksumOk, 'TCP checksum after MSS change');
    assert.is(synAck!.tcp!.dataOffset, 8, 'SYN-ACK does not grow');
    expectEvents(d, { toa_mss_lowered: 1 });
  }, TOA_CONFIG);
});

test('TOA: skipped and counted when the options area is full (doff 14 and 15)', async () => {
  await withLab((lab) => {
    for (const [cport, optionBytes] of [[41004, 36], [41005, 40]] as const) {
      const { flow } = handshakeUntilSynAck(lab, cport);
      const options = Buffer.alloc(optionBytes, 1);  // all NOPs
      let inside: DecodedFrame[] = [];
      const d = lab.counterDelta(() => {
        inside = lab.forward('outside', clientTcp(cport, { flags: 'A', seq: flow.clientIsn + 1, ack: flow.serverIsn + 1, options })).inside;
      });
      const ack = only(inside, `ACK with ${optionBytes} option bytes`);
      assert.equal(ack.raw, expectedInside(flow, {}, options), `forwarded unchanged: ${show([ack])}`);
      expectEvents(d, { toa_no_room: 1 });
      assert.is(d.events.toa_added, undefined);
    }
  }, TOA_CONFIG);
});

test('TOA: skipped and counted when the grown segment would exceed the port MTU (1500)', async () => {
  await withLab((lab) => {
    const { flow } = handshakeUntilSynAck(lab, 41006);
    const payload = Buffer.alloc(1500 - 40, 0x61);  // exactly 1500 bytes of IP
    let inside: DecodedFrame[] = [];
    const d = lab.counterDelta(() => {
      inside = lab.forward('outside', clientTcp(flow.cport, { flags: 'PA', seq: flow.clientIsn + 1, ack: flow.serverIsn + 1, payload })).inside;
    });
    const segment = only(inside, 'full-size first segment');
    assert.equal(segment.raw, expectedInside(flow, { flags: 'PA', payload }, []), 'unchanged');
    assert.is(segment.ipv4!.totalLength, 1500);
    expectEvents(d, { toa_over_mtu: 1 });
    assert.is(d.events.toa_added, undefined);
  }, TOA_CONFIG);
});

for (const mode of [undefined, 'none'] as const) {  // proxy_v1/v2 are tested with PROXY protocol
  test(`client_address ${mode ?? '(absent)'}: no TOA, SYN-ACK MSS untouched`, async () => {
    await withLab((lab) => {
      const d = lab.counterDelta(() => {
        const { flow, synAck } = handshakeUntilSynAck(lab, 41010);
        assert.equal(synAck.tcp!.options.filter((o) => o.kind === 'mss'), [{ kind: 'mss', value: 1460 }]);
        const ack = only(lab.forward('outside', clientTcp(flow.cport, { flags: 'A', seq: flow.clientIsn + 1, ack: flow.serverIsn + 1 })).inside, 'ACK');
        assert.equal(ack.raw, expectedInside(flow, {}, []));
        const payload = Buffer.from('hello');
        const data = only(lab.forward('outside', clientSegment(flow, { flags: 'PA', payload })).inside, 'data');
        assert.equal(data.raw, expectedInside(flow, { flags: 'PA', payload }, []));
      });
      for (const event of ['toa_added', 'toa_no_room', 'toa_over_mtu', 'toa_mss_lowered'] as const) {
        assert.is(d.events[event], undefined, event);
      }
    }, configWith(mode));
  });
}

// ------------------------------------------------------------------ client-sent TOA options
// A server's TOA module believes the first kind-254 option of the ACK that completes its
// handshake. The client must never be the one who put it there.

const FORGED: TcpOption = { kind: 'toa', port: 6666, address: '6.6.6.6' };
const NONE_CONFIG = configWith('none');


/** What the server's TOA module and a lenient parser could read from frames inside. */
function assertServerSees(frames: DecodedFrame[], flow: Flow, expected: 'client' | 'nothing'): void {
  const read = toaModuleReads(frames);
  assert.ok(read.frame, `the server completed its handshake: ${show(frames)}`);
  assert.is(read.address, expected === 'client' ? `${CLIENT}:${flow.cport}` : undefined, `TOA module reads: ${show([read.frame!])}`);
  for (const f of frames) {
    assert.equal(toaKindBytes(f, { address: CLIENT, port: flow.cport }), [], `no client TOA byte left: ${show([f])} ${f.tcp!.optionBytes.toString('hex')}`);
  }
}

test('TOA: a handshake ACK with a bad checksum is dropped (client_address_bad_checksum) and not marked; its retransmission carries our TOA, never the client\'s', async () => {
  await withLab((lab) => {
    const { flow } = handshakeUntilSynAck(lab, 41020);
    const ack = (): Buffer => clientTcp(flow.cport, { flags: 'A', seq: flow.clientIsn + 1, ack: flow.serverIsn + 1, options: [FORGED] });
    const inside: DecodedFrame[] = [];
    const bad = lab.counterDelta(() => { inside.push(...lab.forward('outside', withBadTcpChecksum(ack())).inside); });
    assert.is(inside.length, 0, `a corrupted carrier goes nowhere: ${show(inside)}`);
    expectDrops(bad, { client_address_bad_checksum: 1 });
    assert.is(bad.events.toa_added, undefined);
    const good = lab.counterDelta(() => { inside.push(...lab.forward('outside', ack()).inside); });
    const carried = only(inside, 'retransmitted ACK');
    assertServerSees(inside, flow, 'client');
    expectSameFrame(carried, expectedInside(flow, {}, [toaOf(flow), ...Array<TcpOption>(8).fill({ kind: 'nop' })]), 'ours in front, the client\'s blanked');
    expectEvents(good, { toa_added: 1 });
    expectEvents(good, { toa_client_option_removed: 1 });
  }, TOA_CONFIG);
});

test('TOA: option space full — the client\'s kind-254 is blanked, the ACK passes without TOA (toa_no_room), the next segment gets ours', async () => {
  await withLab((lab) => {
    const { flow } = handshakeUntilSynAck(lab, 41021);
    const options: TcpOption[] = [FORGED, ...Array<TcpOption>(32).fill({ kind: 'nop' })];  // 40 bytes
    const inside: DecodedFrame[] = [];
    const d = lab.counterDelta(() => {
      inside.push(...lab.forward('outside', clientTcp(flow.cport, { flags: 'A', seq: flow.clientIsn + 1, ack: flow.serverIsn + 1, options })).inside);
    });
    const ack = only(inside, 'full ACK');
    assertServerSees(inside, flow, 'nothing');
    expectSameFrame(ack, expectedInside(flow, {}, Buffer.alloc(40, 1)), 'forwarded, forged option now NOPs');
    expectEvents(d, { toa_no_room: 1 });
    expectEvents(d, { toa_client_option_removed: 1 });
    assert.is(d.events.toa_added, undefined);
    // not marked done: the next ACK with room carries it
    const next = lab.counterDelta(() => {
      inside.push(...lab.forward('outside', clientTcp(flow.cport, { flags: 'A', seq: flow.clientIsn + 1, ack: flow.serverIsn + 1 })).inside);
    });
    expectSameFrame(inside[1], expectedInside(flow, {}, [toaOf(flow)]), 'the next ACK carries ours');
    expectEvents(next, { toa_added: 1 });
  }, TOA_CONFIG);
});

test('TOA: over-MTU handshake-completing segment — the client\'s kind-254 is blanked, it passes without TOA (toa_over_mtu)', async () => {
  await withLab((lab) => {
    const { flow } = handshakeUntilSynAck(lab, 41022);
    const payload = Buffer.alloc(1500 - 40 - 8, 0x61);  // 1500 bytes of IP with the 8-byte forged option
    const inside: DecodedFrame[] = [];
    const d = lab.counterDelta(() => {
      inside.push(...lab.forward('outside', clientTcp(flow.cport, { flags: 'PA', seq: flow.clientIsn + 1, ack: flow.serverIsn + 1, options: [FORGED], payload })).inside);
    });
    const segment = only(inside, 'full-size segment');
    assertServerSees(inside, flow, 'nothing');
    expectSameFrame(segment, expectedInside(flow, { flags: 'PA', payload }, Buffer.alloc(8, 1)), 'forwarded, forged option now NOPs');
    assert.is(segment.ipv4!.totalLength, 1500);
    expectEvents(d, { toa_over_mtu: 1 });
    expectEvents(d, { toa_client_option_removed: 1 });
    assert.is(d.events.toa_added, undefined);
  }, TOA_CONFIG);
});

for (const mode of ['none', 'proxy_v1'] as const) {
  test(`client_address ${mode}: kind-254 options a client sends (SYN, handshake ACK, data) are blanked and counted`, async () => {
    await withLab((lab) => {
      const inside: DecodedFrame[] = [];
      const cport = 41023;
      const d = lab.counterDelta(() => {
        inside.push(...lab.forward('outside', clientTcp(cport, { flags: 'S', seq: 1000, options: [{ kind: 'mss', value: 1460 }, FORGED] })).inside);
        const syn = only(inside, 'SYN');
        const flow: Flow = { cport, lip: syn.ipv4!.src, lport: syn.tcp!.srcPort, server: syn.ipv4!.dst, sport: syn.tcp!.dstPort, clientIsn: 1000, serverIsn: 50000 };
        lab.forward('inside', serverTcp(flow.server, flow.sport, flow.lip, flow.lport, { flags: 'SA', seq: flow.serverIsn, ack: flow.clientIsn + 1 }));
        inside.push(...lab.forward('outside', clientTcp(cport, { flags: 'A', seq: 1001, ack: 50001, options: [FORGED] })).inside);
        inside.push(...lab.forward('outside', clientSegment(flow, { flags: 'PA', options: [{ kind: 'nop' }, { kind: 'nop' }, { kind: 'timestamp', value: 1, echo: 2 }, FORGED], payload: Buffer.from('hi') })).inside);
        assertServerSees(inside.slice(1), flow, 'nothing');
      });
      assert.is(inside.length, 3, show(inside));
      assert.equal(inside[0]!.tcp!.options.slice(0, 1), [{ kind: 'mss', value: 1460 }]);
      for (const f of inside) {
        assert.equal(toaKindBytes(f), [], show([f]));
        assert.ok(f.tcp!.checksumOk, `checksum after blanking: ${show([f])}`);
      }
      expectEvents(d, { toa_client_option_removed: 3 });
      assert.is(d.events.toa_added, undefined);
    }, configWith(mode));
  });
}

test('TOA: several client TOA-kind options (254 of any length, 253) all blanked; ours goes first', async () => {
  await withLab((lab) => {
    const flow = openTcp(lab, 41024);
    const options: TcpOption[] = [
      FORGED, { kind: 'toa', port: 7777, address: '7.7.7.7' },
      { kind: 'raw', type: 254, data: Buffer.from([0xf9, 0x89]) },   // RFC 6994 experiment id
      { kind: 'raw', type: 253, data: Buffer.alloc(18, 7) },         // LVS IPv6 TOA shape
    ];
    let inside: DecodedFrame[] = [];
    const payload = Buffer.from('GET / HTTP/1.1\r\n\r\n');
    const d = lab.counterDelta(() => { inside = lab.forward('outside', clientSegment(flow, { flags: 'PA', options, payload })).inside; });
    const segment = only(inside, 'first data segment');
    // 8 + 8 + 4 + 20 = 40 bytes of options: no room for ours on this one
    expectSameFrame(segment, expectedInside(flow, { flags: 'PA', payload }, Buffer.alloc(40, 1)), 'all four blanked');
    expectEvents(d, { toa_client_option_removed: 4 });
    expectEvents(d, { toa_no_room: 1 });
    // with room: ours in front, the client's three blanked
    const fewer: TcpOption[] = [FORGED, { kind: 'raw', type: 253, data: Buffer.alloc(2, 7) }, { kind: 'toa', port: 7777, address: '7.7.7.7' }];
    const again = lab.counterDelta(() => { inside = lab.forward('outside', clientSegment(flow, { flags: 'PA', options: fewer, payload })).inside; });
    const carried = only(inside, 'retransmitted first data segment');
    expectSameFrame(carried, expectedInside(flow, { flags: 'PA', payload }, Buffer.concat([
      Buffer.from([254, 8, flow.cport >> 8, flow.cport & 255, 198, 18, 0, 1]), Buffer.alloc(20, 1)])), 'ours in front, three blanked');
    expectEvents(again, { toa_client_option_removed: 3 });
    expectEvents(again, { toa_added: 1 });
  }, TOA_CONFIG);
});

test('TOA: malformed option lists cannot hide a kind-254 byte (length 0/1, past the header, no length byte, after end-of-list)', async () => {
  await withLab((lab) => {
    const flow = openTcp(lab, 41025);
    const cases: [string, Buffer][] = [
      ['kind 254 length 1', Buffer.from([1, 254, 1, 1])],
      ['length 0, then a TOA', Buffer.from([5, 0, 254, 8, 1, 2, 6, 6, 6, 6, 1, 1])],
      ['length past the header', Buffer.from([30, 40, 254, 8, 1, 2, 6, 6])],
      ['no length byte', Buffer.from([1, 1, 1, 254])],
      ['after end-of-list', Buffer.from([1, 0, 254, 8, 1, 2, 6, 6, 6, 6, 0, 0])],
      ['a TOA after a well-formed unknown option', Buffer.from([30, 4, 9, 9, 254, 8, 1, 2, 6, 6, 6, 6])],
    ];
    for (const [what, options] of cases) {
      let inside: DecodedFrame[] = [];
      const d = lab.counterDelta(() => { inside = lab.forward('outside', clientSegment(flow, { options })).inside; });
      const f = only(inside, what);
      assert.equal(toaKindBytes(f), [], `${what}: ${f.tcp!.optionBytes.toString('hex')}`);
      assert.ok(f.tcp!.checksumOk, `${what}: checksum`);
      assert.is(f.tcp!.optionBytes.length, options.length, `${what}: same length`);
      expectEvents(d, { toa_client_option_removed: 1 }, what);
    }
    // Without a TOA-kind byte a malformed list is left exactly as it came.
    const odd = Buffer.from([5, 0, 9, 9, 1, 1, 1, 1]);
    const f = only(lab.forward('outside', clientSegment(flow, { options: odd })).inside, 'malformed, harmless');
    expectSameFrame(f, expectedInside(flow, {}, odd), 'unchanged');
  }, NONE_CONFIG);
});

test('TOA removal leaves other options alone, 0xfe bytes inside them included, and never blesses a bad checksum', async () => {
  await withLab((lab) => {
    const flow = openTcp(lab, 41026);
    const sneaky: TcpOption[] = [{ kind: 'nop' }, { kind: 'nop' }, { kind: 'timestamp', value: 0xfe08fefe, echo: 0xfe08fefe }];
    const sack: TcpOption[] = [{ kind: 'nop' }, { kind: 'nop' }, { kind: 'sack', blocks: [[0xfe08fefe, 0xfd08fdfd]] }];
    for (const options of [sneaky, sack]) {
      const d = lab.counterDelta(() => {
        const f = only(lab.forward('outside', clientSegment(flow, { options })).inside, 'segment');
        expectSameFrame(f, expectedInside(flow, {}, options), 'unchanged');
      });
      assert.is(d.events.toa_client_option_removed, undefined);
    }
    const bad = only(lab.forward('outside', withBadTcpChecksum(clientSegment(flow, { options: [FORGED] }))).inside, 'corrupted segment');
    assert.is(bad.tcp!.optionBytes.toString('hex'), '01'.repeat(8), 'forged option blanked');
    assert.not.ok(bad.tcp!.checksumOk, 'still detectably corrupted after blanking');
  }, NONE_CONFIG);
});

test('TOA with SYNPROXY: a held first data segment carrying a client TOA gets ours in front and the client\'s blanked', async () => {
  await withLab((lab) => {
    const cport = 41027, isn = 9000;
    const synAck = only(lab.forward('outside', clientTcp(cport, { flags: 'S', seq: isn, options: [{ kind: 'mss', value: 1460 }] })).outside, 'SYN-ACK');
    const cookie = synAck.tcp!.seq;
    const payload = Buffer.from('hello');
    const backendSyn = only(lab.forward('outside', clientTcp(cport, { flags: 'PA', seq: isn + 1, ack: (cookie + 1) >>> 0, options: [FORGED], payload })).inside, 'backend SYN');
    assert.equal(toaKindBytes(backendSyn), []);
    const out = lab.forward('inside', serverTcp(backendSyn.ipv4!.dst, 80, backendSyn.ipv4!.src, backendSyn.tcp!.srcPort,
      { flags: 'SA', seq: 1234, ack: isn + 1, options: [{ kind: 'mss', value: 1460 }] }));
    assert.is(out.inside.length, 2, show(out.inside));
    const data = out.inside[1]!;
    const flow: Flow = { cport, lip: data.ipv4!.src, lport: data.tcp!.srcPort, server: data.ipv4!.dst, sport: 80, clientIsn: isn, serverIsn: 1234 };
    assert.is(data.tcp!.optionBytes.toString('hex'), Buffer.concat([Buffer.from([254, 8, cport >> 8, cport & 255, 198, 18, 0, 1]), Buffer.alloc(8, 1)]).toString('hex'));
    assert.ok(data.tcp!.checksumOk);
    assert.equal(data.tcp!.payload, payload);
    assertServerSees(out.inside, flow, 'nothing');  // our own handshake ACK completes it, with no option (documented)
  }, labConfig((c) => { c.services[0]!.synproxy = true; c.services[0]!.clientAddress = 'toa'; }));
});

for (const method of ['nat', 'dr'] as const) {
  test(`forward ${method}: client TOA options are ${method === 'nat' ? 'removed (the gateway rewrites the segment anyway)' : 'left alone (DR does not touch TCP)'}`, async () => {
    await withLab((lab) => {
      let inside: DecodedFrame[] = [];
      const d = lab.counterDelta(() => {
        inside = lab.forward('outside', clientTcp(41030, { flags: 'S', seq: 1000, options: [{ kind: 'mss', value: 1460 }, FORGED] })).inside;
      });
      const syn = only(inside, 'SYN');
      assert.ok(syn.tcp!.checksumOk);
      if (method === 'nat') {
        assert.equal(toaKindBytes(syn), [], syn.tcp!.optionBytes.toString('hex'));
        expectEvents(d, { toa_client_option_removed: 1 });
      } else {
        assert.equal(syn.tcp!.options, [{ kind: 'mss', value: 1460 }, FORGED]);
        assert.is(d.events.toa_client_option_removed, undefined);
      }
    }, labConfig((config) => {
      for (const service of config.services) {
        service.localAddresses = [];
        service.servers = [{ ...service.servers[0]!, forward: method }];
      }
    }));
  });
}

test('TOA, seeded random option areas (TOA kinds, malformed lengths, EOL, full areas, big segments, bad checksums): the server never reads a client-made TOA', async () => {
  await withLab((lab) => {
    const rnd = seededRandom(0x70a70a);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    const palette = [0, 1, 1, 1, 2, 4, 5, 8, 10, 30, 253, 254, 254] as const;
    for (let n = 0; n < 150; n++) {
      const { flow } = handshakeUntilSynAck(lab, 44000 + n);
      const inside: DecodedFrame[] = [];
      let corrupted = 0;
      for (let k = 0; k < 3; k++) {
        const optionLength = 4 * Math.floor(rnd() * 11);
        const options = Buffer.from(Array.from({ length: optionLength }, () => (rnd() < 0.8 ? pick(palette) : Math.floor(rnd() * 256))));
        const payload = Buffer.alloc(pick([0, 0, 10, 1500 - 40 - optionLength, 1500 - 48 - optionLength]), 0x61);
        let frame = clientTcp(flow.cport, { flags: payload.length ? 'PA' : 'A', seq: flow.clientIsn + 1, ack: flow.serverIsn + 1, options, payload });
        if (rnd() < 0.15) { frame = withBadTcpChecksum(frame); corrupted++; }
        inside.push(...lab.forward('outside', frame).inside);
      }
      const ours = { address: CLIENT, port: flow.cport };
      for (const f of inside) assert.equal(toaKindPositions(f, ours), [], `connection ${n}: ${show([f])} ${f.tcp!.optionBytes.toString('hex')}`);
      assert.ok(inside.filter((f) => !f.tcp!.checksumOk).length <= corrupted, `connection ${n}: no checksum broken by the gateway`);
      const read = toaModuleReads(inside).address;
      assert.ok(read === undefined || read === `${CLIENT}:${flow.cport}`, `connection ${n}: the TOA module reads ${read}`);
    }
  }, TOA_CONFIG);
});

test.run();
