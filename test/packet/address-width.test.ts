// Every address the data plane carries is 16 bytes wide (dataplane/common/ip_address.h, IPv4
// held as ::ffff:a.b.c.d), so the addon reads either family. Until the stages have their IPv6
// branches, snapshot_build refuses an IPv6 address anywhere in the desired state, naming the
// field, and the configuration that was live stays live. The addon itself refuses the textual
// IPv4-mapped form (a second spelling of an IPv4 address) and prefix lengths past the family's.
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import type { DataplaneConfig } from '../../src/dataplane/types.js';
import {
  CLIENT, VIP, clientSegment, labConfig, only, openTcp, serverSegment, withLab,
  type Flow, type Lab,
} from '../support/golden.js';

/** One round trip on an established flow: client data in, server data out. */
function roundTrip(lab: Lab, flow: Flow, what: string): void {
  const inbound = only(lab.forward('outside', clientSegment(flow, { flags: 'PA', payload: Buffer.from('q') })).inside, `${what}: client data`);
  assert.equal([inbound.ipv4!.src, inbound.tcp!.srcPort, inbound.ipv4!.dst], [flow.lip, flow.lport, flow.server], what);
  const outbound = only(lab.forward('inside', serverSegment(flow, { flags: 'PA', ack: flow.clientIsn + 2, payload: Buffer.from('r') })).outside, `${what}: server data`);
  assert.equal([outbound.ipv4!.src, outbound.ipv4!.dst, outbound.tcp!.dstPort], [VIP, CLIENT, flow.cport], what);
}

/** Applies config, expects the rejection, and checks that the live state did not move. */
function expectRefused(lab: Lab, flow: Flow, config: DataplaneConfig, code: string, message: RegExp, what: string): void {
  const version = lab.stats().snapshotVersion;
  let thrown: (Error & { code?: string }) | undefined;
  try {
    lab.apply(config);
  } catch (e) {
    thrown = e as Error & { code?: string };
  }
  assert.ok(thrown, `${what}: apply() was accepted`);
  assert.is(thrown.code, code, `${what}: ${thrown.message}`);
  assert.match(thrown.message, message, what);
  lab.dp.step();
  assert.is(lab.stats().snapshotVersion, version, `${what}: no new snapshot`);
  roundTrip(lab, flow, `${what}: the live flow`);
}

// Port addresses, routes and ACL prefixes take IPv6 (neighbour discovery, ICMPv6 echo, the IPv6
// route table, test/packet/ipv6-defend.test.ts); a route and a service still keep to one family.
const refusedByTheDataPlane: { field: string; edit: (c: DataplaneConfig) => void; message: string }[] = [
  {
    field: 'routes[0].via',
    edit: (c) => { c.routes.push({ prefix: '10.99.0.0/16', via: '2001:db8:19::9', port: 'inside' }); },
    message: "2001:db8:19::9 is not of the prefix's address family",
  },
  {
    // NAT64 (an IPv6 VIP in front of IPv4 servers and LIPs) is forwarded; with a DR server it is not.
    field: 'services[0].servers[0].forward',
    edit: (c) => { c.services[0]!.vip = '2001:db8:18::10'; c.services[0]!.servers[0]!.forward = 'dr'; },
    message: 'dr cannot be used with NAT64 (IPv6 VIP 2001:db8:18::10, IPv4 server 198.19.0.1): only fullnat translates between families',
  },
  {
    field: 'services[1].local_addresses[2]',
    edit: (c) => { c.services[1]!.localAddresses[2] = '2001:db8:19::200'; },
    message: "local address 2001:db8:19::200 is IPv6 but server 198.19.0.1 is IPv4; a service's VIP, local addresses and servers share one family (the VIP 198.18.0.10 is IPv4)",
  },
  {
    field: 'services[0].servers[1].address',
    edit: (c) => { c.services[0]!.servers[1]!.address = '2001:db8:19::2'; },
    message: "server 2001:db8:19::2 is IPv6 but server 198.19.0.1 is IPv4; a service's VIP, local addresses and servers share one family (the VIP 198.18.0.10 is IPv4)",
  },
];

test('an address of the wrong family in services, servers or LIPs, or a route mixing families, is refused by field; the live config stays', async () => {
  await withLab((lab) => {
    const flow = openTcp(lab, 46000);
    for (const c of refusedByTheDataPlane) {
      const escaped = c.field.replace(/[.[\]]/g, '\\$&');
      const message = c.message.replace(/[.[\]()]/g, '\\$&');
      expectRefused(lab, flow, labConfig(c.edit), 'CONFIG_REJECTED', new RegExp(`^${escaped}: ${message}$`), c.field);
    }
  });
});

test('the addon reads either family and refuses the IPv4-mapped form and lengths past the family\'s, naming the field', async () => {
  const refusedByTheAddon: { what: string; edit: (c: DataplaneConfig) => void; message: RegExp }[] = [
    {
      what: 'mapped server address',
      edit: (c) => { c.services[0]!.servers[0]!.address = '::ffff:198.19.0.1'; },
      message: /^config\.services\[0\]\.servers\[0\]\.address: expected an IPv4 address as a dotted quad, not the IPv4-mapped IPv6 form, got "::ffff:198\.19\.0\.1"/,
    },
    {
      what: 'mapped ACL prefix',
      edit: (c) => { c.defense = { acl: { entries: [{ prefix: '::ffff:10.0.0.0/104', action: 'deny' }] } }; },
      message: /^config\.defense\.acl\.entries\[0\]\.prefix: expected an IPv4 address as a dotted quad, not the IPv4-mapped IPv6 form/,
    },
    {
      what: 'IPv6 prefix longer than 128',
      edit: (c) => { c.ports[1]!.addresses[0] = '2001:db8:19::254/129'; },
      message: /^config\.ports\[1\]\.addresses\[0\]: expected a prefix "address\/len" \(len 0\.\.32 for IPv4, 0\.\.128 for IPv6\)/,
    },
    {
      what: 'IPv4 prefix longer than 32',
      edit: (c) => { c.routes.push({ prefix: '10.99.0.0/64', port: 'inside' }); },
      message: /^config\.routes\[0\]\.prefix: expected a prefix "address\/len"/,
    },
    {
      what: 'not an address',
      edit: (c) => { c.services[0]!.localAddresses[0] = '198.19.0.300'; },
      message: /^config\.services\[0\]\.localAddresses\[0\]: expected an IPv4 \(a\.b\.c\.d\) or IPv6 address, got "198\.19\.0\.300"/,
    },
    {
      what: 'IPv6 persistence netmask',
      edit: (c) => { c.services[0]!.persistenceNetmask = 'ffff:ffff::'; },
      message: /^config\.services\[0\]\.persistenceNetmask: expected an IPv4 netmask a\.b\.c\.d/,
    },
  ];
  await withLab((lab) => {
    const flow = openTcp(lab, 46001);
    for (const c of refusedByTheAddon) expectRefused(lab, flow, labConfig(c.edit), 'EINVAL', c.message, c.what);
  });
});

test.run();
