// End to end: jumbo frames through the real daemon on af_packet ports. First the inside
// segment alone at MTU 9000 (servers' veths and the gateway's inside port), the outside at
// 1500: the gateway sets its kernel interface to 9000, 9000-byte frames cross the inside port
// (ICMP echo from a server), a 50 MB download through FullNAT with TOA arrives intact, the
// server advertises MSS 8960 while the client hears at most 1460. Then both segments at 9000:
// the same download with ~9000-byte segments on the server's wire. Captures are raw sockets
// in the namespaces (e2e-capture.py). Needs root and the lab's tools; run under
// `flock /tmp/pc-lab.lock` like every lab test. The lab MTUs are this suite's options only:
// every lab comes up fresh (1500) for the next suite.

import { suite } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { patternSha256 } from '../../src/lab/pattern.js';
import { mustRun } from '../../src/lab/run.js';
import {
  CLIENT, GATEWAY_INSIDE_ADDRESS, GATEWAY_INSIDE_DEVICE, GATEWAY_INSIDE_IFACE, GATEWAY_OUTSIDE_DEVICE, GATEWAY_OUTSIDE_IFACE,
  LOCAL_ADDRESSES, REAL_SERVERS, VIP,
} from '../../src/lab/topology.js';
import { startCapture } from '../support/e2e-capture.js';
import { clientTool, requireLab, runInNamespace, sharedGateway, type SharedGateway } from '../support/e2e-lab.js';
import type { DecodedFrame } from '../support/packet.js';

interface Reply { ok: boolean; status?: number; bytes?: number; sha256?: string; error?: string; ms: number }

const JUMBO_MTU = 9000;
const TOA_PORT = 8082;
const DOWNLOAD_BYTES = 50 * 1024 * 1024;
const RS1 = REAL_SERVERS[0]!;
const RS1_ADDRESS = RS1.addresses[0]!;
const CLIENT_ADDRESS = CLIENT.addresses[0]!;

/**
 * The demo config with ports at MTU 9000: the device strings lose the lab's fixed 2048-byte
 * af_packet slots; without slotArgs the gateway sizes them for the MTU (core/port_mtu.h).
 */
function jumboPorts(segments: ('outside' | 'inside')[], slotArgs = '') {
  return (yaml: string): string => {
    let out = yaml;
    const devices = { outside: [GATEWAY_OUTSIDE_DEVICE, 0, GATEWAY_OUTSIDE_IFACE], inside: [GATEWAY_INSIDE_DEVICE, 1, GATEWAY_INSIDE_IFACE] } as const;
    for (const segment of segments) {
      const [device, index, iface] = devices[segment];
      const before = out;
      out = out.replace(`device: "${device}"`, `device: "net_af_packet${index},iface=${iface}${slotArgs},qdisc_bypass=1", mtu: ${JUMBO_MTU}`);
      if (out === before) throw new Error(`jumbo config: no ${segment} port with device ${device} in the demo config`);
    }
    return out;
  };
}

const insideOnly = sharedGateway(jumboPorts(['inside']), { mtu: { inside: JUMBO_MTU } });
// Sized by hand like the default lab's rings (32 MiB each): 2048 slots of 9216 bytes, 4 per
// 36 KiB block (each allocated as 64 KiB).
const LAB_JUMBO_SLOTS = ',blocksz=36864,framesz=9216,framecnt=2048';
const bothSides = sharedGateway(jumboPorts(['outside', 'inside'], LAB_JUMBO_SLOTS), { mtu: { outside: JUMBO_MTU, inside: JUMBO_MTU } });

const e2e = suite('e2e: jumbo frames (MTU 9000) through the lab');
e2e.before(requireLab); // no root or a missing tool: every test fails, naming it
e2e.after(async () => {
  await insideOnly.stop();
  await bothSides.stop();
});

const mssOf = (frame: DecodedFrame | undefined): number | undefined =>
  frame?.tcp?.options.flatMap((o) => (o.kind === 'mss' ? [o.value] : []))[0];

async function linkMtu(iface: string): Promise<number> {
  const match = /\bmtu (\d+)/.exec(await mustRun('ip', ['-o', 'link', 'show', iface]));
  return Number(match?.[1]);
}

async function createToaService(gateway: SharedGateway): Promise<void> {
  await gateway.running().api.call('VirtualServices', 'CreateVirtualService', {
    service: {
      key: { protocol: 'TCP', vip: VIP, port: TOA_PORT }, scheduler: 'rr', clientAddress: 'toa',
      localAddresses: [...LOCAL_ADDRESSES], servers: [{ address: RS1_ADDRESS, port: 80, weight: 1 }], name: 'e2e-jumbo-toa',
    },
  });
}

interface Download { reply: Reply; atServer: DecodedFrame[]; atClient: DecodedFrame[] }

/** The 50 MB download through the TOA service, with captures on rs1's and the client's eth0 (first 500 TCP frames each). */
async function downloadCaptured(gateway: SharedGateway): Promise<Download> {
  const serverSide = await startCapture(RS1.namespace);
  const clientSide = await startCapture(CLIENT.namespace).catch(async (error: unknown) => { await serverSide.stop(); throw error; });
  // The captures are stopped whatever the download did; a failed download is reported after.
  const outcome = await clientTool<Reply>(['download', `http://${VIP}:${TOA_PORT}/bytes/${DOWNLOAD_BYTES}`, 90_000], 100_000)
    .then((reply) => ({ reply }), (error: unknown) => ({ error }));
  const atServer = await serverSide.stop();
  const atClient = await clientSide.stop();
  if (!('reply' in outcome)) throw outcome.error;
  const reply = outcome.reply;
  assert.ok(reply.ok, `download failed: ${reply.error ?? reply.status} after ${reply.bytes} bytes\ndaemon: ${gateway.running().daemon.output().slice(-1500)}`);
  assert.is(reply.bytes, DOWNLOAD_BYTES);
  assert.is(reply.sha256, patternSha256(DOWNLOAD_BYTES), 'sha256 of the received bytes');
  return { reply, atServer, atClient };
}

/** The same download without captures running beside it: the figure to compare with e2e/fullnat's. */
async function uncapturedDownloadMs(): Promise<number> {
  const reply = await clientTool<Reply>(['download', `http://${VIP}:${TOA_PORT}/bytes/${DOWNLOAD_BYTES}`, 90_000], 100_000);
  assert.ok(reply.ok && reply.sha256 === patternSha256(DOWNLOAD_BYTES), `second download: ${reply.error ?? reply.status}, ${reply.bytes} bytes`);
  return reply.ms;
}

const rate = (ms: number): string => `${ms} ms (${(DOWNLOAD_BYTES / 1e6 / (ms / 1000)).toFixed(1)} MB/s)`;

function summary(frames: DecodedFrame[]): string {
  const lengths = frames.map((f) => f.ipv4!.totalLength);
  return `${frames.length} frames, IP lengths ${Math.min(...lengths)}..${Math.max(...lengths)}`;
}

async function dropsOf(gateway: SharedGateway): Promise<Record<string, string>> {
  return ((await gateway.running().api.call('Stats', 'GetStats', {})).drops ?? {}) as Record<string, string>;
}

e2e('inside 9000 / outside 1500: the lab and the daemon come up; the gateway set its inside interface to MTU 9000', async () => {
  await insideOnly.start();
  assert.is(await linkMtu(GATEWAY_INSIDE_IFACE), JUMBO_MTU, `${GATEWAY_INSIDE_IFACE} (ports[1].mtu 9000, set by the gateway)`);
  assert.is(await linkMtu(GATEWAY_OUTSIDE_IFACE), 1500, `${GATEWAY_OUTSIDE_IFACE} (ports[0].mtu default)`);
});

e2e('inside 9000: 9000-byte frames cross the inside port whole (ICMP echo, DF, from a server to the gateway)', async () => {
  insideOnly.running();
  const ping = await runInNamespace(RS1.namespace,
    ['ping', '-c', '3', '-i', '0.2', '-W', '2', '-M', 'do', '-s', String(JUMBO_MTU - 28), GATEWAY_INSIDE_ADDRESS], 10_000);
  assert.is(ping.code, 0, `ping -M do -s 8972 ${GATEWAY_INSIDE_ADDRESS}: ${ping.stdout}${ping.stderr}`);
  assert.match(ping.stdout, /3 received/);
  assert.match(ping.stdout, new RegExp(`${JUMBO_MTU - 20} bytes from ${GATEWAY_INSIDE_ADDRESS}`));
});

e2e('inside 9000 / outside 1500: a 50 MB download through FullNAT + TOA arrives intact; the server offers MSS 8960, the client hears <= 1460', async () => {
  await createToaService(insideOnly);
  const { reply, atServer, atClient } = await downloadCaptured(insideOnly);
  const serverSynAck = atServer.find((f) => f.ipv4?.src === RS1_ADDRESS && f.tcp?.flagNames === 'SA');
  const synAtServer = atServer.find((f) => f.ipv4?.dst === RS1_ADDRESS && f.tcp?.flagNames === 'S');
  const clientSynAck = atClient.find((f) => f.ipv4?.src === VIP && f.tcp?.srcPort === TOA_PORT && f.tcp.flagNames === 'SA');
  assert.is(mssOf(serverSynAck), JUMBO_MTU - 40, 'the server advertises the MSS of its 9000-byte link');
  const heardByServer = mssOf(synAtServer);  // a SYN missing from the capture must fail, not read as 0
  assert.ok(heardByServer !== undefined && heardByServer <= 1460, `the server hears the client's MSS, which fits the outside port: ${heardByServer}`);
  assert.is(mssOf(clientSynAck), 1460 - 8, 'the client hears 8960 clamped to the outside port (1460), minus 8 for TOA');
  assert.ok(clientSynAck!.tcp!.checksumOk, 'SYN-ACK checksum after the clamp');
  const clientSyn = atClient.find((f) => f.ipv4?.src === CLIENT_ADDRESS && f.tcp?.flagNames === 'S');
  const firstData = atServer.find((f) => f.ipv4?.dst === RS1_ADDRESS && f.tcp!.payload.length > 0);
  assert.equal(firstData?.tcp!.options[0], { kind: 'toa', port: clientSyn?.tcp!.srcPort, address: CLIENT_ADDRESS }, 'TOA on the request');
  const data = atServer.filter((f) => f.ipv4?.src === RS1_ADDRESS && f.tcp!.payload.length > 0);
  assert.ok(data.length > 0 && data.every((f) => f.ipv4!.totalLength <= 1500 && f.tcp!.checksumOk), `server data: ${summary(data)}`);
  const drops = await dropsOf(insideOnly);
  for (const reason of ['rx_segmented', 'egress_mtu_exceeded', 'malformed_l3']) assert.is(drops[reason] ?? '0', '0', `${reason}: ${drops[reason]}`);
  console.log(`  inside 9000/outside 1500: 50 MB in ${rate(reply.ms)} captured, ${rate(await uncapturedDownloadMs())} not; server data ${summary(data)}; MSS server ${mssOf(serverSynAck)}, client ${mssOf(clientSynAck)}`);
});

e2e('both segments 9000: a 50 MB download through FullNAT + TOA carries ~9000-byte segments on the server wire, intact', async () => {
  await insideOnly.stop();  // (also when the test before failed half-way)
  await bothSides.start();
  assert.is(await linkMtu(GATEWAY_OUTSIDE_IFACE), JUMBO_MTU);
  await createToaService(bothSides);
  const { reply, atServer, atClient } = await downloadCaptured(bothSides);
  const clientSynAck = atClient.find((f) => f.ipv4?.src === VIP && f.tcp?.srcPort === TOA_PORT && f.tcp.flagNames === 'SA');
  assert.is(mssOf(clientSynAck), JUMBO_MTU - 40 - 8, 'the client hears the server MSS lowered for TOA only');
  const data = atServer.filter((f) => f.ipv4?.src === RS1_ADDRESS && f.tcp!.payload.length > 0);
  const jumbo = data.filter((f) => f.ipv4!.totalLength > 8900);
  assert.ok(data.length > 0 && jumbo.length >= data.length / 2, `most server data segments are ~9000 bytes: ${summary(data)}`);
  assert.ok(data.every((f) => f.ipv4!.totalLength <= JUMBO_MTU && f.tcp!.checksumOk), `server data: ${summary(data)}`);
  const atClientData = atClient.filter((f) => f.ipv4?.src === VIP && f.tcp!.payload.length > 0);
  assert.ok(atClientData.some((f) => f.ipv4!.totalLength > 8900 && f.tcp!.checksumOk && f.ipv4!.checksumOk),
    `the client receives them whole, rewritten: ${summary(atClientData)}`);
  const withToa = atServer.filter((f) => f.ipv4?.dst === RS1_ADDRESS && f.tcp!.options.some((o) => o.kind === 'toa'));
  assert.ok(withToa.length >= 1 && withToa.every((f) => f.tcp!.checksumOk), 'TOA reached the server with a right checksum');
  const drops = await dropsOf(bothSides);
  for (const reason of ['rx_segmented', 'egress_mtu_exceeded', 'malformed_l3']) assert.is(drops[reason] ?? '0', '0', `${reason}: ${drops[reason]}`);
  console.log(`  both 9000: 50 MB in ${rate(reply.ms)} captured, ${rate(await uncapturedDownloadMs())} not; server data ${summary(data)}, ${jumbo.length} over 8900`);
});

e2e.run();
