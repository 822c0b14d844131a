// End to end: client-address carriage and ICMP relay with real Linux stacks.
// TOA: a capture on the real server's side (raw AF_PACKET socket in pc-rs1, see
// e2e-capture.py) shows option 254 with the client's address and port in the
// handshake ACK and the first data segment, and the client sees the server's MSS
// lowered by 8. ICMP: a real server's "port unreachable" reaches the client's
// socket as ECONNREFUSED. Needs root and the lab's tools; without them every test fails, naming what is missing. Run under
// `flock /tmp/pc-lab.lock` like every lab test.

import { suite } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { CLIENT, LOCAL_ADDRESSES, REAL_SERVERS, VIP } from '../../src/lab/topology.js';
import { startCapture } from '../support/e2e-capture.js';
import { requireLab, runInNamespace, sharedGateway } from '../support/e2e-lab.js';
import { describeFrame, type DecodedFrame } from '../support/packet.js';

const TOA_PORT = 8081;
const REFUSING_UDP_PORT = 9;  // nothing listens there on the real servers
const CLIENT_PORT = 45678;    // fixed so the TOA content is known in advance
const RS1 = REAL_SERVERS[0]!;
const CLIENT_ADDRESS = CLIENT.addresses[0]!;

const e2e = suite('e2e: TOA and ICMP relay through the lab');
e2e.before(requireLab); // no root or a missing tool: every test fails, naming it

const gateway = sharedGateway();
const running = () => gateway.running();

function mssOf(frame: DecodedFrame): number | undefined {
  const mss = frame.tcp?.options.find((o) => o.kind === 'mss');
  return mss && mss.kind === 'mss' ? mss.value : undefined;
}

e2e.after(() => gateway.stop());

e2e('the lab comes up and the daemon is ready', async () => {
  await gateway.start();
});

e2e('TOA: the real server sees option 254 with the client address and port; the client sees MSS - 8', async () => {
  const { api } = running();
  const rs1 = RS1.addresses[0]!;
  await api.call('VirtualServices', 'CreateVirtualService', {
    service: {
      key: { protocol: 'TCP', vip: VIP, port: TOA_PORT }, scheduler: 'rr', clientAddress: 'toa',
      localAddresses: [...LOCAL_ADDRESSES], servers: [{ address: rs1, port: 80, weight: 1 }], name: 'e2e-toa',
    },
  });
  const serverSide = await startCapture(RS1.namespace);
  const clientSide = await startCapture(CLIENT.namespace).catch(async (error: unknown) => { await serverSide.stop(); throw error; });
  const curl = await runInNamespace(CLIENT.namespace,
    ['curl', '-sS', '--max-time', '5', '--local-port', String(CLIENT_PORT), `http://${VIP}:${TOA_PORT}/`], 10_000);
  const [atServer, atClient] = [await serverSide.stop(), await clientSide.stop()];
  assert.is(curl.code, 0, `curl through the TOA service failed: ${curl.stderr}\ndaemon: ${running().daemon.output().slice(-1500)}`);
  assert.is((JSON.parse(curl.stdout) as { server: string }).server, 'rs1');

  const inbound = atServer.filter((f) => f.ipv4?.dst === rs1 && f.tcp?.dstPort === 80 && LOCAL_ADDRESSES.includes(f.ipv4.src as never));
  const listing = inbound.map(describeFrame).join('\n  ');
  const withToa = inbound.filter((f) => f.tcp!.options.some((o) => o.kind === 'toa'));
  assert.ok(withToa.length >= 1, `no TOA option in what rs1 received:\n  ${listing}`);
  for (const frame of withToa) {
    assert.equal(frame.tcp!.options[0], { kind: 'toa', port: CLIENT_PORT, address: CLIENT_ADDRESS }, `TOA first, client's address: ${describeFrame(frame)}`);
    assert.equal([...frame.tcp!.optionBytes.subarray(0, 8)], [254, 8, CLIENT_PORT >> 8, CLIENT_PORT & 255, ...CLIENT_ADDRESS.split('.').map(Number)]);
    assert.ok(frame.ipv4!.checksumOk && frame.tcp!.checksumOk, `checksums: ${describeFrame(frame)}`);
  }
  const handshakeAck = inbound.find((f) => f.tcp!.flagNames === 'A' && f.tcp!.payload.length === 0);
  const firstData = inbound.find((f) => f.tcp!.payload.length > 0);
  assert.ok(handshakeAck && firstData, `handshake ACK and data expected:\n  ${listing}`);
  assert.ok(withToa.includes(handshakeAck!), `the handshake ACK carries TOA:\n  ${listing}`);
  assert.ok(withToa.includes(firstData!), `the first data segment carries TOA:\n  ${listing}`);

  const serverSynAck = atServer.find((f) => f.ipv4?.src === rs1 && f.tcp?.flagNames === 'SA');
  const clientSynAck = atClient.find((f) => f.ipv4?.src === VIP && f.tcp?.srcPort === TOA_PORT && f.tcp.flagNames === 'SA');
  assert.ok(serverSynAck && clientSynAck, 'SYN-ACK seen on both sides');
  assert.is(mssOf(clientSynAck!), mssOf(serverSynAck!)! - 8, 'MSS lowered by the TOA length');
  assert.ok(clientSynAck!.tcp!.checksumOk, 'SYN-ACK checksum after the MSS change');
});

e2e('ICMP: a real server\'s port unreachable reaches the client socket (ECONNREFUSED)', async () => {
  const { api } = running();
  await api.call('VirtualServices', 'CreateVirtualService', {
    service: {
      key: { protocol: 'UDP', vip: VIP, port: REFUSING_UDP_PORT }, scheduler: 'rr',
      localAddresses: [...LOCAL_ADDRESSES], servers: [{ address: RS1.addresses[0]!, port: REFUSING_UDP_PORT, weight: 1 }],
    },
  });
  const probe = [
    'import socket', 's = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)', 's.settimeout(3)',
    `s.connect(("${VIP}", ${REFUSING_UDP_PORT}))`, 's.send(b"anyone?")',
    'try:', '    s.recv(100); print("answered")',
    'except ConnectionRefusedError: print("refused")',
    'except socket.timeout: print("timeout")',
  ].join('\n');
  const result = await runInNamespace(CLIENT.namespace, ['python3', '-c', probe], 10_000);
  assert.is(result.stdout.trim(), 'refused', `client saw: ${result.stdout} ${result.stderr}`);
  const stats = await api.call('Stats', 'GetStats', {});
  const relayed = (stats.events as Record<string, string> | undefined)?.['icmp_errors_to_client'];
  assert.ok(relayed !== undefined && BigInt(relayed) >= 1n, `icmp_errors_to_client: ${relayed}`);
});

e2e.run();
