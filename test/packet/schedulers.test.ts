// Schedulers as IPVS defines them (PROTOCOL.md §5), observed through the SYNs leaving inside.
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { SERVERS, TCP_SERVICE_ID, clientTcp, expectDrops, labConfig, synThrough, withLab } from '../support/golden.js';

test('rr: 3 new connections go to 3 different servers, the 4th to the first again', async () => {
  await withLab((lab) => {
    const picks = [0, 1, 2, 3].map((i) => synThrough(lab, 41000 + i).server);
    assert.is(new Set(picks.slice(0, 3)).size, 3, `first three distinct: ${picks}`);
    assert.is(picks[3], picks[0], `4th wraps to the first: ${picks}`);
    // IPVS rr starts after the list head, i.e. with the first configured server
    assert.equal(picks, [SERVERS[0], SERVERS[1], SERVERS[2], SERVERS[0]]);
  });
});

// IPVS wrr (ip_vs_wrr.c) with A=4, B=3, C=2: di = gcd = 1, mw = max - (di - 1) = 4, cw starts at mw,
// cl at the list head. Each pick walks on from cl to the first server with weight >= cw; passing
// the end of the list lowers cw by di (back to mw when it reaches 0):
//   pick 1: cw=4 -> A(4)                      pick 2: B,C < 4, end -> cw=3 -> A
//   pick 3: B(3>=3)                           pick 4: C < 3, end -> cw=2 -> A
//   pick 5: B                                 pick 6: C(2>=2)
//   pick 7: end -> cw=1 -> A                  pick 8: B            pick 9: C
// => A A B A B C A B C, and pick 10 starts the cycle again with cw=4 -> A.
test('wrr 4/3/2 follows the IPVS sequence A A B A B C A B C over 9 picks', async () => {
  const config = labConfig((c) => {
    const tcp = c.services.find((s) => s.id === TCP_SERVICE_ID)!;
    tcp.scheduler = 'wrr';
    [4, 3, 2].forEach((w, i) => { tcp.servers[i]!.weight = w; });
  });
  await withLab((lab) => {
    const [A, B, C] = SERVERS;
    const picks = Array.from({ length: 10 }, (_, i) => synThrough(lab, 42000 + i).server);
    assert.equal(picks, [A, A, B, A, B, C, A, B, C, A]);
  }, config);
});

test('rr skips a quiesced server (weight 0)', async () => {
  const config = labConfig((c) => { c.services.find((s) => s.id === TCP_SERVICE_ID)!.servers[1]!.weight = 0; });
  await withLab((lab) => {
    const picks = [0, 1, 2, 3].map((i) => synThrough(lab, 43000 + i).server);
    assert.equal(picks, [SERVERS[0], SERVERS[2], SERVERS[0], SERVERS[2]]);
  }, config);
});

test('no server with weight > 0 -> no_real_server', async () => {
  const config = labConfig((c) => { for (const s of c.services[0]!.servers) s.weight = 0; });
  await withLab((lab) => {
    let total = 0;
    const d = lab.counterDelta(() => {
      const out = lab.forward('outside', clientTcp(43100, { flags: 'S' }));
      total = out.inside.length + out.outside.length;
    });
    assert.is(total, 0);
    expectDrops(d, { no_real_server: 1 });
  }, config);
});

test.run();
