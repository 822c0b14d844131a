// pcadm with IPv6, against ipvsadm's own forms: "[addr]:port" arguments (parse_service), -M as a
// prefix length for an IPv6 service, bracketed names that -L never cuts (ipvsadm truncates IPv4
// names only: svc_name[33], dname[28]), -S rules that -R reads back, and NAT64 services.
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { parseCommandLine } from '../../src/cli/pcadm/args.js';
import { PcadmError } from '../../src/cli/pcadm/errors.js';
import { formatConnections, formatList, formatLocalAddresses, formatSave, type ForwardMethod, type ListService } from '../../src/cli/pcadm/format.js';
import { parseNameTables } from '../../src/cli/pcadm/names.js';

const names = parseNameTables('10.0.1.11 web1\n', 'http 80/tcp www\n');
const parse = (line: string) => parseCommandLine(line.split(' ').filter(Boolean), names);
const numeric = { numeric: true, exact: false, sort: true, names };
const zero = { conns: 0, inPackets: 0, outPackets: 0, inBytes: 0, outBytes: 0 };
const noRate = { cps: 0, inPps: 0, outPps: 0, inBps: 0, outBps: 0 };

function fails(line: string, message: string) {
  try {
    parse(line);
  } catch (error) {
    assert.instance(error, PcadmError);
    assert.is((error as PcadmError).exitCode, 2, (error as Error).message);
    assert.is((error as Error).message, message);
    return;
  }
  assert.unreachable(`"${line}" was accepted`);
}

test('arguments: [addr]:port for -t/-u/-r, bare IPv6 for -z, all canonical; -M a prefix length', () => {
  const a = parse('-a -t [2001:DB8:18::0010]:80 -r [2001:db8:19:0::1]:8080 -w 2');
  assert.equal(a.service, { protocol: 'tcp', vip: '2001:db8:18::10', port: 80 });
  assert.equal(a.server, { address: '2001:db8:19::1', port: 8080 });
  assert.equal(parse('-a -u [2001:db8:18::10]:53 -r 2001:db8:19::1').server, { address: '2001:db8:19::1', port: 53 }, 'no port: the service\'s');
  assert.equal(parse('-A -u [2001:db8:18::10]:domain2 -s rr'.replace('domain2', '53')).service, { protocol: 'udp', vip: '2001:db8:18::10', port: 53 });
  assert.equal(parse('-A -t [2001:db8:18::10]:www').service?.port, 80);
  const withMask = parse('-A -t [2001:db8:18::10]:80 -s sh -p 300 -M 64');
  assert.equal([withMask.persistence, withMask.prefixLength, withMask.netmask], [300, 64, undefined]);
  assert.is(parse('--add-laddr -t [2001:db8:18::10]:80 -z 2001:DB8:19::0200').localAddress, '2001:db8:19::200');
  assert.is(parse('-P -t [2001:db8:18::64]:80 -z 198.19.0.201').localAddress, '198.19.0.201', 'NAT64: an IPv4 LIP');
  assert.equal(parse('-a -t [2001:db8:18::64]:80 -r 198.19.0.1:80 -b').server, { address: '198.19.0.1', port: 80 });
  assert.equal(parse('-D -t 2001:db8:18::10 -p').service, { protocol: 'tcp', vip: '2001:db8:18::10', port: 0 }, 'bare IPv6: no port');
});

test('bad bracketed or IPv6 arguments: ipvsadm\'s message, then what is wrong', () => {
  fails('-A -t [2001:db8:18::10:80', 'illegal virtual server address[:port] specified: "[2001:db8:18::10:80" has no closing "]"');
  fails('-A -t [2001:db8:18::10]80', 'illegal virtual server address[:port] specified: "[2001:db8:18::10]80": expected ":port" after "]"');
  fails('-A -t [2001:db8:18::10]', 'illegal virtual server address[:port] specified: "[2001:db8:18::10]": expected ":port" after "]"');
  fails('-A -t [2001:db8:18::zz]:80', 'illegal virtual server address[:port] specified: "[2001:db8:18::zz]:80": "2001:db8:18::zz" is not an IPv6 address');
  fails('-A -t [198.18.0.10]:80', 'illegal virtual server address[:port] specified: "[198.18.0.10]:80": brackets go around an IPv6 address only (write 198.18.0.10:80)');
  fails('-A -t 2001:db8:18::10::80', 'illegal virtual server address[:port] specified: "2001:db8:18::10::80" is not an IPv6 address (with a port it goes in brackets, like [2001:db8:18::10]:80)');
  fails('-A -t [2001:db8:18::10]:nosuch', 'illegal virtual server address[:port] specified');
  fails('-a -t [2001:db8:18::10]:80 -r [2001:db8:19::1', 'illegal real server address[:port] specified: "[2001:db8:19::1" has no closing "]"');
  fails('-A -t [2001:db8:18::10]:80 -p 300 -M 255.255.255.0', 'illegal ipv6 netmask specified (expected a prefix length 1..128, like -M 64)');
  fails('-A -t [2001:db8:18::10]:80 -p 300 -M 129', 'illegal ipv6 netmask specified (expected a prefix length 1..128, like -M 64)');
  fails('-A -t 198.18.0.10:80 -p 300 -M 24', 'illegal virtual server persistent mask specified');
  fails('-P -t [2001:db8:18::10]:80 -z [2001:db8:19::200]', 'illegal local address specified: write an IPv6 local address without brackets');
  fails('-P -t [2001:db8:18::10]:80 -z 2001:db8:19::zz', 'illegal local address specified');
});

const server = (address: string, port: number, forward: ForwardMethod = 'fullnat') => ({
  address, port, weight: 1, runningWeight: 1, forward, upperThreshold: 0, lowerThreshold: 0, activeConns: 2, inactiveConns: 3, persistConns: 0,
  stats: { conns: 12, inPackets: 100, outPackets: 90, inBytes: 5000, outBytes: 9000 }, rates: noRate,
});
const service = (vip: string, port: number, extra: Partial<ListService>): ListService => ({
  protocol: 'tcp', vip, port, scheduler: 'rr', persistence: 0, netmask: '', prefixLength: 0, synproxy: false, localAddresses: [],
  stats: zero, rates: noRate, servers: [], ...extra,
});
// Out of order on purpose: --sort puts IPv4 before IPv6 (libipvs compares the family first).
const SERVICES: ListService[] = [
  service('2001:db8:18:ffff:ffff:ffff:ffff:10', 8080, { servers: [server('2001:db8:19:ffff:ffff:ffff:ffff:1', 8080)] }),
  service('2001:db8:18::10', 80, {
    persistence: 300, prefixLength: 64, localAddresses: [{ address: '2001:db8:19::200', conns: 4, conflicts: 0 }],
    servers: [server('2001:db8:19::2', 80, 'nat'), server('2001:db8:19::1', 80)],
  }),
  service('2001:db8:18::64', 80, { scheduler: 'wrr', localAddresses: [{ address: '198.19.0.201', conns: 0, conflicts: 0 }], servers: [server('198.19.0.1', 80)] }),
  service('10.0.0.100', 80, { servers: [server('10.0.1.11', 80)] }),
];

test('-Ln: "TCP  [2001:db8:18::10]:80 rr", "-> [2001:db8:19::1]:80", mask as a prefix length, long names overflow their column', () => {
  assert.fixture(formatList(SERVICES, 'default', numeric, true), [
    'IP Virtual Server version 1.2.1 (size=4096)',
    'Prot LocalAddress:Port Scheduler Flags',
    '  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn',
    'TCP  10.0.0.100:80 rr',
    '  -> 10.0.1.11:80                 FullNat 1      2          3         ',
    'TCP  [2001:db8:18::10]:80 rr persistent 300 mask 64',
    '  -> [2001:db8:19::1]:80          FullNat 1      2          3         ',
    '  -> [2001:db8:19::2]:80          Masq    1      2          3         ',
    'TCP  [2001:db8:18::64]:80 wrr',
    '  -> 198.19.0.1:80                FullNat 1      2          3         ',
    'TCP  [2001:db8:18:ffff:ffff:ffff:ffff:10]:8080 rr',
    '  -> [2001:db8:19:ffff:ffff:ffff:ffff:1]:8080 FullNat 1      2          3         ',
    '',
  ].join('\n'));
  // Without -n: IPv6 stays an address (ipvsadm's reverse lookup finds no IPv6 names), ports are named.
  assert.match(formatList(SERVICES, 'default', { ...numeric, numeric: false }, false), /^TCP  \[2001:db8:18::10\]:http rr persistent 300 mask 64\n  -> \[2001:db8:19::1\]:http {8}FullNat/m);
});

test('-Ln --stats / --rate: "%-33s" and "  -> %-28s" padding, no cut for IPv6 (numbers follow a long name directly)', () => {
  const stats = formatList(SERVICES, 'stats', numeric, false).split('\n');
  assert.equal(stats.slice(2), [
    'TCP  10.0.0.100:80                       0        0        0        0        0',
    '  -> 10.0.1.11:80                       12      100       90     5000     9000',
    'TCP  [2001:db8:18::10]:80                0        0        0        0        0',
    '  -> [2001:db8:19::1]:80                12      100       90     5000     9000',
    '  -> [2001:db8:19::2]:80                12      100       90     5000     9000',
    'TCP  [2001:db8:18::64]:80                0        0        0        0        0',
    '  -> 198.19.0.1:80                      12      100       90     5000     9000',
    'TCP  [2001:db8:18:ffff:ffff:ffff:ffff:10]:8080        0        0        0        0        0',
    '  -> [2001:db8:19:ffff:ffff:ffff:ffff:1]:8080       12      100       90     5000     9000',
    '',
  ]);
  const rate = formatList(SERVICES, 'rate', numeric, false).split('\n');
  assert.is(rate[5], '  -> [2001:db8:19::1]:80                 0        0        0        0        0');
  assert.is(rate[10], '  -> [2001:db8:19:ffff:ffff:ffff:ffff:1]:8080        0        0        0        0        0');
});

test('-Lnc and --get-laddr: bracketed endpoints, LIPs as plain addresses', () => {
  assert.is(formatConnections([{ protocol: 'tcp', client: '2001:db8:18::1', clientPort: 40000, virtual: '2001:db8:18::10', virtualPort: 80,
    server: '2001:db8:19::1', serverPort: 80, state: 'ESTABLISHED', expiresInMs: 899000 }], numeric).split('\n')[2],
  'TCP 14:59  ESTABLISHED [2001:db8:18::1]:40000 [2001:db8:18::10]:80 [2001:db8:19::1]:80');
  assert.equal(formatLocalAddresses(SERVICES, numeric).split('\n').slice(2, 6), [
    '[2001:db8:18::10]:80 1        ',
    '                              2001:db8:19::200     0          4         ',
    '[2001:db8:18::64]:80 1        ',
    '                              198.19.0.201         0          0         ',
  ]);
});

test('-S writes IPv6 and NAT64 rules that -R reads back to the same services, servers, LIPs and -M', () => {
  const saved = formatSave(SERVICES, numeric);
  assert.equal(saved.split('\n').slice(2, 9), [
    '-A -t [2001:db8:18::10]:80 -s rr -p 300 -M 64',
    '--add-laddr -t [2001:db8:18::10]:80 -z 2001:db8:19::200',
    '-a -t [2001:db8:18::10]:80 -r [2001:db8:19::1]:80 -b -w 1',
    '-a -t [2001:db8:18::10]:80 -r [2001:db8:19::2]:80 -m -w 1',
    '-A -t [2001:db8:18::64]:80 -s wrr',
    '--add-laddr -t [2001:db8:18::64]:80 -z 198.19.0.201',
    '-a -t [2001:db8:18::64]:80 -r 198.19.0.1:80 -b -w 1',
  ]);
  // Read back the way -R reads each line; rebuild the list and save it again: the same text.
  const rebuilt = new Map<string, ListService>();
  for (const line of saved.split('\n').filter(Boolean)) {
    const p = parse(line);
    const id = `${p.service!.vip}:${p.service!.port}`;
    if (p.command === 'add-service') {
      rebuilt.set(id, service(p.service!.vip, p.service!.port, {
        scheduler: p.scheduler!, persistence: p.persistence ?? 0, netmask: p.netmask ?? '', prefixLength: p.prefixLength ?? 0,
      }));
    } else if (p.command === 'add-laddr') {
      rebuilt.get(id)!.localAddresses.push({ address: p.localAddress!, conns: 0, conflicts: 0 });
    } else if (p.command === 'add-server') {
      rebuilt.get(id)!.servers.push(server(p.server!.address, p.server!.port, p.forward ?? 'fullnat'));
    } else {
      assert.unreachable(`unexpected command in -S output: ${line}`);
    }
  }
  assert.is(formatSave([...rebuilt.values()], numeric), saved);
});

test.run();
