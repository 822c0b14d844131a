// Run as a child process by test/packet/x87-state.test.ts: forwards IPv6 FullNAT traffic (TCP
// and UDP, both ways) through the golden harness, then makes V8 allocate and collect a lot.
// V8's C++ uses the x87 unit (long double in its hash tables' rehash policy); if the data
// plane leaves MMX state behind (MMX registers alias the x87 stack), that math goes wrong and
// node aborts with std::bad_alloc. Prints "x87 probe: ok" when it lives through.
import type { DataplaneConfig } from '../../src/dataplane/types.js';
import { CLIENT6, IPVS_TIMEOUTS, LIPS6, SERVERS6, VIP6, dualStackConfig, frameFrom6, withLab } from './golden.js';

function config(): DataplaneConfig {
  return dualStackConfig((c) => {
    for (const [id, protocol, port] of [[61, 'tcp', 80], [62, 'udp', 7]] as const) {
      c.services.push({
        id, protocol, vip: VIP6, port, scheduler: 'rr', localAddresses: [...LIPS6], timeouts: { ...IPVS_TIMEOUTS },
        servers: SERVERS6.map((address, i) => ({ id: id * 10 + i, address, port, weight: 1 })),
      });
    }
  });
}

await withLab((lab) => {
  for (let i = 0; i < 8; i++) {
    const syn = lab.forward('outside', frameFrom6('outside', CLIENT6, VIP6, { tcp: { srcPort: 40000 + i, dstPort: 80, flags: 'S', seq: 1000 } })).inside[0];
    if (!syn?.ipv6 || !syn.tcp) throw new Error(`SYN ${i} was not forwarded over IPv6`);
    lab.forward('inside', frameFrom6('inside', syn.ipv6.dst, syn.ipv6.src, { tcp: { srcPort: 80, dstPort: syn.tcp.srcPort, flags: 'SA', seq: 5000, ack: 1001 } }));
    const datagram = lab.forward('outside', frameFrom6('outside', CLIENT6, VIP6, { udp: { srcPort: 5000 + i, dstPort: 7, payload: Buffer.from('x87') } })).inside[0];
    if (!datagram?.ipv6 || !datagram.udp) throw new Error(`datagram ${i} was not forwarded over IPv6`);
    lab.forward('inside', frameFrom6('inside', datagram.ipv6.dst, datagram.ipv6.src, { udp: { srcPort: 7, dstPort: datagram.udp.srcPort, payload: Buffer.from('x87') } }));
  }
}, config());

// Several young-generation and full collections with allocation-site feedback to process.
for (let round = 0; round < 6; round++) {
  const objects: { index: number; text: string }[] = [];
  for (let index = 0; index < 1_000_000; index++) objects.push({ index, text: `object ${index}` });
  if (objects.length !== 1_000_000) throw new Error('unreachable');
}
console.log('x87 probe: ok');
