// A small traffic generator the e2e tests run *inside* a lab namespace
// (`ip netns exec pc-client node … e2e-netns-client.ts <command> …`): the test
// process itself lives in the root namespace and cannot send from there.
// Every command prints one JSON line on stdout and bounds every wait.
//
//   sequential <url> <count> <timeoutMs> [sourceAddress]
//                                          GETs one after another (JSON bodies),
//                                          optionally bound to one local address
//   concurrent <url> <count> <timeoutMs>   <count> GETs all at once, no keep-alive
//   download <url> <timeoutMs>             streams the body, reports size and sha256
//   downloads <url> <count> <timeoutMs>    <count> downloads at once, each reported like download
//   probe <url> <durationMs> <everyMs> <timeoutMs>
//                                          a new GET every <everyMs> for <durationMs>, each reported
//                                          with `at` (epoch ms it started): failover timelines
//   udp <host> <port> <count> <timeoutMs> [<bytes>]  sends <count> datagrams (padded to <bytes>), reports the echoes
//   udp-flows <host> <port> <count> <timeoutMs>
//                                          one datagram from each of <count> fresh sockets (a new flow each),
//                                          all at once; reports per flow the echo, "refused" (ICMP port
//                                          unreachable: ECONNREFUSED on the connected socket) or "silent"
//
// Both families: an IPv6 URL has its address in brackets (http://[2001:db8:18::10]/), a
// source address or UDP host is IPv6 when it has a colon.

import { createHash } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { Agent, get } from 'node:http';
import { isIPv6 } from 'node:net';

const agent = new Agent({ keepAlive: false, maxSockets: Infinity });

interface Reply {
  ok: boolean;
  status?: number;
  body?: string;
  bytes?: number;
  sha256?: string;
  error?: string;
  ms: number;
}

function request(url: string, timeoutMs: number, keepBody: boolean, localAddress?: string): Promise<Reply> {
  const started = Date.now();
  return new Promise((resolve) => {
    const hash = createHash('sha256');
    const chunks: Buffer[] = [];
    let bytes = 0;
    const req = get(url, { agent, timeout: timeoutMs, localAddress }, (response) => {
      response.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        hash.update(chunk);
        if (keepBody) chunks.push(chunk);
      });
      response.on('end', () => resolve({
        ok: response.statusCode === 200 && response.complete, status: response.statusCode, bytes,
        sha256: hash.digest('hex'), body: keepBody ? Buffer.concat(chunks).toString('utf8') : undefined,
        ms: Date.now() - started,
      }));
      response.on('error', (error) => resolve({ ok: false, error: error.message, bytes, ms: Date.now() - started }));
    });
    // Bounds the whole exchange, not just idle time.
    const deadline = setTimeout(() => req.destroy(new Error(`no complete answer within ${timeoutMs} ms`)), timeoutMs);
    req.on('close', () => clearTimeout(deadline));
    req.on('timeout', () => req.destroy(new Error(`idle for ${timeoutMs} ms`)));
    req.on('error', (error) => resolve({ ok: false, error: error.message, bytes, ms: Date.now() - started }));
  });
}

/** gapMs > 0: that long between datagrams, so a burst's echoes never overrun the client's receive buffer. */
async function udpEcho(host: string, port: number, count: number, timeoutMs: number, size = 0, gapMs = 0): Promise<object> {
  const socket = createSocket(isIPv6(host) ? 'udp6' : 'udp4');
  const expected = new Set<string>();
  const echoes: { message: string; bytes: number; from: string }[] = [];
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.connect(port, host, () => resolve());
  });
  const finished = new Promise<void>((resolve) => {
    socket.on('message', (message, remote) => {
      const text = message.toString('utf8');
      echoes.push({ message: text.slice(0, 64), bytes: message.length, from: `${isIPv6(remote.address) ? `[${remote.address}]` : remote.address}:${remote.port}` });
      expected.delete(text);
      if (expected.size === 0) resolve();
    });
    setTimeout(resolve, timeoutMs);
  });
  for (let index = 0; index < count; index++) {
    const marker = `portcullis-e2e-${index}-${Math.random().toString(36).slice(2)}`;
    // size > MTU: the kernel sends it in fragments. The filler's 63-byte period is no multiple of
    // 8, so an echo whose fragments were put back in a wrong order or place does not match.
    const message = marker.padEnd(size, '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-');
    expected.add(message);
    socket.send(message);
    if (gapMs > 0) await new Promise((resolve) => setTimeout(resolve, gapMs));
  }
  await finished;
  socket.close();
  return { sent: count, missing: [...expected], echoes };
}

async function udpFlows(host: string, port: number, count: number, timeoutMs: number): Promise<object> {
  const flows = Array.from({ length: count }, (_, index) => new Promise<string>((resolve) => {
    const socket = createSocket(isIPv6(host) ? 'udp6' : 'udp4');
    const done = (outcome: string) => { clearTimeout(timer); socket.close(); resolve(outcome); };
    const timer = setTimeout(() => done('silent'), timeoutMs);
    socket.on('message', (message) => done(message.toString('utf8').slice(0, 64)));
    socket.on('error', (error: NodeJS.ErrnoException) => done(error.code === 'ECONNREFUSED' ? 'refused' : `error ${error.code ?? error.message}`));
    socket.connect(port, host, () => socket.send(`flow-${index}`));
  }));
  return { outcomes: await Promise.all(flows) };
}

async function main(): Promise<object> {
  const [command, ...args] = process.argv.slice(2);
  switch (command) {
    case 'sequential': {
      const [url, count, timeoutMs, sourceAddress] = [args[0]!, Number(args[1]), Number(args[2]), args[3]];
      const replies: Reply[] = [];
      for (let index = 0; index < count; index++) replies.push(await request(url, timeoutMs, true, sourceAddress));
      return { replies };
    }
    case 'concurrent': {
      const [url, count, timeoutMs] = [args[0]!, Number(args[1]), Number(args[2])];
      const started = Date.now();
      const replies = await Promise.all(Array.from({ length: count }, () => request(url, timeoutMs, true)));
      return { replies, ms: Date.now() - started };
    }
    case 'download': {
      return request(args[0]!, Number(args[1]), false);
    }
    case 'probe': {
      const [url, durationMs, everyMs, timeoutMs] = [args[0]!, Number(args[1]), Number(args[2]), Number(args[3])];
      const probes: Promise<Reply & { at: number }>[] = [];
      for (const end = Date.now() + durationMs; Date.now() < end;) {
        const at = Date.now();
        probes.push(request(url, timeoutMs, true).then((reply) => ({ ...reply, at })));
        await new Promise((resolve) => setTimeout(resolve, everyMs));
      }
      return { replies: await Promise.all(probes) };
    }
    case 'downloads': {
      const [url, count, timeoutMs] = [args[0]!, Number(args[1]), Number(args[2])];
      const started = Date.now();
      const replies = await Promise.all(Array.from({ length: count }, () => request(url, timeoutMs, false)));
      return { replies, ms: Date.now() - started };
    }
    case 'udp-flows': {
      return udpFlows(args[0]!, Number(args[1]), Number(args[2]), Number(args[3]));
    }
    case 'udp': {
      return udpEcho(args[0]!, Number(args[1]), Number(args[2]), Number(args[3]), Number(args[4] ?? 0), Number(args[5] ?? 0));
    }
    default:
      throw new Error(`unknown command ${command}`);
  }
}

main().then(
  (result) => { process.stdout.write(`${JSON.stringify(result)}\n`); },
  (error: unknown) => {
    process.stdout.write(`${JSON.stringify({ error: error instanceof Error ? error.message : String(error) })}\n`);
    process.exitCode = 1;
  },
);
