// The lab suites run their namespace client and restart client as plain JavaScript (no tsx loader
// in each child): the transpiled client must do what the source does, and a script that imports
// anything but node: modules must be refused, naming the import, not run half-loaded.
import { execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import * as assert from 'uvu/assert';
import { importedModules, plainNodeToolArgv, transpileTool } from '../support/plain-node-tool.js';
import { test } from '../support/suite.js';

const run = promisify(execFile);
const supportUrl = new URL('../support/', import.meta.url).href;

test('the namespace client runs as plain node: UDP echoes and HTTP GETs on loopback', async () => {
  const argv = plainNodeToolArgv(`${supportUrl}e2e-lab.ts`, 'e2e-netns-client');
  assert.is(argv.length, 2, `no loader: ${argv.join(' ')}`);
  assert.match(argv[1]!, /e2e-netns-client\.mjs$/);
  const echo = createSocket('udp4');
  echo.on('message', (message, remote) => echo.send(message, remote.port, remote.address));
  await new Promise<void>((resolve) => echo.bind(0, '127.0.0.1', resolve));
  const http = createServer((_request, response) => response.end(JSON.stringify({ server: 'loopback' })));
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  try {
    const udp = await run(argv[0]!, [argv[1]!, 'udp', '127.0.0.1', String(echo.address().port), '3', '3000', '2000']);
    const report = JSON.parse(udp.stdout) as { sent: number; missing: string[]; echoes: { bytes: number }[] };
    assert.equal([report.sent, report.missing, report.echoes.map((e) => e.bytes)], [3, [], [2000, 2000, 2000]]);
    const get = await run(argv[0]!, [argv[1]!, 'sequential', `http://127.0.0.1:${(http.address() as AddressInfo).port}/`, '2', '3000']);
    const { replies } = JSON.parse(get.stdout) as { replies: { ok: boolean; body: string }[] };
    assert.equal(replies.map((r) => [r.ok, r.body]), [[true, '{"server":"loopback"}'], [true, '{"server":"loopback"}']]);
  } finally {
    echo.close();
    http.close();
  }
});

test('the restart client transpiles too; a script importing our own modules is refused, naming them', () => {
  assert.match(plainNodeToolArgv(`${supportUrl}e2e-restart.ts`, 'restart-traffic')[1]!, /restart-traffic\.mjs$/);
  const source = "import { join } from 'node:path';\nimport type { X } from './types.js';\nimport { VIP } from '../../src/lab/topology.js';\nconsole.log(join(VIP));\n";
  assert.equal(importedModules(transpileTool("import { join } from 'node:path';\nimport type { X } from './types.js';\nexport const y: X = join('a');\n", 'ok.ts')), ['node:path']);
  assert.throws(() => transpileTool(source, 'bad.ts'), /bad\.ts imports \.\.\/\.\.\/src\/lab\/topology\.js: only node: modules/);
});

test.run();
