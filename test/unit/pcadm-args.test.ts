// pcadm's ipvsadm command line: combined flags, long forms, names, defaults, refusals
// and ipvsadm's exit codes.
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { parseCommandLine } from '../../src/cli/pcadm/args.js';
import { PcadmError } from '../../src/cli/pcadm/errors.js';
import { parseNameTables } from '../../src/cli/pcadm/names.js';

const names = parseNameTables('10.0.0.100 vip\n# comment\n10.0.1.11 web1\n', 'http 80/tcp www # World Wide Web\ndomain 53/udp\n');
const parse = (line: string) => parseCommandLine(line.split(' ').filter(Boolean), names);

function fails(line: string, exitCode: number, message: RegExp) {
  try {
    parse(line);
  } catch (error) {
    assert.instance(error, PcadmError);
    assert.is((error as PcadmError).exitCode, exitCode, (error as Error).message);
    assert.match((error as Error).message, message);
    return;
  }
  assert.unreachable(`"${line}" was accepted`);
}

test('combined short flags: -Ln, -Lnc, -Sn', () => {
  assert.equal({ ...parse('-Ln'), command: 'list', numeric: true, connections: false }, parse('-L -n'));
  const lnc = parse('-Lnc');
  assert.is(lnc.command, 'list');
  assert.ok(lnc.numeric && lnc.connections);
  assert.is(parse('-Sn').command, 'save');
  assert.is(parse('-l').command, 'list');
});

test('service and server with names, long forms, = values and attached values', () => {
  const a = parse('-a -t vip:http -r web1 -w 3');
  assert.equal(a.service, { protocol: 'tcp', vip: '10.0.0.100', port: 80 });
  // No port on -r: the service's port (ipvsadm copies vport to dport).
  assert.equal(a.server, { address: '10.0.1.11', port: 80 });
  assert.is(a.weight, 3);
  const long = parse('--add-server --tcp-service=10.0.0.100:www --real-server 10.0.1.11:8080 --weight=0 --fullnat');
  assert.equal(long.server, { address: '10.0.1.11', port: 8080 });
  assert.is(long.weight, 0);
  assert.equal(parse('-A -u10.0.0.100:domain -s rr').service, { protocol: 'udp', vip: '10.0.0.100', port: 53 });
  assert.is(parse('-A -t 10.0.0.100:80 -s wrr').scheduler, 'wrr');
  assert.is(parse('--list --stats').format, 'stats');
  assert.is(parse('-L --rate --exact').exact, true);
  assert.is(parse('-L --nosort').sort, false);
  assert.is(parse('--add-laddr -t 10.0.0.100:80 -z 10.0.1.200').localAddress, '10.0.1.200');
  assert.is(parse('-P -t 10.0.0.100:80 -z 10.0.1.200').command, 'add-laddr');
  assert.is(parse('--get-laddr').command, 'get-laddr');
  const thresholds = parse('-a -t 10.0.0.100:80 -r 10.0.1.11 -x 100 -y 50');
  assert.equal([thresholds.upperThreshold, thresholds.lowerThreshold], [100, 50]);
});

test('persistence: -p without a value is 300 s; -M mask; port 0 only when persistent', () => {
  assert.is(parse('-A -t 10.0.0.100:80 -p').persistence, 300);
  assert.is(parse('-A -t 10.0.0.100:80 -p -s rr').persistence, 300);
  const p = parse('-A -t 10.0.0.100:80 -p 60 -M 255.255.255.0');
  assert.equal([p.persistence, p.netmask], [60, '255.255.255.0']);
  assert.is(parse('-A -t 10.0.0.100 -p').service?.port, 0);
  assert.is(parse('-A -t 10.0.0.100:80 --synproxy enable').synproxy, 'on');
  assert.is(parse('-E -t 10.0.0.100:80 -j disable').synproxy, 'off');
});

test('forwarding methods: -b -m -g -i (and long forms); none given = FullNAT; two differing ones refused', () => {
  assert.is(parse('-a -t 10.0.0.100:80 -r 10.0.1.11 -g').forward, 'dr');
  assert.is(parse('-a -t 10.0.0.100:80 -r 10.0.1.11 --gatewaying').forward, 'dr');
  assert.is(parse('-a -t 10.0.0.100:80 -r 10.0.1.11 -i').forward, 'tun');
  assert.is(parse('-e -t 10.0.0.100:80 -r 10.0.1.11 --masquerading -w 2').forward, 'nat');
  assert.is(parse('-a -t 10.0.0.100:80 -r 10.0.1.11 -mw 2').forward, 'nat');
  assert.is(parse('-a -t 10.0.0.100:80 -r 10.0.1.11 -b').forward, 'fullnat');
  assert.is(parse('-a -t 10.0.0.100:80 -r 10.0.1.11').forward, undefined);
  assert.is(parse('-a -t 10.0.0.100:80 -r 10.0.1.11 -g -g').forward, 'dr');
  fails('-a -t 10.0.0.100:80 -r 10.0.1.11 -g -m', 2, /^multiple 'forwarding-method' options specified$/);
});

test('features not built yet are refused, not ignored; bad values as ipvsadm', () => {
  fails('-A -f 7', 2, /firewall-mark/);
  fails('-A -t 10.0.0.100:80 -p 0', 2, /^invalid timeout value `0' specified$/);
  fails('-A -t 10.0.0.100:80 -p 2678401', 2, /^invalid timeout value/);
  fails('-A -t 10.0.0.100:80 -p -M 255.255.255.x', 2, /^illegal virtual server persistent mask specified$/);
  fails('-A -t 10.0.0.100:80 --synproxy maybe', 2, /^synproxy switch must be enable or disable$/);
  fails('-a -t 10.0.0.100:80 -r 10.0.1.11 -x 70000', 2, /^illegal u_threshold specified$/);
});

test("ipvsadm's errors and exit codes", () => {
  fails('', 255, /^Try `pcadm -h' or 'pcadm --help' for more information\.$/);
  fails('-n', 255, /Try `pcadm -h'/);
  fails('-L -X', 2, /^invalid option `-X'$/);
  fails('-L --bogus', 2, /^invalid option `--bogus'$/);
  fails('-A -D -t 10.0.0.100:80', 2, /^multiple commands specified$/);
  fails('-A', 2, /^You need to supply the 'service-address' option for the 'add-service' command$/);
  fails('-a -t 10.0.0.100:80', 2, /'real-server' option for the 'add-server'/);
  fails('-A -t nosuchhost:80', 2, /^illegal virtual server address\[:port\] specified$/);
  fails('-A -t 10.0.0.100:nosuchservice', 2, /^illegal virtual server address/);
  fails('-A -t 10.0.0.100', 2, /^Zero port specified for non-persistent service$/);
  fails('-a -t 10.0.0.100:80 -r 10.0.1.11 -w 70000', 2, /^illegal weight specified$/);
  fails('-a -t 10.0.0.100:80 -r', 255, /^-r: missing argument$/);
  fails('-L extra', 2, /^unexpected argument extra$/);
  fails('--set 1 2', 2, /requires 3 timeout values/);
});

test.run();
