// Opt-in packet trace (DESIGN.md §9): per-worker rings filled only for the traced
// service or port, with each packet's fate (forwarded, or dropped with its reason).
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import {
  CLIENT, LIPS, SERVERS, TCP_SERVICE_ID, TCP_SERVER_IDS, VIP, clientTcp, clientUdp, openTcp, withLab,
} from '../support/golden.js';

test('trace on for the TCP service: a handshake both ways and a no_conn drop, UDP not recorded', async () => {
  await withLab((lab) => {
    lab.dp.traceSet({ enabled: true, serviceId: TCP_SERVICE_ID });
    const flow = openTcp(lab, 40000);
    lab.forward('outside', clientUdp(5353, Buffer.from('not traced')));
    lab.forward('outside', clientTcp(40001, { flags: 'A', seq: 1, ack: 1 }));  // no connection
    const { records, lost } = lab.dp.traceRead();
    assert.is(lost, 0);
    const summary = records.map((r) => [r.port, r.inSource, r.inSourcePort, r.inDestination, r.inDestinationPort,
      r.outSource, r.outSourcePort, r.outDestination, r.outDestinationPort, r.verdict, r.dropReason, r.serviceId]);
    assert.equal(summary, [
      ['outside', CLIENT, 40000, VIP, 80, flow.lip, flow.lport, flow.server, 80, 'forwarded', '', TCP_SERVICE_ID],
      ['inside', flow.server, 80, flow.lip, flow.lport, VIP, 80, CLIENT, 40000, 'forwarded', '', TCP_SERVICE_ID],
      ['outside', CLIENT, 40000, VIP, 80, flow.lip, flow.lport, flow.server, 80, 'forwarded', '', TCP_SERVICE_ID],
      ['outside', CLIENT, 40001, VIP, 80, '0.0.0.0', 0, '0.0.0.0', 0, 'dropped', 'no_conn', TCP_SERVICE_ID],
    ]);
    assert.equal(records.slice(0, 3).map((r) => r.state), ['SYN_RECV', 'SYN_RECV', 'ESTABLISHED']);
    assert.ok(TCP_SERVER_IDS.includes(records[0]!.serverId), `server id ${records[0]!.serverId}`);
    assert.ok(LIPS.includes(records[0]!.outSource) && SERVERS.includes(records[0]!.outDestination));
    assert.ok(records.every((r, i) => i === 0 || r.timeUs >= records[i - 1]!.timeUs), 'oldest first');
    assert.equal(lab.dp.traceRead().records, [], 'a read drains the ring');
  });
});

test('trace off: nothing recorded; trace by port records every service on it', async () => {
  await withLab((lab) => {
    assert.equal(lab.dp.traceRead(), { records: [], lost: 0 }, 'never set');
    lab.dp.traceSet({ enabled: true, serviceId: TCP_SERVICE_ID });
    lab.dp.traceSet({ enabled: false });
    lab.forward('outside', clientTcp(40002, { flags: 'S', seq: 7 }));
    assert.equal(lab.dp.traceRead().records, []);

    lab.dp.traceSet({ enabled: true, port: 'outside' });
    lab.forward('outside', clientUdp(5354, Buffer.from('u')), clientTcp(40003, { flags: 'A', seq: 1, ack: 1 }));
    assert.equal(lab.dp.traceRead().records.map((r) => [r.protocol, r.verdict]), [['udp', 'forwarded'], ['tcp', 'dropped']]);
  });
});

test('the ring is bounded by maxRecords: the oldest are overwritten and counted lost', async () => {
  await withLab((lab) => {
    lab.dp.traceSet({ enabled: true, serviceId: TCP_SERVICE_ID, maxRecords: 3 });
    for (let cport = 41000; cport < 41005; cport++) lab.forward('outside', clientTcp(cport, { flags: 'A', seq: 1, ack: 1 }));
    const { records, lost } = lab.dp.traceRead();
    assert.equal(records.map((r) => r.inSourcePort), [41002, 41003, 41004]);
    assert.is(lost, 2);
  });
});

test('traceSet rejects bad options with EINVAL naming the field', async () => {
  await withLab((lab) => {
    const bad: [unknown, RegExp][] = [
      [{ serviceId: 1 }, /options\.enabled/],
      [{ enabled: true, serviceId: 0 }, /options\.serviceId/],
      [{ enabled: true, port: 'nowhere' }, /options\.port.*outside/],
      [{ enabled: true, maxRecords: 4097 }, /options\.maxRecords/],
    ];
    for (const [options, message] of bad) {
      try {
        lab.dp.traceSet(options as never);
        assert.unreachable(`accepted ${JSON.stringify(options)}`);
      } catch (e) {
        assert.is((e as { code?: string }).code, 'EINVAL');
        assert.match((e as Error).message, message);
      }
    }
  });
});

test.run();
