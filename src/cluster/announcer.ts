// What this node announces, and keeping GoBGP's RIB equal to it. Desired prefixes:
//   - every VIP (IPv4 /32, IPv6 /128) with at least one usable real server (health not down,
//     weight > 0, under its upper connection threshold when it has one), unless the node is
//     drained or stopping; sent to the peers whose `announce` has `vips`;
//   - every LIP of every service, sent to the peers whose `announce` has `lips` (replies of
//     established connections keep coming back while drained; withdrawn only on stop).
// The next hop is the node address (IPv4), or for an IPv6 prefix the node's IPv6 address on the
// same port: without one the prefix is not announced and status says why. Desired vs announced is
// diffed every RECONCILE_MS (which catches every state, health and threshold change within that
// time) and at once on drain, undrain and a fresh speaker session. Every announce and withdraw is
// one log line and one count.
import type { BgpPeer, ClusterSettings } from '../config/cluster-types.js';
import type { ServerTrafficStats } from '../dataplane/types.js';
import { log } from '../log.js';
import { effectiveWeight, ipFamily, type DesiredState, type PortModel, type Server } from '../model/index.js';
import type { ExportFilter, GobgpClient } from './gobgp-api.js';

export type PrefixKind = 'vips' | 'lips';
const KINDS: PrefixKind[] = ['vips', 'lips'];
/** Large community local data 1 of our tags; data 2 = the kind (1 vips, 2 lips); global admin = our ASN. */
const TAG_CLASS = 1;
const KIND_TAG: Record<PrefixKind, number> = { vips: 1, lips: 2 };
export const RECONCILE_MS = 500;

export interface DesiredPrefix {
  kind: PrefixKind;
  address: string;
  family: 4 | 6;
  nextHop: string;
}

export interface AnnouncerSources {
  state(): DesiredState;
  /** Per real server live connections (thresholds); undefined when the data plane cannot say. */
  servers(): ServerTrafficStats[] | undefined;
  /**
   * Whether a probe has answered for this health-checked server since the daemon started (absent:
   * no checker, every server counts). The data plane takes a new server as up at once, as IPVS with
   * keepalived does, but an announcement draws the routers' traffic to this node: a node starting
   * with every server dead must not announce the VIP for the fall × interval its checks take.
   */
  probedUp?(serverId: number): boolean;
}

export function prefixText(prefix: { address: string; family: 4 | 6 }): string {
  return `${prefix.address}/${prefix.family === 4 ? 32 : 128}`;
}

function keyOf(prefix: { kind: PrefixKind; address: string }): string {
  return `${prefix.kind} ${prefix.address}`;
}

/** A server that can take a new connection now (not held down by its health check or passive health). */
export function usable(server: Server, connections: number | undefined): boolean {
  if (effectiveWeight(server) <= 0) return false;
  return !(server.upperThreshold && connections !== undefined && connections >= server.upperThreshold);
}

/** Next hops by family: the node address and the other family's first address on the same port. */
export function nextHops(nodeAddress: string, ports: PortModel[]): { 4?: string; 6?: string; port?: string } {
  const port = ports.find((p) => p.addresses.some((a) => a.split('/')[0] === nodeAddress));
  const first = (family: 4 | 6) => port?.addresses.map((a) => a.split('/')[0]!).find((a) => ipFamily(a) === family);
  const own = ipFamily(nodeAddress) as 4 | 6;
  const result: { 4?: string; 6?: string; port?: string } = { [own]: nodeAddress, ...(port ? { port: port.name } : {}) };
  const other: 4 | 6 = own === 4 ? 6 : 4;
  const otherAddress = first(other);
  if (otherAddress) result[other] = otherAddress;
  return result;
}

/** The peers each kind goes to; kinds nobody is sent are left out. */
export function peersByKind(peers: BgpPeer[]): Record<PrefixKind, string[]> {
  return { vips: peers.filter((p) => p.announce.includes('vips')).map((p) => p.address), lips: peers.filter((p) => p.announce.includes('lips')).map((p) => p.address) };
}

/** GoBGP export filters: only kinds that some but not all peers are sent need one. */
export function exportFilters(cluster: ClusterSettings): ExportFilter[] {
  const byKind = peersByKind(cluster.bgp.peers);
  return KINDS.filter((k) => byKind[k].length > 0 && byKind[k].length < cluster.bgp.peers.length).map((kind) => ({
    name: `portcullis-${kind}`,
    largeCommunity: [cluster.bgp.asn, TAG_CLASS, KIND_TAG[kind]],
    peers: byKind[kind],
  }));
}

export interface AnnouncerCounters { announces: number; withdraws: number; failures: number }

export class Announcer {
  private client: GobgpClient | undefined;
  private readonly announced = new Map<string, { prefix: DesiredPrefix; uuid: Buffer }>();
  private queue: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private drainedFlag: boolean;
  private stoppingFlag = false;
  private readonly hops: { 4?: string; 6?: string; port?: string };
  private readonly byKind: Record<PrefixKind, string[]>;
  /** Prefixes wanted but not announceable, with why (status shows them). */
  private held = new Map<string, string>();
  readonly counters: AnnouncerCounters = { announces: 0, withdraws: 0, failures: 0 };

  constructor(private readonly cluster: ClusterSettings, ports: PortModel[],
    private readonly sources: AnnouncerSources, drained: boolean) {
    this.drainedFlag = drained;
    const self = cluster.nodes.find((n) => n.name === cluster.node)!;
    this.hops = nextHops(self.address, ports);
    this.byKind = peersByKind(cluster.bgp.peers);
  }

  get drained(): boolean { return this.drainedFlag; }

  /** Prefixes in GoBGP's RIB now, by kind. */
  announcedPrefixes(): DesiredPrefix[] {
    return [...this.announced.values()].map((a) => a.prefix);
  }

  /** What a peer is sent: the announced prefixes of the kinds in its `announce`. */
  announcedTo(peer: string): string[] {
    const kinds = KINDS.filter((k) => this.byKind[k].includes(peer));
    return this.announcedPrefixes().filter((p) => kinds.includes(p.kind)).map(prefixText);
  }

  /** Wanted prefixes that cannot be announced, "prefix: why". */
  notAnnounced(): string[] {
    return [...this.held.entries()].map(([prefix, why]) => `${prefix}: ${why}`);
  }

  start(): void {
    this.timer = setInterval(() => { void this.reconcile(); }, RECONCILE_MS);
    this.timer.unref();
  }

  /** A freshly configured gobgpd (its RIB holds none of our paths): announce everything again. */
  session(client: GobgpClient): Promise<void> {
    this.client = client;
    this.announced.clear();
    return this.reconcile();
  }

  /** The gobgpd went away, and our paths with it. */
  sessionLost(): void {
    this.client = undefined;
    if (this.announced.size > 0) log.warn(`bgp: ${this.announced.size} prefix(es) lost with gobgpd; announced again once it is back`);
    this.announced.clear();
  }

  setDrained(drained: boolean): Promise<void> {
    this.drainedFlag = drained;
    return this.reconcile();
  }

  /** Clean stop: withdraw everything, then no more changes. Resolves when GoBGP took every withdraw. */
  async withdrawAll(): Promise<void> {
    this.stoppingFlag = true;
    clearInterval(this.timer);
    await this.reconcile();
  }

  /** What should be in GoBGP's RIB now. */
  desired(): Map<string, DesiredPrefix> {
    const wanted = new Map<string, DesiredPrefix>();
    const held = new Map<string, string>();
    if (this.stoppingFlag) { this.held = held; return wanted; }
    const state = this.sources.state();
    const live = new Map((this.sources.servers() ?? []).map((s) => [s.id, s.activeConns + s.inactiveConns]));
    const add = (kind: PrefixKind, address: string) => {
      if (this.byKind[kind].length === 0) return;
      const family = ipFamily(address) as 4 | 6;
      const nextHop = this.hops[family];
      if (!nextHop) {
        held.set(prefixText({ address, family }), `no IPv${family} address on port ${this.hops.port ?? '?'} (the node address's port) to use as next hop`);
        return;
      }
      wanted.set(keyOf({ kind, address }), { kind, address, family, nextHop });
    };
    if (!this.drainedFlag) {
      const vips = new Set<string>();
      for (const service of state.services) {
        const proven = (server: Server) => !service.healthCheck || !this.sources.probedUp || this.sources.probedUp(server.id);
        if (service.servers.some((s) => usable(s, live.get(s.id)) && proven(s))) vips.add(service.vip);
      }
      for (const vip of vips) add('vips', vip);
    }
    for (const lip of new Set(state.services.flatMap((s) => s.localAddresses))) add('lips', lip);
    this.held = held;
    return wanted;
  }

  /** Diffs desired against announced and applies the difference, one reconcile at a time. */
  reconcile(): Promise<void> {
    const run = this.queue.then(() => this.applyDiff());
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async applyDiff(): Promise<void> {
    const client = this.client;
    if (!client) return;
    let wanted: Map<string, DesiredPrefix>;
    try {
      wanted = this.desired();
    } catch (error) {
      log.limited('error', 'bgp-desired', `bgp: cannot compute what to announce: ${(error as Error).message}`);
      return;
    }
    for (const [key, entry] of [...this.announced]) {
      const want = wanted.get(key);
      if (want && want.nextHop === entry.prefix.nextHop) continue;
      try {
        await client.deletePath(entry.uuid, entry.prefix.family);
      } catch (error) {
        this.failed('withdraw', entry.prefix, error);
        continue;
      }
      this.announced.delete(key);
      this.counters.withdraws++;
      log.info(`bgp: withdraw ${prefixText(entry.prefix)} (${entry.prefix.kind}${this.reasonGone(entry.prefix)})`);
    }
    for (const [key, prefix] of wanted) {
      if (this.announced.has(key)) continue;
      let uuid: Buffer;
      try {
        uuid = await client.addPath({
          address: prefix.address, family: prefix.family, nextHop: prefix.nextHop,
          largeCommunities: [[this.cluster.bgp.asn, TAG_CLASS, KIND_TAG[prefix.kind]]],
        });
      } catch (error) {
        this.failed('announce', prefix, error);
        continue;
      }
      if (this.client !== client) return;  // the session was lost meanwhile: its RIB is gone
      this.announced.set(key, { prefix, uuid });
      this.counters.announces++;
      log.info(`bgp: announce ${prefixText(prefix)} next hop ${prefix.nextHop} (${prefix.kind} to ${this.byKind[prefix.kind].join(', ')})`);
    }
  }

  private reasonGone(prefix: DesiredPrefix): string {
    if (this.stoppingFlag) return ': stopping';
    if (prefix.kind === 'vips' && this.drainedFlag) return ': drained';
    return prefix.kind === 'vips' ? ': no usable real server' : ': no longer a local address';
  }

  private failed(what: string, prefix: DesiredPrefix, error: unknown): void {
    this.counters.failures++;
    log.limited('error', `bgp-${what}-${prefix.address}`, `bgp: ${what} ${prefixText(prefix)} failed: ${(error as Error).message}`);
  }
}
