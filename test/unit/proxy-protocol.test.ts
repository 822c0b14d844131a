// The lab's PROXY header reader (what the e2e real servers use to report the client).
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
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

test.run();
