// NAT session logging, the control side: every drain_interval_ms the workers' session rings
// are drained through the addon (never on a worker), the records placed on the wall clock and
// handed to the configured sinks — IPFIX collectors over UDP and/or a JSON lines file. Losses
// are counted where they happen: a full worker ring (session_events_lost, data plane), a JSON
// file that falls behind (session_log_json_lines_dropped), a send that fails
// (session_log_ipfix_send_errors).
import type { DataplaneAddon } from '../dataplane/types.js';
import { countControlEvent } from '../metrics/control-events.js';
import { log } from '../log.js';
import type { TimedRecord } from './ipfix.js';
import { IpfixUdpExporter } from './ipfix-udp.js';
import { JsonLinesWriter } from './json-lines.js';
import { decodeSessionRecords, toWallClockMs, type SessionRecord } from './records.js';
import type { SessionLogSettings } from './settings.js';

export type SessionLogDataplane = Pick<DataplaneAddon, 'sessionLogDrain'>;

/** Records taken per addon call, and calls per tick at most (the event loop is never held long). */
const DRAIN_BATCH = 16384;
const DRAIN_CALLS_PER_TICK = 8;

const PROTOCOL_NAMES: Record<number, string> = { 6: 'tcp', 17: 'udp' };

export interface SessionLogOptions {
  /** Wall clock, ms since the epoch. */
  now?: () => number;
  /** Listen for SIGHUP (reopen the JSON file); the daemon does, tests need not. */
  handleSighup?: boolean;
}

/** One record as a JSON line (docs/operations.md, "Session logs", lists the fields). */
export function sessionJsonLine(t: TimedRecord, startKnown: boolean): string {
  const r = t.record;
  const line: Record<string, unknown> = {
    event: r.kind,
    time: new Date(t.timeMs).toISOString(),
    start: startKnown ? new Date(t.startMs).toISOString() : null,
    protocol: PROTOCOL_NAMES[r.protocol] ?? r.protocol,
    client_addr: r.client.text, client_port: r.clientPort,
    vip_addr: r.vip.text, vip_port: r.vipPort,
    local_addr: r.local.text, local_port: r.localPort,
    server_addr: r.server.text, server_port: r.serverPort,
    method: r.nat64 ? 'nat64' : r.method,
    state: r.state,
    service_id: r.serviceId, server_id: r.serverId,
  };
  if (r.kind === 'end') {
    line.cause = r.cause;
    line.packets_in = r.packetsIn;
    line.packets_out = r.packetsOut;
    line.bytes_in = r.bytesIn;
    line.bytes_out = r.bytesOut;
  }
  return JSON.stringify(line);
}

export class SessionLog {
  private readonly ipfix: IpfixUdpExporter[];
  private readonly json: JsonLinesWriter | undefined;
  private readonly now: () => number;
  /** When this process began logging: the start given to connections that predate it. */
  private readonly sinceMs: number;
  private timer: NodeJS.Timeout | undefined;
  private readonly onSighup = (): void => { this.json?.reopen(); };
  private stopped = false;

  constructor(readonly settings: SessionLogSettings, private readonly dataplane: SessionLogDataplane,
    private readonly options: SessionLogOptions = {}) {
    this.now = options.now ?? Date.now;
    this.sinceMs = this.now();
    this.ipfix = settings.ipfix.map((c) => new IpfixUdpExporter(c, settings.observationDomain, settings.templateRefreshS * 1000));
    this.json = settings.jsonFile ? new JsonLinesWriter(settings.jsonFile, settings.jsonQueueLines) : undefined;
  }

  /** Drains on a timer from now on (templates go out at the first tick). */
  start(): this {
    if (this.options.handleSighup && this.json) process.on('SIGHUP', this.onSighup);
    this.timer = setInterval(() => this.tick(), this.settings.drainIntervalMs);
    this.timer.unref();
    return this;
  }

  /** One drain and export; returns the records exported. Never throws (a failure is logged). */
  tick(): number {
    try {
      return this.drainOnce();
    } catch (error) {
      log.error(`session_log: drain failed: ${(error as Error).message}`);
      return 0;
    }
  }

  /** Last drain, everything handed to the sinks written or sent, sockets and file closed. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.timer);
    process.off('SIGHUP', this.onSighup);
    this.tick();
    await Promise.all(this.ipfix.map((e) => e.settle()));
    for (const e of this.ipfix) e.close();
    await this.json?.close();
  }

  /** Waits until the JSON file has everything queued so far (tests). */
  async flush(): Promise<void> {
    await Promise.all([...this.ipfix.map((e) => e.settle()), this.json?.flush()]);
  }

  reopenJson(): void {
    this.json?.reopen();
  }

  private drainOnce(): number {
    let exported = 0;
    for (let call = 0; call < DRAIN_CALLS_PER_TICK; call++) {
      const { records, nowUs } = this.dataplane.sessionLogDrain(DRAIN_BATCH);
      const wallMs = this.now();
      const decoded = decodeSessionRecords(records);
      this.export(decoded, { nowUs, wallMs });
      exported += decoded.length;
      if (decoded.length < DRAIN_BATCH) break;
    }
    return exported;
  }

  private export(records: SessionRecord[], clock: { nowUs: number; wallMs: number }): void {
    if (records.length > 0) countControlEvent('session_log_records_drained', records.length);
    const timed: TimedRecord[] = records.map((record) => ({
      record,
      startMs: record.startUs === undefined ? this.sinceMs : toWallClockMs(record.startUs, clock),
      timeMs: toWallClockMs(record.timeUs, clock),
    }));
    // Every tick, even without records: the UDP template refresh is due on its own clock.
    for (const exporter of this.ipfix) exporter.export(timed, clock.wallMs);
    if (this.json && timed.length > 0) this.json.push(timed.map((t) => sessionJsonLine(t, t.record.startUs !== undefined)));
  }
}
