// A lab real server: one process per server namespace, started by labUp with
// `ip netns exec pc-rsN node servers.js --name rsN`. It answers:
//   TCP 80  GET /bytes/<n>[?rate=<bytes per second>]  n bytes of the lab pattern
//           (see pattern.ts), optionally paced so tests get a long-lived flow;
//           GET anything else  {"server":"rsN","peer":"<ip>:<port>","path":"/..."}
//           where peer is the source the server saw (a LIP under FullNAT).
//   UDP 7   echo: every datagram is sent back unchanged to its source.
//   TCP 81  for proxy_v1/proxy_v2 services: reads the PROXY header, then one request head,
//           and answers {"server","peer","client":"<ip>:<port> from the header","path"}.
//   UDP 81  for UDP proxy_v2 services: each datagram's PROXY v2 DGRAM header, answered with
//           {"server","peer","client" (from the header; "" and "error" when there is none),"payload"}.
//   UDP 82  for uoa_ipo/uoa_opp services: DPVS's UOA read from raw sockets (uoa-reader.ts),
//           answered with {"server","peer","client","uoa","checksum_ok","payload"}.
//   UDP 53  a DNS responder for dns health checks: every query answered NOERROR (QR and RA set,
//           RD kept, the question echoed, no records); shorter than a DNS header: ignored.
// Every port listens on both families: one IPv4 socket on 0.0.0.0 and one IPv6-only socket
// on [::], so an IPv4 peer reads "198.19.0.200:41000" exactly as before (a dual-stack socket
// would show it as ::ffff:198.19.0.200) and an IPv6 peer reads "[2001:db8:19::200]:41000".
// It prints `lab-server <name> ready` once every socket listens; labUp waits
// for that line in the server's log file.

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer as createTcpServer, isIPv6, type Server, type Socket } from 'node:net';
import { Readable, pipeline } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { patternChunks } from './pattern.js';
import { parseProxyHeader } from './proxy-protocol.js';
import { startUoaReader } from './uoa-reader.js';
import { DNS_PORT, PROXY_HTTP_PORT } from './topology.js';

const MAX_DOWNLOAD_BYTES = 4 * 1024 ** 3;
const PACING_INTERVAL_MS = 50;
/**
 * How long an idle kept-alive connection stays open (Node's default is 5 s). Long, like nginx's 75 s:
 * test/e2e/restart.test.ts keeps connections idle across a restart of the gateway, and a server that
 * closed them meanwhile would hide whether they survived it.
 */
const KEEP_ALIVE_TIMEOUT_MS = 120_000;

const { values } = parseArgs({
  options: {
    name: { type: 'string' },
    'http-port': { type: 'string', default: '80' },
    'udp-port': { type: 'string', default: '7' },
  },
});
const serverName = values.name ?? 'rs';
const httpPort = Number(values['http-port']);
const udpPort = Number(values['udp-port']);

async function* pacedPattern(totalBytes: number, bytesPerSecond: number): AsyncGenerator<Buffer> {
  const chunkBytes = Math.max(1, Math.floor((bytesPerSecond * PACING_INTERVAL_MS) / 1000));
  // Sleep until each chunk is due rather than a fixed interval per chunk: chunks are capped
  // at the pattern's block size, so a fixed sleep would cap the rate far below a fast one.
  const started = Date.now();
  let sent = 0;
  for (const chunk of patternChunks(totalBytes, chunkBytes)) {
    yield chunk;
    sent += chunk.length;
    const ahead = started + (sent / bytesPerSecond) * 1000 - Date.now();
    if (ahead > 0) await sleep(ahead);
  }
}

function sendBytes(url: URL, match: RegExpMatchArray, response: ServerResponse): void {
  const totalBytes = Number(match[1]);
  const rateText = url.searchParams.get('rate');
  const rate = rateText === null ? 0 : Number(rateText);
  if (!Number.isSafeInteger(totalBytes) || totalBytes > MAX_DOWNLOAD_BYTES || !Number.isFinite(rate) || rate < 0) {
    response.writeHead(400, { 'content-type': 'text/plain' }).end(`bad size or rate\n`);
    return;
  }
  response.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': totalBytes });
  const source = rate > 0 ? Readable.from(pacedPattern(totalBytes, rate)) : Readable.from(patternChunks(totalBytes));
  // A client that goes away mid-download is normal; pipeline just tears down.
  pipeline(source, response, () => undefined);
}

/** "address:port", with the IPv6 address in brackets (RFC 3986 style), so the port is unambiguous. */
function endpoint(address: string | undefined, port: number | undefined): string {
  return `${address !== undefined && isIPv6(address) ? `[${address}]` : address}:${port}`;
}

function handle(request: IncomingMessage, response: ServerResponse): void {
  const url = new URL(request.url ?? '/', 'http://lab.invalid');
  const bytesMatch = url.pathname.match(/^\/bytes\/(\d{1,12})$/);
  if (bytesMatch) {
    sendBytes(url, bytesMatch, response);
    return;
  }
  const body = JSON.stringify({
    server: serverName,
    peer: endpoint(request.socket.remoteAddress, request.socket.remotePort),
    path: request.url ?? '/',
  });
  response.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  response.end(body);
}


// A PROXY-protocol-speaking HTTP/1.0 responder: enough for curl and the e2e tests.
function handleProxied(socket: Socket): void {
  let buffered = Buffer.alloc(0);
  let client: string | undefined;
  socket.setTimeout(10_000, () => socket.destroy());
  socket.on('error', () => socket.destroy());
  socket.on('data', (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    if (client === undefined) {
      const header = parseProxyHeader(buffered);
      if (header.kind === 'incomplete') return;
      if (header.kind === 'invalid') {
        socket.end(`HTTP/1.0 400 Bad Request\r\ncontent-type: text/plain\r\n\r\nno PROXY header: ${header.reason}\n`);
        return;
      }
      client = header.source ? endpoint(header.source.address, header.source.port) : '';
      buffered = buffered.subarray(header.length);
    }
    const headEnd = buffered.indexOf('\r\n\r\n');
    if (headEnd < 0) return;
    const path = buffered.subarray(0, headEnd).toString('latin1').split(' ')[1] ?? '/';
    const body = JSON.stringify({ server: serverName, peer: endpoint(socket.remoteAddress, socket.remotePort), client, path });
    socket.end(`HTTP/1.0 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  });
}
const FAMILIES = [{ host: '0.0.0.0', udpType: 'udp4' }, { host: '::', udpType: 'udp6' }] as const;

function exitOn(what: string): (error: Error) => never {
  return (error) => {
    console.error(`lab-server ${serverName}: ${what}: ${error.message}`);
    process.exit(1);
  };
}

function listen(server: Server, port: number, host: string, backlog: number): Promise<void> {
  // ipv6Only: the IPv4 socket beside it owns IPv4 (else the [::] bind would take both, or clash).
  return new Promise((resolve) => server.listen({ port, host, backlog, ipv6Only: host === '::' }, resolve));
}

function udpEcho(type: 'udp4' | 'udp6', host: string): Promise<UdpSocket> {
  const socket = createSocket({ type, ipv6Only: type === 'udp6' });
  socket.on('message', (message, remote) => socket.send(message, remote.port, remote.address));
  socket.on('error', exitOn(`udp ${host}`));
  return new Promise((resolve) => socket.bind(udpPort, host, () => resolve(socket)));
}

/** UDP PROXY v2: every datagram starts with its own header (the spec: parsed independently per datagram). */
function udpProxied(type: 'udp4' | 'udp6', host: string): Promise<UdpSocket> {
  const socket = createSocket({ type, ipv6Only: type === 'udp6' });
  socket.on('message', (message, remote) => {
    const header = parseProxyHeader(message, 'dgram');
    const answer = header.kind === 'header'
      ? { client: header.source ? endpoint(header.source.address, header.source.port) : '', payload: message.subarray(header.length).toString('latin1') }
      : { client: '', error: header.kind === 'invalid' ? header.reason : 'incomplete', payload: message.toString('latin1') };
    socket.send(JSON.stringify({ server: serverName, peer: endpoint(remote.address, remote.port), ...answer }), remote.port, remote.address);
  });
  socket.on('error', exitOn(`udp proxy ${host}`));
  return new Promise((resolve) => socket.bind(PROXY_HTTP_PORT, host, () => resolve(socket)));
}

function dnsResponder(type: 'udp4' | 'udp6', host: string): Promise<UdpSocket> {
  const socket = createSocket({ type, ipv6Only: type === 'udp6' });
  socket.on('message', (query, remote) => {
    if (query.length < 12) return;
    const answer = Buffer.from(query);
    answer.writeUInt16BE((query.readUInt16BE(2) & 0x0100) | 0x8080, 2);
    socket.send(answer, remote.port, remote.address);
  });
  socket.on('error', exitOn(`dns ${host}`));
  return new Promise((resolve) => socket.bind(DNS_PORT, host, () => resolve(socket)));
}

await startUoaReader(serverName).catch(exitOn('uoa reader'));

await Promise.all(FAMILIES.flatMap(({ host, udpType }) => {
  const httpServer = createServer(handle);
  httpServer.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  httpServer.on('clientError', (_error, socket) => socket.destroy());
  httpServer.on('error', exitOn(`http ${host}`));
  const proxyServer = createTcpServer(handleProxied);
  proxyServer.on('error', exitOn(`proxy ${host}`));
  return [
    listen(httpServer, httpPort, host, 4096),
    listen(proxyServer, PROXY_HTTP_PORT, host, 1024),
    udpEcho(udpType, host),
    udpProxied(udpType, host),
    dnsResponder(udpType, host),
  ];
}));
console.log(`lab-server ${serverName} ready`);

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => process.exit(0));
}
