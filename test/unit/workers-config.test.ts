// Several workers: the lcore list (EAL -l and --lcores syntax) is counted against
// dataplane.workers, the EAL flag fits the syntax, and the start-up line per port says how
// flows reach the workers.
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { ConfigError, parseConfig } from '../../src/config/load.js';
import { lcoreIds } from '../../src/config/lcores.js';
import { ealArgs } from '../../src/dataplane/addon.js';
import { steeringNote } from '../../src/daemon/steering-note.js';

const PORTS = `ports:
  - { name: outside, device: ring, addresses: [198.18.0.254/24] }
`;

function firstProblem(text: string): string {
  try {
    parseConfig(text, 'test.yaml');
  } catch (error) {
    assert.instance(error, ConfigError);
    return (error as ConfigError).problems[0]!;
  }
  assert.unreachable('config accepted');
  return '';
}

test('lcore lists: -l ranges and --lcores maps of lcores to CPUs', () => {
  assert.equal(lcoreIds('0-3'), [0, 1, 2, 3]);
  assert.equal(lcoreIds('0,2,4'), [0, 2, 4]);
  assert.equal(lcoreIds('0@0,1@1,2@1,3@1'), [0, 1, 2, 3]);
  assert.equal(lcoreIds('0@0,(1-3)@1'), [0, 1, 2, 3]);
  assert.equal(lcoreIds('0@0,(1,2)@(0-1)'), [0, 1, 2]);
  for (const bad of ['', '3-1', '0@', '(0-1', '0@0,(1-(2))@1', 'a', '0,,1']) assert.is(lcoreIds(bad), undefined, bad);
});

test('dataplane.lcores must hold the main lcore plus one per worker', () => {
  const config = parseConfig(`dataplane: { workers: 3, lcores: "0@0,(1-3)@1", polling: adaptive }\n${PORTS}`, 'test.yaml');
  assert.equal([config.dataplane.workers, config.dataplane.lcores], [3, '0@0,(1-3)@1']);
  assert.is(parseConfig(`dataplane: { workers: 3 }\n${PORTS}`, 'test.yaml').dataplane.lcores, '0-3');
  assert.is(firstProblem(`dataplane: { workers: 3, lcores: "0@0,1@1,2@1" }\n${PORTS}`),
    'dataplane.lcores: expected at least workers + 1 = 4 lcores (the first is the main lcore, which never polls), got 3 in "0@0,1@1,2@1"');
  assert.match(firstProblem(`dataplane: { lcores: "0-(1" }\n${PORTS}`), /^dataplane\.lcores: expected an EAL core list/);
});

test('EAL gets -l for a plain list and --lcores for a map', () => {
  assert.equal(ealArgs({ lcores: '0-3', memoryMb: 64, hugepages: 'off' }).args.slice(0, 2), ['-l', '0-3']);
  assert.equal(ealArgs({ lcores: '0@0,(1-3)@1', memoryMb: 64, hugepages: 'off' }).args[0], '--lcores=0@0,(1-3)@1');
});

test('the start-up line says how each port shares flows and replies among workers, per address family', () => {
  const port = { name: 'inside', portId: 1, mac: '02:00:00:00:00:02', driver: 'net_af_packet', queues: 1, rss: false, flowSteering: false, flowSteering6: false };
  assert.is(steeringNote(port), '', 'one worker: nothing to say');
  assert.match(steeringNote({ ...port, queues: 3 }),
    /^; 3 queues: kernel PACKET_FANOUT_HASH spreads flows; no rte_flow lport steering on this device \(IPv4 or IPv6\): .*worker rings/);
  const nic = { ...port, driver: 'net_ice', queues: 4, rss: true };
  assert.match(steeringNote({ ...nic, flowSteering: true, flowSteering6: true }),
    /^; 4 queues: RSS spreads flows; rte_flow rules send replies to IPv4 and IPv6 LIPs to the owning worker's queue$/);
  assert.match(steeringNote({ ...nic, flowSteering: true }),
    /rte_flow rules send replies to IPv4 LIPs .*; the device refused the IPv6 rule, so replies to IPv6 LIPs reaching another worker go through the worker rings/);
  assert.match(steeringNote({ ...nic, flowSteering6: true }),
    /rte_flow rules send replies to IPv6 LIPs .*; the device refused the IPv4 rule, so replies to IPv4 LIPs reaching another worker go through the worker rings/);
});

test.run();
