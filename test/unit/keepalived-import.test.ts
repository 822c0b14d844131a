// `portcullis import keepalived` (src/import/keepalived, src/cli/import.ts) on realistic
// keepalived.conf files written for the test (test/fixtures/keepalived: DR, NAT, DPVS FullNAT
// with local address groups and SYN proxy, a broken one) and on small inline ones: what maps to
// what, every item left out named with its line, errors naming the line, and the exit codes.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { commandImport, IMPORT_EXIT } from '../../src/cli/import.js';
import { importKeepalived } from '../../src/import/keepalived/import.js';
import { hexString } from '../../src/import/keepalived/checks.js';
import { expandAddresses } from '../../src/import/keepalived/addresses.js';
import { parseConfig } from '../../src/config/load.js';
import { repoRoot } from '../../src/api/proto.js';

const FIXTURES = join(repoRoot(), 'test/fixtures/keepalived');

interface Run { code: number; stdout: string; stderr: string }

async function run(args: string[]): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const code = await commandImport(args, { stdout: (t) => { stdout += t; }, stderr: (t) => { stderr += t; } });
  return { code, stdout, stderr };
}

async function runText(text: string): Promise<Run> {
  const dir = await mkdtemp(join(tmpdir(), 'pc-ka-'));
  try {
    const file = join(dir, 'keepalived.conf');
    await writeFile(file, text);
    const result = await run(['keepalived', file]);
    return { ...result, stderr: result.stderr.replaceAll(file, 'keepalived.conf') };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The services the YAML holds, as plain data. */
function services(yaml: string): Record<string, unknown>[] {
  return (parse(yaml) as { services: Record<string, unknown>[] }).services;
}

/** "LINE: ITEM" of each not-mapped line on stderr, by line. */
function notMapped(stderr: string): string[] {
  return [...stderr.matchAll(/^[^:\n]+:(\d+): not mapped: (.*?): /gm)]
    .sort((a, b) => Number(a[1]) - Number(b[1])).map((m) => `${m[1]}: ${m[2]}`);
}

test('DR: wrr with persistence, sh with sh-port, TCP_CHECK timing; global_defs and VRRP named as not mapped', async () => {
  const result = await run(['keepalived', join(FIXTURES, 'dr.conf')]);
  assert.is(result.code, IMPORT_EXIT.partly, result.stderr);
  assert.equal(services(result.stdout), [
    {
      protocol: 'tcp', vip: '198.18.0.10', port: 80, scheduler: 'wrr', persistence_timeout: 50,
      // delay_loop 6, connect_timeout 3, retry 2 → down after 3 failures, up after 1 success (keepalived's rule)
      health_check: { kind: 'tcp', interval_ms: 6000, timeout_ms: 3000, rise: 1, fall: 3 },
      servers: [{ address: '198.19.0.1', port: 80, weight: 3, forward: 'dr' }, { address: '198.19.0.2', port: 80, weight: 1, forward: 'dr' }],
    },
    {
      protocol: 'tcp', vip: '198.18.0.10', port: 443, scheduler: 'sh', sched_flags: ['sh-port'],
      health_check: { kind: 'tcp', interval_ms: 10000, timeout_ms: 3000, rise: 1, fall: 2 },
      servers: [{ address: '198.19.0.1', port: 443, weight: 1, forward: 'dr' }, { address: '198.19.0.2', port: 443, weight: 1, forward: 'dr' }],
    },
  ]);
  assert.equal(notMapped(result.stderr), ['2: global_defs { … }', '12: vrrp_instance VI_WEB { … }']);
  assert.match(result.stderr, /dr\.conf:12: not mapped: vrrp_instance VI_WEB \{ … \}: VRRP is not part of Portcullis/);
  assert.match(result.stdout, /# line 27: virtual_server 198\.18\.0\.10 80\n/, 'each service names its keepalived line');
  assert.match(result.stderr, /2 service\(s\) imported, 2 item\(s\) not mapped/);
});

test('NAT: HTTP_GET, thresholds, persistence granularity, DNS_CHECK on UDP; sorry_server, delay_before_retry and fwmark named', async () => {
  const result = await run(['keepalived', join(FIXTURES, 'nat.conf')]);
  assert.is(result.code, IMPORT_EXIT.partly, result.stderr);
  const [web, dns, ...rest] = services(result.stdout);
  assert.equal(rest, [], 'the fwmark service is not imported');
  assert.equal(web, {
    protocol: 'tcp', vip: '198.18.0.20', port: 8080, scheduler: 'wlc', persistence_timeout: 600, persistence_netmask: '255.255.255.0',
    health_check: { kind: 'http', path: '/healthz', expect_status: 200, interval_ms: 5000, timeout_ms: 2000, rise: 1, fall: 4 },
    servers: [
      { address: '198.19.0.11', port: 8080, weight: 10, upper_threshold: 800, lower_threshold: 600, forward: 'nat' },
      { address: '198.19.0.12', port: 8080, weight: 10, upper_threshold: 800, lower_threshold: 600, forward: 'nat' },
    ],
  });
  assert.equal(dns, {
    protocol: 'udp', vip: '198.18.0.20', port: 53, scheduler: 'rr',
    // DNS_CHECK's retry default is 3
    health_check: { kind: 'dns', query_name: 'health.example.net', query_type: 'A', interval_ms: 4000, timeout_ms: 1000, rise: 1, fall: 4 },
    servers: [{ address: '198.19.0.21', port: 53, weight: 1, forward: 'nat' }, { address: '198.19.0.22', port: 53, weight: 1, forward: 'nat' }],
  }, 'no lb_kind: keepalived\'s default, NAT');
  assert.equal(notMapped(result.stderr), ['22: delay_before_retry 2', '37: delay_before_retry 2', '40: sorry_server 198.19.0.99 8080', '63: virtual_server fwmark 7']);
});

test('DPVS FullNAT: virtual_server group, laddr_group_name with a range, syn_proxy, establish_timeout, proxy_protocol, flag-1, IPv6 granularity, PING_CHECK', async () => {
  const result = await run(['keepalived', join(FIXTURES, 'fullnat-dpvs.conf')]);
  assert.is(result.code, IMPORT_EXIT.partly, result.stderr);
  const lips = ['198.19.0.200', '198.19.0.201', '198.19.0.202', '198.19.0.203'];
  const groupService = (name: string, vip: string) => ({
    name, protocol: 'tcp', vip, port: 80, scheduler: 'rr', synproxy: 'on', local_addresses: lips, timeouts: { tcp_established: 600 },
    health_check: { kind: 'tcp', interval_ms: 3000, timeout_ms: 1000, rise: 1, fall: 3 },
    servers: [{ address: '198.19.0.1', port: 80, weight: 100 }, { address: '198.19.0.2', port: 80, weight: 100 }],
  });
  assert.equal(services(result.stdout), [
    groupService('web_vips-1', '198.18.0.10'),
    groupService('web_vips-2', '198.18.0.11'),
    {
      protocol: 'tcp', vip: '198.18.0.10', port: 8443, scheduler: 'mh', sched_flags: ['mh-fallback'], client_address: 'proxy_v2',
      local_addresses: lips, servers: [{ address: '198.19.0.3', port: 443, weight: 1 }],
    },
    {
      protocol: 'tcp', vip: '2001:db8:18::10', port: 80, scheduler: 'wrr', persistence_timeout: 300, persistence_prefix_length: 64,
      local_addresses: ['2001:db8:19::200'],
      health_check: { kind: 'icmp', interval_ms: 2000, timeout_ms: 1000, rise: 1, fall: 2 },
      servers: [{ address: '2001:db8:19::1', port: 80, weight: 2 }],
    },
  ]);
  assert.equal(notMapped(result.stderr), ['2: global_defs { … }', '15: vrrp_instance VI_1 { … }']);
  assert.not.match(result.stderr, /warning:/, 'no placement warnings against the stand-in ports');
});

test('the printed YAML is what the config loader accepts (with the operator\'s ports)', async () => {
  for (const name of ['dr.conf', 'nat.conf', 'fullnat-dpvs.conf']) {
    const result = await run(['keepalived', join(FIXTURES, name)]);
    const config = parseConfig(`ports:\n  - { name: outside, device: ring, addresses: [198.18.0.254/24] }\n${result.stdout}`, name);
    assert.equal(config.services.length, services(result.stdout).length, name);
  }
});

test('broken file: exit 2, the line of the unclosed block, nothing on stdout', async () => {
  const result = await run(['keepalived', join(FIXTURES, 'broken.conf')]);
  assert.is(result.code, IMPORT_EXIT.invalid);
  assert.is(result.stdout, '');
  assert.match(result.stderr, /broken\.conf:1: error: syntax: the block of "virtual_server 198\.18\.0\.10 80" is never closed/);
  assert.match(result.stderr, /nothing imported/);
});

test('a file that maps completely: exit 0, nothing listed', async () => {
  const result = await runText(`virtual_server 10.0.0.1 80 {
    lb_algo rr
    lb_kind FNAT
    protocol TCP
    real_server 10.0.1.1 80 { weight 2 }
}
`);
  assert.is(result.code, IMPORT_EXIT.mapped, result.stderr);
  assert.equal(services(result.stdout), [{ protocol: 'tcp', vip: '10.0.0.1', port: 80, scheduler: 'rr', servers: [{ address: '10.0.1.1', port: 80, weight: 2 }] }]);
  assert.match(result.stderr, /1 service\(s\) imported, 0 item\(s\) not mapped/);
  assert.match(result.stderr, /warning: services\[0\]\.local_addresses: empty, but fullnat servers need local addresses/,
    'the validator\'s warning reaches the operator');
});

test('bad values are errors naming their line; every one of them is listed, nothing printed', async () => {
  const result = await runText(`virtual_server 10.0.0.1 80 {
    lb_algo fastest
    lb_kind BRIDGE
    real_server 10.0.1.300 80 {
    }
    real_server 10.0.1.2 80 {
        weight 70000
    }
    laddr_group_name nowhere
}
virtual_server group missing {
}
`);
  assert.is(result.code, IMPORT_EXIT.invalid);
  assert.is(result.stdout, '');
  const lines = [...result.stderr.matchAll(/keepalived\.conf:(\d+): error: /g)].map((m) => Number(m[1]));
  assert.equal(lines.sort((a, b) => a - b), [2, 3, 4, 7, 9, 11], result.stderr);
  assert.match(result.stderr, /:2: error: lb_algo fastest: lb_algo: expected one of rr wrr lc wlc/);
  assert.match(result.stderr, /:7: error: weight 70000: weight: expected a whole number 0\.\.65535, got "70000"/);
  assert.match(result.stderr, /:9: error: laddr_group_name nowhere: no local_address_group named "nowhere"/);
});

test('what the validator refuses is reported at the keepalived line it came from', async () => {
  const dr = (extra: string) => runText(`virtual_server 10.0.0.1 80 {
    lb_kind DR
    ${extra}
    real_server 10.0.1.1 8080 {
        weight 1
    }
}
`);
  const port = await dr('protocol TCP');
  assert.is(port.code, IMPORT_EXIT.invalid);
  assert.is(port.stdout, '');
  // DR does not rewrite ports: the validator names services[0].servers[0].port, which is line 4.
  assert.match(port.stderr, /keepalived\.conf:4: error: refused by the Portcullis validator: services\[0\]\.servers\[0\]\.port: expected 80/);
  const synproxy = await dr('syn_proxy');
  assert.match(synproxy.stderr, /keepalived\.conf:4: error: refused by the Portcullis validator: services\[0\]\.servers\[0\]\.forward: dr cannot be used with synproxy on/);
});

test('checkers: one check per service, the odd ones out named; connect_port elsewhere, MISC_CHECK and SSL_GET are not mapped', async () => {
  const result = await runText(`virtual_server 10.0.0.1 80 {
    delay_loop 2
    connect_timeout 3
    lb_kind NAT
    real_server 10.0.1.1 80 {
        HTTP_GET {
            url { path /ok
                  status_code 204 }
            url { path /second }
        }
    }
    real_server 10.0.1.2 80 {
        TCP_CHECK { connect_port 8081 }
    }
    real_server 10.0.1.3 80 {
        MISC_CHECK { misc_path "/usr/bin/check --deep" }
    }
    real_server 10.0.1.4 80 {
        SSL_GET { url { path / } }
    }
    real_server 10.0.1.5 80 {
    }
}
`);
  assert.is(result.code, IMPORT_EXIT.partly, result.stderr);
  const [service] = services(result.stdout);
  // connect_timeout 3 s is not below delay_loop 2 s: bounded (and said) so probes never overlap.
  assert.equal(service!.health_check, { kind: 'http', path: '/ok', expect_status: 204, interval_ms: 2000, timeout_ms: 1999, rise: 1, fall: 2 });
  assert.equal(notMapped(result.stderr), [
    '6: HTTP_GET (connect_timeout)',
    '9: url',
    '13: connect_port 8081',
    '16: MISC_CHECK',
    '19: SSL_GET',
    '21: real_server 10.0.1.5 80',
  ]);
  assert.match(result.stderr, /:16: not mapped: MISC_CHECK: Portcullis runs no check scripts/);
  assert.match(result.stderr, /:21: not mapped: real_server 10\.0\.1\.5 80: has no checker, but Portcullis checks every server of the service with the check of line 6/);
});

test('UDP_CHECK: keepalived\'s free-form hex, require_reply; on a TCP service it is named, not mapped', async () => {
  assert.is(hexString(['Ab12f', '3', '456', '546443123']), 'ab120f0345065464431203', 'the manual\'s example');
  assert.is(hexString(['0aXX']), undefined, 'X wildcards are not exact bytes');
  const result = await runText(`virtual_server 10.0.0.1 7 {
    protocol UDP
    delay_loop 1
    connect_timeout 0.5
    real_server 10.0.1.1 7 {
        UDP_CHECK {
            payload 70 69 6e 67
            require_reply 706f6e67
        }
    }
}
virtual_server 10.0.0.1 80 {
    real_server 10.0.1.1 80 {
        UDP_CHECK { payload 00 }
    }
}
`);
  const [udp, tcp] = services(result.stdout);
  assert.equal(udp!.health_check, { kind: 'udp', payload_hex: '70696e67', expect_hex: '706f6e67', interval_ms: 1000, timeout_ms: 500, rise: 1, fall: 2 });
  assert.is(tcp!.health_check, undefined);
  assert.match(result.stderr, /:14: not mapped: UDP_CHECK: Portcullis runs udp checks on UDP services only; this one is tcp/);
});

test('include, conditional lines and unknown keywords are named with their line', async () => {
  const result = await runText(`include /etc/keepalived/conf.d/*.conf
@lb1 virtual_server 10.0.0.9 80 {
}
virtual_server 10.0.0.1 80 {
    lb_kind FNAT
    frobnicate yes
    quorum 2
    real_server 10.0.1.1 80 {
        notify_down "/usr/bin/page oncall"
    }
}
virtual_server 10.0.0.1 81 {
    lb_kind TUN type gue port 6080
    real_server 10.0.1.1 81 {
    }
}
virtual_server 10.0.0.1 {
    persistence_timeout
}
`);
  assert.is(result.code, IMPORT_EXIT.partly, result.stderr);
  assert.equal(services(result.stdout).map((s) => s.port), [80]);
  assert.equal(notMapped(result.stderr), [
    '1: include /etc/keepalived/conf.d/*.conf',
    '2: @lb1 virtual_server 10.0.0.9 80 { … }',
    '6: frobnicate yes',
    '7: quorum 2',
    '9: notify_down /usr/bin/page oncall',
    '13: lb_kind TUN type gue port 6080',
    '17: virtual_server 10.0.0.1',
  ]);
  assert.match(result.stderr, /:1: not mapped: include [^:]+: included files are not followed/);
});

test('defaults as keepalived has them: wlc, NAT, persistence 360 s when only granularity is given', () => {
  const result = importKeepalived('virtual_server 10.0.0.1 80 {\n persistence_granularity 255.255.0.0\n real_server 10.0.1.1 80 {\n }\n}\n', 'k.conf');
  assert.equal(result.errors, []);
  assert.equal(services(result.yaml!), [{
    protocol: 'tcp', vip: '10.0.0.1', port: 80, scheduler: 'wlc', persistence_timeout: 360, persistence_netmask: '255.255.0.0',
    servers: [{ address: '10.0.1.1', port: 80, weight: 1, forward: 'nat' }],
  }]);
});

test('address groups: single addresses, last-octet ranges, small prefixes; big or bad ones refused with the reason', () => {
  assert.equal(expandAddresses('10.0.0.7'), ['10.0.0.7']);
  assert.equal(expandAddresses('10.0.0.7-9'), ['10.0.0.7', '10.0.0.8', '10.0.0.9']);
  assert.equal(expandAddresses('10.0.0.8/30'), ['10.0.0.8', '10.0.0.9', '10.0.0.10', '10.0.0.11']);
  assert.equal(expandAddresses('2001:DB8::1'), ['2001:db8::1']);
  assert.match(String(expandAddresses('10.0.0.0/16')), /65536 addresses; at most 256/);
  assert.match(String(expandAddresses('10.0.0.9-7')), /not an IPv4 range/);
  assert.match(String(expandAddresses('web')), /not an address/);
});

test('usage, unreadable files, a directory and an endless file: exit 2 with a message', async () => {
  const usage = await run(['haproxy', 'x.cfg']);
  assert.is(usage.code, IMPORT_EXIT.usage);
  assert.match(usage.stderr, /expected "keepalived FILE", got "haproxy x\.cfg"/);
  const missing = await run(['keepalived', '/nonexistent/keepalived.conf']);
  assert.is(missing.code, IMPORT_EXIT.invalid);
  assert.match(missing.stderr, /cannot read \/nonexistent\/keepalived\.conf: ENOENT/);
  const endless = await run(['keepalived', '/dev/zero']);
  assert.is(endless.code, IMPORT_EXIT.invalid);
  assert.match(endless.stderr, /cannot read \/dev\/zero: larger than 8388608 bytes/);
  const directory = await run(['keepalived', FIXTURES]);
  assert.is(directory.code, IMPORT_EXIT.invalid);
  assert.match(directory.stderr, /EISDIR/);
});

test('ops (one-packet scheduling) maps to one_packet on a UDP FNAT service; on TCP the validator refuses it at the virtual_server\'s line', () => {
  const udp = importKeepalived('virtual_server 10.0.0.53 53 {\n lb_algo rr\n lb_kind FNAT\n protocol UDP\n ops\n real_server 10.0.1.1 53 {\n }\n}\n', 'k.conf');
  assert.equal(udp.errors, []);
  assert.equal(services(udp.yaml!), [{
    protocol: 'udp', vip: '10.0.0.53', port: 53, scheduler: 'rr', one_packet: true,
    servers: [{ address: '10.0.1.1', port: 53, weight: 1 }],
  }]);
  const tcp = importKeepalived('virtual_server 10.0.0.1 80 {\n lb_kind FNAT\n protocol TCP\n ops\n real_server 10.0.1.1 80 {\n }\n}\n', 'k.conf');
  assert.equal(tcp.errors.map((e) => [e.line, /^services\[0\]\.one_packet: one-packet scheduling is for UDP services only/.test(e.reason)]), [[1, true]],
    JSON.stringify(tcp.errors));
});

test.run();
