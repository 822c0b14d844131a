// Ownership sync between cluster nodes (docs/cluster.md): every few tens of ms the
// ownership records of this node's new connections are drained from the data plane and sent,
// HMAC-authenticated, to every other node's address:sync.port over UDP; what arrives from the
// others goes into the data plane's foreign-flow table, owner = the sender's node index. The
// socket is bound to this node's address, a port address: the data plane punts UDP for it to
// the port's exception-path interface (src/daemon/exception-path.ts), whose kernel sends too.
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { readFile } from 'node:fs/promises';
import type { ClusterNode, ClusterSettings } from '../config/cluster-types.js';
import type { DataplaneAddon } from '../dataplane/types.js';
import { log } from '../log.js';
import { decodeSyncMessage, encodeSyncMessage, RECORD_BYTES, RECORDS_PER_MESSAGE } from './flow-sync-wire.js';

/** The data plane's part of the sync (the addon, or any test double of its two calls). */
export type FlowSyncDataplane = Pick<DataplaneAddon, 'ownershipDrain' | 'foreignLearn'>;

export const MIN_KEY_BYTES = 32;
export const DEFAULT_SYNC_INTERVAL_MS = 20;
/** A message older (or newer) than this by the receiver's clock is stale: nodes run NTP. */
export const DEFAULT_MAX_SKEW_MS = 5000;
/** Out-of-order messages within this many sequence numbers of the newest are still taken once. */
export const REPLAY_WINDOW = 64n;

export type RejectReason = 'bad_mac' | 'unknown_node' | 'wrong_source' | 'stale' | 'replayed' | 'malformed';

/** Counters, named for GetClusterStatus' `counters` map and Prometheus. */
export interface FlowSyncCounters {
  sync_messages_sent: number;
  sync_records_sent: number;
  sync_send_errors: number;
  sync_messages_received: number;
  sync_records_received: number;
  /** Received records every worker's queue took. */
  sync_records_learned: number;
  /** Received records the data plane had no room for (its per-worker queue was full). */
  sync_records_dropped: number;
  sync_rejected_bad_mac: number;
  sync_rejected_unknown_node: number;
  sync_rejected_wrong_source: number;
  sync_rejected_stale: number;
  sync_rejected_replayed: number;
  sync_rejected_malformed: number;
}

export interface FlowSyncOptions {
  cluster: Pick<ClusterSettings, 'node' | 'nodes' | 'sync'>;
  key: Buffer;
  dataplane: FlowSyncDataplane;
  intervalMs?: number;
  maxSkewMs?: number;
  /** The clock messages are stamped and judged by (ms since the epoch). */
  now?: () => number;
}

/** Reads and checks the shared key: the file's bytes, surrounding whitespace trimmed, at least 32 of them. */
export async function readSyncKey(file: string): Promise<Buffer> {
  const raw = await readFile(file).catch((error: NodeJS.ErrnoException) => {
    throw new Error(`cluster.sync.key_file ${file}: cannot read the shared key: ${error.message}`);
  });
  const key = Buffer.from(raw.toString('utf8').trim(), 'utf8');
  if (key.length < MIN_KEY_BYTES)
    throw new Error(`cluster.sync.key_file ${file}: the shared key is ${key.length} bytes, at least ${MIN_KEY_BYTES} are needed`);
  return key;
}

interface PeerState {
  index: number;
  node: ClusterNode;
  newest: bigint;   // highest sequence taken; 0 = none yet
  seen: bigint;     // bit i: newest - i was taken
}

export class FlowSync {
  private readonly counters: FlowSyncCounters = {
    sync_messages_sent: 0, sync_records_sent: 0, sync_send_errors: 0,
    sync_messages_received: 0, sync_records_received: 0, sync_records_learned: 0, sync_records_dropped: 0,
    sync_rejected_bad_mac: 0, sync_rejected_unknown_node: 0, sync_rejected_wrong_source: 0,
    sync_rejected_stale: 0, sync_rejected_replayed: 0, sync_rejected_malformed: 0,
  };
  private readonly peers = new Map<string, PeerState>();
  private readonly self: ClusterNode;
  private readonly now: () => number;
  private sequence: bigint;
  private socket: Socket | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: FlowSyncOptions) {
    const { cluster } = options;
    const self = cluster.nodes.find((n) => n.name === cluster.node);
    if (!self) throw new Error(`cluster.node: "${cluster.node}" is not one of cluster.nodes`);
    if (options.key.length < MIN_KEY_BYTES) throw new Error(`cluster.sync.key_file: at least ${MIN_KEY_BYTES} bytes of key needed`);
    this.self = self;
    cluster.nodes.forEach((node, index) => {
      if (node.name !== cluster.node) this.peers.set(node.name, { index, node, newest: 0n, seen: 0n });
    });
    this.now = options.now ?? Date.now;
    // Microseconds at start, then +1 per message: a restarted sender goes on above what it sent before.
    this.sequence = BigInt(this.now()) * 1000n;
  }

  /** Binds this node's address:sync.port and starts the send timer. */
  async start(): Promise<void> {
    const socket = createSocket({ type: this.self.address.includes(':') ? 'udp6' : 'udp4' });
    socket.on('message', (datagram, from) => this.receive(datagram, from));
    socket.on('error', (error) => log.limited('warn', 'flow-sync-socket', `cluster sync socket: ${error.message}`));
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind({ address: this.self.address, port: this.options.cluster.sync.port, exclusive: true }, () => {
        socket.off('error', reject);
        resolve();
      });
    }).catch((error: Error) => {
      socket.close();
      throw new Error(`cluster sync: cannot bind ${this.self.address}:${this.options.cluster.sync.port}: ${error.message}`);
    });
    this.socket = socket;
    this.timer = setInterval(() => this.flush(), this.options.intervalMs ?? DEFAULT_SYNC_INTERVAL_MS);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    const socket = this.socket;
    this.socket = undefined;
    if (socket) await new Promise<void>((resolve) => socket.close(() => resolve()));
  }

  snapshot(): FlowSyncCounters {
    return { ...this.counters };
  }

  /** Drains the data plane's ownership records and sends them to every other node. */
  flush(): void {
    const socket = this.socket;
    if (!socket) return;
    for (;;) {
      const records = this.options.dataplane.ownershipDrain(RECORDS_PER_MESSAGE * 256);
      if (records.length === 0) return;
      const perMessage = RECORDS_PER_MESSAGE * RECORD_BYTES;
      for (let at = 0; at < records.length; at += perMessage) {
        const chunk = records.subarray(at, at + perMessage);
        this.sequence += 1n;
        const datagram = encodeSyncMessage(
          { sender: this.self.name, sequence: this.sequence, timestampMs: this.now(), records: chunk }, this.options.key);
        for (const peer of this.peers.values()) {
          socket.send(datagram, this.options.cluster.sync.port, peer.node.address, (error) => {
            if (error) this.counters.sync_send_errors++;
          });
          this.counters.sync_messages_sent++;
          this.counters.sync_records_sent += chunk.length / RECORD_BYTES;
        }
      }
      if (records.length < RECORDS_PER_MESSAGE * 256 * RECORD_BYTES) return;
    }
  }

  private reject(reason: RejectReason): void {
    this.counters[`sync_rejected_${reason}`]++;
  }

  /** Every check on an arriving datagram; whatever it holds, nothing throws out of here. */
  receive(datagram: Buffer, from: Pick<RemoteInfo, 'address'>): void {
    const decoded = decodeSyncMessage(datagram, this.options.key);
    if (!decoded.ok) return this.reject(decoded.reason);
    const { message } = decoded;
    const peer = this.peers.get(message.sender);
    if (!peer) return this.reject('unknown_node');
    if (from.address !== peer.node.address) return this.reject('wrong_source');
    const maxSkew = this.options.maxSkewMs ?? DEFAULT_MAX_SKEW_MS;
    if (Math.abs(this.now() - message.timestampMs) > maxSkew) return this.reject('stale');
    if (!this.takeSequence(peer, message.sequence)) return this.reject('replayed');
    this.counters.sync_messages_received++;
    const count = message.records.length / RECORD_BYTES;
    this.counters.sync_records_received += count;
    if (count === 0) return;
    const taken = this.options.dataplane.foreignLearn(message.records, peer.index);
    this.counters.sync_records_learned += taken;
    this.counters.sync_records_dropped += count - taken;
  }

  /** Sliding window (as IPsec's anti-replay): each sequence number is taken once, none older than the window. */
  private takeSequence(peer: PeerState, sequence: bigint): boolean {
    if (sequence > peer.newest) {
      const shift = sequence - peer.newest;
      peer.seen = shift >= REPLAY_WINDOW ? 1n : ((peer.seen << shift) | 1n) & ((1n << REPLAY_WINDOW) - 1n);
      peer.newest = sequence;
      return true;
    }
    const age = peer.newest - sequence;
    if (age >= REPLAY_WINDOW) return false;
    const bit = 1n << age;
    if (peer.seen & bit) return false;
    peer.seen |= bit;
    return true;
  }
}

/** The daemon's entry: reads the key file, binds, starts sending. Throws a message naming the field on failure. */
export async function startFlowSync(cluster: ClusterSettings, dataplane: FlowSyncDataplane): Promise<FlowSync> {
  const key = await readSyncKey(cluster.sync.keyFile);
  const sync = new FlowSync({ cluster, key, dataplane });
  await sync.start();
  const self = cluster.nodes.find((n) => n.name === cluster.node)!;
  log.info(`cluster sync: node ${cluster.node} on ${self.address}:${cluster.sync.port}, ${cluster.nodes.length - 1} other node(s)`);
  return sync;
}
