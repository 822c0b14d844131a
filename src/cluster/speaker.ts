// The BGP speaker, GoBGP, seen from the daemon. Managed: the daemon runs gobgpd itself (no config
// file: everything is configured over its API), sends its log to ours with a "gobgpd:" prefix and
// restarts it with back-off when it dies. External: a gobgpd already runs at cluster.bgp.api; the
// daemon configures it (StartBgp when it has no global config yet, then the peers) and reconnects
// when it goes away. Either way, each time a gobgpd is freshly configured the speaker hands a
// client to `onSession`, whose owner (the announcer) re-adds every path: a restarted gobgpd
// remembers nothing. gobgpd runs in the daemon's network namespace: its BGP sessions to the
// routers go through the exception path interface (pcx-<port>) of the port holding the node
// address, like any host socket (docs/cluster.md).
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { BgpSettings } from '../config/cluster-types.js';
import { log } from '../log.js';
import { GobgpClient, type ExportFilter, type PeerStatus } from './gobgp-api.js';

const READY_TIMEOUT_MS = 10_000;
const FIRST_BACKOFF_MS = 500;
const MAX_BACKOFF_MS = 30_000;
/** A gobgpd that ran this long without dying resets the back-off. */
const STABLE_AFTER_MS = 60_000;
const STOP_GRACE_MS = 3_000;
/** util-linux (essential on Debian). */
const SETPRIV = '/usr/bin/setpriv';

export interface SpeakerEvents {
  /** A configured gobgpd is ready; its RIB is empty of our paths. */
  onSession(client: GobgpClient): Promise<void>;
  /** The gobgpd of the last onSession is gone (its paths with it). */
  onSessionLost(): void;
  /** A peer's session state changed (WatchEvent). */
  onPeer?(status: PeerStatus): void;
}

export class Speaker {
  private client: GobgpClient | undefined;
  private child: ChildProcess | undefined;
  private stopping = false;
  private backoffMs = FIRST_BACKOFF_MS;
  private retryTimer: NodeJS.Timeout | undefined;
  private cancelWatch: (() => void) | undefined;
  private generation = 0;
  /** gobgpd (re)starts since the daemon started, the first one included. */
  starts = 0;
  /** Managed: gobgpd exits the daemon did not ask for. External: losses of the connection. */
  losses = 0;

  constructor(private readonly bgp: BgpSettings, private readonly filters: ExportFilter[], private readonly events: SpeakerEvents) {}

  /** The client of the configured gobgpd, or undefined while none is (re)starting. */
  get session(): GobgpClient | undefined {
    return this.client;
  }

  /** Process id of the managed gobgpd (tests kill it to prove the restart). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Starts (managed) or connects (external); resolves once the first session is ready, rejects if it cannot be. */
  async start(): Promise<void> {
    await this.bringUp();
  }

  /** Stops the watch and, when managed, gobgpd (SIGTERM, then SIGKILL after a grace period). */
  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.retryTimer);
    this.cancelWatch?.();
    this.client?.close();
    this.client = undefined;
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => { child.kill('SIGKILL'); }, STOP_GRACE_MS);
      child.once('exit', () => { clearTimeout(timer); resolve(); });
      child.kill('SIGTERM');
    });
    log.info('bgp: gobgpd stopped');
  }

  private async bringUp(): Promise<void> {
    const generation = ++this.generation;
    // Managed: a gobgpd that dies before its API answers fails this attempt at once.
    const died = this.bgp.speaker === 'managed' ? this.spawnGobgpd(generation) : undefined;
    const client = new GobgpClient(this.bgp.api);
    try {
      const ready = client.waitReady(READY_TIMEOUT_MS);
      await (died ? Promise.race([ready, died.then((why) => { throw new Error(`gobgpd exited before its API answered (${why})`); })]) : ready);
      await this.configure(client);
    } catch (error) {
      client.close();
      throw error;
    }
    if (this.stopping || generation !== this.generation) { client.close(); return; }
    this.client = client;
    this.starts++;
    this.cancelWatch = client.watchPeers(
      (status) => {
        log.info(`bgp: peer ${status.address} ${status.state}`);
        this.events.onPeer?.(status);
      },
      (error) => { if (generation === this.generation && this.client === client) this.lost(`the event stream ended${error ? `: ${error.message}` : ''}`); },
    );
    await this.events.onSession(client);
  }

  /** Global config, export policy, peers: what a fresh gobgpd needs before any path. */
  private async configure(client: GobgpClient): Promise<void> {
    const global = await client.getGlobal();
    if (global.asn === 0) {
      await client.startBgp({ asn: this.bgp.asn, routerId: this.bgp.routerId, listenPort: this.bgp.listenPort });
    } else if (this.bgp.speaker === 'managed' || global.asn !== this.bgp.asn) {
      // A managed gobgpd is ours and fresh; an external one running another AS is not the one the config means.
      throw new Error(`gobgpd at ${this.bgp.api} already runs AS ${global.asn} router id ${global.routerId}, the config says AS ${this.bgp.asn}`);
    } else {
      log.info(`bgp: external gobgpd at ${this.bgp.api} already runs AS ${global.asn}: adding our peers and paths to it`);
    }
    await client.setExportFilters(this.filters).catch((error: Error) => {
      if (!/exist/i.test(error.message)) throw error;  // an external gobgpd we configured before
    });
    for (const peer of this.bgp.peers) {
      await client.addPeer({ address: peer.address, asn: peer.asn, holdTime: peer.holdTime, ...(peer.port ? { port: peer.port } : {}) })
        .catch((error: Error) => { if (!/exist/i.test(error.message)) throw error; });
    }
    log.info(`bgp: gobgpd at ${this.bgp.api} runs AS ${this.bgp.asn} router id ${this.bgp.routerId}, `
      + `${this.bgp.peers.length} peer(s): ${this.bgp.peers.map((p) => `${p.address} AS ${p.asn} (${p.announce.join('+')})`).join(', ')}`);
  }

  /** Starts gobgpd; resolves with how it ended when it exits (never rejects). */
  private spawnGobgpd(generation: number): Promise<string> {
    const args = ['--api-hosts', this.bgp.api, '--log-plain', '--pprof-disable', '--log-level', 'info'];
    log.info(`bgp: starting ${this.bgp.gobgpd} ${args.join(' ')}`);
    // setpriv execs gobgpd (same pid) with the parent-death signal set: a daemon killed with -9
    // takes its gobgpd along, so the routers drop this node's routes at once instead of a
    // gobgpd orphan announcing VIPs nobody forwards (and holding the API port a restart needs).
    // detached: its own process group, so a Ctrl-C at the terminal reaches the daemon only, which
    // withdraws through gobgpd before stopping it.
    const child = spawn(SETPRIV, ['--pdeathsig', 'KILL', '--', this.bgp.gobgpd, ...args], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    this.child = child;
    const startedAt = Date.now();
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream }).on('line', (line) => log.info(`gobgpd: ${line}`));
    }
    return new Promise((resolve) => {
      child.once('error', (error) => {
        log.error(`bgp: cannot run ${this.bgp.gobgpd}: ${error.message}`);
        resolve(error.message);
      });
      child.once('exit', (code, signal) => {
        const why = signal ?? `code ${code}`;
        resolve(why);
        // Only a gobgpd whose session was up is "lost" here; one that died starting fails its bringUp.
        if (this.stopping || generation !== this.generation || !this.client) return;
        if (Date.now() - startedAt > STABLE_AFTER_MS) this.backoffMs = FIRST_BACKOFF_MS;
        this.lost(`gobgpd exited (${why})`);
      });
    });
  }

  /** The session is gone: tell the announcer, then bring a new one up after the back-off. */
  private lost(why: string): void {
    if (this.stopping) return;
    this.losses++;
    this.generation++;  // a late event from the old one is ignored
    this.cancelWatch?.();
    this.cancelWatch = undefined;
    this.client?.close();
    this.client = undefined;
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    this.events.onSessionLost();
    const delay = this.backoffMs;
    this.backoffMs = Math.min(MAX_BACKOFF_MS, this.backoffMs * 2);
    log.error(`bgp: ${why}; ${this.bgp.speaker === 'managed' ? 'restarting gobgpd' : `reconnecting to ${this.bgp.api}`} in ${delay} ms`);
    this.scheduleRetry(delay);
  }

  private scheduleRetry(delay: number): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      if (this.stopping) return;
      this.bringUp().catch((error: Error) => {
        if (!this.stopping && !this.client) this.lost(`bringing the speaker back failed: ${error.message}`);
      });
    }, delay);
    this.retryTimer.unref();
  }
}
