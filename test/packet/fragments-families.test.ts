// The fragment scenarios that are the same for IPv4 and IPv6 but for addresses and header
// builders, run once per family (test/support/fragment-families.ts): the default policy drop,
// a policy per service, overlaps (RFC 5722 for IPv6) and the reassembly timeout. What only one
// family has stays in fragments.test.ts and fragments6.test.ts. Time is the injected clock.
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { FRAGMENT_FAMILIES, REASSEMBLE } from '../support/fragment-families.js';
import { expectDrops, withLab } from '../support/golden.js';

for (const family of FRAGMENT_FAMILIES) {
  const { name, bigUdp, fragment } = family;
  const reassembleAll = () => family.config({ fragments: REASSEMBLE });

  test(`${name} default policy drop: fragments are dropped frag_dropped`, async () => {
    await withLab((lab) => {
      const d = lab.counterDelta(() => {
        const out = lab.forward('outside', ...fragment(bigUdp(1000).frame, [0, 512], 1));
        assert.is(out.inside.length, 0);
      });
      expectDrops(d, { frag_dropped: 2 });
    }, family.config());
  });

  test(`${name} per service: the UDP service reassembles while the TCP service keeps the default drop`, async () => {
    await withLab((lab) => {
      assert.is(lab.forward('outside', ...fragment(bigUdp(800).frame, [0, 400], 1)).inside.length, family.rebuiltPiecesOf800In2);
      const tcp = family.tcpSyn(5200, Buffer.alloc(600));
      const d = lab.counterDelta(() => lab.forward('outside', ...fragment(tcp, [0, 304], 2)));
      expectDrops(d, { frag_dropped: 2 });
    }, family.config({ services: [{ serviceId: family.udpServiceId, fragments: REASSEMBLE }] }));
  });

  test(`${name} overlap: a fragment overlapping a held one drops the whole set, each fragment counted frag_overlap`, async () => {
    await withLab((lab) => {
      const { frame } = bigUdp(1200);
      const [a, b] = fragment(frame, [0, 600], 9);
      const overlapping = fragment(frame, [0, 400, 800], 9)[1]!; // bytes 400..800 overlap both
      const d = lab.counterDelta(() => {
        lab.send('outside', a!, overlapping);
        assert.is(lab.forward('outside', b!).inside.length, 0, 'the late piece starts a new set that never completes');
      });
      expectDrops(d, { frag_overlap: 2 });
      const again = lab.counterDelta(() => lab.forward('outside', fragment(frame, [0, 600], 9)[1]!));
      expectDrops(again, { frag_overlap: 2 }, 'a duplicate of a held piece is an overlap too');
    }, reassembleAll());
  });

  test(`${name} timeout: an incomplete set is dropped frag_timeout after timeoutMs (advanceClock), not before`, async () => {
    await withLab((lab) => {
      const [first, second] = fragment(bigUdp(1000).frame, [0, 512], 8);
      lab.send('outside', first!);
      lab.advance(0.9);
      assert.is(lab.stats().drops.frag_timeout, 0, 'still held at 0.9 s');
      const expired = lab.counterDelta(() => lab.advance(0.3));
      expectDrops(expired, { frag_timeout: 1 }, 'the held fragment is counted once');
      const d = lab.counterDelta(() => assert.is(lab.forward('outside', second!).inside.length, 0));
      expectDrops(d, {}, 'the late piece starts a new set (held, nothing dropped yet)');
    }, reassembleAll());
  });
}

test.run();
