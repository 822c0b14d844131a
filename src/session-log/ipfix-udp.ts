// One IPFIX collector over UDP (RFC 7011 §10.3): its own encoder (the sequence number is per
// session), the templates at start and every template_refresh_s (§8.4: a collector that
// restarted, or lost the first datagram, learns them again), messages within the path MTU.
// Sends are fire-and-forget; a failure is counted (session_log_ipfix_send_errors), never retried.
import { createSocket, type Socket } from 'node:dgram';
import { isIP } from 'node:net';
import { countControlEvent } from '../metrics/control-events.js';
import { log } from '../log.js';
import { IpfixEncoder, type TimedRecord } from './ipfix.js';
import type { IpfixCollector } from './settings.js';

const WARN_EVERY_MS = 60_000;

export class IpfixUdpExporter {
  readonly encoder: IpfixEncoder;
  private readonly socket: Socket;
  private lastTemplatesMs = -Infinity;
  private lastWarning = 0;
  private pending = 0;
  private drained: (() => void) | undefined;

  constructor(readonly collector: IpfixCollector, observationDomain: number, private readonly templateRefreshMs: number) {
    const v6 = isIP(collector.host) === 6;
    this.encoder = new IpfixEncoder(observationDomain, collector.mtu - (v6 ? 40 : 20) - 8);
    this.socket = createSocket(v6 ? 'udp6' : 'udp4');
    this.socket.on('error', (error) => this.failed(error));
    this.socket.unref();
  }

  get name(): string {
    return this.collector.host.includes(':') ? `[${this.collector.host}]:${this.collector.port}` : `${this.collector.host}:${this.collector.port}`;
  }

  /** Templates when due (or first), then the records. nowMs: the wall clock. */
  export(records: TimedRecord[], nowMs: number): void {
    const exportTimeS = Math.floor(nowMs / 1000);
    if (nowMs - this.lastTemplatesMs >= this.templateRefreshMs) {
      this.lastTemplatesMs = nowMs;
      this.send(this.encoder.templateMessage(exportTimeS), 0);
    }
    if (records.length === 0) return;
    const messages = this.encoder.dataMessages(records, exportTimeS);
    // Each header carries the count before it: a message holds the difference to the next.
    messages.forEach((message, i) => {
      const next = i + 1 < messages.length ? messages[i + 1]!.readUInt32BE(8) : this.encoder.sequenceNumber;
      this.send(message, (next - message.readUInt32BE(8) + 0x1_0000_0000) % 0x1_0000_0000);
    });
  }

  /** Resolves once every message handed to the socket is sent (or failed). */
  async settle(): Promise<void> {
    if (this.pending === 0) return;
    await new Promise<void>((resolve) => { this.drained = resolve; });
  }

  close(): void {
    this.socket.close();
  }

  private send(message: Buffer, dataRecords: number): void {
    this.pending++;
    this.socket.send(message, this.collector.port, this.collector.host, (error) => {
      this.pending--;
      if (error) this.failed(error);
      else {
        countControlEvent('session_log_ipfix_messages_sent');
        if (dataRecords > 0) countControlEvent('session_log_ipfix_records_sent', dataRecords);
      }
      if (this.pending === 0) this.drained?.();
    });
  }

  private failed(error: Error): void {
    countControlEvent('session_log_ipfix_send_errors');
    const now = Date.now();
    if (now - this.lastWarning < WARN_EVERY_MS) return;
    this.lastWarning = now;
    log.warn(`session_log.ipfix ${this.name}: ${error.message} (counted in session_log_ipfix_send_errors)`);
  }
}
