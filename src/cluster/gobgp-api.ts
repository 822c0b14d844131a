// A small typed client of GoBGP's own gRPC API (apipb.GobgpApi), built from the .proto files
// Debian's golang-github-osrg-gobgp-dev installs: they are loaded from there at run time, never
// copied into this repository, so the messages are exactly those of the gobgpd beside them.
// GoBGP carries a path's NLRI and attributes as google.protobuf.Any; those inner messages are
// encoded here with protobufjs from the same files.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import protobuf from 'protobufjs';

/** Where golang-github-osrg-gobgp-dev installs GoBGP's API definitions. */
export const GOBGP_PROTO_DIR = '/usr/share/gocode/src/github.com/osrg/gobgp/api';
const PROTO_FILES = ['gobgp.proto', 'attribute.proto'];
const TYPE_URL_PREFIX = 'type.googleapis.com/';
const DEFAULT_DEADLINE_MS = 5_000;

/** google.protobuf.Any as grpc-js and protobufjs spell it (the bundled well-known type keeps type_url). */
export interface AnyMessage { type_url: string; value: Buffer }

export type SessionState = 'UNKNOWN' | 'IDLE' | 'CONNECT' | 'ACTIVE' | 'OPENSENT' | 'OPENCONFIRM' | 'ESTABLISHED';

/** What ListPeer / WatchEvent tell about one neighbour. */
export interface PeerStatus {
  address: string;
  asn: number;
  state: SessionState;
  /** Seconds since the session came up (0 when not established). */
  uptimeSeconds: number;
  messagesReceived: number;
  messagesSent: number;
  /** Prefixes GoBGP advertised to / accepted from the peer, summed over address families. */
  advertised: number;
  received: number;
}

export interface PeerSpec {
  address: string;
  asn: number;
  /** Seconds; keepalive = hold / 3 (RFC 4271's suggestion); 0 = no keepalives. */
  holdTime: number;
  /** The peer's BGP TCP port; undefined = 179. */
  port?: number;
}

/** One announced prefix: a VIP or LIP as a host route with its next hop and our tag. */
export interface PathSpec {
  address: string;
  family: 4 | 6;
  nextHop: string;
  /** Large communities "global:data1:data2" (numbers). */
  largeCommunities: Array<[number, number, number]>;
}

export interface ExportFilter {
  /** Statement name. */
  name: string;
  /** Paths carrying this large community … */
  largeCommunity: [number, number, number];
  /** … are sent only to these neighbours. */
  peers: string[];
}

export class GobgpError extends Error {
  override readonly name = 'GobgpError';
  constructor(readonly method: string, readonly code: grpc.status | undefined, message: string) {
    super(`gobgpd ${method}: ${message}`);
  }
}

interface Loaded {
  // grpc-js builds the client constructor at run time from the package definition.
  Client: grpc.ServiceClientConstructor;
  root: protobuf.Root;
}

let loaded: Loaded | undefined;

/** Loads GoBGP's protos once; throws naming the missing package when they are not installed. */
export function loadGobgpProtos(directory = GOBGP_PROTO_DIR): Loaded {
  if (loaded) return loaded;
  for (const file of PROTO_FILES) {
    if (!existsSync(join(directory, file))) {
      throw new Error(`GoBGP's API definitions are missing (${join(directory, file)}): install the Debian package golang-github-osrg-gobgp-dev`);
    }
  }
  const definition = protoLoader.loadSync(PROTO_FILES, { includeDirs: [directory], longs: String, enums: String, defaults: true, oneofs: true });
  const object = grpc.loadPackageDefinition(definition) as unknown as { apipb: { GobgpApi: grpc.ServiceClientConstructor } };
  const root = new protobuf.Root();
  // google/protobuf/* come bundled with protobufjs; GoBGP's own files from its directory.
  root.resolvePath = (_origin, target) => (target.startsWith('google/protobuf/') || target.startsWith('/') ? target : join(directory, target));
  root.loadSync(PROTO_FILES);
  loaded = { Client: object.apipb.GobgpApi, root };
  return loaded;
}

/** Packs an apipb message (given as a plain object, enums by name) into a google.protobuf.Any. */
export function packAny(typeName: string, value: Record<string, unknown>): AnyMessage {
  const type = loadGobgpProtos().root.lookupType(`apipb.${typeName}`);
  // fromObject turns enum names into numbers; verify then checks what will be encoded.
  const message = type.fromObject(value);
  const problem = type.verify(message);
  if (problem) throw new Error(`apipb.${typeName}: ${problem}`);
  return { type_url: `${TYPE_URL_PREFIX}apipb.${typeName}`, value: Buffer.from(type.encode(message).finish()) };
}

/** Unpacks a google.protobuf.Any holding an apipb message into a plain object (enums by name). */
export function unpackAny(any: AnyMessage): { type: string; value: Record<string, unknown> } {
  const type = any.type_url.startsWith(TYPE_URL_PREFIX) ? any.type_url.slice(TYPE_URL_PREFIX.length) : any.type_url;
  const message = loadGobgpProtos().root.lookupType(type);
  return { type, value: message.toObject(message.decode(any.value), { enums: String, longs: Number, defaults: true }) };
}

function familyOf(family: 4 | 6): { afi: string; safi: string } {
  return { afi: family === 4 ? 'AFI_IP' : 'AFI_IP6', safi: 'SAFI_UNICAST' };
}

/** The NLRI and attributes of a host route: IPv4 with NEXT_HOP, IPv6 with MP_REACH_NLRI (RFC 4760). */
export function encodePath(path: PathSpec): Record<string, unknown> {
  const nlri = packAny('IPAddressPrefix', { prefixLen: path.family === 4 ? 32 : 128, prefix: path.address });
  const pattrs: AnyMessage[] = [packAny('OriginAttribute', { origin: 0 })];  // IGP: we originate it
  if (path.family === 4) pattrs.push(packAny('NextHopAttribute', { nextHop: path.nextHop }));
  else pattrs.push(packAny('MpReachNLRIAttribute', { family: familyOf(6), nextHops: [path.nextHop], nlris: [nlri] }));
  if (path.largeCommunities.length > 0) {
    pattrs.push(packAny('LargeCommunitiesAttribute', {
      communities: path.largeCommunities.map(([globalAdmin, localData1, localData2]) => ({ globalAdmin, localData1, localData2 })),
    }));
  }
  return { nlri, pattrs, family: familyOf(path.family) };
}

function seconds(timestamp: { seconds?: string | number } | null | undefined): number {
  return Number(timestamp?.seconds ?? 0);
}

/** Shape of apipb.Peer as proto-loader decodes it (only what we read). */
interface RawPeer {
  conf?: { neighborAddress?: string; peerAsn?: number };
  state?: {
    neighborAddress?: string; peerAsn?: number; sessionState?: SessionState;
    messages?: { received?: { total?: string }; sent?: { total?: string } };
  };
  timers?: { state?: { uptime?: { seconds?: string } } };
  afiSafis?: Array<{ state?: { advertised?: string; received?: string } }>;
}

export function peerStatus(raw: RawPeer, now = Date.now()): PeerStatus {
  const state = raw.state?.sessionState ?? 'UNKNOWN';
  const upSince = seconds(raw.timers?.state?.uptime);
  const sum = (pick: (s: { advertised?: string; received?: string }) => string | undefined) =>
    (raw.afiSafis ?? []).reduce((total, a) => total + Number(pick(a.state ?? {}) ?? 0), 0);
  return {
    address: raw.state?.neighborAddress || raw.conf?.neighborAddress || '',
    asn: raw.state?.peerAsn || raw.conf?.peerAsn || 0,
    state,
    uptimeSeconds: state === 'ESTABLISHED' && upSince > 0 ? Math.max(0, Math.floor(now / 1000) - upSince) : 0,
    messagesReceived: Number(raw.state?.messages?.received?.total ?? 0),
    messagesSent: Number(raw.state?.messages?.sent?.total ?? 0),
    advertised: sum((s) => s.advertised),
    received: sum((s) => s.received),
  };
}

type UnaryCall = (request: unknown, options: grpc.CallOptions, callback: (error: grpc.ServiceError | null, response: unknown) => void) => void;
type StreamCall = (request: unknown, options?: grpc.CallOptions) => grpc.ClientReadableStream<unknown>;

export class GobgpClient {
  private readonly client: grpc.Client;

  /** target: gobgpd's API, "host:port" (cluster.bgp.api). No connection is made until a call. */
  constructor(readonly target: string) {
    const { Client } = loadGobgpProtos();
    this.client = new Client(target, grpc.credentials.createInsecure());
  }

  close(): void {
    this.client.close();
  }

  /** Resolves once gobgpd answers on its API (GetBgp), rejects after timeoutMs. */
  async waitReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    while (Date.now() < deadline) {
      try {
        await this.unary('GetBgp', {}, Math.min(1_000, Math.max(100, deadline - Date.now())));
        return;
      } catch (error) {
        last = error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    throw new GobgpError('GetBgp', undefined, `no answer on ${this.target} within ${timeoutMs} ms (${(last as Error)?.message ?? 'timeout'})`);
  }

  /** The running global config; asn 0 = StartBgp was not called yet. */
  async getGlobal(): Promise<{ asn: number; routerId: string; listenPort: number }> {
    const response = await this.unary('GetBgp', {}) as { global?: { asn?: number; routerId?: string; listenPort?: number } };
    return { asn: response.global?.asn ?? 0, routerId: response.global?.routerId ?? '', listenPort: response.global?.listenPort ?? 0 };
  }

  async startBgp(global: { asn: number; routerId: string; listenPort: number }): Promise<void> {
    await this.unary('StartBgp', { global: { asn: global.asn, routerId: global.routerId, listenPort: global.listenPort } });
  }

  async addPeer(peer: PeerSpec): Promise<void> {
    const afiSafis = [4, 6].map((f) => ({ config: { family: familyOf(f as 4 | 6), enabled: true } }));
    await this.unary('AddPeer', {
      peer: {
        conf: { neighborAddress: peer.address, peerAsn: peer.asn },
        timers: { config: { holdTime: String(peer.holdTime), keepaliveInterval: String(Math.floor(peer.holdTime / 3)), connectRetry: '1' } },
        transport: peer.port ? { remotePort: peer.port } : {},
        afiSafis,
      },
    });
  }

  /** Adds a path to the global RIB; resolves with its uuid (what deletePath takes). */
  async addPath(path: PathSpec): Promise<Buffer> {
    const response = await this.unary('AddPath', { tableType: 'GLOBAL', path: encodePath(path) }) as { uuid?: Buffer };
    return response.uuid ?? Buffer.alloc(0);
  }

  async deletePath(uuid: Buffer, family: 4 | 6): Promise<void> {
    await this.unary('DeletePath', { tableType: 'GLOBAL', family: familyOf(family), uuid });
  }

  async listPeers(): Promise<PeerStatus[]> {
    const raws = await this.collect('ListPeer', { enableAdvertised: true }) as Array<{ peer?: RawPeer }>;
    return raws.map((r) => peerStatus(r.peer ?? {}));
  }

  /**
   * One global export policy: a path tagged with a filter's large community goes only to that
   * filter's neighbours (GoBGP evaluates global export policy per destination neighbour, so the
   * neighbour set names the receiver). Everything else is accepted.
   */
  async setExportFilters(filters: ExportFilter[]): Promise<void> {
    const statements = [];
    for (const filter of filters) {
      const neighbours = `${filter.name}-peers`;
      const tag = `${filter.name}-tag`;
      await this.unary('AddDefinedSet', { definedSet: { definedType: 'NEIGHBOR', name: neighbours, list: filter.peers.map(hostPrefix) } });
      await this.unary('AddDefinedSet', { definedSet: { definedType: 'LARGE_COMMUNITY', name: tag, list: [filter.largeCommunity.join(':')] } });
      statements.push({
        name: filter.name,
        conditions: { largeCommunitySet: { type: 'ANY', name: tag }, neighborSet: { type: 'INVERT', name: neighbours } },
        actions: { routeAction: 'REJECT' },
      });
    }
    if (statements.length === 0) return;
    await this.unary('AddPolicy', { policy: { name: 'portcullis-export', statements } });
    await this.unary('AddPolicyAssignment', {
      assignment: { name: 'global', direction: 'EXPORT', policies: [{ name: 'portcullis-export' }], defaultAction: 'ACCEPT' },
    });
  }

  /** Peer events (state changes) until cancelled; `onEnd` runs once when the stream ends or fails. */
  watchPeers(onPeer: (status: PeerStatus) => void, onEnd: (error?: Error) => void): () => void {
    const stream = (this.client as unknown as Record<string, StreamCall>).WatchEvent!.call(this.client, { peer: {} });
    let ended = false;
    const end = (error?: Error) => { if (!ended) { ended = true; onEnd(error); } };
    stream.on('data', (response: { peer?: { type?: string; peer?: RawPeer } }) => {
      if (response.peer?.peer && response.peer.type === 'STATE') onPeer(peerStatus(response.peer.peer));
    });
    stream.on('error', (error: grpc.ServiceError) => end(error.code === grpc.status.CANCELLED ? undefined : error));
    stream.on('end', () => end());
    return () => { ended = true; stream.cancel(); };
  }

  private unary(method: string, request: unknown, timeoutMs = DEFAULT_DEADLINE_MS): Promise<unknown> {
    const call = (this.client as unknown as Record<string, UnaryCall>)[method]!;
    return new Promise((resolve, reject) => {
      call.call(this.client, request, { deadline: Date.now() + timeoutMs }, (error, response) => {
        if (error) reject(new GobgpError(method, error.code, error.details || error.message));
        else resolve(response);
      });
    });
  }

  private collect(method: string, request: unknown, timeoutMs = DEFAULT_DEADLINE_MS): Promise<unknown[]> {
    const stream = (this.client as unknown as Record<string, StreamCall>)[method]!.call(this.client, request, { deadline: Date.now() + timeoutMs });
    return new Promise((resolve, reject) => {
      const items: unknown[] = [];
      stream.on('data', (item: unknown) => items.push(item));
      stream.on('error', (error: grpc.ServiceError) => reject(new GobgpError(method, error.code, error.details || error.message)));
      stream.on('end', () => resolve(items));
    });
  }
}

function hostPrefix(address: string): string {
  return address.includes(':') ? `${address}/128` : `${address}/32`;
}
