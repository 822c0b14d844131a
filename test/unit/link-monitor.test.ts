// The daemon's link poll: ethdev status AND the kernel interface under an af_packet port;
// changes are counted per port, the first poll only records.
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { kernelInterface, LinkMonitor } from '../../src/daemon/link-monitor.js';
import type { PortStats } from '../../src/dataplane/types.js';

const counters = { rxPackets: 0, txPackets: 0, rxBytes: 0, txBytes: 0, rxMissed: 0, rxErrors: 0, txErrors: 0 };

test('kernelInterface: iface= of af_packet / af_xdp / tap device strings; none for ring or PCI', () => {
  assert.is(kernelInterface('net_af_packet1,iface=pc-gw-in'), 'pc-gw-in');
  assert.is(kernelInterface('net_af_xdp0,iface=eth1,start_queue=0'), 'eth1');
  assert.is(kernelInterface('ring'), undefined);
  assert.is(kernelInterface('0000:03:00.0'), undefined);
});

test('a veth going down and up under an af_packet port is two counted changes; ethdev down counts too', () => {
  const kernel = new Map([['pc-gw-in', true]]);
  const ethdev = new Map([['outside', true], ['inside', true]]);
  const stats = (): PortStats[] => [...ethdev].map(([name, up]) => ({ name, ...counters, linkUp: up }));
  const monitor = new LinkMonitor([{ name: 'outside', device: 'ring' }, { name: 'inside', device: 'net_af_packet1,iface=pc-gw-in' }],
    stats, (iface) => kernel.get(iface));
  monitor.poll();
  assert.equal(monitor.state('inside'), { up: true, changes: 0 });
  kernel.set('pc-gw-in', false);
  monitor.poll();
  monitor.poll();
  assert.equal(monitor.state('inside'), { up: false, changes: 1 }, 'af_packet still says up; the veth decides');
  kernel.set('pc-gw-in', true);
  monitor.poll();
  assert.equal(monitor.state('inside'), { up: true, changes: 2 });
  ethdev.set('outside', false);
  monitor.poll();
  assert.equal(monitor.state('outside'), { up: false, changes: 1 });
  assert.equal(monitor.state('inside'), { up: true, changes: 2 });
});

test.run();
