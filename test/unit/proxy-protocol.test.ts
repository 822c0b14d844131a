// The lab's PROXY header reader (what the e2e real servers use to report the client).
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { ipv6ToString } from '../../src/lab/ipv6-text.js';
import { parseProxyHeader } from '../../src/lab/proxy-protocol.js';

test('v1: TCP4 line, UNKNOWN, incomplete and garbage', () => {
  const line = Buffer.from('PROXY TCP4 198.18.0.1 198.18.0.10 41000 80\r\nGET / HTTP/1.0\r\n');
  assert.equal(parseProxyHeader(line), { kind: 'header', length: 44, source: { address: '198.18.0.1', port: 41000 } });
  assert.equal(parseProxyHeader(Buffer.from('PROXY UNKNOWN\r\n')), { kind: 'header', length: 15 });
  assert.equal(parseProxyHeader(Buffer.from('PROXY TCP4 198.18')), { kind: 'incomplete' });
  assert.is(parseProxyHeader(Buffer.from('GET / HTTP/1.0\r\n')).kind, 'invalid');
  assert.is(parseProxyHeader(Buffer.from('PROXY TCP4 a b 99999 80\r\n')).kind, 'invalid');
});

test('v2: PROXY TCP/IPv4, LOCAL, incomplete and a bad signature', () => {
  const v2 = Buffer.concat([Buffer.from('0d0a0d0a000d0a515549540a2111000cc6120001c612000aa02800 50'.replace(/ /g, ''), 'hex'), Buffer.from('GET')]);
  assert.equal(parseProxyHeader(v2), { kind: 'header', length: 28, source: { address: '198.18.0.1', port: 41000 } });
  assert.equal(parseProxyHeader(v2.subarray(0, 20)), { kind: 'incomplete' });
  const local = Buffer.from('0d0a0d0a000d0a515549540a20000000', 'hex');
  assert.equal(parseProxyHeader(local), { kind: 'header', length: 16 });
  assert.is(parseProxyHeader(Buffer.from('0d0a0d0a000d0a515549540b2111000c', 'hex')).kind, 'invalid');
});

test('v1 TCP6 and v2 AF_INET6: the client address in canonical text', () => {
  const line = Buffer.from('PROXY TCP6 2001:db8:18::1 2001:db8:18::10 41000 80\r\nGET');
  assert.equal(parseProxyHeader(line), { kind: 'header', length: 52, source: { address: '2001:db8:18::1', port: 41000 } });
  const addresses = Buffer.from('20010db8001800000000000000000001' + '20010db8001800000000000000000010' + 'a0280050', 'hex');
  const v2 = Buffer.concat([Buffer.from('0d0a0d0a000d0a515549540a21210024', 'hex'), addresses, Buffer.from('GET')]);
  assert.equal(parseProxyHeader(v2), { kind: 'header', length: 52, source: { address: '2001:db8:18::1', port: 41000 } });
  assert.equal(parseProxyHeader(v2.subarray(0, 51)), { kind: 'incomplete' });
  // An AF_INET6 header whose length is too short for its address block names no source.
  const short = Buffer.concat([Buffer.from('0d0a0d0a000d0a515549540a2121000c', 'hex'), addresses.subarray(0, 12)]);
  assert.equal(parseProxyHeader(short), { kind: 'header', length: 28 });
});

test('IPv6 text is RFC 5952 canonical: longest zero run compressed, first on a tie, single zero group kept', () => {
  const from = (hex: string) => ipv6ToString(Buffer.from(hex, 'hex'));
  assert.is(from('20010db8001900000000000000000200'), '2001:db8:19::200');
  assert.is(from('00000000000000000000000000000001'), '::1');
  assert.is(from('00000000000000000000000000000000'), '::');
  assert.is(from('20010db8000000010000000000000001'), '2001:db8:0:1::1');
  assert.is(from('20010db8000000000001000000000001'), '2001:db8::1:0:0:1');
  assert.is(from('20010db8000100020003000400050006'), '2001:db8:1:2:3:4:5:6');
  assert.is(from('20010db80000000100020003000400aa'), '2001:db8:0:1:2:3:4:aa');
  assert.throws(() => ipv6ToString(Buffer.alloc(4)), /16 bytes/);
});

test.run();

test('v2 over UDP (dgram): 0x12 / 0x22 name the client; a STREAM header, v1 or a short datagram are invalid; STREAM parsing refuses DGRAM', () => {
  const v4 = Buffer.concat([Buffer.from('0d0a0d0a000d0a515549540a2112000cc6120001c612000aa0280007', 'hex'), Buffer.from('query')]);
  assert.equal(parseProxyHeader(v4, 'dgram'), { kind: 'header', length: 28, source: { address: '198.18.0.1', port: 41000 } });
  const addresses = Buffer.from('20010db8001800000000000000000001' + '20010db8001800000000000000000010' + 'a0280007', 'hex');
  const v6 = Buffer.concat([Buffer.from('0d0a0d0a000d0a515549540a21220024', 'hex'), addresses]);
  assert.equal(parseProxyHeader(v6, 'dgram'), { kind: 'header', length: 52, source: { address: '2001:db8:18::1', port: 41000 } });
  assert.equal(parseProxyHeader(v4.subarray(0, 20), 'dgram'), { kind: 'invalid', reason: 'datagram shorter than its v2 header' });
  assert.equal(parseProxyHeader(Buffer.from('PROXY TCP4 198.18.0.1 198.18.0.10 1 7\r\n'), 'dgram').kind, 'invalid');
  const stream = Buffer.from(v4);
  stream[13] = 0x11;
  assert.equal(parseProxyHeader(stream, 'dgram'), { kind: 'invalid', reason: 'v2 transport 1, expected 2' });
  assert.equal(parseProxyHeader(v4), { kind: 'invalid', reason: 'v2 transport 2, expected 1' });
});
