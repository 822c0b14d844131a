// keepalived's real-server checkers → a Portcullis health_check (docs/operations.md#health-checks),
// in the config's snake_case spelling. keepalived checks each real server on its own and marks it
// down after `retry` + 1 failures in a row, up again after one success; Portcullis runs one check
// per service, so the caller (services.ts) keeps a check only when every server's maps to the same.
//
// What maps: TCP_CHECK → tcp, HTTP_GET with one url → http (path, one status_code), PING_CHECK →
// icmp, UDP_CHECK with a payload → udp and DNS_CHECK → dns (UDP services only, as ours are).
// delay_loop → interval_ms, connect_timeout → timeout_ms, retry → fall, rise is 1. Everything else
// is named in the findings.
import { Findings, integerArg, singleArg, timerArg } from './findings.js';
import { describe, type Statement } from './syntax.js';
import type { Protocol } from '../../model/index.js';

/** Timing a checker inherits: virtual_server → real_server → checker (keepalived.conf(5), "Note"). */
export interface CheckTiming {
  delayLoopMs?: number;
  connectTimeoutMs?: number;
  retry?: number;
}

/** keepalived's defaults: delay_loop 60 s, connect_timeout 5 s, retry 1 (DNS_CHECK 3, MISC_CHECK 0). */
const DEFAULT_DELAY_LOOP_MS = 60_000;
const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
const DEFAULT_RETRY = 1;
const DNS_DEFAULT_RETRY = 3;
/** Our bounds (health-check-fields.ts). */
const MIN_INTERVAL_MS = 100;
const MAX_INTERVAL_MS = 3_600_000;
const MAX_FALL = 100;

export const CHECKER_KEYWORDS = ['TCP_CHECK', 'HTTP_GET', 'SSL_GET', 'SMTP_CHECK', 'DNS_CHECK', 'MISC_CHECK', 'BFD_CHECK', 'UDP_CHECK', 'PING_CHECK', 'FILE_CHECK'] as const;

/** Reasons for the checkers and options that have no Portcullis equivalent. */
const NO_EQUIVALENT: Readonly<Record<string, string>> = {
  SSL_GET: 'Portcullis has no TLS health check (use TCP_CHECK, or HTTP_GET on a plain port)',
  SMTP_CHECK: 'Portcullis has no SMTP health check (TCP_CHECK would probe the port)',
  MISC_CHECK: 'Portcullis runs no check scripts',
  BFD_CHECK: 'Portcullis has no BFD',
  FILE_CHECK: 'Portcullis has no file-driven weights',
  delay_before_retry: 'Portcullis probes every interval_ms (delay_loop), after a failure too',
  warmup: 'Portcullis starts probing at once',
  alpha: 'Portcullis counts a server up until `fall` probes fail',
  log_all_failures: 'Portcullis logs every up/down transition, not each failed probe',
  virtualhost: 'the http check sends no configurable Host header',
  bindto: 'probes leave from the host\'s own address for the server',
  bind_if: 'probes leave by the route to the server',
  bind_port: 'probes use an ephemeral source port',
  fwmark: 'probes are not marked',
  http_protocol: 'the http check speaks HTTP/1.1',
  fast_recovery: 'one url is checked',
  digest: 'the http check compares the status, not a digest of the body',
  regex: 'the http check compares the status, not the body',
  regex_no_match: 'the http check compares the status, not the body',
  regex_options: 'the http check compares the status, not the body',
  regex_stack: 'the http check compares the status, not the body',
  regex_min_offset: 'the http check compares the status, not the body',
  regex_max_offset: 'the http check compares the status, not the body',
  min_reply_length: 'the udp check compares a reply prefix, not its length',
  max_reply_length: 'the udp check compares a reply prefix, not its length',
  enable_sni: 'Portcullis has no TLS health check',
  sni_name: 'Portcullis has no TLS health check',
  tls_compliant: 'Portcullis has no TLS health check',
  helo_name: 'Portcullis has no SMTP health check',
};

/**
 * A timing keyword (delay_loop, connect_timeout, retry and its old names) read into `timing`, or
 * one with no equivalent reported; false when the keyword is not about checker timing.
 */
export function readTimingKeyword(statement: Statement, timing: CheckTiming, findings: Findings): boolean {
  switch (statement.keyword) {
    case 'delay_loop': {
      const ms = timerArg(statement, findings);
      if (ms !== undefined) timing.delayLoopMs = ms;
      return true;
    }
    case 'connect_timeout': {
      const ms = timerArg(statement, findings);
      if (ms !== undefined) timing.connectTimeoutMs = ms;
      return true;
    }
    case 'retry': case 'nb_get_retry': case 'nb_sock_retry': {
      const retry = integerArg(statement, findings, 0, MAX_FALL - 1);
      if (retry !== undefined) timing.retry = retry;
      return true;
    }
    case 'delay_before_retry': case 'warmup': case 'alpha': case 'log_all_failures': case 'virtualhost':
      findings.skip(statement, NO_EQUIVALENT[statement.keyword]!);
      return true;
    default:
      return false;
  }
}

export interface CheckTarget {
  address: string;
  port: number;
  protocol: Protocol;
}

/** A raw health_check (snake_case), or undefined when this checker does not map (reported). */
export function mapChecker(checker: Statement, target: CheckTarget, inherited: CheckTiming, findings: Findings): Record<string, unknown> | undefined {
  const kind = checker.keyword;
  const unmapped = NO_EQUIVALENT[kind];
  if (unmapped) {
    findings.skip(checker, unmapped);
    return undefined;
  }
  const timing: CheckTiming = { ...inherited };
  let usable = true;
  const specific: Statement[] = [];
  for (const option of checker.block ?? []) {
    if (readTimingKeyword(option, timing, findings)) continue;
    if (option.keyword === 'connect_ip') {
      if (singleArg(option, findings) !== target.address) {
        findings.skip(option, `the check probes another address than its server (${target.address}); Portcullis probes the server itself`);
        usable = false;
      }
    } else if (option.keyword === 'connect_port') {
      const port = integerArg(option, findings, 1, 65535);
      if (port !== undefined && port !== target.port) {
        findings.skip(option, `the check probes port ${port}, not the server's port ${target.port}; Portcullis probes the server's port`);
        usable = false;
      }
    } else if (NO_EQUIVALENT[option.keyword] && !CHECKER_KEYWORDS.includes(option.keyword as typeof CHECKER_KEYWORDS[number])) {
      findings.skip(option, NO_EQUIVALENT[option.keyword]!);
    } else {
      specific.push(option);
    }
  }
  const kindFields = mapKindFields(checker, specific, target, findings);
  if (!usable || !kindFields) return undefined;
  return { ...kindFields, ...timingFields(checker, timing, kind === 'DNS_CHECK' ? DNS_DEFAULT_RETRY : DEFAULT_RETRY, findings) };
}

/** The kind and its own fields; undefined when the checker cannot be expressed (reported). */
function mapKindFields(checker: Statement, options: Statement[], target: CheckTarget, findings: Findings): Record<string, unknown> | undefined {
  const unknown = (option: Statement) => findings.skip(option, `not a ${checker.keyword} option Portcullis knows`);
  switch (checker.keyword) {
    case 'TCP_CHECK':
      options.forEach(unknown);
      return { kind: 'tcp' };
    case 'PING_CHECK':
      options.forEach(unknown);
      return { kind: 'icmp' };
    case 'HTTP_GET':
      return mapHttpGet(checker, options, findings);
    case 'UDP_CHECK':
      return udpOnly(checker, target, findings) ? mapUdpCheck(checker, options, findings) : undefined;
    case 'DNS_CHECK':
      return udpOnly(checker, target, findings) ? mapDnsCheck(options, findings) : undefined;
    default:
      findings.skip(checker, 'not a keepalived checker Portcullis knows');
      return undefined;
  }
}

function udpOnly(checker: Statement, target: CheckTarget, findings: Findings): boolean {
  if (target.protocol === 'udp') return true;
  findings.skip(checker, `Portcullis runs ${checker.keyword === 'DNS_CHECK' ? 'dns' : 'udp'} checks on UDP services only; this one is ${target.protocol}`);
  return false;
}

function mapHttpGet(checker: Statement, options: Statement[], findings: Findings): Record<string, unknown> | undefined {
  const urls = options.filter((option) => option.keyword === 'url');
  for (const option of options) if (option.keyword !== 'url') findings.skip(option, 'not an HTTP_GET option Portcullis knows');
  if (urls.length === 0) {
    findings.skip(checker, 'HTTP_GET without a url block checks nothing');
    return undefined;
  }
  for (const extra of urls.slice(1)) findings.skip(extra, 'Portcullis checks one url per service; the first is kept');
  const url = urls[0]!;
  let path = '/';
  let expectStatus: number | undefined;
  for (const option of url.block ?? []) {
    if (option.keyword === 'path') {
      path = singleArg(option, findings) ?? path;
    } else if (option.keyword === 'status_code') {
      if (option.args.length === 1 && /^\d{3}$/.test(option.args[0]!)) {
        expectStatus = Number(option.args[0]);
      } else {
        findings.skip(option, 'Portcullis expects one status code; 200 is expected instead');
      }
    } else if (NO_EQUIVALENT[option.keyword]) {
      findings.skip(option, NO_EQUIVALENT[option.keyword]!);
    } else {
      findings.skip(option, 'not a url option Portcullis knows');
    }
  }
  if (expectStatus === undefined && !(url.block ?? []).some((option) => option.keyword === 'status_code')) {
    findings.skip(url, 'without status_code keepalived accepts any 2xx; the http check expects exactly 200', `url (${describe(url)} with no status_code)`);
  }
  return { kind: 'http', path, expect_status: expectStatus ?? 200 };
}

/**
 * keepalived's free-form HEX_STR ("Ab12f 3 456": each word read two digits at a time, a lone
 * last digit standing for 0X) as plain lower-case hex; undefined for anything else, X wildcards
 * included (the udp check compares bytes exactly).
 */
export function hexString(words: string[]): string | undefined {
  let hex = '';
  for (const word of words) {
    if (!/^[0-9A-Fa-f]+$/.test(word)) return undefined;
    for (let i = 0; i < word.length; i += 2) hex += word.length - i === 1 ? `0${word[i]}` : word.slice(i, i + 2);
  }
  return hex.length > 0 ? hex.toLowerCase() : undefined;
}

function mapUdpCheck(checker: Statement, options: Statement[], findings: Findings): Record<string, unknown> | undefined {
  let payloadHex: string | undefined;
  let expectHex: string | undefined;
  let replyRequired = false;
  for (const option of options) {
    if (option.keyword === 'payload') {
      payloadHex = hexString(option.args);
      if (payloadHex === undefined) findings.error(option, 'payload: expected hex digits');
    } else if (option.keyword === 'require_reply') {
      replyRequired = true;
      if (option.args.length > 0) {
        expectHex = hexString(option.args);
        if (expectHex === undefined) findings.skip(option, 'the udp check compares exact bytes (no X wildcards); any reply passes instead');
      }
    } else if (NO_EQUIVALENT[option.keyword]) {
      findings.skip(option, NO_EQUIVALENT[option.keyword]!);
    } else {
      findings.skip(option, 'not a UDP_CHECK option Portcullis knows');
    }
  }
  if (payloadHex === undefined) {
    findings.skip(checker, 'without payload keepalived sends random bytes; the udp check needs the datagram to send');
    return undefined;
  }
  if (!replyRequired) {
    findings.skip(checker, 'without require_reply keepalived passes on silence; the udp check needs a reply', 'UDP_CHECK (no require_reply)');
  }
  return { kind: 'udp', payload_hex: payloadHex, ...(expectHex !== undefined ? { expect_hex: expectHex } : {}) };
}

/** keepalived's DNS_CHECK types; ours know every one of them. */
const DNS_TYPES = ['A', 'NS', 'CNAME', 'SOA', 'MX', 'TXT', 'AAAA'];

function mapDnsCheck(options: Statement[], findings: Findings): Record<string, unknown> | undefined {
  let type = 'SOA';
  let name = '.';
  for (const option of options) {
    if (option.keyword === 'type') {
      const value = singleArg(option, findings)?.toUpperCase();
      if (value !== undefined && DNS_TYPES.includes(value)) type = value;
      else if (value !== undefined) findings.error(option, `type: expected one of ${DNS_TYPES.join(', ')}, got "${value}"`);
    } else if (option.keyword === 'name') {
      name = singleArg(option, findings) ?? name;
    } else {
      findings.skip(option, 'not a DNS_CHECK option Portcullis knows');
    }
  }
  return { kind: 'dns', query_name: name, query_type: type };
}

/** interval_ms, timeout_ms, rise and fall from keepalived's timing, within our bounds (approximations reported). */
function timingFields(checker: Statement, timing: CheckTiming, defaultRetry: number, findings: Findings): Record<string, number> {
  let interval = timing.delayLoopMs ?? DEFAULT_DELAY_LOOP_MS;
  if (interval < MIN_INTERVAL_MS || interval > MAX_INTERVAL_MS) {
    const bounded = Math.min(MAX_INTERVAL_MS, Math.max(MIN_INTERVAL_MS, interval));
    findings.skip(checker, `delay_loop ${interval / 1000} s is outside 0.1 s..1 h; interval_ms ${bounded} instead`, `${checker.keyword} (delay_loop)`);
    interval = bounded;
  }
  let timeout = timing.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  if (timeout >= interval) {
    // keepalived waits delay_loop after a check ends; ours start every interval_ms and must not overlap.
    const bounded = interval - 1;
    findings.skip(checker, `connect_timeout ${timeout / 1000} s is not below delay_loop ${interval / 1000} s; timeout_ms ${bounded} instead (probes must not overlap)`,
      `${checker.keyword} (connect_timeout)`);
    timeout = bounded;
  }
  timeout = Math.max(timeout, 10);
  return { interval_ms: interval, timeout_ms: timeout, rise: 1, fall: (timing.retry ?? defaultRetry) + 1 };
}
