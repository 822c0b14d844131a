// The `session_log` section (docs/operations.md, "Session logs"): where NAT session records
// go (IPFIX collectors over UDP, a JSON lines file, or both) and how often. Absent = off: the
// data plane keeps no tallies and the packet path pays one branch.
import { isIP } from 'node:net';
import { ModelError } from '../model/errors.js';
import { readChoice, readInteger, readList, readObject, readString, rejectUnknownKeys } from '../model/fields.js';
import { minimumMessageBytes } from '../session-log/ipfix.js';
import { SESSION_LOG_DEFAULTS, type IpfixCollector, type SessionLogSettings } from '../session-log/settings.js';

export type { IpfixCollector, SessionLogSettings };

const KEYS = ['ipfix', 'json_file', 'template_refresh_s', 'observation_domain', 'drain_interval_ms', 'json_queue_lines'] as const;
const COLLECTOR_KEYS = ['collector', 'protocol', 'mtu'] as const;
const HOST_PORT = /^(?:\[([0-9A-Fa-f:.]+)\]|([0-9.]+)):([0-9]{1,5})$/;

function readCollector(value: unknown, path: string): IpfixCollector {
  const raw = readObject(value, path);
  rejectUnknownKeys(raw, COLLECTOR_KEYS, path);
  if (raw.collector === undefined) throw new ModelError('INVALID_ARGUMENT', `${path}.collector`, 'required, e.g. "127.0.0.1:4739"');
  const text = readString(raw.collector, `${path}.collector`, { nonEmpty: true, maxLength: 64 });
  const match = HOST_PORT.exec(text);
  const host = match ? (match[1] ?? match[2])! : '';
  const port = match ? Number(match[3]) : 0;
  if (!match || isIP(host) === 0 || (match[1] !== undefined && isIP(host) !== 6) || port < 1 || port > 65535) {
    throw new ModelError('INVALID_ARGUMENT', `${path}.collector`,
      `expected "ipv4:port" or "[ipv6]:port" with an IP literal (no name lookups), e.g. "127.0.0.1:4739", got ${JSON.stringify(text)}`);
  }
  // UDP only today (RFC 7011 §10.3): a collector that is down costs us nothing but the datagrams.
  const protocol = raw.protocol === undefined ? 'udp' : readChoice(raw.protocol, `${path}.protocol`, ['udp'] as const);
  const headers = (isIP(host) === 6 ? 40 : 20) + 8;
  const mtu = raw.mtu === undefined ? SESSION_LOG_DEFAULTS.mtu : readInteger(raw.mtu, `${path}.mtu`, minimumMessageBytes() + headers, 65535);
  return { host, port, protocol, mtu };
}

/** Absent (undefined or null) = off; else the settings, or a ModelError naming the field. */
export function readSessionLog(value: unknown): SessionLogSettings | undefined {
  if (value === undefined || value === null) return undefined;
  const raw = readObject(value, 'session_log');
  rejectUnknownKeys(raw, KEYS, 'session_log');
  const ipfix = readList(raw.ipfix ?? [], 'session_log.ipfix', 16).map((c, i) => readCollector(c, `session_log.ipfix[${i}]`));
  const settings: SessionLogSettings = {
    ipfix,
    templateRefreshS: raw.template_refresh_s === undefined ? SESSION_LOG_DEFAULTS.templateRefreshS
      : readInteger(raw.template_refresh_s, 'session_log.template_refresh_s', 1, 3600),
    observationDomain: raw.observation_domain === undefined ? SESSION_LOG_DEFAULTS.observationDomain
      : readInteger(raw.observation_domain, 'session_log.observation_domain', 0, 0xffffffff),
    drainIntervalMs: raw.drain_interval_ms === undefined ? SESSION_LOG_DEFAULTS.drainIntervalMs
      : readInteger(raw.drain_interval_ms, 'session_log.drain_interval_ms', 10, 1000),
    jsonQueueLines: raw.json_queue_lines === undefined ? SESSION_LOG_DEFAULTS.jsonQueueLines
      : readInteger(raw.json_queue_lines, 'session_log.json_queue_lines', 16, 1 << 22),
  };
  if (raw.json_file !== undefined) {
    const file = readString(raw.json_file, 'session_log.json_file', { nonEmpty: true, maxLength: 4096 });
    if (!file.startsWith('/')) throw new ModelError('INVALID_ARGUMENT', 'session_log.json_file', `expected an absolute path, got ${JSON.stringify(file)}`);
    settings.jsonFile = file;
  }
  if (settings.ipfix.length === 0 && settings.jsonFile === undefined) {
    throw new ModelError('INVALID_ARGUMENT', 'session_log', 'expected at least one of ipfix (collectors) or json_file; remove the section to log nothing');
  }
  return settings;
}
