// SYNPROXY handshakes in golden tests, for either address family: the client's SYN and the
// gateway's cookie SYN-ACK, the final ACK and the backend SYN, the server's SYN-ACK. One family
// object per address family carries what differs (addresses, header builders, MSS, what a
// segment the gateway wrote itself must look like), so synproxy.test.ts, synproxy-ipv6.test.ts
// and the scenarios they share (synproxy-families.test.ts) drive the same steps.
import * as assert from 'uvu/assert';
import type { DataplaneConfig, DataplaneService } from '../../src/dataplane/types.js';
import {
  CLIENT, CLIENT6, IPVS_TIMEOUTS, LIPS, LIPS6, PORT_MAC, SERVERS, SERVERS6, VIP, VIP6, clientTcp, dualStackConfig, frameFrom6,
  labConfig, only, serverTcp, show, type Lab,
} from './golden.js';
import { hostMac, type DecodedFrame, type TcpOption, type TcpSpec } from './packet.js';

export const CLIENT_ISN = 0x10000000;
export const SERVER_ISN = 0x70000000;
export const CLIENT_TS = 5000;
export const SERVER_TS = 900000;
export const CLIENT_WSCALE = 5;
export const SERVER_WSCALE = 9;
export const OUR_WSCALE = 7; // kSynproxyWscale

export const u32 = (n: number): number => n >>> 0;

export function option<K extends TcpOption['kind']>(f: DecodedFrame, kind: K): Extract<TcpOption, { kind: K }> | undefined {
  return f.tcp!.options.find((o) => o.kind === kind) as Extract<TcpOption, { kind: K }> | undefined;
}

export interface Opened {
  cport: number;
  cookie: number;     // our ISN toward the client
  ourTs: number;      // TSval of our SYN-ACK
  synAck: DecodedFrame;
}

export interface Backend extends Opened {
  lip: string; lport: number; server: string;
  syn: DecodedFrame;
}

export interface SynproxyFamily {
  name: 'IPv4' | 'IPv6';
  /** The lab config with the family's TCP service on VIP:80 under synproxy on. */
  config: DataplaneConfig;
  /** The Ethernet type of this family's frames. */
  etherType: number;
  client: string;
  vip: string;
  lips: string[];
  servers: string[];
  /** The MSS the client and the servers offer (a 1500-byte link less this family's headers). */
  mss: number;
  /** The client's SYN options: MSS, SACK, timestamps, window scale. */
  fullSynOptions: TcpOption[];
  /** The server's SYN-ACK options: MSS, SACK, timestamps (echoing the final ACK's), window scale. */
  serverSynAckOptions: TcpOption[];
  clientTcp(cport: number, tcp: Partial<TcpSpec>, client?: string): Buffer;
  serverTcp(b: Backend, tcp: Partial<TcpSpec>): Buffer;
  /** [source, destination] of an IP packet of this family. */
  addresses(f: DecodedFrame): [string, string];
  /** Checks a segment the gateway wrote itself (not one it forwarded). */
  checkOwnHeader(f: DecodedFrame): void;
  /** Checks a segment to the client from VIP:80, checksums right. */
  checkToClient(f: DecodedFrame, cport: number, client?: string): void;
}

function synOptions(mss: number): TcpOption[] {
  return [
    { kind: 'mss', value: mss }, { kind: 'sackPermitted' }, { kind: 'timestamp', value: CLIENT_TS, echo: 0 },
    { kind: 'nop' }, { kind: 'ws', shift: CLIENT_WSCALE },
  ];
}

function serverSynAckOptions(mss: number): TcpOption[] {
  return [
    { kind: 'mss', value: mss }, { kind: 'sackPermitted' }, { kind: 'timestamp', value: SERVER_TS, echo: CLIENT_TS + 1 },
    { kind: 'nop' }, { kind: 'ws', shift: SERVER_WSCALE },
  ];
}

export const SYNPROXY_IPV4: SynproxyFamily = {
  name: 'IPv4',
  config: labConfig((c) => { c.services[0]!.synproxy = true; }),
  etherType: 0x0800,
  client: CLIENT, vip: VIP, lips: LIPS, servers: SERVERS,
  mss: 1460,
  fullSynOptions: synOptions(1460),
  serverSynAckOptions: serverSynAckOptions(1460),
  clientTcp: (cport, tcp, client = CLIENT) => clientTcp(cport, tcp, VIP, 80, client),
  serverTcp: (b, tcp) => serverTcp(b.server, 80, b.lip, b.lport, tcp),
  addresses: (f) => [f.ipv4!.src, f.ipv4!.dst],
  checkOwnHeader(f) {
    assert.ok(f.ipv4 && f.tcp, `IPv4 TCP expected: ${show([f])}`);
    assert.ok(f.tcp!.checksumOk && f.ipv4!.checksumOk, 'IP and TCP checksums');
  },
  checkToClient(f, cport, client = CLIENT) {
    assert.ok(f.ipv4 && f.tcp, `TCP expected: ${show([f])}`);
    assert.equal(f.eth, { dst: hostMac(client), src: PORT_MAC.outside, type: 0x0800 });
    assert.is(f.ipv4!.src, VIP);
    assert.is(f.ipv4!.dst, client);
    assert.is(f.tcp!.srcPort, 80);
    assert.is(f.tcp!.dstPort, cport);
    assert.ok(f.ipv4!.checksumOk, 'IP checksum');
    assert.ok(f.tcp!.checksumOk, 'TCP checksum');
  },
};

export const SERVICE6_ID = 61;

/** The IPv6 TCP service VIP6:80 (synproxy on) over SERVERS6 through LIPS6, with `edit` applied. */
export function synproxyService6(edit: Partial<DataplaneService> = {}, vip = VIP6): DataplaneService {
  return {
    id: SERVICE6_ID, protocol: 'tcp', vip, port: 80, scheduler: 'rr', localAddresses: [...LIPS6],
    timeouts: { ...IPVS_TIMEOUTS }, synproxy: true,
    servers: SERVERS6.map((address, i) => ({ id: 61 + i, address, port: 80, weight: 1 })), ...edit,
  };
}

/** The dual-stack lab config with the IPv6 SYNPROXY service (edited by `edit`), then `more`. */
export function synproxyConfig6(edit: Partial<DataplaneService> = {}, more?: (c: DataplaneConfig) => void): DataplaneConfig {
  return dualStackConfig((c) => { c.services.push(synproxyService6(edit)); more?.(c); });
}

export function clientTcp6(cport: number, tcp: Partial<TcpSpec>, client = CLIENT6, vip = VIP6): Buffer {
  return frameFrom6('outside', client, vip, { tcp: { srcPort: cport, dstPort: 80, ...tcp } });
}

export const SYNPROXY_IPV6: SynproxyFamily = {
  name: 'IPv6',
  config: synproxyConfig6(),
  etherType: 0x86dd,
  client: CLIENT6, vip: VIP6, lips: LIPS6, servers: SERVERS6,
  mss: 1440,
  fullSynOptions: synOptions(1440),
  serverSynAckOptions: serverSynAckOptions(1440),
  clientTcp: (cport, tcp, client = CLIENT6) => clientTcp6(cport, tcp, client),
  serverTcp: (b, tcp) => frameFrom6('inside', b.server, b.lip, { tcp: { srcPort: 80, dstPort: b.lport, ...tcp } }),
  addresses: (f) => [f.ipv6!.src, f.ipv6!.dst],
  /** A bare IPv6 header (hop limit 64, class and label 0) and a good checksum. */
  checkOwnHeader(f) {
    assert.ok(f.ipv6 && f.tcp, `IPv6 TCP expected: ${show([f])}`);
    assert.not.ok(f.ipv4, 'no IPv4 header');
    assert.equal([f.ipv6!.version, f.ipv6!.trafficClass, f.ipv6!.flowLabel, f.ipv6!.hopLimit], [6, 0, 0, 64]);
    assert.equal([f.ipv6!.nextHeader, f.ipv6!.extensions.length], [6, 0], 'TCP right after the fixed header');
    assert.is(f.ipv6!.payloadLength, f.ipv6!.payload.length);
    assert.ok(f.tcp!.checksumOk, 'TCP checksum over the IPv6 pseudo-header');
  },
  checkToClient(f, cport, client = CLIENT6) {
    assert.equal(f.eth, { dst: hostMac(client), src: PORT_MAC.outside, type: 0x86dd });
    assert.equal([f.ipv6!.src, f.tcp!.srcPort, f.ipv6!.dst, f.tcp!.dstPort], [VIP6, 80, client, cport]);
    assert.ok(f.tcp!.checksumOk, 'TCP checksum');
  },
};

export const SYNPROXY_FAMILIES = [SYNPROXY_IPV4, SYNPROXY_IPV6];

/** Client SYN → the gateway's SYN-ACK, a segment of its own (asserts nothing went inside). */
export function cookieSynAck(family: SynproxyFamily, lab: Lab, cport: number, options = family.fullSynOptions, client = family.client): Opened {
  const out = lab.forward('outside', family.clientTcp(cport, { flags: 'S', seq: CLIENT_ISN, window: 64240, options }, client));
  assert.is(out.inside.length, 0, `nothing to the servers: ${show(out.inside)}`);
  const synAck = only(out.outside, 'SYN-ACK');
  family.checkOwnHeader(synAck);
  family.checkToClient(synAck, cport, client);
  const ts = option(synAck, 'timestamp');
  return { cport, cookie: synAck.tcp!.seq, ourTs: ts ? ts.value : 0, synAck };
}

/** SYN-ACK then the final ACK (with optional data): returns the backend SYN. */
export function finalAck(family: SynproxyFamily, lab: Lab, cport: number, payload?: Buffer, options = family.fullSynOptions): Backend {
  const o = cookieSynAck(family, lab, cport, options);
  const ts: TcpOption[] = o.ourTs ? [{ kind: 'nop' }, { kind: 'nop' }, { kind: 'timestamp', value: CLIENT_TS + 1, echo: o.ourTs }] : [];
  const out = lab.forward('outside', family.clientTcp(cport, {
    flags: payload ? 'PA' : 'A', seq: CLIENT_ISN + 1, ack: u32(o.cookie + 1), window: 502, options: ts, payload,
  }));
  assert.is(out.outside.length, 0, `nothing back to the client: ${show(out.outside)}`);
  const syn = only(out.inside, 'backend SYN');
  family.checkOwnHeader(syn);
  const [lip, server] = family.addresses(syn);
  assert.equal(syn.eth, { dst: hostMac(server), src: PORT_MAC.inside, type: family.etherType }, 'backend SYN to the server\'s MAC');
  return { ...o, lip, lport: syn.tcp!.srcPort, server, syn };
}

/** The server's SYN-ACK to the backend SYN of `b`. */
export function serverSynAck(family: SynproxyFamily, b: Backend, options = family.serverSynAckOptions): Buffer {
  return family.serverTcp(b, { flags: 'SA', seq: SERVER_ISN, ack: CLIENT_ISN + 1, window: 65160, options });
}

/** Complete handshake on both sides: the backend state and what the server's SYN-ACK caused. */
export function established(family: SynproxyFamily, lab: Lab, cport: number, data?: Buffer): { b: Backend; out: ReturnType<Lab['forward']> } {
  const b = finalAck(family, lab, cport, data);
  const out = lab.forward('inside', serverSynAck(family, b));
  return { b, out };
}
