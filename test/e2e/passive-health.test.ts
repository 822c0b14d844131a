// End to end: passive health on a UDP service through the real data plane and real kernels. The
// service's port is open on rs2 and rs3 (a small echo answering "<server> <datagram>") and closed
// on rs1, whose kernel answers each datagram with ICMP port unreachable. The gateway counts those
// for rs1 and relays them (the client's connected socket gets ECONNREFUSED); within the interval
// rs1 is quiesced (health down, reason passive, weight 0 in `pcadm -L`), new flows avoid it; once
// its port is open again it is restored after the back-off and answers.
// Needs root and the lab's tools; without them every test fails, naming what is missing. Run under `flock /tmp/pc-lab.lock` like every lab test.
import { spawn, type ChildProcess } from 'node:child_process';
import { suite } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { runPcadm } from '../../src/cli/pcadm/main.js';
import { REAL_SERVERS, VIP, LOCAL_ADDRESSES } from '../../src/lab/topology.js';
import { clientTool, requireLab, sharedGateway } from '../support/e2e-lab.js';
import { eventually } from '../support/eventually.js';

const PORT = 5300;
const PASSIVE = { rate: 2, intervalMs: 500, backoffMs: 3000, maxBackoffMs: 12000 };
const SLACK_MS = 2_000;  // the apply and its adoption by the workers, timer jitter
const FLOWS = 24;
const key = { protocol: 'UDP', vip: VIP, port: PORT };

const e2e = suite('e2e: passive health (UDP port unreachable)');
e2e.before(requireLab);

const gateway = sharedGateway();
const running = () => gateway.running();
const echoes = new Map<string, ChildProcess>();
const [rs1, rs2, rs3] = REAL_SERVERS;

/** A UDP echo on PORT inside the server's namespace, answering "<name> <datagram>". */
async function openPort(server: typeof rs1): Promise<void> {
  const script = `const s=require('node:dgram').createSocket('udp4');s.on('message',(m,r)=>s.send(Buffer.concat([Buffer.from('${server!.serverName} '),m]),r.port,r.address));s.bind(${PORT},()=>console.log('ready'));`;
  const child = spawn('ip', ['netns', 'exec', server!.namespace, process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  echoes.set(server!.serverName, child);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`echo on ${server!.serverName} not ready`)), 10_000);
    child.stdout!.once('data', () => { clearTimeout(timer); resolve(); });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`echo on ${server!.serverName} exited ${code}`)); });
  });
}

async function flows(count = FLOWS): Promise<string[]> {
  const { outcomes } = await clientTool<{ outcomes: string[] }>(['udp-flows', VIP, PORT, count, 1_500], 10_000);
  return outcomes.map((outcome) => outcome === 'refused' || outcome === 'silent' || outcome.startsWith('error') ? outcome : outcome.split(' ')[0]!);
}

async function pcadm(line: string): Promise<string> {
  let out = '';
  let err = '';
  const code = await runPcadm(['--socket', running().daemon.socketPath, ...line.split(' ')], {
    stdout: (t) => { out += t; }, stderr: (t) => { err += t; }, stdin: async () => '',
  });
  assert.is(code, 0, `pcadm ${line}: ${err}`);
  return out;
}

async function serverState(): Promise<Record<string, string>> {
  const service = await running().api.call('VirtualServices', 'GetVirtualService', { key }) as
    { servers: { address: string; health: string; healthReason: string }[] };
  return Object.fromEntries(service.servers.map((s) => [s.address, `${s.health}${s.healthReason ? `:${s.healthReason}` : ''}`]));
}

async function refusalsOf(address: string): Promise<number> {
  const stats = await running().api.call('Stats', 'GetStats', {}) as
    { services: { key: { vip: string; port: number }; servers: { address: string; icmpUnreachable: string }[] }[] };
  const row = stats.services.find((s) => s.key.port === PORT && s.key.vip === VIP)?.servers.find((s) => s.address === address);
  return Number(row?.icmpUnreachable ?? -1);
}

e2e.after(async () => {
  for (const child of echoes.values()) child.kill('SIGKILL');
  echoes.clear();
  await gateway.stop();
});

e2e('a UDP service with passive health; rs1\'s port is closed, rs2 and rs3 answer', async () => {
  const { api } = await gateway.start();
  await openPort(rs2);
  await openPort(rs3);
  await api.call('VirtualServices', 'CreateVirtualService', {
    service: {
      key, scheduler: 'rr', localAddresses: [...LOCAL_ADDRESSES], name: 'e2e-passive',
      servers: REAL_SERVERS.map((server) => ({ address: server.addresses[0]!, port: PORT, weight: 1 })),
      passiveHealth: PASSIVE,
    },
  });
  const read = await api.call('VirtualServices', 'GetVirtualService', { key }) as { passiveHealth: typeof PASSIVE };
  assert.equal(read.passiveHealth, PASSIVE);
  assert.equal(await serverState(), { [rs1!.addresses[0]!]: 'up', [rs2!.addresses[0]!]: 'up', [rs3!.addresses[0]!]: 'up' });
  // One flow each (rr) teaches the gateway the servers' MACs: a burst to a server not resolved yet
  // would lose what does not fit the neighbour queue (neigh_unresolved). One refusal stays below the rate.
  const warm = await flows(3);
  assert.equal([...warm].sort(), ['refused', 'rs2', 'rs3'], warm.join(' '));
  await new Promise((resolve) => setTimeout(resolve, PASSIVE.intervalMs * 2));
  assert.equal((await serverState())[rs1!.addresses[0]!], 'up', 'one refusal in an interval is not above 2/s');
});

e2e('rs1 refuses: counted, relayed to the clients, quiesced within the interval; new flows avoid it', async () => {
  const started = Date.now();
  const outcomes = await flows();
  assert.ok(outcomes.includes('refused'), `some flows reached closed rs1 and were refused: ${outcomes.join(' ')}`);
  assert.ok(outcomes.every((o) => o === 'refused' || o === 'rs2' || o === 'rs3'), outcomes.join(' '));
  assert.ok(await refusalsOf(rs1!.addresses[0]!) > 0, 'icmp_unreachable counted for rs1');
  await eventually('rs1 is down (passive)', async () => (await serverState())[rs1!.addresses[0]!] === 'down:passive', PASSIVE.intervalMs * 2 + SLACK_MS);
  const tookMs = Date.now() - started;
  assert.equal((await serverState())[rs2!.addresses[0]!], 'up');
  const listing = await pcadm(`-L -n -u ${VIP}:${PORT}`);
  assert.match(listing, new RegExp(`-> ${rs1!.addresses[0]!.replace(/\./g, '\\.')}:${PORT}\\s+FullNat\\s+0\\s`), `pcadm -L shows weight 0:\n${listing}`);
  assert.match(running().daemon.output(), /passive health: udp\/198\.18\.0\.10:5300 real server 198\.19\.0\.1:5300 is down for 3000 ms/);
  const during = await flows(12);
  assert.equal(during.filter((o) => o === 'refused' || o === 'rs1'), [], `no new flow goes to rs1 while it is backed off: ${during.join(' ')} (quiesced after ${tookMs} ms)`);
});

e2e('rs1\'s port opened again: restored after the back-off, and it answers', async () => {
  await openPort(rs1);
  await eventually('rs1 is restored', async () => (await serverState())[rs1!.addresses[0]!] === 'up', PASSIVE.maxBackoffMs + SLACK_MS);
  assert.match(running().daemon.output(), /passive health: udp\/198\.18\.0\.10:5300 real server 198\.19\.0\.1:5300 is restored after its 3000 ms back-off/);
  const after = await flows(12);
  assert.ok(after.includes('rs1'), `rs1 answers again: ${after.join(' ')}`);
  assert.equal(after.filter((o) => o === 'refused' || o === 'silent'), [], after.join(' '));
  assert.equal((await serverState())[rs1!.addresses[0]!], 'up', 'and stays up');
});

e2e.run();
