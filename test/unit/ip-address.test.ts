// IPv4/IPv6 text: what parses, the one canonical spelling (RFC 5952), prefixes, and which
// addresses cannot be a VIP, LIP or server, each refusal with its exact message.
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import {
  addressPort, canonicalIp, compareIp, parseIp, parsePrefix, prefixContains, readBlockPrefix, readInterfaceAddress,
  readIpAddress, readNetwork,
} from '../../src/model/index.js';

test('RFC 5952: lower case, no leading zeros, the first longest zero run as ::, single zero groups kept', () => {
  const cases: [string, string][] = [
    ['2001:DB8:18:0:0:0:0:10', '2001:db8:18::10'],
    ['2001:0db8:0018::0010', '2001:db8:18::10'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],    // tie: the first run
    ['2001:db8:0:1:0:0:0:1', '2001:db8:0:1::1'],      // the longest run, not the first
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // one zero group is not compressed
    ['0:0:0:0:0:0:0:1', '::1'],
    ['fe80::', 'fe80::'],
    ['::ffff:c612:a', '::ffff:198.18.0.10'],          // mapped: mixed notation (§5)
    ['2001:db8::198.18.0.10', '2001:db8::c612:a'],
    ['198.18.0.10', '198.18.0.10'],
  ];
  for (const [input, canonical] of cases) assert.is(canonicalIp(input), canonical, input);
});

test('malformed text is no address: too many groups, two ::, bad hex, zones, brackets, leading-zero octets', () => {
  for (const text of ['2001:db8::1::2', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7::8', '2001:db8::g', '12345::',
    'fe80::1%eth0', '[2001:db8::1]', '2001:db8::1/64', '198.018.0.1', '198.18.0', '198.18.0.256', ':', ':::', '', '1.2.3.4::']) {
    assert.is(parseIp(text), undefined, text);
  }
  assert.equal(parseIp('1:2:3:4:5:6:7::'), { family: 6, value: 0x0001_0002_0003_0004_0005_0006_0007_0000n });
});

test('unicast refusals name the field and what was expected, per family', () => {
  const refusals: [string, string][] = [
    ['::', 'vip: expected a unicast IPv6 address (not the unspecified address ::), got "::"'],
    ['ff02::1', 'vip: expected a unicast IPv6 address (not multicast ff00::/8), got "ff02::1"'],
    ['::ffff:198.18.0.10', 'vip: expected an IPv6 address outside ::ffff:0:0/96 (IPv4-mapped: write the IPv4 address 198.18.0.10 itself), got "::ffff:198.18.0.10"'],
    ['fe80::10', 'vip: expected a global or unique-local IPv6 address (not link-local fe80::/10), got "fe80::10"'],
    ['febf::1', 'vip: expected a global or unique-local IPv6 address (not link-local fe80::/10), got "febf::1"'],
    ['224.0.0.1', 'vip: expected a unicast IPv4 address, got "224.0.0.1"'],
    ['[2001:db8:18::10]', 'vip: expected an IPv4 address (dotted quad) or an IPv6 address without brackets (brackets only go around an address with a port), got "[2001:db8:18::10]"'],
    ['2001:db8::zz', 'vip: expected an IPv4 address (dotted quad) or an IPv6 address, got "2001:db8::zz"'],
  ];
  for (const [text, message] of refusals) assert.throws(() => readIpAddress(text, 'vip'), (e: Error) => e.message === message, text);
  assert.is(readIpAddress('FEC0::1', 'vip'), 'fec0::1');  // just outside fe80::/10
  assert.is(readIpAddress('fd00::1', 'vip'), 'fd00::1');
  assert.is(readIpAddress('fe80::1', 'via', { linkLocal: true }), 'fe80::1');
});

test('prefixes: both families, canonical, host bits zero, no IPv4-mapped IPv6 prefixes', () => {
  assert.is(readNetwork('2001:DB8:19:0::/64', 'prefix'), '2001:db8:19::/64');
  assert.is(readNetwork('::/0', 'prefix'), '::/0');
  assert.throws(() => readNetwork('2001:db8:19::1/64', 'prefix'), (e: Error) => e.message === 'prefix: expected a prefix with host bits zero (2001:db8:19::/64), got "2001:db8:19::1/64"');
  assert.throws(() => readNetwork('2001:db8::/129', 'prefix'), (e: Error) => e.message === 'prefix: expected an IPv4 or IPv6 prefix like 10.0.0.0/8 or 2001:db8::/32, got "2001:db8::/129"');
  assert.throws(() => readNetwork('::ffff:10.0.0.0/104', 'prefix'), (e: Error) => e.message === 'prefix: expected a prefix outside ::ffff:0:0/96 (IPv4-mapped: write the IPv4 prefix itself), got "::ffff:10.0.0.0/104"');
  assert.is(readInterfaceAddress('2001:DB8:18::0254/64', 'a'), '2001:db8:18::254/64');
  assert.throws(() => readInterfaceAddress('fe80::1/64', 'a'), (e: Error) => e.message === 'a: expected a global or unique-local IPv6 address (not link-local fe80::/10), got "fe80::1/64"');
  assert.is(readBlockPrefix('2001:db8:66::1', 'prefix'), '2001:db8:66::1/128');
  assert.is(readBlockPrefix('2001:DB8:66:0::/64', 'prefix'), '2001:db8:66::/64');
  const p = parsePrefix('2001:db8:18::/64')!;
  assert.ok(prefixContains(p, parseIp('2001:db8:18::ffff')!));
  assert.not.ok(prefixContains(p, parseIp('2001:db8:19::1')!));
  assert.not.ok(prefixContains(parsePrefix('0.0.0.0/0')!, parseIp('2001:db8::1')!), 'never across families');
});

test('endpoints and sort order: brackets around IPv6, IPv4 before IPv6, numeric within a family', () => {
  assert.is(addressPort('2001:db8:18::10', 80), '[2001:db8:18::10]:80');
  assert.is(addressPort('198.18.0.10', 80), '198.18.0.10:80');
  assert.equal(['2001:db8::10', '198.18.0.9', '2001:db8::9', '198.18.0.10'].sort(compareIp), ['198.18.0.9', '198.18.0.10', '2001:db8::9', '2001:db8::10']);
});

test.run();
