// lc wlc sed nq dh sh lblc lblcr mh fo as IPVS defines them (PROTOCOL.md §5), observed through
// the SYNs leaving inside. Expected sequences are worked out by hand from the definitions (see the
// comments); connection counts come from the data plane's own gauges (SYN-only = inactive,
// handshake done = active).
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import type { DataplaneConfig, DataplaneService } from '../../src/dataplane/types.js';
import {
  SERVERS, TCP_SERVICE_ID, VIP, clientTcp, labConfig, only, openTcp, synThrough, withLab, type Lab,
} from '../support/golden.js';

const [A, B, C] = SERVERS as [string, string, string];

function tcpService(config: DataplaneConfig): DataplaneService {
  return config.services.find((s) => s.id === TCP_SERVICE_ID)!;
}

function withScheduler(scheduler: DataplaneService['scheduler'], edit?: (svc: DataplaneService) => void): DataplaneConfig {
  return labConfig((c) => {
    const svc = tcpService(c);
    svc.scheduler = scheduler;
    edit?.(svc);
  });
}

/** The server a SYN from client:cport was sent to (null when nothing left inside). */
function serverFor(lab: Lab, client: string, cport: number): string | null {
  const out = lab.forward('outside', clientTcp(cport, { flags: 'S', seq: 1000 }, VIP, 80, client));
  return out.inside.length ? only(out.inside, `SYN from ${client}:${cport}`).ipv4!.dst : null;
}

const syns = (lab: Lab, count: number, firstPort: number) =>
  Array.from({ length: count }, (_, i) => synThrough(lab, firstPort + i).server);

// lc: minimum active*256 + inactive, first wins ties. SYN-only connections are inactive (+1).
test('lc: idle equal servers take turns A B C A B C', async () => {
  await withLab((lab) => assert.equal(syns(lab, 6, 44000), [A, B, C, A, B, C]), withScheduler('lc'));
});

test('lc: an active connection weighs 256 inactive ones, so A is avoided after its handshake', async () => {
  await withLab((lab) => {
    assert.is(openTcp(lab, 44100).server, A);  // A: 1 active = overhead 256
    assert.equal(syns(lab, 6, 44110), [B, C, B, C, B, C]);
  }, withScheduler('lc'));
});

// wlc 1/2/3 with SYN-only (inactive) connections; switch when loh*w > doh*wleast:
//  (0,0,0) A stays (0*2 > 0*1 false)            -> A
//  (1,0,0) B: 1*2 > 0*1 -> B; C: 0*3 > 0*2 no   -> B
//  (1,1,0) B: 2 > 1 -> B; C: 1*3 > 0 -> C       -> C
//  (1,1,1) B; C: 3 > 2 -> C                     -> C
//  (1,1,2) B; C: 3 > 4 no                       -> B
//  (1,2,2) B: 2 > 2 no; C: 3 > 2 -> C           -> C
//  (1,2,3) B: 2 > 2 no; C: 3 > 3 no             -> A     ... then B C
test('wlc 1/2/3: A B C C B C A B C', async () => {
  const config = withScheduler('wlc', (svc) => [1, 2, 3].forEach((w, i) => { svc.servers[i]!.weight = w; }));
  await withLab((lab) => assert.equal(syns(lab, 9, 44200), [A, B, C, C, B, C, A, B, C]), config);
});

test('wlc equal weights: least loaded wins, ties go to the first', async () => {
  await withLab((lab) => {
    assert.is(openTcp(lab, 44300).server, A);
    assert.is(openTcp(lab, 44301).server, B);  // A active: 256 > 0
    assert.equal(syns(lab, 3, 44310), [C, C, C]);  // C: 1..3 inactive, still < 256
  }, withScheduler('wlc'));
});

// sed 1/2/3 with established connections; overhead = active + 1:
//  (1,1,1) -> C;  (1,1,2) -> B;  (1,2,2) -> C;  (1,2,3) -> A;  (2,2,3) -> B;  (2,3,3) -> C ...
test('sed 1/2/3 over established connections: C B C A B C C B C', async () => {
  const config = withScheduler('sed', (svc) => [1, 2, 3].forEach((w, i) => { svc.servers[i]!.weight = w; }));
  await withLab((lab) => {
    const picks = Array.from({ length: 9 }, (_, i) => openTcp(lab, 44400 + i).server);
    assert.equal(picks, [C, B, C, A, B, C, C, B, C]);
  }, config);
});

test('sed ignores inactive connections: SYN-only conns all go to the heaviest server', async () => {
  const config = withScheduler('sed', (svc) => [1, 2, 3].forEach((w, i) => { svc.servers[i]!.weight = w; }));
  await withLab((lab) => assert.equal(syns(lab, 4, 44500), [C, C, C, C]), config);
});

// nq: the first server with no active connection; when all are busy, the sed choice.
test('nq: idle servers first (A B C), then sed among busy equal servers (A)', async () => {
  await withLab((lab) => {
    const picks = Array.from({ length: 4 }, (_, i) => openTcp(lab, 44600 + i).server);
    assert.equal(picks, [A, B, C, A]);
  }, withScheduler('nq'));
});

test('nq: SYN-only connections leave servers idle, so A keeps taking them', async () => {
  await withLab((lab) => assert.equal(syns(lab, 3, 44700), [A, A, A]), withScheduler('nq'));
});

test('fo: the highest weight takes everything; when quiesced, the next highest', async () => {
  const weights = (w: number[]) => withScheduler('fo', (svc) => w.forEach((x, i) => { svc.servers[i]!.weight = x; }));
  await withLab((lab) => {
    assert.equal(syns(lab, 3, 44800), [B, B, B]);
    lab.apply(weights([1, 0, 2]));
    lab.dp.step();
    assert.equal(syns(lab, 2, 44810), [C, C]);
    lab.apply(weights([2, 0, 2]));  // tie: first in the list
    lab.dp.step();
    assert.equal(syns(lab, 2, 44820), [A, A]);
  }, weights([1, 3, 2]));
});

// dh: bucket = (daddr * 2654435761) & 255 over the VIP 198.18.0.10 -> 234; buckets are filled
// one server each in turn, so bucket 234 holds server 234 % 3 = 0 (A) — for every client.
test('dh: every client goes to the server the VIP hashes to (A)', async () => {
  await withLab((lab) => {
    const picks = ['198.18.0.1', '198.18.0.2', '198.18.0.3', '198.18.0.4'].map((c, i) => serverFor(lab, c, 45000 + i));
    assert.equal(picks, [A, A, A, A]);
  }, withScheduler('dh'));
});

// sh: bucket = hash_32(addr, 8) = (addr * 0x61C88647) >> 24; weights 1/1/1 lay the servers out
// cyclically, so server = bucket % 3. 198.18.0.1 -> 188 (C), .2 -> 30 (A), .3 -> 128 (C),
// .4 -> 226 (B), .5 -> 67 (B), .6 -> 165 (A).
test('sh: a client address always maps to the same server, as IPVS hashes it', async () => {
  await withLab((lab) => {
    const clients = ['198.18.0.1', '198.18.0.2', '198.18.0.3', '198.18.0.4', '198.18.0.5', '198.18.0.6'];
    assert.equal(clients.map((c, i) => serverFor(lab, c, 45100 + i)), [C, A, C, B, B, A]);
    // Same source, other ports: same server.
    assert.equal([1, 2, 3].map((k) => serverFor(lab, '198.18.0.4', 45200 + k)), [B, B, B]);
  }, withScheduler('sh'));
});

test('sh: weight shapes the table (A weight 3 of 5 buckets per cycle); quiesced -> no server unless sh-fallback', async () => {
  const config = (flags: DataplaneService['schedFlags'], weightB = 1) =>
    withScheduler('sh', (svc) => { svc.servers[1]!.weight = weightB; if (flags) svc.schedFlags = flags; });
  await withLab((lab) => {
    assert.is(serverFor(lab, '198.18.0.4', 45300), B);
    lab.apply(config(undefined, 0));  // B quiesced: its buckets are kept but unusable
    lab.dp.step();
    assert.is(serverFor(lab, '198.18.0.4', 45301), null);
    assert.is(lab.stats().drops.no_real_server, 1);
    lab.apply(config(['sh-fallback'], 0));
    lab.dp.step();
    const other = serverFor(lab, '198.18.0.4', 45302);
    assert.ok(other === A || other === C, `fallback picked ${other}`);
    assert.is(serverFor(lab, '198.18.0.4', 45303), other, 'fallback is deterministic');
  }, config(undefined));
});

test('sh-port: one client spreads over servers by source port', async () => {
  await withLab((lab) => {
    const picks = Array.from({ length: 12 }, (_, i) => serverFor(lab, '198.18.0.4', 45400 + i));
    assert.is(new Set(picks).size, 3, `${picks}`);
  }, withScheduler('sh', (svc) => { svc.schedFlags = ['sh-port']; }));
});

test('mh: same client -> same server; many clients spread roughly evenly', async () => {
  await withLab((lab) => {
    const first = serverFor(lab, '198.18.0.7', 45500);
    assert.equal([1, 2, 3].map((k) => serverFor(lab, '198.18.0.7', 45500 + k)), [first, first, first]);
    const counts = new Map<string | null, number>();
    for (let i = 0; i < 300; i++) {
      const s = serverFor(lab, `10.${(i >> 8) & 255}.${i & 255}.1`, 46000 + i);
      counts.set(s, (counts.get(s) ?? 0) + 1);
    }
    for (const server of SERVERS) assert.ok((counts.get(server) ?? 0) > 60, `share of ${server}: ${counts.get(server)}`);
  }, withScheduler('mh'));
});

// Maglev minimal disruption: removing one of N servers moves its own clients (~1/N) and very
// few others.
test('mh: removing one of 10 servers moves at most 1/10 + 5% of 400 clients', async () => {
  const N = 10;
  const build = (count: number) => labConfig((c) => {
    const svc = tcpService(c);
    svc.scheduler = 'mh';
    svc.servers = Array.from({ length: count }, (_, i) => ({ id: 100 + i, address: `198.19.0.${i + 1}`, port: 80, weight: 1 }));
  });
  await withLab((lab) => {
    const clients = Array.from({ length: 400 }, (_, i) => `10.1.${i >> 7}.${(i & 127) + 1}`);
    const before = clients.map((c, i) => serverFor(lab, c, 20000 + i));
    lab.apply(build(N - 1));  // the 10th server (198.19.0.10) leaves
    lab.dp.step();
    const after = clients.map((c, i) => serverFor(lab, c, 30000 + i));
    const moved = clients.filter((_, i) => before[i] !== after[i]).length;
    const onRemoved = before.filter((s) => s === '198.19.0.10').length;
    assert.ok(onRemoved > 0, 'some clients were on the removed server');
    assert.ok(after.every((s) => s !== null && s !== '198.19.0.10'), 'nobody reaches the removed server');
    assert.ok(moved / clients.length <= 1 / N + 0.05, `moved ${moved} of ${clients.length} (${onRemoved} had to)`);
  }, build(N));
});

test('mh: a quiesced server keeps its slots (no other client moves); mh-fallback reroutes its own', async () => {
  const build = (weightB: number, flags?: DataplaneService['schedFlags']) =>
    withScheduler('mh', (svc) => { svc.servers[1]!.weight = weightB; if (flags) svc.schedFlags = flags; });
  await withLab((lab) => {
    const clients = Array.from({ length: 60 }, (_, i) => `10.2.0.${i + 1}`);
    const before = clients.map((c, i) => serverFor(lab, c, 21000 + i));
    lab.apply(build(0, ['mh-fallback']));
    lab.dp.step();
    const after = clients.map((c, i) => serverFor(lab, c, 22000 + i));
    clients.forEach((c, i) => {
      if (before[i] === B) assert.ok(after[i] === A || after[i] === C, `${c} left quiesced B for ${after[i]}`);
      else assert.is(after[i], before[i], `${c} must not move`);
    });
    assert.ok(before.includes(B));
  }, build(1));
});

// lblc: the cache (key = destination = the VIP) keeps the first wlc choice until that server
// is "overloaded": active > weight while another has active*2 < weight.
test('lblc: sticks to A until A has more active conns than its weight, then moves to B', async () => {
  await withLab((lab) => {
    assert.equal(syns(lab, 3, 47000), [A, A, A]);
    assert.is(openTcp(lab, 47010).server, A);  // A active 1 = weight: not overloaded
    assert.is(openTcp(lab, 47011).server, A);  // now active 2 > 1 and B has 0*2 < 1
    assert.equal(syns(lab, 2, 47020), [B, B]);
  }, withScheduler('lblc'));
});

test('lblc: the cache entry is forgotten after 24 h idle (wlc chooses afresh)', async () => {
  // SYN_RECV conns outlive the day here, so A stays the more loaded server.
  const config = withScheduler('lblc', (svc) => { svc.timeouts.tcpSynRecv = 3 * 86400; });
  await withLab((lab) => {
    assert.equal(syns(lab, 2, 47100), [A, A]);
    lab.advance(12 * 3600);
    assert.equal(syns(lab, 1, 47105), [A], 'still cached after 12 h');
    lab.advance(24 * 3600 + 1);
    assert.equal(syns(lab, 1, 47110), [B], 'entry expired: wlc over A(3 inactive), B(0), C(0)');
  }, config);
});

// lblcr: the entry is a set; a hit uses the set's least loaded member.
test('lblcr: the set grows when its member is overloaded and then serves from both', async () => {
  await withLab((lab) => {
    assert.equal(syns(lab, 2, 47200), [A, A]);
    openTcp(lab, 47210);
    openTcp(lab, 47211);  // A: 2 active > weight 1, B idle -> overloaded
    // wlc picks B (A's overhead 514 vs B's 0) and B joins the set {A, B};
    // then set_min over {A, B} = B while B's load stays below A's.
    assert.equal(syns(lab, 3, 47220), [B, B, B]);
  }, withScheduler('lblcr'));
});

test.run();
