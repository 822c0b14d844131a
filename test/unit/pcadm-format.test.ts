// pcadm output against text written from ipvsadm's printf format strings
// (PROTOCOL.md §6.3) for one fixed configuration. Forward: Masq/Route/Tunnel as ipvsadm, "FullNat" as DPVS.
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import {
  formatConnections, formatList, formatLocalAddresses, formatSave, formatTimeout, largeNumber, type FormatOptions, type ListService,
} from '../../src/cli/pcadm/format.js';
import { parseNameTables } from '../../src/cli/pcadm/names.js';

const names = parseNameTables('127.0.0.1 localhost\n10.0.1.11 web1 web1.example\n', 'http 80/tcp www\ndomain 53/udp\ndomain 53/tcp\n');
const numeric: FormatOptions = { numeric: true, exact: false, sort: true, names };
const zero = { conns: 0, inPackets: 0, outPackets: 0, inBytes: 0, outBytes: 0 };
const noRate = { cps: 0, inPps: 0, outPps: 0, inBps: 0, outBps: 0 };

// Deliberately out of order: the daemon's order must not leak, ipvsadm sorts.
const SERVICES: ListService[] = [
  {
    protocol: 'udp', vip: '10.0.0.100', port: 53, scheduler: 'rr', persistence: 0, netmask: '', prefixLength: 0, synproxy: false, localAddresses: [],
    stats: zero, rates: noRate,
    servers: [{ address: '10.0.1.13', port: 53, weight: 1, runningWeight: 1, forward: 'tun', upperThreshold: 0, lowerThreshold: 0, activeConns: 0, inactiveConns: 5, persistConns: 0, stats: zero, rates: noRate }],
  },
  {
    protocol: 'tcp', vip: '10.0.0.100', port: 80, scheduler: 'wrr', persistence: 300, netmask: '255.255.255.0', prefixLength: 0, synproxy: true,
    localAddresses: [{ address: '10.0.1.200', conns: 1234, conflicts: 0 }, { address: '10.0.1.201', conns: 56, conflicts: 78901 }],
    stats: { conns: 1500, inPackets: 30000, outPackets: 28000, inBytes: 123456789, outBytes: 4567890 },
    rates: { cps: 5, inPps: 120, outPps: 110, inBps: 9600, outBps: 150000 },
    servers: [
      { address: '10.0.1.12', port: 8080, weight: 3, runningWeight: 3, forward: 'nat', upperThreshold: 0, lowerThreshold: 0, activeConns: 0, inactiveConns: 0, persistConns: 17, stats: zero, rates: noRate },
      {
        address: '10.0.1.11', port: 80, weight: 1, runningWeight: 1, forward: 'fullnat', upperThreshold: 1000, lowerThreshold: 800, activeConns: 12, inactiveConns: 34, persistConns: 3,
        stats: { conns: 750, inPackets: 15000, outPackets: 14000, inBytes: 900000, outBytes: 2200000 },
        rates: { cps: 2, inPps: 60, outPps: 55, inBps: 4800, outBps: 75000 },
      },
    ],
  },
];

test('-Ln: header, title, service and dest lines (dest "%-28s %-7s %-6d %-10u %-10u")', () => {
  assert.fixture(formatList(SERVICES, 'default', numeric, true), [
    'IP Virtual Server version 1.2.1 (size=4096)',
    'Prot LocalAddress:Port Scheduler Flags',
    '  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn',
    'TCP  10.0.0.100:80 wrr persistent 300 mask 255.255.255.0',
    '  -> 10.0.1.11:80                 FullNat 1      12         34        ',
    '  -> 10.0.1.12:8080               Masq    3      0          0         ',
    'UDP  10.0.0.100:53 rr',
    '  -> 10.0.1.13:53                 Tunnel  1      0          5         ',
    '',
  ].join('\n'));
});

test('-Ln: DR shows as Route (ipvsadm\'s word for -g)', () => {
  const dr: ListService = { ...SERVICES[0]!, servers: [{ ...SERVICES[0]!.servers[0]!, forward: 'dr' }] };
  assert.match(formatList([dr], 'default', numeric, false), /^  -> 10\.0\.1\.13:53 {17}Route   1 {6}0 {10}5 {9}$/m);
  assert.match(formatSave([dr], numeric), /^-a -u 10\.0\.0\.100:53 -r 10\.0\.1\.13:53 -g -w 1$/m);
});

test('-Ln shows the weight the data plane runs (0 while held down by a check or passive health); -S saves the configured one', () => {
  const down: ListService = { ...SERVICES[0]!, servers: [{ ...SERVICES[0]!.servers[0]!, forward: 'fullnat', weight: 4, runningWeight: 0 }] };
  assert.match(formatList([down], 'default', numeric, false), /^  -> 10\.0\.1\.13:53 {17}FullNat 0 {6}0 {10}5 {9}$/m);
  assert.match(formatSave([down], numeric), /^-a -u 10\.0\.0\.100:53 -r 10\.0\.1\.13:53 -b -w 4$/m);
});

test('-L without -n: /etc/hosts and /etc/services names; unknown ones stay numeric', () => {
  const text = formatList(SERVICES, 'default', { ...numeric, numeric: false }, true);
  assert.match(text, /^TCP  10\.0\.0\.100:http wrr persistent 300 mask 255\.255\.255\.0$/m);
  assert.match(text, /^  -> web1:http                    FullNat 1      12 {9}34 {8}$/m);
  assert.match(text, /^  -> 10\.0\.1\.12:8080               Masq/m);
  assert.match(text, /^UDP  10\.0\.0\.100:domain rr$/m);
});

test('--nosort keeps the daemon order', () => {
  const text = formatList(SERVICES, 'default', { ...numeric, sort: false }, false);
  assert.ok(text.indexOf('UDP  10.0.0.100:53') < text.indexOf('TCP  10.0.0.100:80'));
  assert.ok(text.indexOf('10.0.1.12:8080') < text.indexOf('10.0.1.11:80'));
  assert.not.match(text, /IP Virtual Server version/);
});

test('-Ln --stats: "%-33s" + print_largenum (K above 10^8)', () => {
  assert.fixture(formatList(SERVICES.slice(1), 'stats', numeric, true), [
    'IP Virtual Server version 1.2.1 (size=4096)',
    'Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes',
    '  -> RemoteAddress:Port',
    'TCP  10.0.0.100:80                    1500    30000    28000  123456K  4567890',
    '  -> 10.0.1.11:80                      750    15000    14000   900000  2200000',
    '  -> 10.0.1.12:8080                      0        0        0        0        0',
    '',
  ].join('\n'));
});

test('-Ln --rate: dest "  -> %-28s %8u %8u %8u" + two largenums', () => {
  assert.fixture(formatList(SERVICES.slice(1), 'rate', numeric, true), [
    'IP Virtual Server version 1.2.1 (size=4096)',
    'Prot LocalAddress:Port                 CPS    InPPS   OutPPS    InBPS   OutBPS',
    '  -> RemoteAddress:Port',
    'TCP  10.0.0.100:80                       5      120      110     9600   150000',
    '  -> 10.0.1.11:80                        2       60       55     4800    75000',
    '  -> 10.0.1.12:8080                      0        0        0        0        0',
    '',
  ].join('\n'));
});

test('--thresholds and --persistent-conn titles and dest lines', () => {
  assert.fixture(formatList(SERVICES.slice(1), 'thresholds', numeric, false), [
    'Prot LocalAddress:Port            Uthreshold Lthreshold ActiveConn InActConn ',
    '  -> RemoteAddress:Port',
    'TCP  10.0.0.100:80 wrr persistent 300 mask 255.255.255.0',
    '  -> 10.0.1.11:80                 1000       800        12         34        ',
    '  -> 10.0.1.12:8080               0          0          0          0         ',
    '',
  ].join('\n'));
  assert.fixture(formatList(SERVICES.slice(1), 'persistent-conn', numeric, false), [
    'Prot LocalAddress:Port            Weight    PersistConn ActiveConn InActConn ',
    '  -> RemoteAddress:Port',
    'TCP  10.0.0.100:80 wrr persistent 300 mask 255.255.255.0',
    '  -> 10.0.1.11:80                 1         3           12         34        ',
    '  -> 10.0.1.12:8080               3         17          0          0         ',
    '',
  ].join('\n'));
});

test('--get-laddr: DPVS title, "%-20s %-8u \\n" service lines, "%-20s %-8s %-20s %-10lu %-10u" LIP lines with the counts', () => {
  // Numeric whatever -n says (DPVS prints the service with FMT_NUMERIC).
  assert.fixture(formatLocalAddresses(SERVICES, { ...numeric, numeric: false }), [
    'VIP:VPORT            TOTAL    SNAT_IP              CONFLICTS  CONNS     ',
    '10.0.0.100:80        2        ',
    '                              10.0.1.200           0          1234      ',
    '                              10.0.1.201           78901      56        ',
    '10.0.0.100:53        0        ',
    '',
  ].join('\n'));
});

test('print_largenum: every unit boundary, and --exact', () => {
  assert.is(largeNumber(99999999, false), ' 99999999');
  assert.is(largeNumber(100000000, false), '  100000K');
  assert.is(largeNumber(999999999, false), '  999999K');
  assert.is(largeNumber(1e9, false), '    1000M');
  assert.is(largeNumber(99999999999, false), '   99999M');
  assert.is(largeNumber(1e11, false), '     100G');
  assert.is(largeNumber(1e14, false), '     100T');
  assert.is(largeNumber(123456789, true), ' 123456789');
  assert.is(largeNumber(12, true), '       12');
});

test('-Sn: rules in ipvsadm order, -b/-m/-i forwarding, LIPs as --add-laddr', () => {
  assert.fixture(formatSave(SERVICES, numeric), [
    '-A -t 10.0.0.100:80 -s wrr -p 300 -M 255.255.255.0 -j enable',
    '--add-laddr -t 10.0.0.100:80 -z 10.0.1.200',
    '--add-laddr -t 10.0.0.100:80 -z 10.0.1.201',
    '-a -t 10.0.0.100:80 -r 10.0.1.11:80 -b -w 1 -x 1000 -y 800',
    '-a -t 10.0.0.100:80 -r 10.0.1.12:8080 -m -w 3',
    '-A -u 10.0.0.100:53 -s rr',
    '-a -u 10.0.0.100:53 -r 10.0.1.13:53 -i -w 1',
    '',
  ].join('\n'));
});

test('-Lnc: "%-3s %-6s %-11s %-18s %-18s %s" with mm:ss expiry', () => {
  const text = formatConnections([
    { protocol: 'tcp', client: '192.168.5.20', clientPort: 51234, virtual: '10.0.0.100', virtualPort: 80, server: '10.0.1.11', serverPort: 80, state: 'ESTABLISHED', expiresInMs: 899_999 },
    { protocol: 'udp', client: '192.168.5.22', clientPort: 5353, virtual: '10.0.0.100', virtualPort: 53, server: '10.0.1.13', serverPort: 53, state: 'UDP', expiresInMs: 298_000 },
  ], numeric);
  assert.fixture(text, [
    'IPVS connection entries',
    'pro expire state       source             virtual            destination',
    'TCP 14:59  ESTABLISHED 192.168.5.20:51234 10.0.0.100:80      10.0.1.11:80',
    'UDP 04:58  UDP         192.168.5.22:5353  10.0.0.100:53      10.0.1.13:53',
    '',
  ].join('\n'));
});

test('-L --timeout', () => {
  assert.is(formatTimeout(900, 120, 300), 'Timeout (tcp tcpfin udp): 900 120 300\n');
});

test.run();
