// The `cluster` section (docs/cluster.md) → ClusterSettings. Like the rest of load.ts, every
// problem is collected with its field path so an operator fixes them all in one go. What can only
// be known at start (the key file's readability, gobgpd being there) is checked at start.
import { invalid, joinPath, ModelError } from '../model/errors.js';
import {
  parseIpv4, readChoice, readInteger, readIpAddress, readList, readObject, readString, rejectUnknownKeys, type RawObject,
} from '../model/fields.js';
import type { PortModel } from '../model/index.js';
import {
  DEFAULT_BGP_HOLD_TIME, DEFAULT_FOREIGN_FLOWS, DEFAULT_GOBGP_API, DEFAULT_GOBGPD, DEFAULT_SYNC_PORT,
  type BgpPeer, type BgpSettings, type ClusterNode, type ClusterSettings, type ClusterSync,
} from './cluster-types.js';

const CLUSTER_KEYS = ['node', 'nodes', 'sync', 'bgp'] as const;
const NODE_KEYS = ['name', 'address'] as const;
const SYNC_KEYS = ['key_file', 'port', 'foreign_flows'] as const;
const BGP_KEYS = ['speaker', 'gobgpd', 'api', 'asn', 'router_id', 'listen_port', 'peers'] as const;
const PEER_KEYS = ['address', 'asn', 'hold_time', 'announce', 'port'] as const;
const NODE_NAME = /^[a-z0-9-]{1,32}$/;
const HOST_PORT = /^([A-Za-z0-9.-]+|\[[0-9a-fA-F:]+\]):([0-9]{1,5})$/;
const MAX_NODES = 64;
const MAX_PEERS = 64;
const MAX_ASN = 4294967295;

/** Collects problems; a reader that throws is recorded and its fallback used. */
class Problems {
  readonly list: string[] = [];
  attempt<T>(read: () => T, fallback: T): T {
    try {
      return read();
    } catch (error) {
      if (!(error instanceof ModelError)) throw error;
      this.list.push(error.message);
      return fallback;
    }
  }
  add(path: string, detail: string): void {
    this.list.push(new ModelError('INVALID_ARGUMENT', path, detail).message);
  }
}

/**
 * Reads the section against the (already read) ports. Returns the settings, or the problems
 * (each "cluster.<path>: …"); `value` undefined/null = no cluster (a standalone gateway).
 */
export function readCluster(value: unknown, ports: PortModel[]): { settings?: ClusterSettings; problems: string[] } {
  if (value === undefined || value === null) return { problems: [] };
  const problems = new Problems();
  const raw = problems.attempt(() => {
    const object = readObject(value, 'cluster');
    rejectUnknownKeys(object, CLUSTER_KEYS, 'cluster');
    return object;
  }, undefined as RawObject | undefined);
  if (!raw) return { problems: problems.list };

  const node = problems.attempt(() => readString(raw.node, 'cluster.node', { nonEmpty: true, maxLength: 32 }), '');
  const nodes = readNodes(raw.nodes, problems);
  const sync = problems.attempt(() => readSync(raw.sync), undefined);
  const bgp = readBgp(raw.bgp, problems);

  if (node && nodes.length > 0) {
    const self = nodes.find((n) => n.name === node);
    if (!self) {
      problems.add('cluster.node', `expected one of the nodes' names (${nodes.map((n) => n.name).join(', ')}), got ${JSON.stringify(node)}`);
    } else {
      const index = nodes.indexOf(self);
      const problem = selfAddressProblem(self.address, ports);
      if (problem) problems.add(`cluster.nodes[${index}].address`, problem);
    }
  }
  if (problems.list.length > 0 || !sync || !bgp) return { problems: problems.list };
  return { settings: { node, nodes, sync, bgp }, problems: [] };
}

function readNodes(value: unknown, problems: Problems): ClusterNode[] {
  const list = problems.attempt(() => {
    const items = readList(value, 'cluster.nodes', MAX_NODES);
    if (items.length === 0) throw invalid('cluster.nodes', 'at least one node (this one)', value);
    return items;
  }, [] as unknown[]);
  const nodes: ClusterNode[] = [];
  const names = new Map<string, number>();
  const addresses = new Map<string, number>();
  list.forEach((item, i) => {
    const path = joinPath('cluster.nodes', i);
    const node = problems.attempt(() => {
      const raw = readObject(item, path);
      rejectUnknownKeys(raw, NODE_KEYS, path);
      const name = readString(raw.name, joinPath(path, 'name'), { nonEmpty: true, maxLength: 32 });
      if (!NODE_NAME.test(name)) throw invalid(joinPath(path, 'name'), 'a name of 1..32 characters from [a-z0-9-]', name);
      return { name, address: readIpAddress(raw.address, joinPath(path, 'address')) };
    }, undefined);
    if (!node) return;
    const sameName = names.get(node.name);
    const sameAddress = addresses.get(node.address);
    if (sameName !== undefined) problems.add(joinPath(path, 'name'), `${JSON.stringify(node.name)} is already the name of cluster.nodes[${sameName}]`);
    else if (sameAddress !== undefined) problems.add(joinPath(path, 'address'), `${node.address} is already the address of cluster.nodes[${sameAddress}]`);
    else {
      names.set(node.name, i);
      addresses.set(node.address, i);
      nodes.push(node);
    }
  });
  return nodes;
}

/** BGP and the ownership sync reach the host through the exception path of the port holding the address. */
function selfAddressProblem(address: string, ports: PortModel[]): string | undefined {
  const port = ports.find((p) => p.addresses.some((a) => a.split('/')[0] === address));
  if (!port) {
    const all = ports.flatMap((p) => p.addresses.map((a) => a.split('/')[0]!));
    return `this node's address must be one of its port addresses (${all.join(', ') || 'none configured'}), got ${address}`;
  }
  if (!port.exceptionPath) {
    return `${address} is on port ${JSON.stringify(port.name)}, which needs exception_path: true (BGP and the ownership sync reach the host through it)`;
  }
  return undefined;
}

function readSync(value: unknown): ClusterSync {
  const raw = readObject(value ?? undefined, 'cluster.sync');
  rejectUnknownKeys(raw, SYNC_KEYS, 'cluster.sync');
  return {
    keyFile: readString(raw.key_file, 'cluster.sync.key_file', { nonEmpty: true, maxLength: 4096 }),
    port: raw.port === undefined ? DEFAULT_SYNC_PORT : readInteger(raw.port, 'cluster.sync.port', 1, 65535),
    foreignFlows: raw.foreign_flows === undefined ? DEFAULT_FOREIGN_FLOWS : readInteger(raw.foreign_flows, 'cluster.sync.foreign_flows', 1024, 1 << 26),
  };
}

function readBgp(value: unknown, problems: Problems): BgpSettings | undefined {
  const raw = problems.attempt(() => {
    const object = readObject(value ?? undefined, 'cluster.bgp');
    rejectUnknownKeys(object, BGP_KEYS, 'cluster.bgp');
    return object;
  }, undefined as RawObject | undefined);
  if (!raw) return undefined;
  const before = problems.list.length;
  const speaker = problems.attempt(() => (raw.speaker === undefined ? 'managed' : readChoice(raw.speaker, 'cluster.bgp.speaker', ['managed', 'external'] as const)), 'managed' as const);
  const gobgpd = problems.attempt(() => (raw.gobgpd === undefined ? DEFAULT_GOBGPD : readString(raw.gobgpd, 'cluster.bgp.gobgpd', { nonEmpty: true, maxLength: 4096 })), DEFAULT_GOBGPD);
  const api = problems.attempt(() => (raw.api === undefined ? DEFAULT_GOBGP_API : readHostPort(raw.api, 'cluster.bgp.api')), DEFAULT_GOBGP_API);
  const asn = problems.attempt(() => readInteger(raw.asn, 'cluster.bgp.asn', 1, MAX_ASN), 0);
  const routerId = problems.attempt(() => readRouterId(raw.router_id, 'cluster.bgp.router_id'), '');
  const listenPort = problems.attempt(() => (raw.listen_port === undefined ? 179 : readListenPort(raw.listen_port)), 179);
  const peerList = problems.attempt(() => {
    const items = readList(raw.peers, 'cluster.bgp.peers', MAX_PEERS);
    if (items.length === 0) throw invalid('cluster.bgp.peers', 'at least one peer', raw.peers);
    return items;
  }, [] as unknown[]);
  const peers: BgpPeer[] = [];
  const seen = new Map<string, number>();
  peerList.forEach((item, i) => {
    const path = joinPath('cluster.bgp.peers', i);
    const peer = problems.attempt(() => readPeer(item, path), undefined);
    if (!peer) return;
    const twin = seen.get(peer.address);
    if (twin !== undefined) problems.add(joinPath(path, 'address'), `${peer.address} is already cluster.bgp.peers[${twin}] (GoBGP knows a neighbour by its address)`);
    else {
      seen.set(peer.address, i);
      peers.push(peer);
    }
  });
  if (problems.list.length > before) return undefined;
  return { speaker, gobgpd, api, asn, routerId, listenPort, peers };
}

function readHostPort(value: unknown, path: string): string {
  const text = readString(value, path, { nonEmpty: true, maxLength: 256 });
  const match = HOST_PORT.exec(text);
  if (!match || Number(match[2]) < 1 || Number(match[2]) > 65535) throw invalid(path, '"host:port" like "127.0.0.1:50051"', value);
  return text;
}

function readRouterId(value: unknown, path: string): string {
  if (typeof value !== 'string' || parseIpv4(value) === undefined || parseIpv4(value) === 0) {
    throw invalid(path, 'an IPv4 address (dotted quad, not 0.0.0.0): BGP identifiers are 32 bits', value);
  }
  return value;
}

function readListenPort(value: unknown): number {
  if (value === -1) return -1;
  if (typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 65535) return value;
  throw invalid('cluster.bgp.listen_port', 'integer 1..65535, or -1 (gobgpd only connects out)', value);
}

function readPeer(value: unknown, path: string): BgpPeer {
  const raw = readObject(value, path);
  rejectUnknownKeys(raw, PEER_KEYS, path);
  const address = readIpAddress(raw.address, joinPath(path, 'address'));
  const asn = readInteger(raw.asn, joinPath(path, 'asn'), 1, MAX_ASN);
  let holdTime = DEFAULT_BGP_HOLD_TIME;
  if (raw.hold_time !== undefined) {
    holdTime = readInteger(raw.hold_time, joinPath(path, 'hold_time'), 0, 65535);
    if (holdTime > 0 && holdTime < 3) throw invalid(joinPath(path, 'hold_time'), 'seconds: 0 (no keepalives) or 3..65535 (RFC 4271)', raw.hold_time);
  }
  const announcePath = joinPath(path, 'announce');
  const list = readList(raw.announce, announcePath, 2);
  if (list.length === 0) throw invalid(announcePath, 'a non-empty list of vips, lips', raw.announce);
  const announce: Array<'vips' | 'lips'> = [];
  list.forEach((item, i) => {
    const kind = readChoice(item, joinPath(announcePath, i), ['vips', 'lips'] as const);
    if (announce.includes(kind)) throw invalid(joinPath(announcePath, i), 'each of vips, lips at most once', item);
    announce.push(kind);
  });
  const peer: BgpPeer = { address, asn, holdTime, announce };
  if (raw.port !== undefined) peer.port = readInteger(raw.port, joinPath(path, 'port'), 1, 65535);
  return peer;
}
