// The IPFIX encoder (src/session-log/ipfix.ts) read back by a decoder written here from
// RFC 7011 alone (§3.1 message header, §3.3 set header, §3.4.1 template records with
// enterprise-specific fields, §3.4.3 data records): what a collector sees, byte by byte.
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { IpfixEncoder, minimumMessageBytes, type TimedRecord } from '../../src/session-log/ipfix.js';
import type { SessionRecord } from '../../src/session-log/records.js';

interface FieldSpec { id: number; length: number; enterprise: number }
interface DecodedMessage {
  version: number; length: number; exportTime: number; sequence: number; domain: number;
  templates: Map<number, FieldSpec[]>;
  records: { template: number; values: Map<string, Buffer> }[];
}

/** RFC 7011 decoding; templates persist across messages as a collector keeps them. */
function decode(message: Buffer, templates: Map<number, FieldSpec[]>): DecodedMessage {
  const out: DecodedMessage = {
    version: message.readUInt16BE(0), length: message.readUInt16BE(2), exportTime: message.readUInt32BE(4),
    sequence: message.readUInt32BE(8), domain: message.readUInt32BE(12), templates: new Map(), records: [],
  };
  assert.is(out.length, message.length, 'header length = datagram length');
  let at = 16;
  while (at < message.length) {
    const setId = message.readUInt16BE(at);
    const setLength = message.readUInt16BE(at + 2);
    assert.ok(setLength >= 4 && at + setLength <= message.length, `set ${setId} length ${setLength} inside the message`);
    const end = at + setLength;
    let p = at + 4;
    if (setId === 2) {
      while (p + 4 <= end) {
        const id = message.readUInt16BE(p), count = message.readUInt16BE(p + 2);
        p += 4;
        const fields: FieldSpec[] = [];
        for (let i = 0; i < count; i++) {
          let fid = message.readUInt16BE(p);
          const length = message.readUInt16BE(p + 2);
          p += 4;
          let enterprise = 0;
          if (fid & 0x8000) { enterprise = message.readUInt32BE(p); p += 4; fid &= 0x7fff; }
          fields.push({ id: fid, length, enterprise });
        }
        templates.set(id, fields);
        out.templates.set(id, fields);
      }
    } else {
      assert.ok(setId >= 256, `data set id ${setId} >= 256`);
      const fields = templates.get(setId);
      assert.ok(fields, `template ${setId} known before its data`);
      const size = fields!.reduce((n, f) => n + f.length, 0);
      while (p + size <= end) {
        const values = new Map<string, Buffer>();
        for (const f of fields!) { values.set(`${f.enterprise}/${f.id}`, message.subarray(p, p + f.length)); p += f.length; }
        out.records.push({ template: setId, values });
      }
      assert.ok(end - p < 4, 'padding only after the last record');
    }
    at = end;
  }
  return out;
}

const v4 = (text: string) => ({ bytes: Buffer.from(text.split('.').map(Number)), text });
function v6(text: string) {
  const [head, tail] = text.split('::');
  const h = head ? head.split(':') : [], t = tail ? tail.split(':') : [];
  const groups = [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  const bytes = Buffer.alloc(16);
  groups.forEach((g, i) => bytes.writeUInt16BE(parseInt(g, 16), i * 2));
  return { bytes, text };
}

function record(over: Partial<SessionRecord> = {}): SessionRecord {
  return {
    kind: 'end', cause: 'expired', protocol: 6,
    client: v4('198.18.0.1'), clientPort: 40001, vip: v4('198.18.0.10'), vipPort: 80,
    local: v4('198.19.0.200'), localPort: 1026, server: v4('198.19.0.2'), serverPort: 8080,
    method: 'fullnat', nat64: false, startUs: 1, timeUs: 2,
    packetsIn: 11, packetsOut: 9, bytesIn: 1234, bytesOut: 56789, serviceId: 7, serverId: 3, state: 'TIME_WAIT',
    ...over,
  };
}

const timed = (r: SessionRecord, startMs = 1_796_000_000_123, timeMs = 1_796_000_005_456): TimedRecord => ({ record: r, startMs, timeMs });
const num = (b: Buffer | undefined) => (b!.length === 8 ? Number(b!.readBigUInt64BE(0)) : b!.length === 4 ? b!.readUInt32BE(0) : b!.length === 2 ? b!.readUInt16BE(0) : b![0]!);

test('the template message: header (version 10, length, export time, sequence 0, domain) and three templates', () => {
  const encoder = new IpfixEncoder(42, 1472);
  const templates = new Map<number, FieldSpec[]>();
  const m = decode(encoder.templateMessage(1_796_000_000), templates);
  assert.is(m.version, 10);
  assert.is(m.exportTime, 1_796_000_000);
  assert.is(m.sequence, 0);
  assert.is(m.domain, 42);
  assert.equal([...m.templates.keys()], [256, 257, 258]);
  const ids = (id: number) => m.templates.get(id)!.map((f) => `${f.enterprise ? `${f.enterprise}/` : ''}${f.id}:${f.length}`);
  assert.equal(ids(256), ['152:8', '153:8', '8:4', '12:4', '7:2', '11:2', '225:4', '226:4', '227:2', '228:2', '4:1', '230:1',
    '283:4', '2:8', '1:8', '29305/2:8', '29305/1:8']);
  assert.equal(ids(257).slice(2, 4), ['27:16', '28:16']);
  assert.equal(ids(257).slice(6, 8), ['281:16', '282:16']);
  assert.equal(ids(258).slice(2, 8), ['27:16', '28:16', '7:2', '11:2', '225:4', '226:4'], 'NAT64: IPv6 client side, IPv4 LIP and server');
  assert.is(m.records.length, 0);
});

test('a data record carries the tuples, the NAT event, the pool, both directions\' counters and the times', () => {
  const encoder = new IpfixEncoder(1, 1472);
  const templates = new Map<number, FieldSpec[]>();
  decode(encoder.templateMessage(0), templates);
  const [message] = encoder.dataMessages([timed(record()), timed(record({ kind: 'create', cause: undefined, packetsIn: 0 }))], 1_796_000_006);
  const m = decode(message!, templates);
  assert.is(m.sequence, 0, 'the first data message counts the records before it: none');
  assert.is(m.records.length, 2);
  const r = m.records[0]!.values;
  assert.is(m.records[0]!.template, 256);
  assert.is(num(r.get('0/152')), 1_796_000_000_123);
  assert.is(num(r.get('0/153')), 1_796_000_005_456);
  assert.equal([...r.get('0/8')!], [198, 18, 0, 1]);
  assert.equal([...r.get('0/12')!], [198, 18, 0, 10]);
  assert.is(num(r.get('0/7')), 40001);
  assert.is(num(r.get('0/11')), 80);
  assert.equal([...r.get('0/225')!], [198, 19, 0, 200], 'postNATSourceIPv4Address = the LIP');
  assert.equal([...r.get('0/226')!], [198, 19, 0, 2], 'postNATDestinationIPv4Address = the real server');
  assert.is(num(r.get('0/227')), 1026, 'postNAPTSourceTransportPort = the lport');
  assert.is(num(r.get('0/228')), 8080);
  assert.is(num(r.get('0/4')), 6);
  assert.is(num(r.get('0/230')), 5, 'natEvent 5 = NAT44 session delete');
  assert.is(num(m.records[1]!.values.get('0/230')), 4, 'natEvent 4 = NAT44 session create');
  assert.is(num(r.get('0/283')), 7);
  assert.is(num(r.get('0/2')), 11);
  assert.is(num(r.get('0/1')), 1234);
  assert.is(num(r.get('29305/2')), 9, 'RFC 5103 reverse packets: server -> client');
  assert.is(num(r.get('29305/1')), 56789);
});

test('IPv6 and NAT64 records go under their templates, one set each, in order', () => {
  const encoder = new IpfixEncoder(1, 1472);
  const templates = new Map<number, FieldSpec[]>();
  decode(encoder.templateMessage(0), templates);
  const six = record({ client: v6('2001:db8:18::1'), vip: v6('2001:db8:18::10'), local: v6('2001:db8:19::200'), server: v6('2001:db8:19::1') });
  const nat64 = record({ client: v6('2001:db8:18::1'), vip: v6('2001:db8:18::10'), nat64: true });
  const [message] = encoder.dataMessages([timed(six), timed(six), timed(nat64), timed(record())], 0);
  const m = decode(message!, templates);
  assert.equal(m.records.map((r) => r.template), [257, 257, 258, 256]);
  assert.equal(m.records[0]!.values.get('0/281'), v6('2001:db8:19::200').bytes);
  assert.equal(m.records[2]!.values.get('0/27'), v6('2001:db8:18::1').bytes);
  assert.equal([...m.records[2]!.values.get('0/225')!], [198, 19, 0, 200]);
  assert.is(num(m.records[2]!.values.get('0/230')), 7, 'natEvent 7 = NAT64 session delete');
});

test('messages stay within the size bound and the sequence counts every data record before them', () => {
  const max = 512;
  const encoder = new IpfixEncoder(9, max);
  const templates = new Map<number, FieldSpec[]>();
  decode(encoder.templateMessage(0), templates);
  const many = Array.from({ length: 100 }, (_, i) => timed(record({ clientPort: 1000 + i, ...(i % 7 === 0 ? { client: v6('2001:db8::1'), vip: v6('2001:db8::2'), local: v6('2001:db8::3'), server: v6('2001:db8::4') } : {}) })));
  const first = encoder.dataMessages(many, 0);
  const second = encoder.dataMessages(many.slice(0, 3), 0);
  assert.ok(first.length > 5, `100 records over ${first.length} messages of <= ${max} bytes`);
  let expected = 0;
  const ports: number[] = [];
  for (const message of [...first, ...second]) {
    assert.ok(message.length <= max, `message of ${message.length} bytes <= ${max}`);
    const m = decode(message, templates);
    assert.is(m.sequence, expected, 'sequence = data records sent before this message');
    assert.is(m.domain, 9);
    expected += m.records.length;
    for (const r of m.records) ports.push(num(r.values.get('0/7')));
  }
  assert.is(expected, 103);
  assert.equal(ports.slice(0, 100), many.map((t) => t.record.clientPort), 'every record once, in order');
  assert.is(encoder.sequenceNumber, 103);
  assert.is(decode(encoder.templateMessage(0), templates).sequence, 103, 'a template message carries the sequence, adds nothing');
});

test('the sequence number wraps modulo 2^32', () => {
  const encoder = new IpfixEncoder(1, 1472);
  (encoder as unknown as { sequence: number }).sequence = 0xffff_fffe;
  encoder.dataMessages([timed(record()), timed(record()), timed(record())], 0);
  assert.is(encoder.sequenceNumber, 1);
});

test('a message bound too small for one record is refused', () => {
  assert.throws(() => new IpfixEncoder(1, minimumMessageBytes() - 1), /IPFIX message size/);
  new IpfixEncoder(1, minimumMessageBytes());
});

test.run();
