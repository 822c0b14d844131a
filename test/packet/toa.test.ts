// TOA (client address in TCP option 254): which segments carry it, the exact bytes,
// lengths and checksums of a grown segment, the skip cases, and the SYN-ACK MSS lowering.
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import type { ClientAddressMode, DataplaneConfig } from '../../src/dataplane/types.js';
import {
  CLIENT, PORT_MAC, TCP_SERVICE_ID, clientSegment, clientTcp, expectEvents, labConfig, only, openTcp, serverTcp,
  show, synThrough, withLab, type Flow, type Lab,
} from '../support/golden.js';
import { buildFrame, hostMac, type DecodedFrame, type TcpOption, type TcpSpec } from '../support/packet.js';

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

test.run();
