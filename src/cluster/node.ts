// This gateway as a member of a cluster: the BGP speaker (speaker.ts), what it announces
// (announcer.ts), the drain state (kept in "<state_file>.cluster" so a restarted daemon stays
// drained), and the status the API and Prometheus show. Built only when the config has a
// `cluster` section.
import { readFile } from 'node:fs/promises';
import type { ClusterSettings } from '../config/cluster-types.js';
import { log } from '../log.js';
import type { DesiredState, PortModel } from '../model/index.js';
import type { DataplaneStats, TrafficStats } from '../dataplane/types.js';
import { writeStateFile } from '../state/file.js';
import { Announcer, exportFilters, prefixText } from './announcer.js';
import type { PeerStatus, SessionState } from './gobgp-api.js';
import { Speaker } from './speaker.js';

/** Longest a clean stop waits for GoBGP to have sent every withdraw (its adj-out empty). */
const WITHDRAW_SETTLE_MS = 2_000;
/** Peer states for metrics scrapes are polled this often (besides the event stream), so a scrape never waits on gobgpd. */
const PEER_POLL_MS = 2_000;

export type ClusterStats = Pick<DataplaneStats, 'connections' | 'services' | 'servers' | 'events' | 'drops'>;

export interface ClusterSources {
  state(): DesiredState;
  /** The data plane's counters: live connections (drain), per-server connections (thresholds), the
   *  events and drops other cluster parts turn into their counters (addCounters). */
  stats(): ClusterStats | undefined;
  /** The health checker's word: a probe has seen this server up since start (AnnouncerSources.probedUp). */
  probedUp?(serverId: number): boolean;
}

/**
 * What a drain waits for: TCP connections in ESTABLISHED and every live UDP flow. TCP entries in
 * closing states (TIME_WAIT lingers 120 s by default) carry no user's data, so they are not waited for.
 */
export function connectionsInUse(state: DesiredState, services: TrafficStats[]): number {
  const protocol = new Map(state.services.map((s) => [s.id, s.protocol]));
  return services.reduce((total, t) => total + (protocol.get(t.id) === 'udp' ? t.activeConns + t.inactiveConns : t.activeConns), 0);
}

export interface PeerView extends PeerStatus {
  announce: Array<'vips' | 'lips'>;
  announced: string[];
}

export interface ClusterView {
  node: string;
  drained: boolean;
  speaker: 'managed' | 'external';
  speakerUp: boolean;
  peers: PeerView[];
  announced: string[];
  notAnnounced: string[];
  /** Established TCP connections and live UDP flows (connectionsInUse). */
  connections: number;
  /** Every entry of the connection tables, closing TCP states included. */
  connectionsAll: number;
  counters: Record<string, number>;
}

/** Where the drain state lives: beside the state file, so one directory holds what survives a restart. */
export function drainFileOf(stateFile: string): string {
  return `${stateFile}.cluster`;
}

async function readDrained(file: string): Promise<boolean> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw new Error(`cannot read the drain state ${file}: ${(error as Error).message}`);
  }
  try {
    return (JSON.parse(text) as { drained?: unknown }).drained === true;
  } catch {
    // Refusing to start over it would be worse: announcing is the normal state, and it is logged.
    log.error(`drain state ${file} is not JSON: starting undrained`);
    return false;
  }
}

export class ClusterNode {
  private readonly speaker: Speaker;
  private readonly announcer: Announcer;
  private readonly peerStates = new Map<string, SessionState>();
  /** Named counters other parts of the cluster (sync, hand-off) may add to status and metrics. */
  private readonly extraCounters: Array<(stats: ClusterStats | undefined) => Record<string, number>> = [];
  private changing: Promise<unknown> = Promise.resolve();
  private peerPoll: NodeJS.Timeout | undefined;

  private constructor(readonly settings: ClusterSettings, ports: PortModel[], private readonly sources: ClusterSources,
    private readonly drainFile: string, drained: boolean) {
    this.announcer = new Announcer(settings, ports, {
      state: sources.state,
      servers: () => sources.stats()?.servers,
      ...(sources.probedUp ? { probedUp: sources.probedUp } : {}),
    }, drained);
    this.speaker = new Speaker(settings.bgp, exportFilters(settings), {
      onSession: (client) => this.announcer.session(client),
      onSessionLost: () => { this.peerStates.clear(); this.announcer.sessionLost(); },
      onPeer: (status) => this.peerStates.set(status.address, status.state),
    });
  }

  /** Reads the drain state, starts (or connects to) gobgpd, announces; rejects when the speaker cannot be brought up. */
  static async start(settings: ClusterSettings, ports: PortModel[], sources: ClusterSources, stateFile: string): Promise<ClusterNode> {
    const drainFile = drainFileOf(stateFile);
    const drained = await readDrained(drainFile);
    if (drained) log.warn(`cluster: node ${settings.node} starts DRAINED (${drainFile}): VIPs stay withdrawn until "portcullis undrain"`);
    const node = new ClusterNode(settings, ports, sources, drainFile, drained);
    try {
      await node.speaker.start();
    } catch (error) {
      await node.speaker.stop();
      throw error;
    }
    node.announcer.start();
    node.peerPoll = setInterval(() => { void node.pollPeers(); }, PEER_POLL_MS);
    node.peerPoll.unref();
    await node.pollPeers();
    return node;
  }

  get drained(): boolean { return this.announcer.drained; }

  /** Adds named counters to status and metrics (the ownership sync and hand-off register theirs);
   *  `source` gets the data plane's stats read once for the whole status or scrape. */
  addCounters(source: (stats: ClusterStats | undefined) => Record<string, number>): void {
    this.extraCounters.push(source);
  }

  /** Drain (true) or undrain (false): written to the drain file first, then applied. One at a time. */
  setDrained(drained: boolean, by: string): Promise<void> {
    const run = this.changing.then(async () => {
      if (this.announcer.drained === drained) return;
      await writeStateFile(this.drainFile, `${JSON.stringify({ drained, at: new Date().toISOString(), by })}\n`);
      log.info(`cluster: node ${this.settings.node} ${drained ? 'DRAINED' : 'undrained'} by ${by}`);
      await this.announcer.setDrained(drained);
    });
    this.changing = run.catch(() => undefined);
    return run;
  }

  private async pollPeers(): Promise<void> {
    const peers = await this.speaker.session?.listPeers().catch(() => undefined);
    for (const peer of peers ?? []) this.peerStates.set(peer.address, peer.state);
  }

  /** Clean stop: withdraw everything, wait (bounded) until GoBGP has sent it, then stop the speaker. */
  async stop(): Promise<void> {
    clearInterval(this.peerPoll);
    await this.announcer.withdrawAll();
    const client = this.speaker.session;
    const deadline = Date.now() + WITHDRAW_SETTLE_MS;
    while (client && Date.now() < deadline) {
      const peers = await client.listPeers().catch(() => []);
      if (peers.every((p) => p.state !== 'ESTABLISHED' || p.advertised === 0)) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await this.speaker.stop();
  }

  /** Process id of a managed gobgpd. */
  get speakerPid(): number | undefined { return this.speaker.pid; }

  counters(stats = this.sources.stats()): Record<string, number> {
    const c = this.announcer.counters;
    const result: Record<string, number> = {
      bgp_announces: c.announces,
      bgp_withdraws: c.withdraws,
      bgp_failures: c.failures,
      bgp_speaker_starts: this.speaker.starts,
      bgp_speaker_losses: this.speaker.losses,
    };
    for (const source of this.extraCounters) Object.assign(result, source(stats));
    return result;
  }

  /** Peer state as last seen by the event stream (no call to gobgpd): for metrics scrapes. */
  peerStateNow(address: string): SessionState {
    return this.speaker.session ? this.peerStates.get(address) ?? 'UNKNOWN' : 'UNKNOWN';
  }

  announcedPrefixes(): Array<{ kind: string; prefix: string }> {
    return this.announcer.announcedPrefixes().map((p) => ({ kind: p.kind, prefix: prefixText(p) }));
  }

  async status(): Promise<ClusterView> {
    const client = this.speaker.session;
    const live = client ? await client.listPeers().catch(() => undefined) : undefined;
    const stats = this.sources.stats();
    const peers = this.settings.bgp.peers.map((peer): PeerView => {
      const found = live?.find((p) => p.address === peer.address);
      return {
        address: peer.address,
        asn: peer.asn,
        state: found?.state ?? 'UNKNOWN',
        uptimeSeconds: found?.uptimeSeconds ?? 0,
        messagesReceived: found?.messagesReceived ?? 0,
        messagesSent: found?.messagesSent ?? 0,
        advertised: found?.advertised ?? 0,
        received: found?.received ?? 0,
        announce: peer.announce,
        announced: this.announcer.announcedTo(peer.address),
      };
    });
    return {
      node: this.settings.node,
      drained: this.drained,
      speaker: this.settings.bgp.speaker,
      speakerUp: live !== undefined,
      peers,
      announced: this.announcer.announcedPrefixes().map((p) => `${p.kind} ${prefixText(p)}`),
      notAnnounced: this.announcer.notAnnounced(),
      connections: stats ? connectionsInUse(this.sources.state(), stats.services) : 0,
      connectionsAll: stats?.connections ?? 0,
      counters: this.counters(stats),
    };
  }
}
