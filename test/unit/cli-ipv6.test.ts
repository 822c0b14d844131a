// `portcullis stats`, `top` and `trace` print IPv6 endpoints in brackets, as pcadm and ipvsadm do.
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { formatStats } from '../../src/api/format.js';
import type { GetStatsResponse__Output } from '../../src/api/generated/portcullis/v1/GetStatsResponse.js';
import type { TraceRecord__Output } from '../../src/api/generated/portcullis/v1/TraceRecord.js';
import { formatTopFrame } from '../../src/cli/top.js';
import { formatTraceRecord, parseTraceArgs } from '../../src/cli/trace.js';

const stats = {
  snapshotVersion: '1', workerVersions: ['1'], connections: '0', drops: {}, events: {}, ports: [], workers: [], defense: [],
  services: [{
    key: { protocol: 'TCP', vip: '2001:db8:18::10', port: 80 }, counters: null, rates: null, localAddresses: [],
    servers: [{ address: '2001:db8:19::1', port: 80, counters: null, rates: null, health: '', persistentConnections: '0' }],
  }],
} as unknown as GetStatsResponse__Output;

test('stats and top: "tcp [2001:db8:18::10]:80" and "-> [2001:db8:19::1]:80"', () => {
  const text = formatStats(stats);
  assert.match(text, /^tcp \[2001:db8:18::10\]:80 /m);
  assert.match(text, /^ {2}-> \[2001:db8:19::1\]:80 /m);
  const top = formatTopFrame(stats, 'unix:/x', new Date(0));
  assert.match(top, /^TCP \[2001:db8:18::10\]:80 /m);
  assert.match(top, /^ {2}-> \[2001:db8:19::1\]:80 /m);
});

test('trace: IPv6 tuples bracketed, :: out tuple = no connection; --service takes [VIP]:PORT/PROTO', () => {
  const record = {
    timeUs: '1500000', worker: 0, port: 'outside', protocol: 'TCP', inSource: '2001:db8:18::1', inSourcePort: 40000,
    inDestination: '2001:db8:18::10', inDestinationPort: 80, outSource: '2001:db8:19::200', outSourcePort: 1025,
    outDestination: '2001:db8:19::1', outDestinationPort: 80, service: null, verdict: 'forwarded', dropReason: '', state: 'SYN_RECV',
  } as unknown as TraceRecord__Output;
  assert.match(formatTraceRecord(record), /tcp \[2001:db8:18::1\]:40000 > \[2001:db8:18::10\]:80 => \[2001:db8:19::200\]:1025 > \[2001:db8:19::1\]:80 forwarded SYN_RECV$/);
  assert.match(formatTraceRecord({ ...record, outSource: '::', verdict: 'dropped', dropReason: 'no_service', state: '' }), /=> - dropped/);
  assert.equal(parseTraceArgs(['--service', '[2001:db8:18::10]:80/tcp', '--socket', '/x']).request.service, { protocol: 'TCP', vip: '2001:db8:18::10', port: 80 });
});

test.run();
