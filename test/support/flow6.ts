// A TCP connection through FullNAT v6 in golden tests: the IPv6 counterparts of golden.ts's
// synThrough/openTcp/clientSegment/serverSegment (client CLIENT6 -> VIP6, inside LIPS6 -> SERVERS6),
// and the IPv6 TCP service they expect.
import type { DataplaneService } from '../../src/dataplane/types.js';
import { CLIENT6, IPVS_TIMEOUTS, LIPS6, SERVERS6, VIP6, frameFrom6, only, show, type Flow, type Lab } from './golden.js';
import type { TcpSpec } from './packet.js';

export const TCP6_SERVICE_ID = 61;
export const UDP6_SERVICE_ID = 62;

/** An IPv6 service VIP6:port rr over SERVERS6 (server ids from firstServerId), LIPs LIPS6. */
export function v6Service(id: number, protocol: 'tcp' | 'udp', port: number, firstServerId: number,
  edit: Partial<DataplaneService> = {}): DataplaneService {
  return {
    id, protocol, vip: VIP6, port, scheduler: 'rr', localAddresses: [...LIPS6], timeouts: { ...IPVS_TIMEOUTS },
    servers: SERVERS6.map((address, i) => ({ id: firstServerId + i, address, port, weight: 1 })), ...edit,
  };
}

export function clientTcp6(cport: number, tcp: Partial<TcpSpec> = {}, dport = 80, client = CLIENT6): Buffer {
  return frameFrom6('outside', client, VIP6, { tcp: { srcPort: cport, dstPort: dport, ...tcp } });
}

export function serverTcp6(server: string, sport: number, lip: string, lport: number, tcp: Partial<TcpSpec> = {}): Buffer {
  return frameFrom6('inside', server, lip, { tcp: { srcPort: sport, dstPort: lport, ...tcp } });
}

/** A SYN from CLIENT6:cport to VIP6:dport; the flow it created, read off the SYN sent inside. */
export function synThrough6(lab: Lab, cport: number, dport = 80, clientIsn = 1000): Flow {
  const out = lab.forward('outside', clientTcp6(cport, { flags: 'S', seq: clientIsn, options: [{ kind: 'mss', value: 1440 }] }, dport));
  const syn = only(out.inside, `SYN from [${CLIENT6}]:${cport}`);
  if (!syn.tcp || !syn.ipv6) throw new Error(`SYN from [${CLIENT6}]:${cport}: not TCP over IPv6: ${show(out.inside)}`);
  return { cport, lip: syn.ipv6.src, lport: syn.tcp.srcPort, server: syn.ipv6.dst, sport: syn.tcp.dstPort, clientIsn, serverIsn: 50000 };
}

/** Client -> server segment on a flow (seq/ack continue from the handshake). */
export function clientSegment6(flow: Flow, tcp: Partial<TcpSpec>, dport = 80): Buffer {
  return clientTcp6(flow.cport, { flags: 'A', seq: flow.clientIsn + 1, ack: flow.serverIsn + 1, ...tcp }, dport);
}

/** Server -> client segment on a flow. */
export function serverSegment6(flow: Flow, tcp: Partial<TcpSpec>): Buffer {
  return serverTcp6(flow.server, flow.sport, flow.lip, flow.lport, { flags: 'A', seq: flow.serverIsn + 1, ack: flow.clientIsn + 1, ...tcp });
}

/** SYN and the server's SYN-ACK (MSS serverMss) through the gateway, without the final ACK. */
export function untilSynAck6(lab: Lab, cport: number, serverMss = 1440, dport = 80) {
  const flow = synThrough6(lab, cport, dport);
  const out = lab.forward('inside', serverTcp6(flow.server, flow.sport, flow.lip, flow.lport,
    { flags: 'SA', seq: flow.serverIsn, ack: flow.clientIsn + 1, options: [{ kind: 'mss', value: serverMss }] }));
  return { flow, synAck: only(out.outside, 'SYN-ACK to the client') };
}

/** The full handshake through the gateway; returns the established flow. */
export function openTcp6(lab: Lab, cport: number, dport = 80): Flow {
  const { flow } = untilSynAck6(lab, cport, 1440, dport);
  only(lab.forward('outside', clientSegment6(flow, {}, dport)).inside, `ACK for [${CLIENT6}]:${cport}`);
  return flow;
}
