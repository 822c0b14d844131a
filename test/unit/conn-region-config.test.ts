// dataplane.conn_region: parsing (errors name the field) and where 'auto' puts the region file.
import { createHash } from 'node:crypto';
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { configProblems } from '../support/config-problems.js';
import { parseConfig } from '../../src/config/load.js';
import { connRegionPath, isHugetlbfsMount, regionFallback, regionTag } from '../../src/config/conn-region.js';

const PORTS = `ports:
  - { name: outside, device: ring, addresses: [198.18.0.254/24] }
  - { name: inside, device: ring, addresses: [198.19.0.254/24] }
`;
const withRegion = (value: string) => `dataplane: { conn_region: ${value} }\n${PORTS}`;

const HUGETLBFS_MOUNTS = `sysfs /sys sysfs rw,nosuid,nodev,noexec,relatime 0 0
tmpfs /dev/shm tmpfs rw,nosuid,nodev 0 0
hugetlbfs /dev/hugepages hugetlbfs rw,relatime,pagesize=2M 0 0
`;
const NO_HUGETLBFS_MOUNTS = `sysfs /sys sysfs rw,nosuid,nodev,noexec,relatime 0 0
tmpfs /dev/shm tmpfs rw,nosuid,nodev 0 0
none /mnt/huge hugetlbfs rw,relatime,pagesize=2M 0 0
`;

test('conn_region: default auto; auto, off and an absolute path are taken as written', () => {
  assert.is(parseConfig(PORTS, 't.yaml').dataplane.connRegion, 'auto');
  assert.is(parseConfig(withRegion('auto'), 't.yaml').dataplane.connRegion, 'auto');
  assert.is(parseConfig(withRegion('off'), 't.yaml').dataplane.connRegion, 'off');
  assert.equal(parseConfig(withRegion('/dev/shm/gw1.conns'), 't.yaml').dataplane.connRegion, { path: '/dev/shm/gw1.conns' });
});

test('conn_region: a relative path, a directory, an empty string or a number is refused naming dataplane.conn_region', () => {
  for (const bad of ['conns/gw1.conns', '/dev/shm/', '""', '7', 'true', '{ path: /x }']) {
    const problems = configProblems(withRegion(bad));
    assert.is(problems.length, 1, `${bad}: ${problems.join('; ')}`);
    assert.match(problems[0]!, /^dataplane\.conn_region: expected /, bad);
  }
  assert.match(configProblems(withRegion('conns/gw1.conns'))[0]!, /absolute path/);
});

test('auto: /dev/hugepages/portcullis-<first 12 hex of sha256(absolute state file)>.conns with hugepages on a hugetlbfs mount', () => {
  const tag = createHash('sha256').update('/var/lib/portcullis/state.json').digest('hex').slice(0, 12);
  assert.is(regionTag('/var/lib/portcullis/state.json'), tag);
  assert.is(connRegionPath('auto', { stateFile: '/var/lib/portcullis/state.json', hugepages: true, mounts: HUGETLBFS_MOUNTS }),
    `/dev/hugepages/portcullis-${tag}.conns`);
});

test('auto: /dev/shm without hugepages, or when /dev/hugepages is no hugetlbfs mount', () => {
  const tag = regionTag('/var/lib/portcullis/state.json');
  assert.is(connRegionPath('auto', { stateFile: '/var/lib/portcullis/state.json', hugepages: false, mounts: HUGETLBFS_MOUNTS }),
    `/dev/shm/portcullis-${tag}.conns`);
  assert.is(connRegionPath('auto', { stateFile: '/var/lib/portcullis/state.json', hugepages: true, mounts: NO_HUGETLBFS_MOUNTS }),
    `/dev/shm/portcullis-${tag}.conns`);
  assert.ok(isHugetlbfsMount('/dev/hugepages', HUGETLBFS_MOUNTS));
  assert.not.ok(isHugetlbfsMount('/dev/hugepages', NO_HUGETLBFS_MOUNTS));
});

test('auto: the region an earlier daemon left is found on either file system, whatever hugepages this start got (a takeover starts while the old one holds its pages)', () => {
  const tag = regionTag('/var/lib/portcullis/state.json');
  const on = (dir: string) => (path: string) => path === `${dir}/portcullis-${tag}.conns`;
  const base = { stateFile: '/var/lib/portcullis/state.json', mounts: HUGETLBFS_MOUNTS };
  assert.is(connRegionPath('auto', { ...base, hugepages: false, exists: on('/dev/hugepages') }), `/dev/hugepages/portcullis-${tag}.conns`,
    'the old daemon had hugepages, this one did not get them');
  assert.is(connRegionPath('auto', { ...base, hugepages: true, exists: on('/dev/shm') }), `/dev/shm/portcullis-${tag}.conns`,
    'the old daemon ran without hugepages');
  assert.is(connRegionPath('auto', { ...base, hugepages: true, exists: () => false }), `/dev/hugepages/portcullis-${tag}.conns`, 'none yet: by hugepages');
});

test('auto: two state files never share a region; a relative state file is named by its absolute path', () => {
  const placement = (stateFile: string) => ({ stateFile, hugepages: false, mounts: '' });
  const a = connRegionPath('auto', placement('/var/lib/gw-a/state.json'));
  const b = connRegionPath('auto', placement('/var/lib/gw-b/state.json'));
  assert.is.not(a, b);
  assert.is(connRegionPath('auto', placement('state.json')), connRegionPath('auto', placement(`${process.cwd()}/state.json`)));
  assert.match(a!, /^\/dev\/shm\/portcullis-[0-9a-f]{12}\.conns$/);
});

test('auto on hugetlbfs that cannot be mapped (NOMEM): the same name on /dev/shm; never for an explicit path, an existing region or another error', () => {
  const nomem = Object.assign(new Error('connection region: mmap(/dev/hugepages/portcullis-x.conns): Cannot allocate memory'), { code: 'NOMEM' });
  const path = `/dev/hugepages/portcullis-nonexistent-${process.pid}.conns`;
  assert.is(regionFallback('auto', path, nomem), `/dev/shm/portcullis-nonexistent-${process.pid}.conns`);
  assert.is(regionFallback({ path }, path, nomem), undefined, 'an explicit path is what the operator asked for');
  assert.is(regionFallback('auto', `/dev/shm/portcullis-nonexistent-${process.pid}.conns`, nomem), undefined, 'already on tmpfs');
  assert.is(regionFallback('auto', path, Object.assign(new Error('connection region ... is in use'), { code: 'EBUSY' })), undefined);
  assert.is(regionFallback('auto', path, Object.assign(new Error('rte_pktmbuf_pool_create: no memory'), { code: 'NOMEM' })), undefined, 'not the region');
});

test('off: no region; a path is used as given', () => {
  const placement = { stateFile: '/var/lib/portcullis/state.json', hugepages: true, mounts: HUGETLBFS_MOUNTS };
  assert.is(connRegionPath('off', placement), undefined);
  assert.is(connRegionPath({ path: '/srv/gw.conns' }, placement), '/srv/gw.conns');
});

test.run();
