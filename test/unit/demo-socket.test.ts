// The demo serves gRPC on the default socket when it is free, so `pcadm -Ln` works with no flags
// after `npm start`, and says which socket it took and why when it is not (src/lab/demo-socket.ts).
// Real sockets in a temporary folder stand in for /run/portcullis: a listening one (a daemon), the
// file a SIGKILLed process leaves behind (a crashed daemon), a plain file, an unusable folder.
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { chooseDemoSocket, writeDemoConfig } from '../../src/lab/demo-socket.js';
import { parseConfig } from '../../src/config/load.js';
import { readFile } from 'node:fs/promises';
import { demoBanner } from '../../src/lab/demo.js';
import { DEFAULT_SOCKET } from '../../src/config/types.js';

let dir = '';
test.before.each(async () => { dir = await mkdtemp(join(tmpdir(), 'pc-demo-socket-')); });
test.after.each(async () => { await rm(dir, { recursive: true, force: true }); });

function listen(path: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(path, () => resolve(server));
  });
}

/** A socket file nobody listens on any more: its process was killed before it could remove it. */
async function staleSocket(path: string): Promise<void> {
  const child = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(path)}, () => console.log('up'))`],
    { stdio: ['ignore', 'pipe', 'ignore'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`the listener exited (${code}) before listening`)));
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
  assert.ok((await stat(path)).isSocket(), 'the killed process left its socket behind');
}

test('free: the preferred socket, its folder made (0750), and a note saying no --socket is needed', async () => {
  const preferred = join(dir, 'run/portcullis/portcullis.sock');
  const choice = await chooseDemoSocket(join(dir, 'demo.sock'), preferred);
  assert.equal({ path: choice.path, preferred: choice.preferred }, { path: preferred, preferred: true });
  assert.is((await stat(join(dir, 'run/portcullis'))).mode & 0o777, 0o750);
  assert.match(choice.note, `gRPC on ${preferred}: pcadm and portcullis reach it with no --socket`);
});

test('the stale socket of a crashed daemon counts as free (the daemon replaces it)', async () => {
  const preferred = join(dir, 'portcullis.sock');
  await staleSocket(preferred);
  const choice = await chooseDemoSocket(join(dir, 'demo.sock'), preferred);
  assert.is(choice.path, preferred);
});

test('a daemon already serving there: the fallback, and a note naming both sockets and why', async () => {
  const preferred = join(dir, 'portcullis.sock');
  const fallback = join(dir, 'demo', 'portcullis.sock');
  const server = await listen(preferred);
  try {
    const choice = await chooseDemoSocket(fallback, preferred);
    assert.equal({ path: choice.path, preferred: choice.preferred }, { path: fallback, preferred: false });
    assert.is(choice.note, `demo: the default socket ${preferred} is not free (another daemon is serving on it); gRPC on ${fallback} instead: give pcadm and portcullis --socket ${fallback}`);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});

test('a plain file in the way, or a folder that cannot be made: the fallback, with the reason', async () => {
  const file = join(dir, 'portcullis.sock');
  await writeFile(file, 'not a socket');
  const blocked = await chooseDemoSocket(join(dir, 'fallback.sock'), file);
  assert.is(blocked.path, join(dir, 'fallback.sock'));
  assert.match(blocked.note, `(${file} exists and is not a socket)`);
  const unusable = await chooseDemoSocket(join(dir, 'fallback.sock'), join(file, 'sub', 'portcullis.sock'));
  assert.is(unusable.path, join(dir, 'fallback.sock'));
  assert.match(unusable.note, /its folder .* cannot be used \(ENOTDIR\)/);
});

test('the config the demo runs serves on the preferred socket when free, on its own folder\'s when not', async () => {
  const preferred = join(dir, 'run/portcullis.sock');
  const work = join(dir, 'work');
  await mkdir(work);
  const free = await writeDemoConfig(work, preferred);
  assert.equal([free.socketPath, parseConfig(await readFile(free.configPath, 'utf8'), 'demo').api.socket], [preferred, preferred]);
  const server = await listen(preferred);
  try {
    const busy = await writeDemoConfig(work, preferred);
    assert.equal([busy.socketPath, parseConfig(await readFile(busy.configPath, 'utf8'), 'demo').api.socket], [join(work, 'portcullis.sock'), join(work, 'portcullis.sock')]);
    assert.match(busy.note, /is not free \(another daemon is serving on it\)/);
    assert.is(busy.stateFilePath, join(work, 'state.json'));
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});

test('banner: on the default socket the CLI lines take no --socket; on another they name it; never node dist/…', () => {
  const onDefault = demoBanner(DEFAULT_SOCKET, '/tmp/x.yaml');
  assert.match(onDefault, /^ {4}npx pcadm -Ln {3}# the services as ipvsadm lists them$/m);
  assert.match(onDefault, /^ {4}npx portcullis stats$/m);
  assert.not.match(onDefault, /--socket/);
  const elsewhere = demoBanner('/tmp/portcullis-demo-x/portcullis.sock', '/tmp/x.yaml');
  assert.match(elsewhere, /^ {4}npx pcadm -Ln --socket \/tmp\/portcullis-demo-x\/portcullis\.sock /m);
  assert.match(elsewhere, /^ {4}npx portcullis stats --socket \/tmp\/portcullis-demo-x\/portcullis\.sock$/m);
  for (const banner of [onDefault, elsewhere]) assert.not.match(banner, /dist\/src\/cli/);
});

test.run();
