// End to end client address for UDP services: a real UDP client in pc-client sends through the
// gateway, and the lab's real servers report the client they learned — UOA read from raw sockets
// (src/lab/uoa-reader.ts: uoa_ipo from the IPv4 options, uoa_opp from the protocol-248 header, over
// IPv4 and IPv6) and PROXY v2 read from each datagram (src/lab/servers.ts, UDP 81). The client's
// kernel picks its port; the client prints it, so the check is exact. The UOA datagrams after the
// first uoa_datagrams carry nothing; the server still names the client it learned for that source.
// Needs root and the lab's tools; run under `flock /tmp/pc-lab.lock` like every lab test.
import { suite } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { CLIENT, LOCAL_ADDRESSES, LOCAL_ADDRESSES_V6, PROXY_HTTP_PORT, REAL_SERVERS, VIP, VIP_V6 } from '../../src/lab/topology.js';
import { UOA_UDP_PORT } from '../../src/lab/uoa-reader.js';
import { requireLab, runInNamespace, sharedGateway } from '../support/e2e-lab.js';

const e2e = suite('e2e: client address for UDP services (UOA, PROXY v2)');
e2e.before(requireLab); // no root or a missing tool: every test fails, naming it

const shared = sharedGateway(undefined, undefined, { ipv6Services: true });
e2e.after(() => shared.stop());

const DATAGRAMS = 5;
const UOA_DATAGRAMS = 2;

/** Sends `count` datagrams from one socket to vip:port, one at a time, and prints the port and the answers. */
const CLIENT_PY = String.raw`
import json, socket, sys
vip, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
sock = socket.socket(socket.AF_INET6 if ":" in vip else socket.AF_INET, socket.SOCK_DGRAM)
sock.settimeout(2.0)
sock.connect((vip, port))
answers = []
for n in range(count):
    for attempt in range(3):
        sock.send(b"datagram-%d" % n)
        try:
            answers.append(json.loads(sock.recv(65535)))
            break
        except socket.timeout:
            continue
    else:
        answers.append(None)
print(json.dumps({"port": sock.getsockname()[1], "answers": answers}))
`;

interface Answer { server: string; peer: string; client: string; uoa?: string; checksum_ok?: boolean; payload: string; error?: string }

async function exchange(vip: string, port: number): Promise<{ port: number; answers: (Answer | null)[] }> {
  const r = await runInNamespace(CLIENT.namespace, ['python3', '-c', CLIENT_PY, vip, String(port), String(DATAGRAMS)], 30_000);
  assert.is(r.code, 0, `client to ${vip}:${port}: ${r.stderr}`);
  return JSON.parse(r.stdout) as { port: number; answers: (Answer | null)[] };
}

async function counters(): Promise<Record<string, bigint>> {
  const stats = await shared.running().api.call('Stats', 'GetStats', {});
  const out: Record<string, bigint> = {};
  for (const [k, v] of Object.entries(stats.events as Record<string, string>)) out[k] = BigInt(v);
  return out;
}

async function createService(vip: string, port: number, clientAddress: string, serverPort: number, v6: boolean): Promise<void> {
  const { api } = shared.running();
  await api.call('VirtualServices', 'CreateVirtualService', {
    service: {
      key: { protocol: 'UDP', vip, port }, scheduler: 'rr', clientAddress, name: `e2e-udp-${clientAddress}-${v6 ? 6 : 4}-${port}`,
      ...(clientAddress.startsWith('uoa_') ? { uoaDatagrams: UOA_DATAGRAMS } : {}),
      localAddresses: v6 ? [...LOCAL_ADDRESSES_V6] : [...LOCAL_ADDRESSES],
      servers: REAL_SERVERS.map((server) => ({ address: v6 ? server.addresses6[0]! : server.addresses[0]!, port: serverPort, weight: 1 })),
    },
  });
}

const CASES = [
  { mode: 'uoa_ipo', vip: VIP, port: 9182, serverPort: UOA_UDP_PORT, v6: false },
  { mode: 'uoa_opp', vip: VIP, port: 9183, serverPort: UOA_UDP_PORT, v6: false },
  { mode: 'uoa_opp', vip: VIP_V6, port: 9183, serverPort: UOA_UDP_PORT, v6: true },
  { mode: 'proxy_v2', vip: VIP, port: 9181, serverPort: PROXY_HTTP_PORT, v6: false },
  { mode: 'proxy_v2', vip: VIP_V6, port: 9181, serverPort: PROXY_HTTP_PORT, v6: true },
] as const;

for (const c of CASES) {
  e2e(`${c.mode} over IPv${c.v6 ? 6 : 4}: the real server reports pc-client's own address and port for every datagram`, async () => {
    if (c === CASES[0]) await shared.start(); // the first test starts the shared gateway, the others use it
    else shared.running();
    await createService(c.vip, c.port, c.mode, c.serverPort, c.v6);
    const before = await counters();
    const { port, answers } = await exchange(c.vip, c.port);
    const after = await counters();
    const delta = (k: string): bigint => (after[k] ?? 0n) - (before[k] ?? 0n);
    const client = c.v6 ? `[${CLIENT.addresses6[0]}]:${port}` : `${CLIENT.addresses[0]}:${port}`;
    const lips: readonly string[] = c.v6 ? LOCAL_ADDRESSES_V6 : LOCAL_ADDRESSES;
    answers.forEach((answer, n) => {
      assert.ok(answer, `datagram ${n} answered`);
      assert.match(answer!.server, /^rs[123]$/);
      assert.is(answer!.client, client, `datagram ${n}: the client the server learned`);
      assert.is(answer!.payload, `datagram-${n}`, 'the payload after the carriage is the client\'s');
      const peer = answer!.peer.replace(/^\[|\]?:\d+$/g, '');
      assert.ok(lips.includes(peer), `the UDP peer is a LIP: ${answer!.peer}`);
      if (c.mode.startsWith('uoa_')) {
        assert.is(answer!.uoa, n < UOA_DATAGRAMS ? c.mode.slice(4) : '', `datagram ${n}: UOA only on the first ${UOA_DATAGRAMS}`);
        assert.is(answer!.checksum_ok, true, `datagram ${n}: UDP checksum`);
      }
    });
    assert.equal(new Set(answers.map((a) => a!.server)).size, 1, 'one connection, one server');
    if (c.mode.startsWith('uoa_')) {
      assert.is(delta('uoa_added'), BigInt(UOA_DATAGRAMS), 'the connection carried UOA exactly uoa_datagrams times');
    } else {
      assert.ok(delta('proxy_dgram_added') >= BigInt(DATAGRAMS), `proxy_dgram_added ${delta('proxy_dgram_added')}`);
    }
  });
}

e2e.run();
