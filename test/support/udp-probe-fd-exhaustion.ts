// Child process of test/unit/health-udp.test.ts: the real udp and dns probes while this process
// has NO file descriptor left (a real EMFILE from socket(), not a mock). Started under `ulimit -n`
// so filling the table is quick. One UDP server answers both probes (echo, and a DNS answer made
// from the query). Prints one JSON line: the outcomes before, during and after the fill.
import { createSocket } from 'node:dgram';
import { closeSync, openSync } from 'node:fs';
import { socketProber } from '../../src/health/probe.js';
import { readHealthCheck } from '../../src/model/index.js';

function fillTable(held: number[]): string {
  for (;;) {
    try {
      held.push(openSync('/dev/null', 'r'));
    } catch (error) {
      return (error as NodeJS.ErrnoException).code ?? String(error);
    }
  }
}

async function main(): Promise<void> {
  const server = createSocket('udp4');
  server.on('message', (datagram, from) => {
    // A DNS query (RD set at byte 2) gets an answer with QR set; anything else is echoed.
    const reply = Buffer.from(datagram);
    if (reply.length >= 12 && reply[2] === 0x01) reply.writeUInt16BE(0x8180, 2);
    server.send(reply, from.port, from.address);
  });
  await new Promise<void>((resolve) => server.bind(0, '127.0.0.1', resolve));
  const target = { address: '127.0.0.1', port: server.address().port };
  const checks = [
    readHealthCheck({ kind: 'udp', payload: 'hello', interval_ms: 1000, timeout_ms: 500 }, 'hc', 'udp'),
    readHealthCheck({ kind: 'dns', query_name: 'example.com', interval_ms: 1000, timeout_ms: 500 }, 'hc', 'udp'),
  ];
  const round = async () => (await Promise.all(checks.map((check) => socketProber(target, check)))).map((r) => `${r.outcome} ${r.detail}`);
  const outcomes = (results: string[]) => results.map((r) => r.split(' ')[0]);

  const before = outcomes(await round());
  const held: number[] = [];
  const fillError = fillTable(held);
  const exhausted = await round();
  for (const fd of held) closeSync(fd);
  const after = outcomes(await round());
  server.close();
  process.stdout.write(`${JSON.stringify({ fillError, before, exhausted, after })}\n`);
}

main().then(() => process.exit(0), (error: Error) => {
  process.stdout.write(`${JSON.stringify({ error: error.stack ?? error.message })}\n`);
  process.exit(1);
});
