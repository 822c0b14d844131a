// Prometheus exposition (prom-client): every scrape reads the data plane once through
// the StatsHub and sets each metric from that one reading. Counters are the data
// plane's cumulative counters (reset + inc, since prom-client counters have no set);
// names and labels follow Prometheus conventions (portcullis_ prefix, _total for
// counters, _bytes for bytes). The list is documented in docs/operations.md ("Observability").
import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Registry } from 'prom-client';
import { displayIp, type DesiredState } from '../model/index.js';
import type { StatsHub } from './stats-hub.js';
import type { ClusterNode } from '../cluster/node.js';
import type { TakeoverRecord } from '../daemon/takeover.js';

export interface MetricsContext {
  hub: StatsHub;
  /** The current desired state (service keys and server addresses for labels). */
  state(): DesiredState;
  /** Connection table capacity over all workers. */
  connectionCapacity: number;
  /** Cluster membership (BGP, drain); absent = standalone, no cluster metrics. */
  cluster?: ClusterNode;
  /** The hand-over this daemon started with (portcullis run --takeover); absent = a plain start. */
  lastTakeover?: TakeoverRecord;
}

const REGION_OUTCOMES = ['held', 'created', 'adopted'] as const;
const REGION_DROPS = [['uncommitted', 'uncommitted'], ['stale', 'stale'], ['duplicate', 'duplicate'],
  ['synproxy_pending', 'synproxyPending'], ['invalid', 'invalid']] as const;

const SESSION_STATES = ['UNKNOWN', 'IDLE', 'CONNECT', 'ACTIVE', 'OPENSENT', 'OPENCONFIRM', 'ESTABLISHED'] as const;

const SERVICE_LABELS = ['protocol', 'vip', 'port'] as const;
const SERVER_LABELS = [...SERVICE_LABELS, 'server', 'server_port'] as const;
const LOCAL_ADDRESS_LABELS = [...SERVICE_LABELS, 'local_address'] as const;
const TRAFFIC = [
  ['connections_total', 'Connections scheduled', 'conns'],
  ['in_packets_total', 'Packets client to server', 'inPackets'],
  ['out_packets_total', 'Packets server to client', 'outPackets'],
  ['in_bytes_total', 'L3 bytes client to server', 'inBytes'],
  ['out_bytes_total', 'L3 bytes server to client', 'outBytes'],
] as const;
const PORT_COUNTERS = [
  ['rx_packets_total', 'rxPackets'], ['tx_packets_total', 'txPackets'], ['rx_bytes_total', 'rxBytes'],
  ['tx_bytes_total', 'txBytes'], ['rx_missed_total', 'rxMissed'], ['rx_errors_total', 'rxErrors'], ['tx_errors_total', 'txErrors'],
] as const;

type Labels = Record<string, string | number>;

/** A registry whose refresh() sets every metric from one reading of the data plane. */
export function createMetrics(context: MetricsContext): { registry: Registry; refresh(): void } {
  const registry = new Registry();
  const counter = (name: string, help: string, labelNames: readonly string[] = []) =>
    new Counter({ name: `portcullis_${name}`, help, labelNames, registers: [registry] });
  const gauge = (name: string, help: string, labelNames: readonly string[] = []) =>
    new Gauge({ name: `portcullis_${name}`, help, labelNames, registers: [registry] });
  const setCounter = (c: Counter, labels: Labels, value: number) => c.inc(labels, Math.max(0, value));

  const snapshotVersion = gauge('snapshot_version', 'Version of the published config snapshot');
  const workerVersion = gauge('worker_snapshot_version', 'Snapshot version each worker runs', ['worker']);
  const workerBusy = counter('worker_busy_cycles_total', 'TSC cycles in worker loop iterations that received packets', ['worker']);
  const workerIdle = counter('worker_idle_cycles_total', 'TSC cycles in worker loop iterations that received nothing (sleeps included)', ['worker']);
  const workerRatio = gauge('worker_busy_ratio', 'Busy share of the worker loop over the last 2 s estimator interval', ['worker']);
  const tscHz = gauge('tsc_hz', 'TSC frequency (cycles per second) to turn cycle counters into seconds');
  const connections = gauge('connections', 'Connections in the connection tables');
  const capacity = gauge('connection_capacity', 'Connection table capacity over all workers');
  const drops = counter('drops_total', 'Packets dropped, by reason', ['reason']);
  const events = counter('events_total', 'Data plane events, by kind', ['event']);
  const services = gauge('services', 'Virtual services configured');
  const servers = gauge('real_servers', 'Real servers configured');
  const portCounters = PORT_COUNTERS.map(([name, key]) => [counter(`port_${name}`, `Port ${name.replace(/_total$/, '').replace(/_/g, ' ')} (ethdev counter)`, ['port']), key] as const);
  const portLinkUp = gauge('port_link_up', 'Port link state as the daemon polls it: 1 up, 0 down', ['port']);
  const portLinkChanges = counter('port_link_changes_total', 'Port link state changes (up<->down) since start', ['port']);
  const serviceTraffic = TRAFFIC.map(([name, help, key]) => [counter(`service_${name}`, `${help}, per virtual service`, SERVICE_LABELS), key] as const);
  const serverTraffic = TRAFFIC.map(([name, help, key]) => [counter(`real_server_${name}`, `${help}, per real server`, SERVER_LABELS), key] as const);
  const serviceDefenseDrops = counter('service_defense_drops_total', 'Packets a flood defence or the fragment policy dropped, per virtual service and reason (also in drops_total)', [...SERVICE_LABELS, 'reason']);
  const serviceActive = gauge('service_active_connections', 'Connections in ESTABLISHED, per virtual service', SERVICE_LABELS);
  const serviceInactive = gauge('service_inactive_connections', 'Connections in any other state, per virtual service', SERVICE_LABELS);
  const serviceSynproxyEngaged = gauge('service_synproxy_engaged_workers', 'SYNPROXY auto: workers on which it is engaged now (a SYN rate above the service\'s threshold), per virtual service', SERVICE_LABELS);
  const serverActive = gauge('real_server_active_connections', 'Connections in ESTABLISHED, per real server', SERVER_LABELS);
  const serverInactive = gauge('real_server_inactive_connections', 'Connections in any other state, per real server', SERVER_LABELS);
  const serverWeight = gauge('real_server_weight', 'Configured weight (0 = quiesced)', SERVER_LABELS);
  const serverUp = gauge('real_server_up', 'Health check verdict: 1 up, 0 down (only servers of services with a check)', SERVER_LABELS);
  const watchStreams = gauge('watch_streams', 'WatchStats streams open');
  const watchQueued = gauge('watch_queued_messages', 'WatchStats messages written and not yet taken by a client, all streams');
  const watchSkipped = counter('watch_skipped_ticks_total', 'WatchStats ticks not sent because the client had not read the previous messages');
  const watchRefused = counter('watch_refused_streams_total', 'WatchStats streams refused: the caller had the most open already');
  const serverPassiveDown = gauge('real_server_passive_down', 'Passive health: 1 while the real server is backed off for refusing connections, else 0 (only servers of services with passive_health)', SERVER_LABELS);
  const serverIcmpUnreachable = counter('real_server_icmp_unreachable_total', 'ICMP destination unreachable about the real server\'s UDP connections (passive health evidence)', SERVER_LABELS);
  const serverResets = counter('real_server_resets_total', 'RSTs the real server sent on opening or established TCP connections (passive health evidence)', SERVER_LABELS);
  const serverPersistent = gauge('real_server_persistent_connections', 'Live persistence templates pointing at the real server (ipvsadm PersistConn)', SERVER_LABELS);
  const lipConnections = gauge('local_address_connections', 'Live FullNAT connections of the service using the local address (--get-laddr CONNS)', LOCAL_ADDRESS_LABELS);
  const lipConflicts = counter('local_address_conflicts_total', 'New connections that found every lport of the local address in use (--get-laddr CONFLICTS)', LOCAL_ADDRESS_LABELS);

  const bgpPeerState = gauge('bgp_peer_state', 'BGP session state per peer: 1 for the state it is in, 0 for the others', ['peer', 'state']);
  const bgpPeerUp = gauge('bgp_peer_established', 'BGP session established: 1 yes, 0 no', ['peer']);
  const bgpAnnounced = gauge('bgp_announced_prefixes', 'Prefixes this node has in its BGP speaker now, by kind (vips, lips)', ['kind']);
  const bgpAnnounces = counter('bgp_announces_total', 'Prefixes announced (added to the BGP speaker) since start');
  const bgpWithdraws = counter('bgp_withdraws_total', 'Prefixes withdrawn (deleted from the BGP speaker) since start');
  const clusterDrained = gauge('cluster_drained', 'This node is drained (VIPs withdrawn): 1 yes, 0 no');
  const clusterCounters = counter('cluster_events_total', 'Cluster counters (BGP, speaker restarts, ownership sync, hand-off), by name', ['event']);

  const regionOutcome = gauge('conn_region_outcome', 'What start-up did with the connection region: 1 for its outcome (held, created, adopted), 0 for the others', ['outcome']);
  const regionAdopted = gauge('conn_region_adopted_connections', 'Connections adopted from the connection region at start (all workers)');
  const regionDropped = gauge('conn_region_dropped_records', 'Records found in the connection region at start and not adopted, by reason', ['reason']);
  const regionAdoptSeconds = gauge('conn_region_adopt_seconds', 'The slowest worker\'s adoption of the connection region at start');
  const regionRejected = gauge('conn_region_rejected', 'An existing connection region was incompatible or corrupt and set aside at start: 1 yes, 0 no');
  // Only after a takeover: a 0 would read as a perfect one.
  const takeoverGap = context.lastTakeover
    ? gauge('takeover_gap_seconds', 'Time without forwarding during the hand-over this daemon started with (portcullis run --takeover)') : undefined;

  function refreshCluster(node: ClusterNode): void {
    for (const peer of node.settings.bgp.peers) {
      const now = node.peerStateNow(peer.address);
      for (const state of SESSION_STATES) bgpPeerState.set({ peer: peer.address, state }, state === now ? 1 : 0);
      bgpPeerUp.set({ peer: peer.address }, now === 'ESTABLISHED' ? 1 : 0);
    }
    const announced = node.announcedPrefixes();
    for (const kind of ['vips', 'lips']) bgpAnnounced.set({ kind }, announced.filter((p) => p.kind === kind).length);
    const counters = node.counters();
    setCounter(bgpAnnounces, {}, counters.bgp_announces ?? 0);
    setCounter(bgpWithdraws, {}, counters.bgp_withdraws ?? 0);
    clusterDrained.set(node.drained ? 1 : 0);
    for (const [event, value] of Object.entries(counters)) setCounter(clusterCounters, { event }, value);
  }

  function refresh(): void {
    registry.resetMetrics();
    if (context.cluster) refreshCluster(context.cluster);
    const stats = context.hub.stats();
    const state = context.state();
    const region = stats.connRegion;
    if (region) {
      for (const outcome of REGION_OUTCOMES) regionOutcome.set({ outcome }, region.outcome === outcome ? 1 : 0);
      regionAdopted.set(region.adopted);
      for (const [reason, key] of REGION_DROPS) regionDropped.set({ reason }, region.dropped[key]);
      regionAdoptSeconds.set(region.adoptUs / 1e6);
      regionRejected.set(region.rejectedReason ? 1 : 0);
    }
    if (context.lastTakeover) takeoverGap?.set(context.lastTakeover.gapUs / 1e6);
    snapshotVersion.set(stats.snapshotVersion);
    tscHz.set(stats.tscHz ?? 0);
    stats.workerVersions.forEach((v, worker) => workerVersion.set({ worker }, v));
    context.hub.workerLoad(stats).forEach((load, worker) => {
      setCounter(workerBusy, { worker }, load.busyCycles);
      setCounter(workerIdle, { worker }, load.idleCycles);
      workerRatio.set({ worker }, load.busyRatio);
    });
    connections.set(stats.connections);
    capacity.set(context.connectionCapacity);
    for (const [reason, value] of Object.entries(stats.drops)) setCounter(drops, { reason }, value);
    for (const [event, value] of Object.entries(stats.events)) setCounter(events, { event }, value);
    for (const port of stats.ports) for (const [metric, key] of portCounters) setCounter(metric, { port: port.name }, port[key]);
    for (const port of stats.ports) {
      if (port.linkUp !== undefined) portLinkUp.set({ port: port.name }, port.linkUp ? 1 : 0);
      if (port.linkChanges !== undefined) setCounter(portLinkChanges, { port: port.name }, port.linkChanges);
    }
    const watch = context.hub.watch;
    watchStreams.set(watch.streams());
    watchQueued.set(watch.queuedMessages());
    setCounter(watchSkipped, {}, watch.skippedTicks);
    setCounter(watchRefused, {}, watch.refusedStreams);
    services.set(state.services.length);
    servers.set(state.services.reduce((n, s) => n + s.servers.length, 0));
    const serviceById = new Map(stats.services.map((t) => [t.id, t]));
    const serverById = new Map(stats.servers.map((t) => [t.id, t]));
    const defenseById = new Map((stats.defense ?? []).map((d) => [d.id, d]));
    // Joined on canonical text: labels carry the model's spelling whatever the data plane writes.
    const lipsOf = (id: number) => new Map(stats.localAddresses.filter((l) => l.serviceId === id).map((l) => [displayIp(l.address), l]));
    for (const service of state.services) {
      const labels = { protocol: service.protocol, vip: service.vip, port: service.port };
      const traffic = serviceById.get(service.id);
      for (const [metric, key] of serviceTraffic) setCounter(metric, labels, traffic?.[key] ?? 0);
      serviceActive.set(labels, traffic?.activeConns ?? 0);
      for (const [reason, value] of Object.entries(defenseById.get(service.id)?.dropped ?? {})) setCounter(serviceDefenseDrops, { ...labels, reason }, value);
      serviceInactive.set(labels, traffic?.inactiveConns ?? 0);
      serviceSynproxyEngaged.set(labels, defenseById.get(service.id)?.synproxyEngagedWorkers ?? 0);
      const lips = lipsOf(service.id);
      for (const address of service.localAddresses) {
        const lipLabels = { ...labels, local_address: address };
        lipConnections.set(lipLabels, lips.get(address)?.connections ?? 0);
        setCounter(lipConflicts, lipLabels, lips.get(address)?.conflicts ?? 0);
      }
      for (const server of service.servers) {
        const serverLabels = { ...labels, server: server.address, server_port: server.port };
        const t = serverById.get(server.id);
        for (const [metric, key] of serverTraffic) setCounter(metric, serverLabels, t?.[key] ?? 0);
        serverActive.set(serverLabels, t?.activeConns ?? 0);
        serverInactive.set(serverLabels, t?.inactiveConns ?? 0);
        serverWeight.set(serverLabels, server.weight);
        serverPersistent.set(serverLabels, t?.persistentConns ?? 0);
        if (service.healthCheck) serverUp.set(serverLabels, server.healthDown ? 0 : 1);
        if (service.passiveHealth) serverPassiveDown.set(serverLabels, server.passiveDown ? 1 : 0);
        setCounter(serverIcmpUnreachable, serverLabels, t?.icmpUnreachable ?? 0);
        setCounter(serverResets, serverLabels, t?.resets ?? 0);
      }
    }
  }
  return { registry, refresh };
}

export interface MetricsServer {
  /** "host:port" actually bound. */
  address: string;
  close(): Promise<void>;
}

/** Serves GET /metrics on "host:port". Rejects when the address cannot be bound. */
export function startMetricsServer(listen: string, context: MetricsContext): Promise<MetricsServer> {
  const { registry, refresh } = createMetrics(context);
  const server: Server = createServer((request, response) => {
    if (request.method !== 'GET' || (request.url ?? '').split('?')[0] !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try GET /metrics\n');
      return;
    }
    Promise.resolve()
      .then(() => { refresh(); return registry.metrics(); })
      .then((text) => response.writeHead(200, { 'content-type': registry.contentType }).end(text),
        (error: Error) => response.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics unavailable: ${error.message}\n`));
  });
  const separator = listen.lastIndexOf(':');
  const host = listen.slice(0, separator).replace(/^\[|\]$/g, '');
  const port = Number(listen.slice(separator + 1));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const bound = server.address();
      const boundPort = typeof bound === 'object' && bound ? bound.port : port;
      resolve({
        address: `${listen.slice(0, separator)}:${boundPort}`,
        close: () => new Promise<void>((done) => { server.closeAllConnections(); server.close(() => done()); }),
      });
    });
  });
}
